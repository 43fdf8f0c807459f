// The SQL of taking over a dead instance's payments (pay/reclaim.ts decides what to do with
// them). An instance is dead when its liveness lock (a session advisory lock held by its bus
// connection) can be taken.
import type pg from 'pg';
import type { Processor } from '../processor.js';
import { ownerLockKey } from './bus.js';
import { PAYMENTS_COLUMNS } from './db.js';

// A payment a dead instance accepted and did not settle: its claim has no row in payments.
export interface Orphan {
  correlation_id: string;
  amount_cents: number;
  accepted_at_ms: number;
}

// The owners other than `self` that have claimed anything.
export async function otherOwners(db: pg.Pool, self: string): Promise<string[]> {
  const r = await db.query<{ owner: string }>('SELECT owner FROM instances WHERE owner <> $1', [self]);
  return r.rows.map((row) => row.owner);
}

// null while `dead` is alive. Otherwise all its claims become `self`'s (so nobody takes our
// re-sends for copies), it leaves the instances table, and its unsettled payments come back.
export async function adoptIfDead(db: pg.Pool, dead: string, self: string): Promise<Orphan[] | null> {
  const client = await db.connect();
  try {
    const key = ownerLockKey(dead);
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', key);
    if (!lock.rows[0].ok) return null;
    try {
      const rows = await client.query<{ correlation_id: string; amount_cents: string; accepted_at_ms: string }>(
        `WITH moved AS (UPDATE payment_claims SET owner = $1 WHERE owner = $2 RETURNING correlation_id, amount_cents, accepted_at_ms)
         SELECT m.* FROM moved m WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.correlation_id = m.correlation_id)`,
        [self, dead],
      );
      await client.query('DELETE FROM instances WHERE owner = $1', [dead]);
      // bigint comes back as text
      return rows.rows.map((r) => ({
        correlation_id: r.correlation_id,
        amount_cents: Number(r.amount_cents),
        accepted_at_ms: Number(r.accepted_at_ms),
      }));
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', key);
    }
  } finally {
    client.release();
  }
}

// Records an orphan a processor says it stored, with the processor's own requestedAt.
export async function recordOrphanPaid(db: pg.Pool, o: Orphan, processor: Processor, requested_at_ms: number): Promise<void> {
  await db.query(`INSERT INTO payments (${PAYMENTS_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (correlation_id) DO NOTHING`, [
    o.correlation_id,
    o.amount_cents,
    requested_at_ms,
    processor,
    o.accepted_at_ms,
  ]);
}
