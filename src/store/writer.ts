// Group-commit writer: confirmed payments go to Postgres by COPY. While one COPY is in flight,
// confirmations accumulate; when it returns the next COPY carries all of them, so visibility lag
// is one round trip, not a timer. Only the first confirmation after an idle spell waits, a short
// linger, for the rest of its burst: one tick's sends are answered over a few ms, and without it
// each burst cost a 1-row COPY and then another. A COPY that meets a duplicate id fails whole,
// and that batch is then inserted with ON CONFLICT DO NOTHING: an id is never counted twice. On
// any error the batch stays at the head of the queue and is retried on a fresh connection:
// nothing is lost.
import type { Socket } from 'node:net';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  C_WRITER_BATCHES,
  C_WRITER_ERRORS,
  C_WRITER_ROWS,
  type Counters,
  G_WRITER_PENDING,
  H_BATCH_ROWS,
  H_FLUSH_MS,
  H_VISIBILITY_MS,
} from '../counters.js';
import type { Logger } from '../log.js';
import type { Processor } from '../processor.js';
import { LazyConnection } from './connection.js';
import { PAYMENTS_COLUMNS } from './db.js';
import { GroupCommit } from './group-commit.js';

export interface ConfirmedRow {
  correlation_id: string;
  amount_cents: number;
  accepted_at_ms: number; // against the purge fence (here and in the summary)
  requested_at_ms: number;
  processor: Processor;
  confirmed_at_ms: number;
}

export interface WriterOptions {
  url: string;
  batch_max_rows: number;
  linger_ms: number; // how long the first row after an idle spell waits for the rest of its burst
  retry_interval_ms: number;
  counters: Counters;
  log: Logger;
}

const COPY_SQL = `COPY payments (${PAYMENTS_COLUMNS}) FROM STDIN`;
const UPSERT_SQL =
  `INSERT INTO payments (${PAYMENTS_COLUMNS}) ` +
  'SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::smallint[], $5::bigint[]) ON CONFLICT (correlation_id) DO NOTHING';

export class BatchWriter {
  private readonly opts: WriterOptions;
  private readonly db: LazyConnection;
  private pending: ConfirmedRow[] = [];
  private readonly commit: GroupCommit;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(opts: WriterOptions) {
    this.opts = opts;
    this.commit = new GroupCommit(
      () => this.flushAll(),
      () => this.pending.length > 0 && !this.closed,
      () => this.wakeIdle(),
      opts.linger_ms,
    );
    this.db = new LazyConnection(opts.url, 'rinha-writer', (err) => opts.log.warn('writer connection lost', { err: String(err) }));
  }

  // Connects ahead of the first batch.
  warm(): void {
    this.db.warm((client) => copyText(client, COPY_SQL, '')); // an empty COPY stores nothing
  }

  add(row: ConfirmedRow): void {
    this.pending.push(row);
    this.opts.counters.add(G_WRITER_PENDING);
    this.commit.kick(); // confirmations read in this turn (and the linger) go in the same COPY
  }

  // Purge: drops the unwritten rows of payments accepted at or before the fence; returns how
  // many. A COPY already in flight completes.
  discardPending(fence_ms: number): number {
    const n = this.pending.length;
    this.pending = this.pending.filter((row) => row.accepted_at_ms > fence_ms);
    const dropped = n - this.pending.length;
    this.opts.counters.sub(G_WRITER_PENDING, dropped);
    return dropped;
  }

  // Resolves once everything added so far is committed.
  idle(): Promise<void> {
    if (!this.commit.busy && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.db.reset();
  }

  private async flushAll(): Promise<void> {
    // A close (after idle(), at shutdown) ends it: a linger that ends after it opens no connection.
    while (this.pending.length > 0 && !this.closed) {
      const batch = this.pending.slice(0, this.opts.batch_max_rows);
      const started = performance.now();
      try {
        await this.write(await this.db.get(), batch);
      } catch (err) {
        this.opts.counters.add(C_WRITER_ERRORS);
        this.opts.log.warn('writer batch failed; retrying', { rows: batch.length, err: String(err) });
        await this.db.reset();
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, this.opts.retry_interval_ms));
        continue;
      }
      // A purge may have replaced the queue meanwhile: only remove what is still ours.
      if (this.pending[0] === batch[0]) this.pending.splice(0, batch.length);
      const now_ms = Date.now();
      const c = this.opts.counters;
      c.sub(G_WRITER_PENDING, batch.length);
      c.add(C_WRITER_ROWS, batch.length);
      c.add(C_WRITER_BATCHES);
      c.observe(H_BATCH_ROWS, batch.length);
      c.observe(H_FLUSH_MS, performance.now() - started);
      for (const row of batch) c.observe(H_VISIBILITY_MS, now_ms - row.confirmed_at_ms);
    }
  }

  // Every row added so far is committed (after a close with rows left, nobody is told).
  private wakeIdle(): void {
    if (this.pending.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async write(client: pg.Client, batch: ConfirmedRow[]): Promise<void> {
    try {
      let text = '';
      for (const r of batch) text += `${r.correlation_id}\t${r.amount_cents}\t${r.requested_at_ms}\t${r.processor}\t${r.accepted_at_ms}\n`;
      await copyText(client, COPY_SQL, text);
    } catch (err) {
      // 23505 unique_violation: some id is already stored (a duplicate confirmation, or a COPY
      // that committed before its answer was lost). Insert the batch idempotently instead.
      if ((err as { code?: string }).code !== '23505') throw err;
      await client.query(UPSERT_SQL, [
        batch.map((r) => r.correlation_id),
        batch.map((r) => r.amount_cents),
        batch.map((r) => r.requested_at_ms),
        batch.map((r) => r.processor),
        batch.map((r) => r.accepted_at_ms),
      ]);
    }
  }
}

type CopyStream = ReturnType<typeof copyFrom> & { handleCopyInResponse(connection: unknown): void };

function copyText(client: pg.Client, sql: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql)) as CopyStream;
    // pg-copy-streams writes the CopyData length, the data and CopyDone as three socket writes
    // (CopyDone one tick later). Corked, they leave as one: a system call and a wake-up of the
    // backend per batch instead of three.
    const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    const onCopyIn = stream.handleCopyInResponse.bind(stream);
    stream.handleCopyInResponse = (connection) => {
      socket.cork();
      try {
        onCopyIn(connection);
      } finally {
        process.nextTick(() => socket.uncork()); // after the stream's own nextTick that sends CopyDone
      }
    };
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    stream.end(text);
  });
}
