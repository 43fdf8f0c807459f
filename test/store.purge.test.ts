// The purge fence in Postgres (src/store/bus.ts, claims.ts, summary.ts, db.ts), against a real
// Postgres: what a purge removes and keeps, and what a write that reaches the database after it
// may still do, whether or not its instance has heard of the purge.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Counters } from '../src/counters.js';
import { Bus } from '../src/store/bus.js';
import { Claims } from '../src/store/claims.js';
import { connectWithRetry } from '../src/store/db.js';
import { querySummary } from '../src/store/summary.js';
import { BatchWriter, type ConfirmedRow } from '../src/store/writer.js';
import type { Postgres } from './support/stack.js';
import { commitRows, confirmedRow, startSchemaPostgres, storeLog as log } from './support/store.js';

let pgs: Postgres;
let admin: pg.Client;
let pool: pg.Pool;

before(async () => {
  ({ pgs, admin } = await startSchemaPostgres('purge-test'));
  pool = new pg.Pool({ connectionString: pgs.url, max: 2 });
});
after(async () => {
  await pool?.end();
  await admin?.end();
  await pgs?.stop();
});

const bus = (): Bus =>
  new Bus({ url: pgs.url, owner: crypto.randomUUID(), log, reconnect_interval_ms: 100, onHealth() {}, onPurge() {}, onConnection() {} });

const row = (accepted_at_ms: number, processor: 0 | 1 = 0): ConfirmedRow =>
  confirmedRow({ accepted_at_ms, requested_at_ms: accepted_at_ms + 10, processor });

async function write(rows: ConfirmedRow[]): Promise<void> {
  const writer = new BatchWriter({
    url: pgs.url,
    batch_max_rows: 100,
    linger_ms: 0,
    retry_interval_ms: 50,
    counters: Counters.create(),
    log,
  });
  await commitRows(writer, rows);
  await writer.close();
}

async function count(table: string): Promise<number> {
  return Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Returns once the clock reads later than t_ms (epoch ms).
async function clockPast(t_ms: number): Promise<void> {
  while (Date.now() <= t_ms) await sleep(1);
}

// Returns once `n` backends wait for a lock (bounded), and says whether they did.
async function lockWaiters(n: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if ((await count("pg_stat_activity WHERE wait_event_type = 'Lock'")) >= n) return true;
    await sleep(10);
  }
  return false;
}

const fence = async (): Promise<number> => Number((await admin.query<{ f: string }>('SELECT fence_ms AS f FROM purge_fence')).rows[0].f);

test('a purge removes what was accepted up to it and keeps what was accepted after, in both tables', async () => {
  await bus().purge(pool); // a clean start
  await clockPast((await fence()) + 5); // what follows is accepted after that purge
  const before_ms = Date.now();
  const old = [row(before_ms - 5), row(before_ms - 1, 1)];
  await write(old);
  const claims = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  for (const r of old) assert.equal(await claims.claim(r), 'mine');

  await bus().purge(pool);
  const f = await fence();
  assert.ok(f >= before_ms, 'the fence is the time of the purge');
  assert.ok(Date.now() > f, 'the purge answers only once the clock has passed its fence');

  // Accepted after the fence, written before an instance hears of the purge: kept.
  const later = [row(f + 1), row(f + 2, 1)];
  await write(later);
  for (const r of later) assert.equal(await claims.claim(r), 'mine');
  await claims.close();
  assert.equal(await count('payments'), 2);
  assert.equal(await count('payment_claims'), 2);
  const s = await querySummary(pool, null, null);
  assert.deepEqual(s, { default: { count: 1, cents: 2005 }, fallback: { count: 1, cents: 2005 } });
});

