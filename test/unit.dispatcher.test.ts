// The dispatcher's bookkeeping, driven with a controllable clock and scripted processor answers
// (the real HTTP path is covered by the integration tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../src/counters.js';
import type { AttemptResult } from '../src/pay/client.js';
import { Dispatcher } from '../src/pay/dispatcher.js';
import type { ConfirmedRow } from '../src/store/writer.js';

interface Sent {
  processor: 0 | 1;
  body: { correlationId: string; amount: number; requestedAt: string };
  answer(r: AttemptResult): void;
}

function harness(health: { default_failing?: boolean } = {}, max_sends_per_s = 0, burst_ms = 50) {
  let now = 1_000_000;
  let fence_ms = 0;
  const sent: Sent[] = [];
  const rows: ConfirmedRow[] = [];
  const d = new Dispatcher({
    max_inflight: 10,
    max_sends_per_s,
    burst_ms,
    fees: [0.07, 0.1],
    safe_latency_ms: 1500,
    hold_budget_ms: 60_000,
    retry_backoff_min_ms: 10,
    retry_backoff_max_ms: 100,
    send: (processor, body) => new Promise((resolve) => sent.push({ processor, body: JSON.parse(body), answer: resolve })),
    health: (p) => ({ failing: p === 0 ? !!health.default_failing : false, min_response_ms: 0, checked_at_ms: 1 }),
    purged_through_ms: () => fence_ms,
    record: (row) => rows.push(row),
    counters: Counters.create(),
    now: () => now,
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return {
    d,
    sent,
    rows,
    flush,
    tick: (ms: number) => {
      now += ms;
    },
    at: () => now,
    moveFence: (at_ms: number) => {
      fence_ms = at_ms;
    }, // what the main thread does, before the worker reads its message
    purge: (at_ms = now) => {
      fence_ms = at_ms;
      return d.purge(at_ms);
    },
  };
}

const ok: AttemptResult = { outcome: 'ok', status: 200, retry_after_ms: 0 };
const stored: AttemptResult = { outcome: 'already_stored', status: 422, retry_after_ms: 0 };
const failed: AttemptResult = { outcome: 'failed', status: 500, retry_after_ms: 0 };
const unknown: AttemptResult = { outcome: 'unknown', status: 0, retry_after_ms: 0 };
const ID = '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3';

test('200 records the payment with the requestedAt that was sent', async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 1990, accepted_at_ms: 999_000 });
  h.d.pump();
  assert.equal(h.sent.length, 1);
  assert.deepEqual(h.sent[0].body, { correlationId: ID, amount: 19.9, requestedAt: new Date(1_000_000).toISOString() });
  h.sent[0].answer(ok);
  await h.flush();
  assert.deepEqual(h.rows, [
    {
      correlation_id: ID,
      amount_cents: 1990,
      accepted_at_ms: 999_000,
      requested_at_ms: 1_000_000,
      processor: 0,
      confirmed_at_ms: 1_000_000,
    },
  ]);
  assert.equal(h.d.isIdle(), true);
});

test('an unknown outcome is retried only there, with the same requestedAt; 422 then records it', async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 100, accepted_at_ms: 999_000 });
  h.d.pump();
  h.sent[0].answer(unknown);
  await h.flush();
  h.tick(1000);
  h.d.pump();
  assert.equal(h.sent.length, 2);
  assert.equal(h.sent[1].processor, 0);
  assert.equal(h.sent[1].body.requestedAt, h.sent[0].body.requestedAt);
  h.sent[1].answer(failed); // a 500 on the retry says nothing about the first attempt
  await h.flush();
  h.tick(1000);
  h.d.pump();
  assert.equal(h.sent.length, 3);
  assert.equal(h.sent[2].processor, 0, 'still pinned after a 500');
  assert.equal(h.sent[2].body.requestedAt, h.sent[0].body.requestedAt);
  h.sent[2].answer(stored);
  await h.flush();
  assert.equal(h.rows.length, 1);
  assert.equal(h.rows[0].requested_at_ms, 1_000_000);
});

test("422 on a first attempt is someone else's payment: not counted", async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 100, accepted_at_ms: 999_000 });
  h.d.pump();
  h.sent[0].answer(stored);
  await h.flush();
  assert.equal(h.rows.length, 0);
  assert.equal(h.d.isIdle(), true);
});

test('a 500 means not stored: the payment goes back to the router with a new requestedAt', async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 100, accepted_at_ms: 999_000 });
  h.d.pump();
  h.tick(5);
  h.sent[0].answer(failed); // the default just failed: hold (budget not spent), nothing sent
  await h.flush();
  assert.equal(h.sent.length, 1);
  h.tick(60_000); // budget spent: the fallback takes it
  h.d.pump();
  assert.equal(h.sent.length, 2);
  assert.equal(h.sent[1].processor, 1);
  assert.notEqual(h.sent[1].body.requestedAt, h.sent[0].body.requestedAt);
  h.sent[1].answer(ok);
  await h.flush();
  assert.equal(h.rows.length, 1);
  assert.equal(h.rows[0].processor, 1);
});

