// Postgres connections: wait for the server with bounded retries, create the schema once.
import pg from 'pg';
import type { Logger } from '../log.js';

export interface ConnectOptions {
  url: string;
  attempts: number;
  interval_ms: number;
  log: Logger;
  purpose: string;
}

// A connected client, or an error after `attempts` tries. Never crashes because the database is
// still starting: that is the normal case when everything starts at once.
export async function connectWithRetry(opts: ConnectOptions): Promise<pg.Client> {
  let last: unknown;
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    const client = new pg.Client({ connectionString: opts.url, application_name: `rinha-${opts.purpose}` });
    client.on('error', () => {}); // replaced by the owner; an idle-connection error must not crash us
    try {
      await client.connect();
      if (attempt > 1) opts.log.info('postgres reachable', { purpose: opts.purpose, attempt });
      return client;
    } catch (err) {
      last = err;
      await client.end().catch(() => {});
      if (attempt === 1 || attempt % 10 === 0) {
        opts.log.warn('waiting for postgres', { purpose: opts.purpose, attempt, of: opts.attempts, err: String(err) });
      }
      await new Promise((r) => setTimeout(r, opts.interval_ms));
    }
  }
  throw new Error(`postgres not reachable after ${opts.attempts} attempts (${opts.purpose}): ${String(last)}`);
}

const SCHEMA_LOCK_KEY = 7_202_501;

// The columns every writer of payments fills, in this order (COPY, its upsert, the reclaimer).
export const PAYMENTS_COLUMNS = 'correlation_id, amount_cents, requested_at_ms, processor, accepted_at_ms';

// The last purge's fence, for any statement: no row means never purged.
export const PURGE_FENCE_SQL = 'coalesce((SELECT fence_ms FROM purge_fence), -1)';

// DURABILITY=strict: every connection of the instance commits synchronously (the WAL is on disk
// when COMMIT returns), whatever the server's default. Set per connection through the URL, so
// the writer's, the claims', the bus' and the pool's connections all carry it.
export function durableUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `${u.searchParams.get('options') ?? ''} -c synchronous_commit=on`.trim());
  return u.toString();
}

// DURABILITY=strict refuses a server that would not keep a commit: with fsync off, a
// synchronous commit returns before anything reaches the disk.
export async function assertDurableServer(client: pg.Client): Promise<void> {
  const r = await client.query<{ fsync: string; synchronous_commit: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  const { fsync, synchronous_commit } = r.rows[0];
  if (fsync !== 'on' || synchronous_commit === 'off') {
    throw new Error(
      `DURABILITY=strict needs Postgres with fsync=on and synchronous commits (fsync=${fsync}, synchronous_commit=${synchronous_commit})`,
    );
  }
}

// The tables whose loss loses payments: what is accepted (claims), what is counted (payments),
// and who may still settle its claims (instances).
const DURABLE_TABLES = ['payments', 'payment_claims', 'instances'];

// Money in integer cents, time in epoch ms: the row is exactly what the processor stored.
// fast: UNLOGGED, a contest cache of the processors' own records; a clean restart keeps it, a
// Postgres crash empties it (see README, reliability). strict: logged (made so if they exist
// unlogged), so a crash keeps every committed row.
export async function ensureSchema(client: pg.Client, durability: 'fast' | 'strict' = 'fast'): Promise<void> {
  const UNLOGGED = durability === 'strict' ? '' : 'UNLOGGED';
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]); // instances start together
    await client.query(`
      CREATE ${UNLOGGED} TABLE IF NOT EXISTS payments (
        correlation_id  uuid     PRIMARY KEY,
        amount_cents    bigint   NOT NULL CHECK (amount_cents > 0),
        requested_at_ms bigint   NOT NULL,
        processor       smallint NOT NULL CHECK (processor IN (0, 1)),
        accepted_at_ms  bigint   NOT NULL
      )`);
    await client.query(
      'CREATE INDEX IF NOT EXISTS payments_summary ON payments (requested_at_ms) INCLUDE (processor, amount_cents, accepted_at_ms)',
    );
    // The last purge's fence: what was accepted at or before it is purged. The summary does not
    // count such a row even if a write that was in flight at the purge stores it afterwards, and
    // no claim for such a payment is taken (src/store/bus.ts). No row until the first purge
    // (PURGE_FENCE_SQL). Logged, unlike the rest: a crash must not lose the fence.
    await client.query(`
      CREATE TABLE IF NOT EXISTS purge_fence (
        one      boolean PRIMARY KEY DEFAULT true CHECK (one),
        fence_ms bigint  NOT NULL
      )`);
    // Who pays each id: one row per id ever accepted, and, until a payments row exists for
    // it, the payment's durable intake (src/store/claims.ts, src/pay/reclaim.ts).
    await client.query(`
      CREATE ${UNLOGGED} TABLE IF NOT EXISTS payment_claims (
        correlation_id uuid   PRIMARY KEY,
        amount_cents   bigint NOT NULL,
        accepted_at_ms bigint NOT NULL,
        owner          uuid   NOT NULL
      )`);
    await client.query('CREATE INDEX IF NOT EXISTS payment_claims_owner ON payment_claims (owner)');
    // Instances that have claimed anything; one whose liveness lock is free is dead.
    await client.query(`
      CREATE ${UNLOGGED} TABLE IF NOT EXISTS instances (
        owner         uuid   PRIMARY KEY,
        started_at_ms bigint NOT NULL
      )`);
    await client.query(`
      CREATE UNLOGGED TABLE IF NOT EXISTS processor_health (
        processor       smallint PRIMARY KEY,
        failing         boolean  NOT NULL,
        min_response_ms integer  NOT NULL,
        checked_at_ms   bigint   NOT NULL
      )`);
    if (durability === 'strict') {
      // Made by a fast instance earlier: rewrite them logged (locks them while it runs).
      const unlogged = await client.query<{ relname: string }>(
        "SELECT relname FROM pg_class WHERE relname = ANY($1) AND relkind = 'r' AND relpersistence = 'u' AND pg_table_is_visible(oid)",
        [DURABLE_TABLES],
      );
      for (const { relname } of unlogged.rows) await client.query(`ALTER TABLE ${relname} SET LOGGED`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
