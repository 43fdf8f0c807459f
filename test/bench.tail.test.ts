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

function point(t: number, durations: number[]): TimelinePoint {
  return {
    t,
    vus: 0,
    posts: durations.length,
    ok: durations.length,
    fail: 0,
    p50: 0,
    p99: 0,
    over: countOver(durations, SLOW_LADDER_MS),
    default_confirmed: 0,
    fallback_confirmed: 0,
    audits: [],
    busy_pct: null,
    steal_pct: null,
  };
}

test("tailByPhase puts the service's extra slow requests in the stretch that had them", () => {
  const fast = Array.from({ length: 100 }, () => 1);
  const slow = [...Array.from({ length: 90 }, () => 1), ...Array.from({ length: 10 }, () => 8)];
  // Four seconds in two stretches of two; the service is slow in its third second only.
  const service = [point(0, fast), point(1, fast), point(2, slow), point(3, fast)];
  const baseline = [point(0, fast), point(1, slow), point(2, fast), point(3, fast)];
  const t = tailByPhase(service, baseline, 5, 2);
  assert.equal(t.buckets.length, 2);
  assert.deepEqual(
    t.buckets.map((b) => [b.from_s, b.to_s, b.service_posts, b.service_over, b.baseline_over]),
    [
      [0, 2, 200, 0, 10],
      [2, 4, 200, 10, 0],
    ],
  );
  assert.deepEqual(
    t.buckets.map((b) => b.extra),
    [-10, 10],
  );
  assert.equal(t.extra_total, 0, 'as many slow requests in all: the same p99');
  assert.throws(() => tailByPhase(service, baseline, 5, 0), /bucket_s/);
});

test("tailByPhase gives each stretch the share of the machine's demand the hypervisor took, in either run", () => {
  const fast = Array.from({ length: 10 }, () => 1);
  const at = (t: number, busy_pct: number | null, steal_pct: number | null) => ({ ...point(t, fast), busy_pct, steal_pct });
  const service = [at(0, 18, 2), at(1, 6, 4), at(2, null, null), at(3, 9, 1)];
  const baseline = [at(0, 5, 0), at(1, 5, 0), at(2, 0, 0), at(3, 0, 0)];
  const t = tailByPhase(service, baseline, 5, 2);
  // 0-2 s: 6 stolen of 30 wanted; 2-4 s: the second without a sample is left out, 1 of 10.
  assert.deepEqual(
    t.buckets.map((b) => [b.service_stolen_share_pct, b.baseline_stolen_share_pct]),
    [
      [20, 0],
      [10, null],
    ],
  );
  const old = tailByPhase([{ ...point(0, fast), busy_pct: undefined as unknown as null }], [point(0, fast)], 5, 1);
  assert.equal(old.buckets[0].service_stolen_share_pct, null, 'a result written before the load was sampled');
});