test('a failing default holds everything; nothing is lost while held', async () => {
  const h = harness({ default_failing: true });
  for (let i = 0; i < 5; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.d.pump();
  assert.equal(h.sent.length, 0);
  assert.equal(h.d.waiting, 5);
});

test('in-flight limit is respected', () => {
  const h = harness();
  for (let i = 0; i < 25; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.d.pump();
  assert.equal(h.sent.length, 10);
  assert.equal(h.d.waiting, 15);
});

test('a purge drops waiting payments and confirmations of sends made before it', async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.d.pump();
  for (let i = 0; i < 3; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  assert.equal(h.purge(), 3);
  assert.equal(h.d.waiting, 0);
  h.sent[0].answer(ok);
  await h.flush();
  assert.equal(h.rows.length, 0);
});

test('once the fence has moved, nothing accepted before it is sent, even before purge() is called', () => {
  const h = harness();
  const queued = crypto.randomUUID();
  const later = crypto.randomUUID();
  h.d.add({ correlation_id: queued, amount_cents: 100, accepted_at_ms: 999_000 });
  h.moveFence(999_500); // the main thread moved it; the worker has not read the message yet
  h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 999_400 }); // taken from the ring just before
  h.d.add({ correlation_id: later, amount_cents: 100, accepted_at_ms: 999_600 });
  h.d.pump();
  assert.deepEqual(
    h.sent.map((s) => s.body.correlationId),
    [later],
  );
  assert.equal(h.d.waiting, 0);
});

test('an attempt in flight at a purge that fails is not retried', async () => {
  const h = harness();
  h.d.add({ correlation_id: ID, amount_cents: 100, accepted_at_ms: 999_000 });
  h.d.pump();
  h.purge();
  h.sent[0].answer(failed);
  await h.flush();
  h.tick(10_000);
  h.d.pump();
  assert.equal(h.sent.length, 1);
  assert.equal(h.d.isIdle(), true);
});

test('a purge that arrives late keeps what was accepted after its fence, and pays it', async () => {
  const h = harness();
  const old_ids = [crypto.randomUUID(), crypto.randomUUID()];
  const new_ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  h.d.add({ correlation_id: old_ids[0], amount_cents: 100, accepted_at_ms: 999_990 });
  h.d.add({ correlation_id: new_ids[0], amount_cents: 100, accepted_at_ms: 999_996 });
  h.d.pump(); // both in flight
  h.d.add({ correlation_id: old_ids[1], amount_cents: 100, accepted_at_ms: 999_995 });
  h.d.add({ correlation_id: new_ids[1], amount_cents: 200, accepted_at_ms: 999_996 });
  h.d.add({ correlation_id: new_ids[2], amount_cents: 300, accepted_at_ms: 1_000_000 });
  assert.equal(h.purge(999_995), 1, 'only the waiting payment accepted at or before the fence');
  assert.equal(h.d.waiting, 2);
  for (const s of h.sent) s.answer(ok);
  await h.flush();
  h.d.pump();
  for (const s of h.sent.slice(2)) s.answer(ok);
  await h.flush();
  assert.deepEqual(h.sent.map((s) => s.body.correlationId).sort(), [old_ids[0], ...new_ids].sort());
  assert.deepEqual(h.rows.map((r) => r.correlation_id).sort(), [...new_ids].sort(), 'the old in-flight one is not recorded');
  assert.ok(h.rows.every((r) => r.accepted_at_ms > 999_995));
});

test('a send rate limit spreads a backlog over time', () => {
  const h = harness({}, 100); // 100/s: 5 at once (50 ms worth), then 1 per 10 ms
  for (let i = 0; i < 10; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.d.pump();
  assert.equal(h.sent.length, 5);
  h.d.pump();
  assert.equal(h.sent.length, 5, 'no time passed: no new tokens');
  h.tick(20);
  h.d.pump();
  assert.equal(h.sent.length, 7);
  h.tick(1000);
  h.d.pump();
  assert.equal(h.sent.length, 10);
});

test('the cap never holds the rate under twice the arrival rate, so a backlog always drains', () => {
  const h = harness({}, 100, 100);
  assert.equal(h.d.sendRatePerS(h.at()), 100);
  for (let i = 0; i < 200; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.tick(500);
  assert.equal(h.d.sendRatePerS(h.at()), 100, 'the window is not over yet');
  h.tick(500);
  assert.equal(h.d.sendRatePerS(h.at()), 400, '200 arrived in 1 s: 2 × 200/s');
  h.tick(1000);
  assert.equal(h.d.sendRatePerS(h.at()), 100, 'none arrived in the next second: the cap again');
});

test('the burst is one tick of the rate, so a longer tick keeps the rate', async () => {
  const h = harness({}, 100, 100); // a 100 ms tick at 100/s: 10 per tick, not 5
  for (let i = 0; i < 30; i++) h.d.add({ correlation_id: crypto.randomUUID(), amount_cents: 100, accepted_at_ms: 1_000_000 });
  h.d.pump();
  assert.equal(h.sent.length, 10);
  for (const s of h.sent) s.answer(ok); // room in flight again (max_inflight 10)
  await h.flush();
  assert.equal(h.sent.length, 10, 'the answers alone bring no tokens');
  h.tick(100);
  h.d.pump();
  assert.equal(h.sent.length, 20, 'one tick later, one tick of the rate');
});
