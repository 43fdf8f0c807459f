// Worker thread entry: pops payments from the ring, pays them through the dispatcher, writes the
// confirmed ones with the batch writer.
import { setPriority } from 'node:os';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { C_DUPLICATES_DROPPED, Counters, G_BACKLOG, G_WORKERS_ALIVE, trackGc, trackHeap } from '../counters.js';
import { createLogger, type Logger } from '../log.js';
import { FLAG_CLAIMED, formatUuid } from '../queue/record.js';
import { AckQueue } from '../queue/acks.js';
import { Ring } from '../queue/ring.js';
import { nameThisThread } from '../runtime.js';
import { type ClaimRequest, Claims } from '../store/claims.js';
import { BatchWriter } from '../store/writer.js';
import { ProcessorClient } from './client.js';
import { Dispatcher } from './dispatcher.js';
import { SharedState } from './snapshot.js';

export interface WorkerData {
  index: number;
  config: Config;
  ring: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  state: SharedArrayBuffer;
  owner: string;
  acks: SharedArrayBuffer | null; // DURABILITY=strict: tickets of committed claims go back to the front
}

const IDLE_PARK_MS = 1_000; // an idle worker still wakes now and then (drain and purge need no wake-up)
const WARM_PAYMENTS = 1_000; // payments after which the worker's hot paths are compiled

export type ToWorker = { type: 'purge' } | { type: 'drain' };
export type FromWorker = { type: 'ready' } | { type: 'drained'; left: number };

// The parts of one worker: the ring it takes from, the processors' clients, the dispatcher that
// pays, the writer that records, and the claims that keep a payment from being paid twice.
interface Parts {
  config: Config;
  log: Logger;
  ring: Ring;
  counters: Counters;
  state: SharedState;
  clients: ProcessorClient[];
  writer: BatchWriter;
  dispatcher: Dispatcher;
  claims: Claims | null;
  acks: AckQueue | null; // strict: where a committed claim's ticket goes
}

function openParts(data: WorkerData): Parts {
  const { config } = data;
  const log = createLogger(config.log_level, { thread: `worker-${data.index}` });
  const counters = Counters.attach(data.counters);
  const state = SharedState.attach(data.state);
  const clients = [config.processor_url_default, config.processor_url_fallback].map(
    (origin) =>
      new ProcessorClient({
        origin,
        connections: config.pool_connections,
        request_timeout_ms: config.request_timeout_ms,
        connect_timeout_ms: config.connect_timeout_ms,
      }),
  );
  const writer = new BatchWriter({
    url: config.database_url,
    batch_max_rows: config.batch_max_rows,
    linger_ms: config.writer_linger_ms,
    retry_interval_ms: config.pg_connect_interval_ms,
    counters,
    log,
  });
  const dispatcher = new Dispatcher({
    max_inflight: config.max_inflight_per_worker,
    max_sends_per_s: config.max_sends_per_s_per_worker,
    burst_ms: config.worker_poll_ms,
    fees: [config.fee_default, config.fee_fallback],
    safe_latency_ms: config.safe_latency_ms,
    hold_budget_ms: config.hold_budget_ms,
    retry_backoff_min_ms: config.retry_backoff_min_ms,
    retry_backoff_max_ms: config.retry_backoff_max_ms,
    send: (p, body) => clients[p].pay(body),
    health: (p) => state.readHealth(p),
    purged_through_ms: () => state.purgedThroughMs(),
    record: (row) => writer.add(row),
    counters,
    log: (msg, fields) => log.warn(msg, fields),
  });
  const claims = config.idempotency_claims
    ? new Claims({
        url: config.database_url,
        owner: data.owner,
        batch_max_rows: config.batch_max_rows,
        retry_interval_ms: config.pg_connect_interval_ms,
        log,
      })
    : null;
  const acks = data.acks === null ? null : AckQueue.attach(data.acks);
  return { config, log, ring: Ring.attach(data.ring), counters, state, clients, writer, dispatcher, claims, acks };
}

class PaymentWorker {
  private claiming = 0; // payments taken from the ring, waiting for their claim
  private cold_left = WARM_PAYMENTS; // payments to take before the priority drops
  private draining = false;
  private stopped = false;

  constructor(
    private readonly parts: Parts,
    private readonly port: MessagePort,
  ) {}

  start(): Promise<void> {
    const { writer, claims, counters, log } = this.parts;
    writer.warm();
    claims?.warm();
    this.port.on('message', (msg: ToWorker) => {
      if (msg.type === 'purge') this.purge();
      else if (msg.type === 'drain' && !this.draining) {
        this.draining = true;
        void this.drain();
      }
    });
    counters.add(G_WORKERS_ALIVE);
    trackHeap(counters, 1);
    trackGc(counters, 1);
    this.port.postMessage({ type: 'ready' } satisfies FromWorker);
    log.debug('worker ready');
    return this.ringLoop();
  }

  private hasRoom(): boolean {
    return this.parts.dispatcher.waiting + this.claiming < this.parts.config.backlog_max_per_worker;
  }

