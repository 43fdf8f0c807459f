// Worker thread entry: pops payments from the ring, pays them through the dispatcher, writes the
// confirmed ones with the batch writer.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.js';
import { C_DUPLICATES_DROPPED, Counters, G_BACKLOG, G_WORKERS_ALIVE, trackGc, trackHeap } from '../counters.js';
import { createLogger } from '../log.js';
import { FLAG_CLAIMED, formatUuid } from '../queue/record.js';
import { Ring } from '../queue/ring.js';
import { nameThisThread } from '../runtime.js';
import { Claims } from '../store/claims.js';
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
}

const IDLE_PARK_MS = 1_000; // an idle worker still wakes now and then (drain and purge need no wake-up)
const WARM_PAYMENTS = 1_000; // payments after which the worker's hot paths are compiled

export type ToWorker = { type: 'purge' } | { type: 'drain' };
export type FromWorker = { type: 'ready' } | { type: 'drained'; left: number };

async function run(): Promise<void> {
  const data = workerData as WorkerData;
  const { config } = data;
  const port = parentPort!;
  const log = createLogger(config.log_level, { thread: `worker-${data.index}` });
  const ring = Ring.attach(data.ring);
  const counters = Counters.attach(data.counters);
  const state = SharedState.attach(data.state);
  nameThisThread(`rinha-worker-${data.index}`);
  // Below the front thread: when the CPU quota is tight, accepting a payment (p99) comes before
  // paying it (which can wait a few ms). On Linux, pid 0 means this thread only. Not while the
  // worker is cold, though: its first payments run unoptimized code at several times the CPU, and
  // at nice 10 behind a stack that is warming up too, its first confirmations waited 50-200 ms to
  // be written (visibility bench: ~100 rows over 20 ms in the first second, 10-25 at nice 0).
  let cold_left = WARM_PAYMENTS; // payments to take before the priority drops
  const lowerPriority = (): void => {
    try {
      setPriority(0, config.worker_nice);
    } catch (err) {
      log.warn('could not lower the worker thread priority', { err: String(err) });
    }
  };

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
    ? new Claims({ url: config.database_url, owner: data.owner, batch_max_rows: config.batch_max_rows, retry_interval_ms: config.pg_connect_interval_ms, log })
    : null;
  writer.warm();
  claims?.warm();
  let claiming = 0; // payments taken from the ring, waiting for their claim
  const hasRoom = (): boolean => dispatcher.waiting + claiming < config.backlog_max_per_worker;

  let draining = false;
  let stopped = false;

  // Moves records from the ring into the dispatcher while it has room.
  const pull = (): number => {
    let n = 0;
    while (hasRoom()) {
      const r = ring.pop();
      if (r === null) break;
      const p = { correlation_id: formatUuid(r.id), amount_cents: r.amount_cents, accepted_at_ms: r.accepted_at_ms };
      n++;
      if (claims === null || (r.flags & FLAG_CLAIMED) !== 0) {
        dispatcher.add(p);
        continue;
      }
      claiming++;
      counters.add(G_BACKLOG); // waiting for its claim is part of the backlog /metrics shows
      void claims.claim(p).then((outcome) => {
        claiming--;
        if (outcome === 'mine') {
          dispatcher.add(p);
          dispatcher.pump(); // publishes it in the dispatcher's share of the backlog first
        } else if (outcome === 'duplicate') {
          counters.add(C_DUPLICATES_DROPPED); // another copy claimed it first
        } // purged: dropped with the rest of what the purge cleared
        counters.sub(G_BACKLOG);
      });
    }
    if (n > 0) {
      dispatcher.pump();
      if (cold_left > 0 && (cold_left -= n) <= 0) lowerPriority();
    }
    return n;
  };

  // Busy (payments in flight, held or backing off): tick every worker_poll_ms on a plain timer,
  // taking what the ring holds and letting the dispatcher send, retry and re-route. The worker is
  // not parked then, so the front's pushes wake no one: no system call per payment on either
  // side, and the ring is taken in batches. Idle: park on the ring until the next push.
  const ringLoop = async (): Promise<void> => {
    while (!stopped) {
      if (pull() === 0) dispatcher.pump(); // pull() pumps when it took any
      if (!dispatcher.isIdle() || claiming > 0 || !hasRoom()) {
        await new Promise((r) => setTimeout(r, config.worker_poll_ms));
      } else {
        await ring.waitForRecords(IDLE_PARK_MS);
      }
    }
  };

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'purge') {
      // The main thread has moved the fence: in-flight confirmations of older payments drop.
      // Payments accepted after the fence (the purge reached this instance late) stay.
      const fence_ms = state.purgedThroughMs();
      claims?.discard(fence_ms);
      dispatcher.purge(fence_ms);
      writer.discardPending(fence_ms);
      // Records still in the ring are drained by the main thread.
    } else if (msg.type === 'drain' && !draining) {
      draining = true;
      void (async () => {
        // The front has stopped accepting: empty the ring, pay, write, then leave.
        for (;;) {
          pull();
          while (claiming > 0) await new Promise((r) => setTimeout(r, 5));
          await dispatcher.idle();
          if (ring.isEmpty() && claiming === 0) break;
        }
        await writer.idle();
        stopped = true;
        ring.wakeAll();
        await Promise.all(clients.map((c) => c.close()));
        await writer.close();
        await claims?.close();
        counters.sub(G_WORKERS_ALIVE);
        port.postMessage({ type: 'drained', left: dispatcher.waiting } satisfies FromWorker);
        port.close();
      })();
    }
  });

  counters.add(G_WORKERS_ALIVE);
  trackHeap(counters, 1);
  trackGc(counters, 1);
  port.postMessage({ type: 'ready' } satisfies FromWorker);
  log.debug('worker ready');
  await ringLoop();
}

run().catch((err) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'worker crashed', err: String(err?.stack ?? err) }) + '\n');
  process.exit(1);
});
