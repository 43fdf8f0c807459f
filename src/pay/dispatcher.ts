// The payment loop of one worker, free of threads and sockets so it can be driven in tests:
// it takes payments, asks the router, sends through the given processor clients, classifies the
// answer, and hands what a processor stored to the writer. It keeps three invariants:
// - an attempt whose outcome is unknown pins the payment to that processor with the same
//   requestedAt until the processor answers 200 or 422;
// - only 200, or 422 after an unknown outcome, is recorded;
// - the requestedAt recorded is the one sent.
import {
  C_DECISION,
  C_RETRIES,
  C_STALE_DROPPED,
  type Counters,
  G_BACKLOG,
  G_HELD,
  G_INFLIGHT,
  H_LATENCY_DEFAULT,
  H_LATENCY_FALLBACK,
  H_QUEUE_WAIT_MS,
  type Outcome,
} from '../counters.js';
import { formatCents } from '../money.js';
import type { Health, Processor } from '../processor.js';
import type { ConfirmedRow } from '../store/writer.js';
import type { AttemptResult } from './client.js';
import { newObservations, type Observations, route, viewOf } from './router.js';

export interface Job {
  correlation_id: string;
  amount_cents: number;
  accepted_at_ms: number;
  requested_at_ms: number; // of the last attempt; kept while pinned
  attempts: number;
  pinned: -1 | Processor; // processor an unknown outcome ties it to
  not_before_ms: number;
  held: boolean;
}

export interface DispatcherOptions {
  max_inflight: number;
  // 0 = unlimited; spreads a released backlog so it does not starve the front. Never holds the
  // rate under ARRIVAL_HEADROOM × the arrival rate (sendRatePerS).
  max_sends_per_s: number;
  burst_ms: number; // the longest gap between two pumps (the worker's tick): a burst is that much of the rate
  fees: [number, number];
  safe_latency_ms: number;
  hold_budget_ms: number;
  retry_backoff_min_ms: number;
  retry_backoff_max_ms: number;
  send: (processor: Processor, body: string) => Promise<AttemptResult>;
  health: (processor: Processor) => Health;
  purged_through_ms: () => number; // payments accepted at or before it were purged
  record: (row: ConfirmedRow) => void;
  counters: Counters;
  now?: () => number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

// A processor's POST /payments body: exact cents, requestedAt in ISO-8601 with milliseconds.
export function paymentBody(correlation_id: string, amount_cents: number, requested_at_ms: number): string {
  return (
    `{"correlationId":"${correlation_id}","amount":${formatCents(amount_cents)},` +
    `"requestedAt":"${new Date(requested_at_ms).toISOString()}"}`
  );
}

// The send cap never holds the rate under this multiple of the arrival rate: a backlog always
// drains at least as fast as payments arrive, whatever the cap (one instance alone takes twice
// the arrivals a cap tuned for two was measured with).
const ARRIVAL_HEADROOM = 2;
const ARRIVAL_WINDOW_MS = 1000;

export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly now: () => number;
  private queue: Job[] = []; // unpinned, oldest first; head index avoids O(n) shifts
  private head = 0;
  private pinned: Job[] = []; // unknown outcomes waiting for their retry
  private readonly inflight: [Map<Job, number>, Map<Job, number>] = [new Map(), new Map()];
  private readonly obs: [Observations, Observations] = [newObservations(), newObservations()];
  private published_backlog = 0;
  private published_held = 0;
  private idleWaiters: Array<() => void> = [];
  private tokens: number;
  private tokens_at_ms: number;
  private arrivals = 0; // added since arrivals_since_ms
  private arrivals_since_ms: number;
  private arrival_rate_per_s = 0; // over the last full window
  private seen_fence_ms = 0;

  constructor(opts: DispatcherOptions) {
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.tokens_at_ms = this.now();
    this.arrivals_since_ms = this.tokens_at_ms;
    this.tokens = this.burst(this.o.max_sends_per_s);
  }

  // Sends allowed at once: one tick's worth of the rate, so a longer tick does not lower it.
  private burst(rate_per_s: number): number {
    return Math.max(1, (rate_per_s * this.o.burst_ms) / 1000);
  }

