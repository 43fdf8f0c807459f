// The COPY writer against a real Postgres (src/store/writer.ts): what its group commit and its
// corked COPY must not break. A batch larger than the socket's buffer, a batch that meets ids
// already stored (the COPY fails whole, the batch is upserted, the connection stays in step),
// a COPY that cannot start (kept, retried, stored once when it can), and a close that comes during
// the linger (the flush it ends opens no connection).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { C_WRITER_ERRORS, C_WRITER_ROWS, Counters } from '../src/counters.js';
import { BatchWriter, type ConfirmedRow } from '../src/store/writer.js';
import type { Postgres } from './support/stack.js';
import { commitRows, confirmedRow, startSchemaPostgres, storeLog as log } from './support/store.js';

let pgs: Postgres;
let admin: pg.Client;

before(async () => {
  ({ pgs, admin } = await startSchemaPostgres('writer-test'));
  await admin.query('TRUNCATE payments');
});
after(async () => {
  await admin?.end();
  await pgs?.stop();
});

const rows = (n: number, processor: 0 | 1 = 0): ConfirmedRow[] =>
  Array.from({ length: n }, (_, i) => confirmedRow({ amount_cents: 1000 + i, requested_at_ms: 2_000 + i, processor }));

function newWriter(counters: Counters, batch_max_rows = 10_000, linger_ms = 0): BatchWriter {
  return new BatchWriter({ url: pgs.url, batch_max_rows, linger_ms, retry_interval_ms: 50, counters, log });
}

async function stored(ids: string[]): Promise<{ n: number; cents: number }> {
  const r = await admin.query<{ n: string; cents: string | null }>(
    'SELECT count(*) AS n, sum(amount_cents) AS cents FROM payments WHERE correlation_id = ANY($1::uuid[])',
    [ids],
  );
  return { n: Number(r.rows[0].n), cents: Number(r.rows[0].cents ?? 0) };
}

const cents = (rs: ConfirmedRow[]): number => rs.reduce((s, r) => s + r.amount_cents, 0);

test('small batches and one larger than the socket buffer are all stored, each row once', async () => {
  const counters = Counters.create();
  const writer = newWriter(counters);
  const small = rows(3);
  await commitRows(writer, small);
  const big = rows(8_000, 1); // ~400 KB of COPY text: more than the socket takes in one write
  await commitRows(writer, big);
  const more = rows(5);
  await commitRows(writer, more);
  await writer.close();
  const all = [...small, ...big, ...more];
  assert.deepEqual(await stored(all.map((r) => r.correlation_id)), { n: all.length, cents: cents(all) });
  assert.equal(counters.get(C_WRITER_ROWS), all.length);
  assert.equal(counters.get(C_WRITER_ERRORS), 0);
});

test('a batch meeting ids already stored stores the new ones once, and the connection goes on', async () => {
  const counters = Counters.create();
  const writer = newWriter(counters);
  const first = rows(4);
  await commitRows(writer, first);
  const fresh = rows(6);
  await commitRows(writer, [...fresh.slice(0, 3), first[1], ...fresh.slice(3), first[2]]);
  const after_dup = rows(2); // on the same connection: it must still be in step with the backend
  await commitRows(writer, after_dup);
  await writer.close();
  const all = [...first, ...fresh, ...after_dup];
  assert.deepEqual(await stored(all.map((r) => r.correlation_id)), { n: all.length, cents: cents(all) });
  assert.equal(counters.get(C_WRITER_ERRORS), 0); // a duplicate is not an error: it is upserted
});

test('a COPY that fails to start loses nothing: retried until it can, then stored once', async () => {
  const counters = Counters.create();
  const writer = newWriter(counters);
  const before_rows = rows(2);
  await commitRows(writer, before_rows); // connected, statement known
  await admin.query('ALTER TABLE payments RENAME TO payments_away');
  const during = rows(7);
  try {
    for (const r of during) writer.add(r);
    const deadline = Date.now() + 10_000;
    while (counters.get(C_WRITER_ERRORS) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await admin.query('ALTER TABLE payments_away RENAME TO payments');
  }
  assert.ok(counters.get(C_WRITER_ERRORS) >= 2, 'the COPY into a missing table failed, and was retried');
  await writer.idle();
  await writer.close();
  const all = [...before_rows, ...during];
  assert.deepEqual(await stored(all.map((r) => r.correlation_id)), { n: all.length, cents: cents(all) });
});

test('a close during the linger ends the flush loop: the lingering row opens no connection', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] }); // the linger's clock
  const counters = Counters.create();
  const writer = newWriter(counters, 10_000, 1_000);
  const [row] = rows(1);
  writer.add(row); // never connected before: the flush would have to open the connection
  await writer.close();
  t.mock.timers.tick(1_000); // the linger ends after the close; its flush starts now, in this call
  // The flush's first step, had it gone on, would have asked for the connection synchronously.
  const db = (writer as unknown as { db: { client: unknown; opening: unknown } }).db;
  assert.equal(db.opening, null, 'no connection is being opened');
  assert.equal(db.client, null, 'no connection is open');
  await new Promise((r) => setImmediate(r));
  assert.equal(counters.get(C_WRITER_ROWS), 0);
  assert.deepEqual(await stored([row.correlation_id]), { n: 0, cents: 0 });
});
