// The cluster's shared channel in Postgres: LISTEN/NOTIFY for processor health and purges, and
// a session advisory lock that elects the one instance polling processor health. Reconnects
// forever with a fixed interval; losing the connection releases leadership (the lock is the
// session's).
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Logger } from '../log.js';
import type { Health, Processor } from '../processor.js';

export interface HealthRow extends Health {
  processor: Processor;
}

export interface BusOptions {
  url: string;
  owner: string; // this instance's id: its advisory lock says it is alive
  log: Logger;
  reconnect_interval_ms: number;
  onHealth(row: HealthRow): void;
  onPurge(fence_ms: number): void; // drop what was accepted at or before fence_ms
  onConnection(up: boolean): void;
}

const LEADER_LOCK_KEY = 7_202_502;
const CH_HEALTH = 'rinha_health';
const CH_PURGE = 'rinha_purge';

export class Bus {
  private readonly o: BusOptions;
  private client: pg.Client | null = null;
  private leader = false;
  private closed = false;

  constructor(opts: BusOptions) {
    this.o = opts;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  // One connection at a time, one reconnect loop at a time: a lost connection emits both
  // 'error' and 'end', and a failed attempt emits them too; only the current one counts.
  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.url, application_name: 'rinha-bus' });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      try {
        if (n.channel === CH_HEALTH && n.payload) this.o.onHealth(JSON.parse(n.payload) as HealthRow);
        else if (n.channel === CH_PURGE) {
          const fence_ms = Number(n.payload);
          this.o.onPurge(Number.isFinite(fence_ms) && fence_ms > 0 ? fence_ms : Date.now());
        }
      } catch (err) {
        this.o.log.warn('bad notification', { channel: n.channel, err: String(err) });
      }
    });
    try {
      await client.connect();
      await client.query('SELECT pg_advisory_lock($1, $2)', ownerLockKey(this.o.owner));
      await client.query('INSERT INTO instances (owner, started_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING', [this.o.owner, Date.now()]);
      await client.query(`LISTEN ${CH_HEALTH}`);
      await client.query(`LISTEN ${CH_PURGE}`);
      const rows = await client.query<{ processor: number; failing: boolean; min_response_ms: number; checked_at_ms: string }>(
        'SELECT processor, failing, min_response_ms, checked_at_ms FROM processor_health',
      );
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.o.onConnection(true);
      for (const r of rows.rows) {
        this.o.onHealth({
          processor: r.processor as Processor,
          failing: r.failing,
          min_response_ms: r.min_response_ms,
          checked_at_ms: Number(r.checked_at_ms),
        });
      }
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw err;
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return; // a failed attempt or an old connection: already handled
    this.client = null;
    this.leader = false;
    client.removeAllListeners();
    client.on('error', () => {});
    client.end().catch(() => {});
    this.o.onConnection(false);
    if (this.closed) return;
    this.o.log.warn('bus connection lost; reconnecting', { err: String(err) });
    void this.reconnectLoop();
  }

  private reconnecting = false;

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.closed && this.client === null) {
        await new Promise((r) => setTimeout(r, this.o.reconnect_interval_ms));
        if (this.closed) return;
        try {
          await this.connect();
          this.o.log.info('bus reconnected');
        } catch {
          // still down: try again after the interval
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  // Tries to become (or stay) the health leader.
  async tryLead(): Promise<boolean> {
    const client = this.client;
    if (client === null) return false;
    if (this.leader) return true;
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK_KEY]);
    this.leader = r.rows[0].ok === true;
    return this.leader;
  }

  async publishHealth(row: HealthRow): Promise<void> {
    const client = this.client;
    if (client === null) return;
    await client.query(
      `WITH up AS (
         INSERT INTO processor_health (processor, failing, min_response_ms, checked_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (processor) DO UPDATE SET failing = $2, min_response_ms = $3, checked_at_ms = $4 RETURNING 1)
       SELECT pg_notify('${CH_HEALTH}', $5) FROM up`,
      [row.processor, row.failing, row.min_response_ms, row.checked_at_ms, JSON.stringify(row)],
    );
  }

  // Purges what was accepted up to now, in the tables and in every instance (this one included).
  // The fence (this moment) is stored in purge_fence and travels with the NOTIFY. The tables are
  // locked against writes while it moves, so a write in flight commits before (and is deleted)
  // or runs after and meets the new fence: the summary does not count a row accepted at or
  // before it, and no claim is taken for one. What was accepted after it stays, in the tables
  // and in an instance that hears the NOTIFY late. Returns once the clock has passed the fence,
  // so a payment accepted after the answer is never at or before it.
  async purge(db: pg.Pool): Promise<void> {
    const client = await db.connect();
    let fence_ms: number;
    try {
      fence_ms = await purgeEverywhere(client);
      client.release();
    } catch (err) {
      client.release(true); // its transaction may be left open: do not reuse the connection
      throw err;
    }
    while (Date.now() <= fence_ms) await new Promise((r) => setTimeout(r, 1));
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => {});
  }
}

// The purge's transaction (tables and NOTIFY) on a connection of the caller's, which must not be
// reused if this throws (its transaction may be left open). Returns the fence.
export async function purgeEverywhere(client: pg.ClientBase): Promise<number> {
  const fence_ms = Date.now(); // one clock: the instances share the host's
  await client.query(`BEGIN; ${purgeTablesSql(fence_ms)}; SELECT pg_notify('${CH_PURGE}', '${fence_ms}'); COMMIT`);
  return fence_ms;
}

// The tables' half of a purge, inside the caller's transaction: the fence moves while writes are
// locked out; rows accepted at or before it go, later ones stay. The claims are locked first: a
// claim that comes while the purge waits for a COPY in flight then waits too, and meets the new
// fence, instead of being taken for a payment the purge is about to drop.
export function purgeTablesSql(fence_ms: number): string {
  assert(Number.isSafeInteger(fence_ms) && fence_ms > 0, 'a purge fence is a time in ms');
  return (
    'LOCK TABLE payment_claims, payments IN SHARE ROW EXCLUSIVE MODE; ' +
    `INSERT INTO purge_fence (fence_ms) VALUES (${fence_ms}) ` +
    'ON CONFLICT (one) DO UPDATE SET fence_ms = greatest(purge_fence.fence_ms, excluded.fence_ms); ' +
    `DELETE FROM payments WHERE accepted_at_ms <= ${fence_ms}; ` +
    `DELETE FROM payment_claims WHERE accepted_at_ms <= ${fence_ms}`
  );
}

// The (int4, int4) advisory lock an instance holds on its own session while it lives.
export function ownerLockKey(owner: string): [number, number] {
  const hex = owner.replace(/-/g, '');
  return [parseInt(hex.slice(0, 8), 16) | 0, parseInt(hex.slice(8, 16), 16) | 0];
}
