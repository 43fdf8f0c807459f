// Takes over what a dead instance accepted and did not settle (durable intake: its claims with
// no row in payments). An instance is dead when its session advisory lock (held by its bus
// connection) can be taken. Its claims become ours, then its unsettled payments are left alone
// for a grace period so any attempt it had in flight has come back from the processor; then
// each is looked up at both processors (GET /payments/{id}):
// - found: it was paid; record it with the processor's own requestedAt;
// - found nowhere: nobody paid it; send it again through the ring.
// The processors refuse a second store of one id (422), so no path pays twice.
import { getText } from './get-text.js';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { FLAG_CLAIMED, writeNewRecord } from '../queue/record.js';
import type { Ring } from '../queue/ring.js';
import { ownerLockKey } from '../store/bus.js';
import { PAYMENTS_COLUMNS } from '../store/db.js';

export interface ReclaimOptions {
  db: pg.Pool;
  owner: string;
  origins: [string, string];
  ring: Ring;
  grace_ms: number;
  interval_ms: number;
  timeout_ms: number;
  log: Logger;
}

interface Claimed { correlation_id: string; amount_cents: number; accepted_at_ms: number; claimed_at_ms: number }

export type Lookup = { found: false } | { found: true; requested_at_ms: number } | null; // null: could not tell

export async function lookupPayment(origin: string, id: string, timeout_ms: number): Promise<Lookup> {
  try {
    const { status, text } = await getText(`${origin}/payments/${id}`, timeout_ms);
    if (status === 404) return { found: false };
    if (status !== 200) return null;
    const at = Date.parse((JSON.parse(text) as { requestedAt?: string }).requestedAt ?? '');
    return Number.isFinite(at) ? { found: true, requested_at_ms: at } : null;
  } catch {
    return null;
  }
}

export function startReclaimer(o: ReclaimOptions): { stop(): void; runOnce(): Promise<number> } {
  let claimed: Claimed[] = [];
  let running = false;
  let timer: NodeJS.Timeout | null = null;

  const claimDeadOwners = async (): Promise<void> => {
    const owners = await o.db.query<{ owner: string }>('SELECT owner FROM instances WHERE owner <> $1', [o.owner]);
    for (const { owner } of owners.rows) {
      const client = await o.db.connect();
      try {
        const key = ownerLockKey(owner);
        const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', key);
        if (!lock.rows[0].ok) continue; // alive
        try {
          // All its claims become ours (so nobody takes our re-sends for copies); the unsettled
          // ones come back.
          const rows = await client.query<{ correlation_id: string; amount_cents: string; accepted_at_ms: string }>(
            `WITH moved AS (UPDATE payment_claims SET owner = $1 WHERE owner = $2 RETURNING correlation_id, amount_cents, accepted_at_ms)
             SELECT m.* FROM moved m WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.correlation_id = m.correlation_id)`,
            [o.owner, owner],
          );
          await client.query('DELETE FROM instances WHERE owner = $1', [owner]);
          const now = Date.now();
          for (const r of rows.rows) {
            claimed.push({ correlation_id: r.correlation_id, amount_cents: Number(r.amount_cents), accepted_at_ms: Number(r.accepted_at_ms), claimed_at_ms: now });
          }
          if (rows.rows.length > 0) o.log.warn('reclaimed payments of a dead instance', { dead_owner: owner, payments: rows.rows.length });
        } finally {
          await client.query('SELECT pg_advisory_unlock($1, $2)', key);
        }
      } finally {
        client.release();
      }
    }
  };

  const settle = async (): Promise<number> => {
    const now = Date.now();
    const due = claimed.filter((c) => now - c.claimed_at_ms >= o.grace_ms);
    if (due.length === 0) return 0;
    const keep = claimed.filter((c) => now - c.claimed_at_ms < o.grace_ms);
    let settled = 0;
    for (const c of due) {
      const [d, f] = await Promise.all(o.origins.map((origin) => lookupPayment(origin, c.correlation_id, o.timeout_ms)));
      const hit = d?.found ? { p: 0, at: d.requested_at_ms } : f?.found ? { p: 1, at: f.requested_at_ms } : null;
      if (hit !== null) {
        await o.db.query(
          `INSERT INTO payments (${PAYMENTS_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (correlation_id) DO NOTHING`,
          [c.correlation_id, c.amount_cents, hit.at, hit.p, c.accepted_at_ms],
        );
        settled++;
      } else if (d !== null && f !== null) {
        // Paid nowhere: pay it now.
        const pushed = o.ring.pushWith((view, bytes, base) => {
          writeNewRecord(view, bytes, base, c.correlation_id, c.amount_cents, c.accepted_at_ms, FLAG_CLAIMED);
        });
        if (pushed) settled++;
        else keep.push(c);
      } else {
        keep.push(c); // a processor could not answer: ask again next round
      }
    }
    claimed = keep;
    return settled;
  };

  const runOnce = async (): Promise<number> => {
    if (running) return 0;
    running = true;
    try {
      await claimDeadOwners();
      return await settle();
    } catch (err) {
      o.log.warn('reclaim round failed', { err: String(err) });
      return 0;
    } finally {
      running = false;
    }
  };

  let stopped = false;
  const loop = (): void => {
    if (!stopped) timer = setTimeout(() => void runOnce().finally(loop), o.interval_ms);
  };
  loop();
  return {
    runOnce,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
