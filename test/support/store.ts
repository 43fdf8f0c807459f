// The store's tests (test/store.*.test.ts): a real Postgres with the service's schema, confirmed
// rows to write, and a writer that commits them.
import type pg from 'pg';
import { createLogger } from '../../src/log.js';
import { connectWithRetry, ensureSchema } from '../../src/store/db.js';
import type { BatchWriter, ConfirmedRow } from '../../src/store/writer.js';
import { type Postgres, startPostgres } from './stack.js';

export const storeLog = createLogger('error');

// Postgres (embedded, or DATABASE_URL), its schema made, and a connection to look at it with.
export async function startSchemaPostgres(purpose: string): Promise<{ pgs: Postgres; admin: pg.Client }> {
  const pgs = await startPostgres();
  const admin = await connectWithRetry({ url: pgs.url, attempts: 50, interval_ms: 200, log: storeLog, purpose });
  await ensureSchema(admin);
  return { pgs, admin };
}

export function confirmedRow(fields: Partial<ConfirmedRow> = {}): ConfirmedRow {
  return {
    correlation_id: crypto.randomUUID(),
    amount_cents: 2005,
    accepted_at_ms: 1_000,
    requested_at_ms: 2_000,
    processor: 0,
    confirmed_at_ms: Date.now(),
    ...fields,
  };
}

// Adds the rows and resolves once they are committed.
export async function commitRows(writer: BatchWriter, rows: ConfirmedRow[]): Promise<void> {
  for (const r of rows) writer.add(r);
  await writer.idle();
}
