// DURABILITY=strict, the front thread's side: a payment's 202 waits until a worker has committed
// its claim. The response is parked under a ticket that travels in the payment's ring record;
// the worker pushes the ticket back through the ack queue (queue/acks.ts) once the claim is
// durable, and the front thread, woken by the queue, answers. Nothing on the request path
// awaits: a request parks its response and returns; answers go out from the queue's wake-up.
//
// Bounded: at most `max` answers wait (beyond: 503 at once). An answer that waited longer than
// `timeout_ms` (Postgres down) is given a 503; its ticket stays taken until the worker pushes it
// back (the claim is retried until it commits), so a ticket is never handed out twice at once
// and the queue cannot fill. A client that went away keeps its ticket the same way.
import assert from 'node:assert/strict';
import type uWS from 'uWebSockets.js';
import { AckQueue } from '../queue/acks.js';

const SWEEP_INTERVAL_MS = 100;

export interface AckOutcome {
  acked(): void; // a 202 went out
  timedOut(): void; // a 503 went out: not committed in time
}

export class PendingAcks {
  readonly queue: AckQueue;
  private readonly res: Array<uWS.HttpResponse | null>; // by ticket; null: nobody to answer
  private readonly since_ms: Float64Array; // when each ticket was taken
  private readonly taken: Uint8Array;
  private readonly free: Int32Array; // a stack of free tickets
  private free_count: number;
  private readonly watcher: { stop(): void };
  private readonly sweeper: NodeJS.Timeout;

  // Tickets are 1..max (0 means none in a ring record).
  constructor(
    private readonly max: number,
    private readonly timeout_ms: number,
    private readonly on: AckOutcome,
  ) {
    this.queue = AckQueue.create(max);
    this.res = new Array<uWS.HttpResponse | null>(max + 1).fill(null);
    this.since_ms = new Float64Array(max + 1);
    this.taken = new Uint8Array(max + 1);
    this.free = new Int32Array(max);
    for (let i = 0; i < max; i++) this.free[i] = max - i;
    this.free_count = max;
    this.watcher = this.queue.watch(() => this.drain());
    this.sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get waiting(): number {
    return this.max - this.free_count;
  }

  // Parks `res` (the caller pauses it once its payment is queued); its ticket, or 0 when `max`
  // answers already wait.
  park(res: uWS.HttpResponse): number {
    if (this.free_count === 0) return 0;
    const ticket = this.free[--this.free_count];
    assert.equal(this.taken[ticket], 0, 'ticket handed out twice');
    this.taken[ticket] = 1;
    this.res[ticket] = res;
    this.since_ms[ticket] = Date.now();
    return ticket;
  }

  // The client went away: nobody to answer; the ticket comes back with the worker's push.
  abandon(ticket: number): void {
    this.res[ticket] = null;
  }

  // The payment never reached the ring (full): the ticket is free again at once.
  cancel(ticket: number): void {
    this.res[ticket] = null;
    this.release(ticket);
  }

  // A ticket whose payment is settled without a worker (a purge cleared it from the ring).
  completeHere(ticket: number): void {
    this.complete(ticket);
  }

  close(): void {
    this.watcher.stop();
    clearInterval(this.sweeper);
  }

  private drain(): void {
    for (let t = this.queue.pop(); t !== 0; t = this.queue.pop()) this.complete(t);
  }

  private complete(ticket: number): void {
    assert.equal(this.taken[ticket], 1, 'ack for a ticket not handed out');
    const res = this.res[ticket];
    this.res[ticket] = null;
    this.release(ticket);
    if (res === null) return;
    this.on.acked();
    res.cork(() => {
      res.resume();
      res.writeStatus('202 Accepted').end();
    });
  }

  private release(ticket: number): void {
    this.taken[ticket] = 0;
    this.free[this.free_count++] = ticket;
  }

  private sweep(now_ms: number): void {
    const oldest = now_ms - this.timeout_ms;
    for (let t = 1; t <= this.max; t++) {
      const res = this.res[t];
      if (res === null || this.since_ms[t] > oldest) continue;
      this.res[t] = null; // answered now; the ticket comes back with the worker's push
      this.on.timedOut();
      res.cork(() => {
        res.resume();
        res
          .writeStatus('503 Service Unavailable')
          .writeHeader('Content-Type', 'application/json')
          .end('{"error":"not durably recorded in time; retry with the same correlationId"}');
      });
    }
  }
}
