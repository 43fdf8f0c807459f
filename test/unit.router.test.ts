import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newObservations, type Observations, route, type Route, viewOf } from '../src/pay/router.js';

const SAFE = 1500;
const BUDGET = 90_000;
const noObs: Observations = newObservations();

// The contest final test's processor schedule: [t, default delay, default failing, fallback delay, fallback failing].
const SCHEDULE: Array<[number, number, boolean, number, boolean]> = [
  [1, 0, false, 0, false],
  [30, 1000, false, 0, false],
  [60, 500, false, 0, false],
  [90, 2000, true, 1000, false],
  [120, 5000, true, 5, false],
  [150, 0, false, 5, true],
  [180, 100, false, 5, false],
  [210, 50, false, 0, false],
  [240, 103, false, 10, false],
  [270, 2000, false, 0, false],
];

function decide(phase: (typeof SCHEDULE)[number], oldest_wait_ms: number): Route {
  const [t, dd, df, fd, ff] = phase;
  const now = t * 1000 + 5_000; // the leader's poll has reported the phase
  const d = viewOf({ failing: df, min_response_ms: dd, checked_at_ms: now - 1 }, noObs, 0.07, now);
  const f = viewOf({ failing: ff, min_response_ms: fd, checked_at_ms: now - 1 }, noObs, 0.1, now);
  return route({ default: d, fallback: f, oldest_wait_ms, safe_latency_ms: SAFE, hold_budget_ms: BUDGET });
}

test('the final schedule: default when safe, hold while it fails, fallback when it is only slow', () => {
  const expected: Route[] = ['default', 'default', 'default', 'hold', 'hold', 'default', 'default', 'default', 'default', 'fallback'];
  assert.deepEqual(
    SCHEDULE.map((p) => decide(p, 0)),
    expected,
  );
  // Held payments never wait past the budget: then the fallback takes them.
  assert.equal(decide(SCHEDULE[3], BUDGET), 'fallback');
  assert.equal(decide(SCHEDULE[4], BUDGET), 'fallback');
});

test('both failing: hold, whatever the wait', () => {
  const view = { failing: true, latency_ms: 0, fee: 0.07 };
  assert.equal(
    route({ default: view, fallback: { ...view, fee: 0.1 }, oldest_wait_ms: 10 * BUDGET, safe_latency_ms: SAFE, hold_budget_ms: BUDGET }),
    'hold',
  );
});

test('a cheaper fallback is preferred', () => {
  const ok = { failing: false, latency_ms: 10 };
  assert.equal(
    route({
      default: { ...ok, fee: 0.1 },
      fallback: { ...ok, fee: 0.05 },
      oldest_wait_ms: 0,
      safe_latency_ms: SAFE,
      hold_budget_ms: BUDGET,
    }),
    'fallback',
  );
});

test('nothing safe after the budget: any processor that is up beats lag', () => {
  const slow = { failing: false, latency_ms: 2000 };
  assert.equal(
    route({
      default: { ...slow, fee: 0.07 },
      fallback: { ...slow, fee: 0.1 },
      oldest_wait_ms: 0,
      safe_latency_ms: SAFE,
      hold_budget_ms: BUDGET,
    }),
    'hold',
  );
  assert.equal(
    route({
      default: { ...slow, fee: 0.07 },
      fallback: { ...slow, fee: 0.1 },
      oldest_wait_ms: BUDGET,
      safe_latency_ms: SAFE,
      hold_budget_ms: BUDGET,
    }),
    'default',
  );
});

test('the most recent evidence wins', () => {
  const health = { failing: false, min_response_ms: 0, checked_at_ms: 1000 };
  assert.equal(viewOf(health, { ...noObs, last_failure_at_ms: 2000 }, 0.07, 2500).failing, true, 'a 500 after the health check');
  assert.equal(
    viewOf(health, { ...noObs, last_failure_at_ms: 2000, last_success_at_ms: 2100 }, 0.07, 2500).failing,
    false,
    'then a success',
  );
  assert.equal(
    viewOf({ ...health, failing: true, checked_at_ms: 3000 }, { ...noObs, last_success_at_ms: 2100 }, 0.07, 3500).failing,
    true,
    'then a failing health check',
  );
  assert.equal(
    viewOf({ ...health, checked_at_ms: 4000 }, { ...noObs, last_failure_at_ms: 3000 }, 0.07, 4500).failing,
    false,
    'recovered per health',
  );
  assert.equal(
    viewOf({ ...health, min_response_ms: 100 }, { ...noObs, latest_latency_ms: 2003, latest_latency_at_ms: 1500 }, 0.07, 1600).latency_ms,
    2003,
  );
  assert.equal(
    viewOf(
      { ...health, min_response_ms: 100, checked_at_ms: 2000 },
      { ...noObs, latest_latency_ms: 2003, latest_latency_at_ms: 1500 },
      0.07,
      2100,
    ).latency_ms,
    100,
  );
});

test('overdue requests make the latency unknown before any answer arrives', () => {
  // 240 s → 270 s: the default goes from 103 ms to 2000 ms; nothing has come back yet.
  const health = { failing: false, min_response_ms: 103, checked_at_ms: 240_000 };
  const obs = { ...noObs, latest_latency_ms: 105, latest_latency_at_ms: 269_990 };
  assert.equal(viewOf(health, { ...obs, oldest_inflight_sent_at_ms: 270_000 }, 0.07, 270_300).latency_ms, 105, 'not overdue yet');
  const late = viewOf(health, { ...obs, oldest_inflight_sent_at_ms: 270_000 }, 0.07, 270_600);
  assert.equal(late.latency_ms, Infinity);
  const fb = viewOf({ failing: false, min_response_ms: 0, checked_at_ms: 240_000 }, noObs, 0.1, 270_600);
  assert.equal(route({ default: late, fallback: fb, oldest_wait_ms: 0, safe_latency_ms: SAFE, hold_budget_ms: BUDGET }), 'fallback');
  assert.equal(viewOf(health, { ...obs, cooldown_until_ms: 300_000 }, 0.07, 270_600).latency_ms, Infinity, '429 cool-down');
});