  // The send rate now: the cap, or more when payments arrive near it. The cap exists for the
  // release of a held backlog, which it spreads over time; it must never be what holds payments.
  sendRatePerS(now: number): number {
    if (now - this.arrivals_since_ms >= ARRIVAL_WINDOW_MS) {
      this.arrival_rate_per_s = (this.arrivals * 1000) / (now - this.arrivals_since_ms);
      this.arrivals = 0;
      this.arrivals_since_ms = now;
    }
    return Math.max(this.o.max_sends_per_s, ARRIVAL_HEADROOM * this.arrival_rate_per_s);
  }

  // Sends the rate allows now (token bucket).
  private allowance(now: number): number {
    if (this.o.max_sends_per_s <= 0) return Infinity;
    const rate = this.sendRatePerS(now);
    this.tokens = Math.min(this.burst(rate), this.tokens + ((now - this.tokens_at_ms) * rate) / 1000);
    this.tokens_at_ms = now;
    return Math.floor(this.tokens);
  }

  get waiting(): number {
    return this.queue.length - this.head + this.pinned.length;
  }

  get inflightCount(): number {
    return this.inflight[0].size + this.inflight[1].size;
  }

  isIdle(): boolean {
    return this.waiting === 0 && this.inflightCount === 0;
  }

  // Resolves when nothing is waiting or in flight.
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  add(p: { correlation_id: string; amount_cents: number; accepted_at_ms: number }): void {
    if (this.purged(p.accepted_at_ms)) return; // taken from the ring just before a purge
    this.arrivals++;
    this.queue.push({
      correlation_id: p.correlation_id,
      amount_cents: p.amount_cents,
      accepted_at_ms: p.accepted_at_ms,
      requested_at_ms: 0,
      attempts: 0,
      pinned: -1,
      not_before_ms: 0,
      held: false,
    });
  }

  // Purge: drops every payment accepted at or before the fence that is not in flight (those
  // drop when they return). Later ones were accepted after the purge and stay.
  purge(fence_ms: number): number {
    this.seen_fence_ms = fence_ms;
    const before = this.waiting;
    const kept = (job: Job): boolean => job.accepted_at_ms > fence_ms;
    this.queue = this.queue.slice(this.head).filter(kept);
    this.head = 0;
    this.pinned = this.pinned.filter(kept);
    this.publish(false);
    this.settle();
    return before - this.waiting;
  }

  // Sends what can be sent now. Cheap to call often.
  pump(): void {
    const now = this.now();
    const o = this.o;
    // A purge applies from the moment the fence moves, before this thread reads its message:
    // nothing it dropped is sent in between.
    const fence_ms = o.purged_through_ms();
    if (fence_ms !== this.seen_fence_ms) this.purge(fence_ms);
    const allowed = this.allowance(now);
    let room = Math.min(o.max_inflight - this.inflightCount, allowed);
    const room_at_start = room;

    // Unknown outcomes first: they go back to their processor only, after a backoff.
    if (this.pinned.length > 0 && room > 0) {
      const still: Job[] = [];
      for (const job of this.pinned) {
        if (room > 0 && job.not_before_ms <= now && this.obs[job.pinned as Processor].cooldown_until_ms <= now) {
          room--;
          this.send(job, job.pinned as Processor, now);
        } else {
          still.push(job);
        }
      }
      this.pinned = still;
    }

    let held = false;
    if (this.head < this.queue.length) {
      const decision = route({
        default: viewOf(o.health(0), this.observed(0), o.fees[0], now),
        fallback: viewOf(o.health(1), this.observed(1), o.fees[1], now),
        oldest_wait_ms: now - this.queue[this.head].accepted_at_ms,
        safe_latency_ms: o.safe_latency_ms,
        hold_budget_ms: o.hold_budget_ms,
      });
      if (decision === 'hold') {
        held = true;
        for (let i = this.head; i < this.queue.length; i++) {
          const job = this.queue[i];
          if (job.held) break; // everything after was held before too (FIFO)
          job.held = true;
          o.counters.add(C_DECISION + 2);
        }
      } else {
        const p = decision === 'default' ? 0 : 1;
        while (room > 0 && this.head < this.queue.length) {
          const job = this.queue[this.head++];
          room--;
          o.counters.add(C_DECISION + p);
          this.send(job, p, now);
        }
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
      }
    }
    if (Number.isFinite(allowed)) this.tokens -= room_at_start - room;
    this.publish(held);
  }

  private observed(p: Processor): Observations {
    const obs = this.obs[p];
    const first = this.inflight[p].values().next();
    obs.oldest_inflight_sent_at_ms = first.done ? 0 : first.value;
    return obs;
  }

