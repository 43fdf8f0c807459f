// The COPY writer against a real Postgres (src/store/writer.ts): what its group commit and its
// corked COPY must not break. A batch larger than the socket's buffer, a batch that meets ids
// already stored (the COPY fails whole, the batch is upserted, the connection stays in step), and
// a COPY that cannot start (kept, retried, stored once when it can).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { C_WRITER_ERRORS, C_WRITER_ROWS, Counters } from '../src/counters.js';
import { createLogger } from '../src/log.js';
import { connectWithRetry, ensureSchema } from '../src/store/db.js';
import { BatchWriter, type ConfirmedRow } from '../src/store/writer.js';
import { type Postgres, startPostgres } from './support/stack.js';

let pgs: Postgres;
let admin: pg.Client;
const log = createLogger('error');

before(async () => {
  pgs = await startPostgres();
  admin = await connectWithRetry({ url: pgs.url, attempts: 50, interval_ms: 200, log, purpose: 'writer-test' });
  await ensureSchema(admin);
  await admin.query('TRUNCATE payments');
});
after(async () => {
  await admin?.end();
  await pgs?.stop();
});

const rows = (n: number, processor: 0 | 1 = 0): ConfirmedRow[] =>
  Array.from({ length: n }, (_, i) => ({
    correlation_id: crypto.randomUUID(),
    amount_cents: 1000 + i,
    accepted_at_ms: 1_000,
    requested_at_ms: 2_000 + i,
    processor,
    confirmed_at_ms: Date.now(),
  }));

function newWriter(counters: Counters, batch_max_rows = 10_000): BatchWriter {
  return new BatchWriter({ url: pgs.url, batch_max_rows, retry_interval_ms: 50, counters, log });
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
  for (const r of small) writer.add(r);
  await writer.idle();
  const big = rows(8_000, 1); // ~400 KB of COPY text: more than the socket takes in one write
  for (const r of big) writer.add(r);
  await writer.idle();
  const more = rows(5);
  for (const r of more) writer.add(r);
  await writer.idle();
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
  for (const r of first) writer.add(r);
  await writer.idle();
  const fresh = rows(6);
  for (const r of [...fresh.slice(0, 3), first[1], ...fresh.slice(3), first[2]]) writer.add(r);
  await writer.idle();
  const after_dup = rows(2); // on the same connection: it must still be in step with the backend
  for (const r of after_dup) writer.add(r);
  await writer.idle();
  await writer.close();
  const all = [...first, ...fresh, ...after_dup];
  assert.deepEqual(await stored(all.map((r) => r.correlation_id)), { n: all.length, cents: cents(all) });
  assert.equal(counters.get(C_WRITER_ERRORS), 0); // a duplicate is not an error: it is upserted
});

test('a COPY that fails to start loses nothing: retried until it can, then stored once', async () => {
  const counters = Counters.create();
  const writer = newWriter(counters);
  const before_rows = rows(2);
  for (const r of before_rows) writer.add(r);
  await writer.idle(); // connected, statement known
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
