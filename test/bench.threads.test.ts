// Per-thread CPU of native-bench: stat parsing, grouping, accumulation across samples, and the
// service's thread naming read back from /proc for a real worker thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ThreadCpu, parseSchedstat, parseStatTicks, sampleThreads, threadGroup } from '../native-bench/lib/threads.js';

test('stat line: utime + stime, with spaces and parentheses in the command name', () => {
  const line = '4242 (we ird) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 6 0 12345 0 0';
  assert.equal(parseStatTicks(line), 287);
  assert.throws(() => parseStatTicks('garbage'), /unparsable/);
});

test('threads are grouped by process and thread name', () => {
  const inst = 'node /app/dist/src/main.js';
  assert.equal(threadGroup(inst, 'node', true), 'instance front (main thread)');
  assert.equal(threadGroup(inst, 'rinha-worker-1', false), 'instance payment workers');
  assert.equal(threadGroup(inst, 'node', false), 'instance V8/libuv threads');
  assert.equal(threadGroup('/x/bin/postgres -D /data', 'postgres', true), 'postgres');
  assert.equal(threadGroup('postgres: rinha rinha 127.0.0.1(5000) idle', 'postgres', true), 'postgres');
  assert.equal(threadGroup('node dist/src/cluster.js', 'node', true), 'launcher');
  assert.equal(threadGroup('haproxy -f x.cfg', 'haproxy', true), 'load balancer (haproxy)');
  assert.equal(threadGroup('sleep 1', 'sleep', true), 'other');
});

test('CPU and run-queue wait accumulate from the first sample; late threads count from zero, ended ones keep their last', () => {
  const cpu = new ThreadCpu();
  const t = (key: string, group: string, ticks: number, wait_ns = 0, slices = 0) => ({ key, group, ticks, wait_ns, slices });
  cpu.add([t('1/1', 'a', 100, 5e6, 10), t('1/2', 'b', 50)]);
  cpu.add([t('1/1', 'a', 130, 6e6, 20), t('1/2', 'b', 60), t('1/3', 'b', 5, 2e6, 4)]);
  cpu.add([t('1/1', 'a', 150, 9e6, 30)]); // 1/2 and 1/3 ended
  assert.deepEqual(cpu.totals(10), [
    { group: 'a', cpu_s: 0.5, threads: 1, wait_s: 0, slices: 20, wait_per_slice_us: 200 }, // 4 ms over 20
    { group: 'b', cpu_s: 0.15, threads: 2, wait_s: 0, slices: 4, wait_per_slice_us: 500 },
  ]);
});

test('a thread keeps the group it was first seen in when its process is caught exiting (no cmdline left)', () => {
  const cpu = new ThreadCpu();
  cpu.add([{ key: '7/7', group: 'load generator (C process)', ticks: 10, wait_ns: 0, slices: 0 }]);
  cpu.add([{ key: '7/7', group: threadGroup('', 'loadgen', true), ticks: 40, wait_ns: 0, slices: 0 }]);
  assert.deepEqual(
    cpu.totals(10).map((g) => [g.group, g.cpu_s]),
    [['load generator (C process)', 0.3]],
  );
});

test('schedstat: the time on a CPU, the wait and the count of times scheduled', () => {
  assert.deepEqual(parseSchedstat('267074376 62725272 1018\n'), { cpu_ns: 267074376, wait_ns: 62725272, slices: 1018 });
  assert.throws(() => parseSchedstat('x'), /unparsable/);
});

test('harness processes have their own groups', () => {
  assert.equal(threadGroup('node dist/native-bench/contest/main.js --label x', 'node', true), 'load generator (the bench)');
  assert.equal(threadGroup('node /w/dist/native-bench/processor-sim/main.js --port 8001', 'node', true), 'processor simulators');
  assert.equal(threadGroup('node /w/dist/native-bench/baseline/server.js', 'node', true), 'baseline server (main thread)');
  assert.equal(threadGroup('/w/dist/native-bench/contest/loadgen-c 127.0.0.1 9999', 'loadgen', true), 'load generator (C process)');
});

test('a service worker thread names itself, and sampling finds it under that name', {
  skip: process.platform !== 'linux' && 'Linux /proc only',
}, async () => {
  const runtime = new URL('../src/runtime.js', import.meta.url).href;
  const worker = new Worker(
    `import(${JSON.stringify(runtime)}).then((m) => { const ok = m.nameThisThread('rinha-worker-7'); require('node:worker_threads').parentPort.postMessage(ok); setTimeout(() => {}, 5000); });`,
    { eval: true },
  );
  try {
    const named = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(named, true);
    // The test runner's file is not dist/src/main.js: check the raw name, then the grouping.
    const { readdirSync, readFileSync } = await import('node:fs');
    const comms = readdirSync(`/proc/${process.pid}/task`).map((t) => readFileSync(`/proc/${process.pid}/task/${t}/comm`, 'utf8').trim());
    assert.ok(comms.includes('rinha-worker-7'), `thread names: ${comms.join(', ')}`);
    const mine = sampleThreads([process.pid]);
    assert.ok(mine.length >= 2 && mine.every((s) => s.ticks >= 0 && s.slices > 0 && s.group === 'other'));
  } finally {
    await worker.terminate();
  }
});

test('the calm schedule the README measures with parses: both processors at 0 ms, never failing', async () => {
  const { readScheduleFile } = await import('../native-bench/contest/schedule.js');
  const path = new URL('../../native-bench/contest/calm-schedule.json', import.meta.url).pathname;
  assert.deepEqual(readScheduleFile(path), [
    { at_s: 0, default: { delay_ms: 0, failure: false }, fallback: { delay_ms: 0, failure: false } },
  ]);
});

test('machine load from two /proc/stat readings: busy excludes idle, iowait and steal', async () => {
  const { parseProcStat, machineLoad } = await import('../native-bench/lib/threads.js');
  const a = parseProcStat('cpu  100 0 50 800 10 0 10 30 0 0\ncpu0 1 2 3\n');
  assert.deepEqual(a, { total: 1000, idle: 810, steal: 30 });
  const b = parseProcStat('cpu  400 0 150 1200 10 0 30 70 0 0\n');
  assert.deepEqual(machineLoad(a, b), { busy_pct: 48.8, steal_pct: 4.7 }); // of 860 ticks: 420 busy, 400 idle, 40 stolen
  assert.throws(() => parseProcStat('intr 1 2 3'), /no cpu line/);
});

test('the stolen share of demand: steal over busy plus steal', async () => {
  const { stolenSharePct } = await import('../native-bench/lib/threads.js');
  assert.equal(stolenSharePct(48.8, 4.7), 8.8);
  assert.equal(stolenSharePct(9, 1), 10);
  assert.equal(stolenSharePct(10, 0), 0);
  assert.equal(stolenSharePct(0, 0), null, 'a machine that wanted nothing lost nothing');
});
