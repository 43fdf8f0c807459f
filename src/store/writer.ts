// Group-commit writer: confirmed payments go to Postgres by COPY. While one COPY is in flight,
// confirmations accumulate; when it returns the next COPY carries all of them, so visibility lag
// is one round trip, not a timer. A COPY that meets a duplicate id fails whole, and that batch is
// then inserted with ON CONFLICT DO NOTHING: an id is never counted twice. On any error the batch
// stays at the head of the queue and is retried on a fresh connection: nothing is lost.
//
// Durable intake (optional): accepted payments are also copied to pending_payments, tagged with
// this instance's owner id, and deleted once settled, all through the same connection in order
// (an intake row is always written before its deletion). If the instance dies, another one
// reclaims its pending rows (see pay/reclaim.ts).
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LazyConnection } from './connection.js';
import { C_WRITER_BATCHES, C_WRITER_ERRORS, C_WRITER_ROWS, type Counters, G_WRITER_PENDING, H_BATCH_ROWS, H_FLUSH_MS, H_VISIBILITY_MS } from '../counters.js';
import type { Logger } from '../log.js';

export interface ConfirmedRow {
  correlation_id: string;
  amount_cents: number;
  requested_at_ms: number;
  processor: 0 | 1;
  confirmed_at_ms: number;
}

export interface IntakeRow {
  correlation_id: string;
  amount_cents: number;
  accepted_at_ms: number;
}

export interface WriterOptions {
  url: string;
  owner: string | null; // null: durable intake off
  intake_linger_ms: number;
  batch_max_rows: number;
  retry_interval_ms: number;
  counters: Counters;
  log: Logger;
}

const COPY_SQL = 'COPY payments (correlation_id, amount_cents, requested_at_ms, processor) FROM STDIN';
const INTAKE_SQL = 'COPY pending_payments (correlation_id, amount_cents, accepted_at_ms, owner) FROM STDIN';
const SETTLE_SQL = 'DELETE FROM pending_payments WHERE correlation_id = ANY($1::uuid[])';
const UPSERT_SQL =
  'INSERT INTO payments (correlation_id, amount_cents, requested_at_ms, processor) ' +
  'SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::smallint[]) ON CONFLICT (correlation_id) DO NOTHING';

export class BatchWriter {
  private readonly opts: WriterOptions;
  private pending: ConfirmedRow[] = [];
  // Durable intake. A payment settled before its intake row was due never touches the table:
  // with healthy processors that is nearly all of them, so intake costs little.
  private intake = new Map<string, { row: IntakeRow; queued_at_ms: number }>(); // not yet written, oldest first
  private intakeRetry: IntakeRow[] = []; // written once, failed: written again first
  private durable = new Set<string>(); // written (or being written), not yet settled
  private settled: string[] = []; // durable ids to delete
  private readonly db: LazyConnection;
  private flushing = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(opts: WriterOptions) {
    this.opts = opts;
    this.db = new LazyConnection(opts.url, 'rinha-writer', (err) => opts.log.warn('writer connection lost', { err: String(err) }));
  }

  get pendingRows(): number {
    return this.pending.length;
  }

  add(row: ConfirmedRow): void {
    this.settle(row.correlation_id);
    this.pending.push(row);
    this.opts.counters.add(G_WRITER_PENDING);
    this.kick();
  }

  // An accepted payment, made durable after intake_linger_ms unless settled before (no-op when
  // intake is off).
  accepted(row: IntakeRow): void {
    if (this.opts.owner === null) return;
    this.intake.set(row.correlation_id, { row, queued_at_ms: Date.now() });
    this.scheduleLinger();
  }

  // A payment finished without a confirmed row of ours (someone else's 422).
  finished(correlation_id: string): void {
    if (this.opts.owner === null) return;
    this.settle(correlation_id);
    if (this.settled.length > 0) this.kick();
  }

