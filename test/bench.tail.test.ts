import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countOver, overThreshold, SLOW_LADDER_MS } from '../native-bench/contest/stats.js';
import { tailByPhase } from '../native-bench/contest/tail.js';
import type { TimelinePoint } from '../native-bench/contest/run.js';

const LADDER = [1, 2, 4];

test('countOver counts the requests strictly slower than each step', () => {
  assert.deepEqual(countOver([0.5, 1, 1.5, 2, 3, 9], LADDER), [4, 2, 1]);
  assert.deepEqual(countOver([], LADDER), [0, 0, 0]);
  const over = countOver([0.2, 3.3, 4.4, 120]);
  assert.equal(over.length, SLOW_LADDER_MS.length);
  assert.equal(over[0], 3);
  assert.equal(over[SLOW_LADDER_MS.length - 1], 1, 'only 120 ms is over the last step');
});

test('overThreshold: on a step, between steps, past the ladder, below it', () => {
  const over = [4, 2, 1]; // of 6 requests
  assert.equal(overThreshold(over, 6, 2, LADDER), 2);
  assert.equal(overThreshold(over, 6, 3, LADDER), 1.5, 'halfway from 2 ms (2) to 4 ms (1)');
  assert.equal(overThreshold(over, 6, 50, LADDER), 1, 'the last step');
  assert.equal(overThreshold(over, 6, 0.5, LADDER), 5, 'halfway from all 6 at 0 ms to 4 at 1 ms');
  assert.throws(() => overThreshold([1, 2], 6, 3, LADDER), /ladder has 3 steps/);
});

function point(t: number, durations: number[], steal_pct: number | null = null): TimelinePoint {
  return {
    t, vus: 0, posts: durations.length, ok: durations.length, fail: 0, p50: 0, p99: 0, over: countOver(durations, SLOW_LADDER_MS),
    default_confirmed: 0, fallback_confirmed: 0, audits: [], busy_pct: null, steal_pct,
  };
}

test('tailByPhase puts the service\'s extra slow requests in the stretch that had them', () => {
  const fast = Array.from({ length: 100 }, () => 1);
  const slow = [...Array.from({ length: 90 }, () => 1), ...Array.from({ length: 10 }, () => 8)];
  // Four seconds in two stretches of two; the service is slow in its third second only.
  const service = [point(0, fast), point(1, fast), point(2, slow), point(3, fast)];
  const baseline = [point(0, fast), point(1, slow), point(2, fast), point(3, fast)];
  const t = tailByPhase(service, baseline, 5, 2);
  assert.equal(t.buckets.length, 2);
  assert.deepEqual(t.buckets.map((b) => [b.from_s, b.to_s, b.service_posts, b.service_over, b.baseline_over]), [[0, 2, 200, 0, 10], [2, 4, 200, 10, 0]]);
  assert.deepEqual(t.buckets.map((b) => b.extra), [-10, 10]);
  assert.equal(t.extra_total, 0, 'as many slow requests in all: the same p99');
  assert.throws(() => tailByPhase(service, baseline, 5, 0), /bucket_s/);
});

test('tailByPhase gives each stretch the hypervisor\'s share in either run, where it was sampled', () => {
  const fast = Array.from({ length: 10 }, () => 1);
  const service = [point(0, fast, 1), point(1, fast, 6), point(2, fast, null), point(3, fast, 2.5)];
  const baseline = [point(0, fast), point(1, fast), point(2, fast, 0.5), point(3, fast, 0)];
  const t = tailByPhase(service, baseline, 5, 2);
  assert.deepEqual(t.buckets.map((b) => [b.service_steal_pct, b.baseline_steal_pct]), [[3.5, null], [2.5, 0.3]]);
  const old = tailByPhase([{ ...point(0, fast), steal_pct: undefined as unknown as null }], [point(0, fast)], 5, 1);
  assert.equal(old.buckets[0].service_steal_pct, null, 'a result written before steal was sampled');
});
