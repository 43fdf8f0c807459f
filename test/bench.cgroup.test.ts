// The CFS throttling counters the contest report prints, parsed from both cgroup versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseThrottling } from '../native-bench/lib/cgroup.js';

test('cgroup v1 cpu.stat: throttled_time is nanoseconds', () => {
  const t = parseThrottling('nr_periods 3000\nnr_throttled 12\nthrottled_time 45000000\n');
  assert.deepEqual(t, { periods: 3000, throttled_periods: 12, throttled_ms: 45 });
});

test('cgroup v2 cpu.stat: throttled_usec is microseconds', () => {
  const text = 'usage_usec 9000\nuser_usec 8000\nsystem_usec 1000\nnr_periods 50\nnr_throttled 2\nthrottled_usec 1500\nnr_bursts 0\nburst_usec 0\n';
  assert.deepEqual(parseThrottling(text), { periods: 50, throttled_periods: 2, throttled_ms: 1.5 });
});

test('no bandwidth limit: all zero', () => {
  assert.deepEqual(parseThrottling(''), { periods: 0, throttled_periods: 0, throttled_ms: 0 });
});