  private settle(id: string): void {
    if (this.opts.owner === null) return;
    if (this.intake.delete(id)) return;
    if (this.durable.delete(id)) this.settled.push(id);
  }

  private kick(): void {
    if (!this.flushing) void this.flushLoop();
  }

  private scheduleLinger(): void {
    if (this.flushing || this.lingerTimer !== null || this.intake.size === 0) return;
    const oldest = this.intake.values().next().value!;
    const wait = Math.max(0, oldest.queued_at_ms + this.opts.intake_linger_ms - Date.now());
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.kick();
    }, wait);
  }

  // Intake rows whose linger has passed, oldest first.
  private dueIntake(now_ms: number): IntakeRow[] {
    const due = this.intakeRetry.splice(0, this.opts.batch_max_rows);
    for (const [id, e] of this.intake) {
      if (due.length >= this.opts.batch_max_rows || e.queued_at_ms + this.opts.intake_linger_ms > now_ms) break;
      this.intake.delete(id);
      this.durable.add(id); // from now on its settlement deletes the row
      due.push(e.row);
    }
    return due;
  }

  private hasWork(now_ms: number): boolean {
    if (this.pending.length > 0 || this.settled.length > 0 || this.intakeRetry.length > 0) return true;
    const oldest = this.intake.values().next();
    return !oldest.done && oldest.value.queued_at_ms + this.opts.intake_linger_ms <= now_ms;
  }

  // Drops everything not yet written (purge). A COPY already in flight completes.
  discardPending(): number {
    const n = this.pending.length;
    this.pending = [];
    this.intake.clear();
    this.intakeRetry = [];
    this.durable.clear();
    this.settled = [];
    this.opts.counters.sub(G_WRITER_PENDING, n);
    return n;
  }

  // Resolves once every confirmed row added so far is committed (and intake rows settled).
  idle(): Promise<void> {
    if (!this.flushing && !this.hasWork(Infinity)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    await this.db.reset();
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    try {
      while (this.hasWork(Date.now())) {
        const batch = this.pending.slice(0, this.opts.batch_max_rows);
        const intake = this.dueIntake(Date.now());
        const settled = this.settled.splice(0, this.opts.batch_max_rows);
        const started = performance.now();
        try {
          await this.write(batch, intake, settled);
        } catch (err) {
          this.opts.counters.add(C_WRITER_ERRORS);
          this.opts.log.warn('writer batch failed; retrying', { rows: batch.length, intake: intake.length, err: String(err) });
          this.intakeRetry.unshift(...intake);
          this.settled.unshift(...settled);
          await this.db.reset();
          if (this.closed) return;
          await new Promise((r) => setTimeout(r, this.opts.retry_interval_ms));
          continue;
        }
        if (batch.length === 0) continue;
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
    } finally {
      this.flushing = false;
      if (!this.hasWork(Infinity)) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      } else if (!this.closed) {
        if (this.hasWork(Date.now())) void this.flushLoop();
        else this.scheduleLinger();
      }
    }
  }

  private async write(batch: ConfirmedRow[], intake: IntakeRow[], settled: string[]): Promise<void> {
    const client = await this.db.get();
    if (intake.length > 0) {
      let text = '';
      for (const r of intake) text += `${r.correlation_id}\t${r.amount_cents}\t${r.accepted_at_ms}\t${this.opts.owner}\n`;
      await copyText(client, INTAKE_SQL, text);
    }
    if (batch.length > 0) await this.writeConfirmed(client, batch);
    if (settled.length > 0) await client.query(SETTLE_SQL, [settled]);
  }

  private async writeConfirmed(client: pg.Client, batch: ConfirmedRow[]): Promise<void> {
    try {
      let text = '';
      for (const r of batch) text += `${r.correlation_id}\t${r.amount_cents}\t${r.requested_at_ms}\t${r.processor}\n`;
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
      ]);
    }
  }
}

function copyText(client: pg.Client, sql: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    stream.end(text);
  });
}
