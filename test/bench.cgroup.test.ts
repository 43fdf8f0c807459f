// The CFS throttling counters the contest report prints, parsed from both cgroup versions, and
// sampled second by second from a real group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupSupport, createCgroup, parseThrottling, sharesToWeight } from '../native-bench/lib/cgroup.js';
import { ResourceSampler } from '../native-bench/contest/resources.js';

test('cgroup v1 cpu.stat: throttled_time is nanoseconds', () => {
  const t = parseThrottling('nr_periods 3000\nnr_throttled 12\nthrottled_time 45000000\n');
  assert.deepEqual(t, { periods: 3000, throttled_periods: 12, throttled_ms: 45 });
});

test('cgroup v2 cpu.stat: throttled_usec is microseconds', () => {
  const text =
    'usage_usec 9000\nuser_usec 8000\nsystem_usec 1000\nnr_periods 50\nnr_throttled 2\nthrottled_usec 1500\nnr_bursts 0\nburst_usec 0\n';
  assert.deepEqual(parseThrottling(text), { periods: 50, throttled_periods: 2, throttled_ms: 1.5 });
});

test('no bandwidth limit: all zero', () => {
  assert.deepEqual(parseThrottling(''), { periods: 0, throttled_periods: 0, throttled_ms: 0 });
});

// A busy loop in a group limited to 0.05 CPU meets its quota every period: the sampler's report
// shows it second by second, the way the contest report prints it for each compose service.
test("the resource sampler reports a throttled group's periods per second, worst second and memory against its limit", {
  skip: cgroupSupport().ok ? false : cgroupSupport().reason,
}, async () => {
  const cg = createCgroup(`throttle-test-${process.pid}`, { cpus: 0.05, memory_mb: 64 });
  const sampler = new ResourceSampler([cg], () => []);
  sampler.start(500);
  const cmd = cg.wrap('/bin/sh', ['-c', 'while :; do :; done']);
  const child = spawn(cmd.command, cmd.args, { stdio: 'ignore' });
  try {
    // 12 throttled periods take at least 1.2 s of 100 ms periods: more than two sampling intervals.
    while (cg.throttling().throttled_periods < 12) await new Promise((r) => setTimeout(r, 100));
    const peaks = sampler.stop();
    const c = peaks.cgroups[0];
    assert.equal(c.name, cg.name);
    assert.ok(c.throttled_periods >= 12, `throttled ${c.throttled_periods}`);
    assert.ok(c.seconds >= 1 && c.per_second.throttled_periods.length === c.seconds);
    assert.ok(c.seconds_throttled >= 1 && c.seconds_throttled <= c.seconds);
    assert.ok(c.throttled_periods_max_1s >= 1);
    assert.ok(c.per_second.throttled_periods.reduce((a, n) => a + n, 0) <= c.throttled_periods);
    assert.ok(c.throttled_periods_per_s > 0);
    assert.ok(c.throttled_ms > 0 && c.throttled_ms_max_1s <= c.throttled_ms);
    assert.ok(c.memory_peak_pct_of_limit !== null && c.memory_peak_pct_of_limit < 100);
    assert.deepEqual({ hits: c.memory_limit_hits, ooms: c.oom_kills }, { hits: 0, ooms: 0 });
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    cg.destroy();
  }
});

test("compose cpu_shares becomes the group's CPU weight (v1 cpu.shares, v2 cpu.weight as Docker converts it)", {
  skip: cgroupSupport().ok ? false : cgroupSupport().reason,
}, () => {
  const cg = createCgroup(`shares-test-${process.pid}`, { cpus: 0.2, memory_mb: 32, cpu_shares: 4096 });
  try {
    const v1 = cg.dirs.map((d) => join(d, 'cpu.shares')).find((f) => existsSync(f));
    if (v1) assert.equal(readFileSync(v1, 'utf8').trim(), '4096');
    else assert.equal(readFileSync(join(cg.dirs[0], 'cpu.weight'), 'utf8').trim(), String(sharesToWeight(4096)));
  } finally {
    cg.destroy();
  }
  assert.deepEqual([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262_144)], [1, 39, 10_000]);
});
