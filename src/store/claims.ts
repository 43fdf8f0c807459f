// Cluster-wide claims on correlationIds: the first instance to claim an id pays it; any other
// copy, on any instance, at any later time, is dropped. Without it two copies of one id could go
// to different processors (the router moved between them) and both would store it. Claims are
// group-committed like the writer: while one INSERT is in flight, new ids wait for the next one.
//
// A claim is also the payment's durable intake: it carries the amount and the accept time, and a
// claim with no row in payments is a payment accepted and not yet settled. If its owner dies,
// another instance settles it (pay/reclaim.ts).
import type pg from 'pg';
import { LazyConnection } from './connection.js';
import { PURGE_FENCE_SQL } from './db.js';
import { GroupCommit } from './group-commit.js';
import type { Logger } from '../log.js';

export interface ClaimsOptions {
  url: string;
  owner: string;
  batch_max_rows: number;
  retry_interval_ms: number;
  log: Logger;
}

// Only the rows inserted come back: those ids are ours. A payment accepted at or before the last
// purge's fence is not claimed (dropped), even if this instance has not heard of the purge yet;
// the purge locks the table, so a claim waiting on it reads the new fence. The fence comes back
// too, so a refusal can be told apart: purged, or a copy of an id already claimed.
// A claim sent again after an error ($5: retried) may have committed the first time, its answer
// lost with the connection (Postgres restarted): a claim of the same id with our owner and the
// same accept time is then ours too. (A copy of an id sent to this instance is never in the same
// batch as the first: copies within a batch are dropped before the query.)
const CLAIM_SQL =
  'WITH fence AS (SELECT ' +
  PURGE_FENCE_SQL +
  ' AS ms), ' +
  'input AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $5::boolean[]) AS u (id, cents, accepted_at_ms, retried)), ' +
  'won AS (' +
  'INSERT INTO payment_claims (correlation_id, amount_cents, accepted_at_ms, owner) ' +
  'SELECT input.id, input.cents, input.accepted_at_ms, $4::uuid FROM input, fence ' +
  'WHERE input.accepted_at_ms > fence.ms ON CONFLICT (correlation_id) DO NOTHING RETURNING correlation_id), ' +
  'earlier AS (SELECT c.correlation_id FROM payment_claims c JOIN input ON c.correlation_id = input.id ' +
  'WHERE input.retried AND c.owner = $4::uuid AND c.accepted_at_ms = input.accepted_at_ms) ' +
  'SELECT (SELECT ms FROM fence) AS fence_ms, ARRAY(SELECT correlation_id FROM won UNION SELECT correlation_id FROM earlier) AS won';

export interface ClaimRequest {
  correlation_id: string;
  amount_cents: number;
  accepted_at_ms: number;
}
// mine: this instance pays it; duplicate: another payment claimed the id first; purged: a purge
// came after it was accepted.
export type ClaimOutcome = 'mine' | 'duplicate' | 'purged';
interface Waiting {
  p: ClaimRequest;
  resolve(outcome: ClaimOutcome): void;
  retried?: boolean;
}

export class Claims {
  private readonly o: ClaimsOptions;
  private queue: Waiting[] = [];
  private readonly db: LazyConnection;
  private readonly commit = new GroupCommit(
    () => this.flushAll(),
    () => this.queue.length > 0 && !this.closed,
  );
  private closed = false;

  constructor(opts: ClaimsOptions) {
    this.o = opts;
    this.db = new LazyConnection(opts.url, 'rinha-claims');
  }

  // Connects ahead of the first batch.
  warm(): void {
    this.db.warm((client) => client.query(this.claimQuery([]))); // claims nothing, prepares the statement
  }

  // Resolves 'mine' if this instance owns the id (and must pay it).
  claim(p: ClaimRequest): Promise<ClaimOutcome> {
    return new Promise((resolve) => {
      this.queue.push({ p, resolve });
      this.commit.kick(); // every id pulled from the ring in this turn is claimed by one INSERT
    });
  }

  // Purge: forgets what waits and was accepted at or before the fence (those payments are
  // dropped); returns how many.
  discard(fence_ms: number): number {
    const kept: Waiting[] = [];
    for (const w of this.queue) {
      if (w.p.accepted_at_ms > fence_ms) kept.push(w);
      else w.resolve('purged');
    }
    const dropped = this.queue.length - kept.length;
    this.queue = kept;
    return dropped;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.db.reset();
  }

  private claimQuery(ws: Waiting[]): pg.QueryConfig {
    const ps = ws.map((w) => w.p);
    return {
      name: 'claim', // prepared once per connection: no parse and plan per batch
      text: CLAIM_SQL,
      values: [
        ps.map((p) => p.correlation_id),
        ps.map((p) => p.amount_cents),
        ps.map((p) => p.accepted_at_ms),
        this.o.owner,
        ws.map((w) => w.retried === true),
      ],
    };
  }

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue.splice(0, this.o.batch_max_rows);
      // A copy within the batch is a duplicate by definition.
      const first = new Map<string, Waiting>();
      const copies: Waiting[] = [];
      for (const w of batch) {
        if (first.has(w.p.correlation_id)) copies.push(w);
        else first.set(w.p.correlation_id, w);
      }
      try {
        const client = await this.db.get();
        const r = await client.query<{ fence_ms: string; won: string[] }>(this.claimQuery([...first.values()]));
        const fence_ms = Number(r.rows[0].fence_ms); // bigint comes back as text
        const won = new Set(r.rows[0].won);
        const refused = (w: Waiting): ClaimOutcome => (w.p.accepted_at_ms <= fence_ms ? 'purged' : 'duplicate');
        for (const [id, w] of first) w.resolve(won.has(id) ? 'mine' : refused(w));
        for (const w of copies) w.resolve(refused(w));
      } catch (err) {
        this.o.log.warn('claims batch failed; retrying', { ids: batch.length, err: String(err) });
        for (const w of batch) w.retried = true;
        this.queue.unshift(...batch);
        await this.db.reset();
        await new Promise((r) => setTimeout(r, this.o.retry_interval_ms));
      }
    }
  }
}
