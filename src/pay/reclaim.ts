// Takes over what a dead instance accepted and did not settle (durable intake: its claims with
// no row in payments; the SQL is in store/orphans.ts). Its claims become ours, then its
// unsettled payments are left alone for a grace period so any attempt it had in flight has come
// back from the processor; then each is looked up at both processors (GET /payments/{id}):
// - found: it was paid; record it with the processor's own requestedAt;
// - found nowhere: nobody paid it; send it again through the ring.
// The processors refuse a second store of one id (422), so no path pays twice.
import { getText } from './get-text.js';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { FLAG_CLAIMED, writeNewRecord } from '../queue/record.js';
import type { Ring } from '../queue/ring.js';
import { adoptIfDead, type Orphan, otherOwners, recordOrphanPaid } from '../store/orphans.js';

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

interface Claimed extends Orphan {
  claimed_at_ms: number;
}

type Lookup = { found: false } | { found: true; requested_at_ms: number } | null; // null: could not tell

async function lookupPayment(origin: string, id: string, timeout_ms: number): Promise<Lookup> {
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
    for (const owner of await otherOwners(o.db, o.owner)) {
      const orphans = await adoptIfDead(o.db, owner, o.owner);
      if (orphans === null) continue; // alive
      const now = Date.now();
      for (const orphan of orphans) claimed.push({ ...orphan, claimed_at_ms: now });
      if (orphans.length > 0) o.log.warn('reclaimed payments of a dead instance', { dead_owner: owner, payments: orphans.length });
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
      const hit = d?.found ? { p: 0 as const, at: d.requested_at_ms } : f?.found ? { p: 1 as const, at: f.requested_at_ms } : null;
      if (hit !== null) {
        await recordOrphanPaid(o.db, c, hit.p, hit.at);
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