  // Moves records from the ring into the dispatcher while it has room.
  private pull(): number {
    const { ring, claims, dispatcher } = this.parts;
    let n = 0;
    while (this.hasRoom()) {
      const r = ring.pop();
      if (r === null) break;
      const p = { correlation_id: formatUuid(r.id), amount_cents: r.amount_cents, accepted_at_ms: r.accepted_at_ms };
      n++;
      if (claims === null || (r.flags & FLAG_CLAIMED) !== 0) dispatcher.add(p);
      else this.claimThenPay(claims, p, r.ticket ?? 0);
    }
    if (n > 0) {
      dispatcher.pump();
      if (this.cold_left > 0) {
        this.cold_left -= n;
        if (this.cold_left <= 0) this.lowerPriority();
      }
    }
    return n;
  }

  // ticket (strict): the front's answer waiting for this claim's commit; 0: none.
  private claimThenPay(claims: Claims, p: ClaimRequest, ticket: number): void {
    const { counters, dispatcher, acks } = this.parts;
    this.claiming++;
    counters.add(G_BACKLOG); // waiting for its claim is part of the backlog /metrics shows
    void claims.claim(p).then((outcome) => {
      this.claiming--;
      if (ticket !== 0) acks!.ack(ticket); // committed (or a copy of, or purged): the 202 may leave
      if (outcome === 'mine') {
        dispatcher.add(p);
        dispatcher.pump(); // publishes it in the dispatcher's share of the backlog first
      } else if (outcome === 'duplicate') {
        counters.add(C_DUPLICATES_DROPPED); // another copy claimed it first
      } // purged: dropped with the rest of what the purge cleared
      counters.sub(G_BACKLOG);
    });
  }

  // Below the front thread: when the CPU quota is tight, accepting a payment (p99) comes before
  // paying it (which can wait a few ms). On Linux, pid 0 means this thread only. Not while the
  // worker is cold, though: its first payments run unoptimized code at several times the CPU, and
  // at nice 10 behind a stack that is warming up too, its first confirmations waited 50-200 ms to
  // be written (visibility bench: ~100 rows over 20 ms in the first second, 10-25 at nice 0).
  private lowerPriority(): void {
    try {
      setPriority(0, this.parts.config.worker_nice);
    } catch (err) {
      this.parts.log.warn('could not lower the worker thread priority', { err: String(err) });
    }
  }

  // Busy (payments in flight, held or backing off): tick every worker_poll_ms on a plain timer,
  // taking what the ring holds and letting the dispatcher send, retry and re-route. The worker is
  // not parked then, so the front's pushes wake no one: no system call per payment on either
  // side, and the ring is taken in batches. Idle: park on the ring until the next push.
  private async ringLoop(): Promise<void> {
    const { dispatcher, ring, config, acks } = this.parts;
    while (!this.stopped) {
      if (this.pull() === 0) dispatcher.pump(); // pull() pumps when it took any
      const idle = dispatcher.isIdle() && this.claiming === 0;
      if (acks !== null && this.hasRoom()) {
        // strict: a 202 waits for this worker to take its payment, so a push wakes it at once
        // even while busy (the tick still runs when nothing arrives).
        await ring.waitForRecords(idle ? IDLE_PARK_MS : config.worker_poll_ms);
      } else if (!idle || !this.hasRoom()) {
        await new Promise((r) => setTimeout(r, config.worker_poll_ms));
      } else {
        await ring.waitForRecords(IDLE_PARK_MS);
      }
    }
  }

  // The main thread has moved the fence: in-flight confirmations of older payments drop.
  // Payments accepted after the fence (the purge reached this instance late) stay. Records still
  // in the ring are drained by the main thread.
  private purge(): void {
    const { state, claims, dispatcher, writer } = this.parts;
    const fence_ms = state.purgedThroughMs();
    claims?.discard(fence_ms);
    dispatcher.purge(fence_ms);
    writer.discardPending(fence_ms);
  }

  // The front has stopped accepting: empty the ring, pay, write, then leave.
  private async drain(): Promise<void> {
    const { ring, dispatcher, writer, clients, claims, counters } = this.parts;
    for (;;) {
      this.pull();
      while (this.claiming > 0) await new Promise((r) => setTimeout(r, 5));
      await dispatcher.idle();
      if (ring.isEmpty() && this.claiming === 0) break;
    }
    await writer.idle();
    this.stopped = true;
    ring.wakeAll();
    await Promise.all(clients.map((c) => c.close()));
    await writer.close();
    await claims?.close();
    counters.sub(G_WORKERS_ALIVE);
    this.port.postMessage({ type: 'drained', left: dispatcher.waiting } satisfies FromWorker);
    this.port.close();
  }
}

async function run(): Promise<void> {
  const data = workerData as WorkerData;
  nameThisThread(`rinha-worker-${data.index}`);
  await new PaymentWorker(openParts(data), parentPort!).start();
}

run().catch((err) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'worker crashed', err: String(err?.stack ?? err) }) + '\n');
  process.exit(1);
});