test('after a purge, a confirmation of a payment accepted before it is not counted, and its claim is refused', async () => {
  await bus().purge(pool);
  const f = await fence();
  // What an instance that has not heard the NOTIFY yet may still send: a COPY of confirmations
  // and a claim, for payments it accepted before the purge.
  const stale = [row(f - 3), row(f, 1)];
  await write(stale);
  const claims = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  const fresh = row(f + 1);
  const claimed = await Promise.all([...stale, fresh].map((r) => claims.claim(r)));
  await claims.close();
  assert.deepEqual(claimed, ['purged', 'purged', 'mine'], 'only the payment accepted after the fence is claimed');
  assert.equal(await count('payment_claims'), 1);
  await write([fresh]);
  const s = await querySummary(pool, null, null);
  assert.deepEqual(
    s,
    { default: { count: 1, cents: 2005 }, fallback: { count: 0, cents: 0 } },
    'the stale rows are stored but not counted',
  );
  await bus().purge(pool); // and the next purge removes them
  assert.equal(await count('payments'), 0);
});

test('a purge waits for a write in flight, and a claim waiting on the purge meets the new fence', async () => {
  await bus().purge(pool);
  const f0 = await fence();
  const holder = await connectWithRetry({ url: pgs.url, attempts: 5, interval_ms: 100, log, purpose: 'purge-test-holder' });
  const claims = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  try {
    // A write transaction that is still open when the purge starts.
    await holder.query('BEGIN');
    const inflight = row(f0 + 1);
    await holder.query(
      'INSERT INTO payments (correlation_id, amount_cents, requested_at_ms, processor, accepted_at_ms) VALUES ($1, $2, $3, $4, $5)',
      [inflight.correlation_id, inflight.amount_cents, inflight.requested_at_ms, inflight.processor, inflight.accepted_at_ms],
    );
    await clockPast(inflight.accepted_at_ms + 1);
    const purge_asked_ms = Date.now(); // the purge's fence is at or after this
    let purged = false;
    const purging = bus()
      .purge(pool)
      .then(() => {
        purged = true;
      });
    assert.ok(await lockWaiters(1), 'the purge waits for a lock');
    assert.equal(purged, false, 'the purge waits for the open write');
    // Accepted after the previous purge and before this one, claimed while this one waits for
    // the lock: only the new fence refuses it.
    const waiting = claims.claim(row(purge_asked_ms - 1));
    assert.ok(await lockWaiters(2), 'the claim waits for the purge');
    await holder.query('COMMIT');
    await purging;
    assert.equal(await waiting, 'purged', 'the claim ran after the purge and met its fence');
    assert.equal(await count('payments'), 0, 'the row committed before the purge was deleted by it');
    assert.equal(await count('payment_claims'), 0);
  } finally {
    await holder.end();
    await claims.close();
  }
});

test('with no fence row (a crash emptied the table), nothing is refused or hidden, and the next purge sets it again', async () => {
  await bus().purge(pool);
  await clockPast(await fence());
  await admin.query('DELETE FROM purge_fence');
  const r = row(Date.now());
  const claims = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  assert.equal(await claims.claim(r), 'mine');
  await claims.close();
  await write([r]);
  assert.deepEqual(await querySummary(pool, null, null), { default: { count: 1, cents: 2005 }, fallback: { count: 0, cents: 0 } });
  await bus().purge(pool);
  assert.ok((await fence()) > r.accepted_at_ms, 'the purge wrote its fence into the empty table');
  assert.equal(await count('payments'), 0);
});

test('a refused claim says why: a copy of an id already claimed, or a payment the purge cleared', async () => {
  await bus().purge(pool);
  await clockPast(await fence());
  const accepted_ms = Date.now();
  const first = row(accepted_ms);
  const stale = row(accepted_ms - 60_000); // accepted before the purge just made
  const a = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  const b = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 100, retry_interval_ms: 50, log });
  try {
    assert.equal(await a.claim(first), 'mine');
    // Another instance, later: a duplicate, not a purge. In one batch: the first copy decides.
    const copy = { ...first, accepted_at_ms: accepted_ms + 3 };
    const fresh = row(accepted_ms + 5);
    assert.deepEqual(await Promise.all([b.claim(copy), b.claim(fresh), b.claim({ ...fresh }), b.claim(stale)]), [
      'duplicate',
      'mine',
      'duplicate',
      'purged',
    ]);
  } finally {
    await a.close();
    await b.close();
  }
  assert.equal(await count('payment_claims'), 2);
});
