// Cluster-wide claims on correlationIds: the first instance to claim an id pays it; any other
// copy, on any instance, at any later time, is dropped. Without it two copies of one id could go
// to different processors (the router moved between them) and both would store it. Claims are
// group-committed like the writer: while one INSERT is in flight, new ids wait for the next one.
import { LazyConnection } from './connection.js';
import type { Logger } from '../log.js';

export interface ClaimsOptions {
  url: string;
  owner: string;
  batch_max_rows: number;
  retry_interval_ms: number;
  log: Logger;
}

// New claims and ids already ours (a dead instance's payments we reclaimed) come back.
const CLAIM_SQL =
  'INSERT INTO payment_claims (correlation_id, owner) SELECT unnest($1::uuid[]), $2 ' +
  'ON CONFLICT (correlation_id) DO UPDATE SET owner = EXCLUDED.owner WHERE payment_claims.owner = EXCLUDED.owner ' +
  'RETURNING correlation_id';

interface Waiting { id: string; resolve(claimed: boolean): void }

export class Claims {
  private readonly o: ClaimsOptions;
  private queue: Waiting[] = [];
  private readonly db: LazyConnection;
  private flushing = false;
  private closed = false;

  constructor(opts: ClaimsOptions) {
    this.o = opts;
    this.db = new LazyConnection(opts.url, 'rinha-claims');
  }

  // Resolves true if this instance owns the id (and must pay it), false for a duplicate.
  claim(id: string): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ id, resolve });
      if (!this.flushing) void this.flushLoop();
    });
  }

  // Purge: forget what waits (those payments are dropped).
  discard(): void {
    for (const w of this.queue) w.resolve(false);
    this.queue = [];
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.db.reset();
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.splice(0, this.o.batch_max_rows);
        // One row per id per statement (ON CONFLICT DO UPDATE refuses to touch a row twice);
        // a copy within the batch is a duplicate by definition.
        const first = new Map<string, Waiting>();
        const copies: Waiting[] = [];
        for (const w of batch) {
          if (first.has(w.id)) copies.push(w);
          else first.set(w.id, w);
        }
        try {
          const client = await this.db.get();
          const r = await client.query<{ correlation_id: string }>(CLAIM_SQL, [[...first.keys()], this.o.owner]);
          const won = new Set(r.rows.map((row) => row.correlation_id));
          for (const [id, w] of first) w.resolve(won.has(id));
          for (const w of copies) w.resolve(false);
        } catch (err) {
          this.o.log.warn('claims batch failed; retrying', { ids: batch.length, err: String(err) });
          this.queue.unshift(...batch);
          await this.db.reset();
          await new Promise((r) => setTimeout(r, this.o.retry_interval_ms));
        }
      }
    } finally {
      this.flushing = false;
      if (this.queue.length > 0 && !this.closed) void this.flushLoop();
    }
  }
}