  private publish(held: boolean): void {
    const c = this.o.counters;
    const backlog = this.waiting;
    if (backlog !== this.published_backlog) {
      c.add(G_BACKLOG, (backlog - this.published_backlog) >>> 0);
      this.published_backlog = backlog;
    }
    const held_now = held ? this.queue.length - this.head : 0;
    if (held_now !== this.published_held) {
      c.add(G_HELD, (held_now - this.published_held) >>> 0);
      this.published_held = held_now;
    }
  }

  private send(job: Job, p: Processor, now: number): void {
    const o = this.o;
    if (job.attempts === 0) o.counters.observe(H_QUEUE_WAIT_MS, now - job.accepted_at_ms);
    else o.counters.add(C_RETRIES);
    job.attempts++;
    // A new requestedAt unless an earlier attempt here may have been stored with the old one.
    if (job.pinned === -1) job.requested_at_ms = now;
    this.inflight[p].set(job, now);
    o.counters.add(G_INFLIGHT + p);
    o.send(p, paymentBody(job.correlation_id, job.amount_cents, job.requested_at_ms)).then((result) =>
      this.settleAttempt(job, p, now, result),
    );
  }

  private settleAttempt(job: Job, p: Processor, sent_at: number, result: AttemptResult): void {
    const o = this.o;
    const now = this.now();
    this.inflight[p].delete(job);
    o.counters.sub(G_INFLIGHT + p);
    const obs = this.obs[p];
    if (result.status !== 0) {
      obs.latest_latency_ms = now - sent_at;
      obs.latest_latency_at_ms = now;
      o.counters.observe(p === 0 ? H_LATENCY_DEFAULT : H_LATENCY_FALLBACK, now - sent_at);
    }

    let outcome: Outcome;
    switch (result.outcome) {
      case 'ok':
        obs.last_success_at_ms = now;
        outcome = 'ok';
        this.confirm(job, p, now);
        break;
      case 'already_stored':
        obs.last_success_at_ms = now;
        if (job.pinned === p) {
          outcome = 'recovered'; // our earlier attempt was stored, with this requestedAt
          this.confirm(job, p, now);
        } else {
          outcome = 'duplicate'; // stored by someone else's request: not ours to count
        }
        break;
      case 'unknown':
        outcome = 'unknown';
        job.pinned = p;
        this.retryLater(job, now);
        break;
      case 'rate_limited':
        outcome = 'rate_limited';
        obs.cooldown_until_ms = now + Math.min(result.retry_after_ms, 1000);
        this.requeue(job, now);
        break;
      case 'failed':
      case 'not_sent':
      case 'unexpected':
        outcome = result.outcome;
        obs.last_failure_at_ms = now;
        this.requeue(job, now);
        if (result.outcome === 'unexpected') o.log?.('unexpected processor status', { processor: p, status: result.status });
        break;
    }
    o.counters.outcome(p, outcome);
    this.pump();
    this.settle();
  }

  // Not stored by this attempt. Pinned payments stay pinned: an earlier attempt may still land.
  private requeue(job: Job, now: number): void {
    if (job.pinned !== -1) {
      this.retryLater(job, now);
      return;
    }
    if (this.purged(job.accepted_at_ms)) return;
    // Back at the head: it is the oldest, and its requestedAt will be new.
    if (this.head > 0) this.queue[--this.head] = job;
    else this.queue.unshift(job);
  }

  private retryLater(job: Job, now: number): void {
    if (this.purged(job.accepted_at_ms)) return;
    const o = this.o;
    const exp = Math.min(o.retry_backoff_max_ms, o.retry_backoff_min_ms * 2 ** Math.min(job.attempts - 1, 16));
    job.not_before_ms = now + exp / 2 + Math.random() * (exp / 2);
    this.pinned.push(job);
  }

  // A purge came after this payment was accepted: it is not ours to send, retry or record.
  private purged(accepted_at_ms: number): boolean {
    if (accepted_at_ms > this.o.purged_through_ms()) return false;
    this.o.counters.add(C_STALE_DROPPED);
    return true;
  }

  private confirm(job: Job, p: Processor, now: number): void {
    if (this.purged(job.accepted_at_ms)) return;
    this.o.record({
      correlation_id: job.correlation_id,
      amount_cents: job.amount_cents,
      accepted_at_ms: job.accepted_at_ms,
      requested_at_ms: job.requested_at_ms,
      processor: p,
      confirmed_at_ms: now,
    });
  }

  private settle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
