// One ring-bench scenario: the main thread produces `records` records (as fast as it can, or
// paced at `rate_per_s`) to `consumers` worker threads over one transport, and we measure
// throughput (first push -> last record consumed) and per-record latency.
import { MessageChannel, Worker } from 'node:worker_threads';
import { Ring } from '../../src/queue/ring.js';
import { writeRecord, type PaymentRecord } from '../../src/queue/record.js';
import { nowAbsMs } from './clock.js';
import { concat, summarizeUs, type LatencySummaryUs } from './stats.js';
import {
  W_DONE,
  W_GO,
  consumedWord,
  controlBytes,
  type BenchWorkerData,
  type BenchWorkerResult,
  type PortRecord,
  type Transport,
} from './bench-worker.js';

const WORKER = new URL('./bench-worker.js', import.meta.url);
const ID_POOL_SIZE = 1024;
const SPINS_BEFORE_NAP = 64;
const NAP_MS = 0.05;
const AMOUNT_CENTS = 1990;

export type Mode = 'burst' | 'paced';

export interface ScenarioSpec {
  transport: Transport;
  mode: Mode;
  consumers: number;
  records: number;
  slots: number; // ring capacity; for the port, the same bound on records in flight
  rate_per_s: number; // paced mode only
  timeout_ms: number;
}

export interface ScenarioResult {
  transport: Transport;
  mode: Mode;
  consumers: number;
  records: number;
  slots: number;
  target_rate_per_s: number | null;
  seconds: number;
  ops_per_s: number;
  latency_us: LatencySummaryUs;
  producer_blocked: number; // pushes/posts refused because the ring/window was full
  producer_ns_per_record: number; // producer time in push/postMessage (+ full waits), pacing sleeps excluded
  consumed_per_consumer: number[];
  timed_out: boolean;
}

function idPool(): Uint8Array[] {
  return Array.from({ length: ID_POOL_SIZE }, () => crypto.getRandomValues(new Uint8Array(16)));
}

export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const deadline_ms = Date.now() + spec.timeout_ms;
  const controlSab = new SharedArrayBuffer(controlBytes(spec.consumers));
  const control = new Int32Array(controlSab);
  const ring = spec.transport === 'port' ? null : Ring.create(spec.slots);
  const channels = spec.transport === 'port' ? Array.from({ length: spec.consumers }, () => new MessageChannel()) : [];
  const workers: Worker[] = [];
  const results: Array<Promise<BenchWorkerResult>> = [];
  try {
    for (let c = 0; c < spec.consumers; c++) {
      const data: BenchWorkerData = {
        transport: spec.transport,
        consumer: c,
        control: controlSab,
        max_samples: spec.records,
        deadline_ms,
        ring: ring?.sab,
        port: channels[c]?.port2,
        expected: Math.floor(spec.records / spec.consumers) + (c < spec.records % spec.consumers ? 1 : 0),
      };
      const w = new Worker(WORKER, { workerData: data, transferList: channels[c] ? [channels[c].port2] : [] });
      workers.push(w);
      const messages = (async function* () {
        for await (const [m] of on(w)) yield m;
      })();
      await messages.next(); // ready
      results.push(messages.next().then((m) => m.value as BenchWorkerResult));
    }
    Atomics.store(control, W_GO, 1);
    Atomics.notify(control, W_GO);

    const t0 = nowAbsMs();
    const busy = { ms: 0 };
    const blocked =
      ring !== null
        ? produceRing(ring, spec, t0, deadline_ms, busy)
        : producePort(
            channels.map((ch) => ch.port1),
            control,
            spec,
            t0,
            deadline_ms,
            busy,
          );
    Atomics.store(control, W_DONE, 1);
    ring?.wakeAll();

    const done = await Promise.all(results);
    const end_ms = Math.max(...done.map((r) => r.last_ms));
    const consumed = done.reduce((n, r) => n + r.consumed, 0);
    const seconds = (end_ms - t0) / 1000;
    return {
      transport: spec.transport,
      mode: spec.mode,
      consumers: spec.consumers,
      records: consumed,
      slots: spec.slots,
      target_rate_per_s: spec.mode === 'paced' ? spec.rate_per_s : null,
      seconds: Math.round(seconds * 1000) / 1000,
      ops_per_s: Math.round(consumed / seconds),
      latency_us: summarizeUs(concat(done.map((r) => r.latencies_ms))),
      producer_blocked: blocked,
      producer_ns_per_record: Math.round((busy.ms * 1e6) / spec.records),
      consumed_per_consumer: done.map((r) => r.consumed),
      timed_out: blocked < 0 || done.some((r) => r.timed_out) || consumed !== spec.records,
    };
  } finally {
    for (const ch of channels) ch.port1.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// Worker messages as an async iterable (errors reject).
function on(w: Worker): AsyncIterable<[unknown]> {
  const queue: unknown[] = [];
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  w.on('message', (m) => {
    queue.push(m);
    wake?.();
  });
  w.on('error', (e) => {
    failure = e;
    wake?.();
  });
  w.on('exit', (code) => {
    failure ??= new Error(`ring bench worker exited (code ${code}) before its result`);
    wake?.();
  });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield [queue.shift()];
        if (failure !== null) throw failure;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
  };
}

// Paced: record i is due at t0 + i / rate. Sleeps (Atomics.wait) until then; never bursts to
// catch up more than it fell behind.
function pace(spec: ScenarioSpec, t0: number, i: number, nap: Int32Array): void {
  if (spec.mode !== 'paced') return;
  const remaining_ms = t0 + (i * 1000) / spec.rate_per_s - nowAbsMs();
  if (remaining_ms > 0.02) Atomics.wait(nap, 0, 0, remaining_ms);
}

// Returns how often the ring was full, or -1 on timeout.
function produceRing(ring: Ring, spec: ScenarioSpec, t0: number, deadline_ms: number, busy: { ms: number }): number {
  const ids = idPool();
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const record: PaymentRecord = { id: ids[0], amount_cents: AMOUNT_CENTS, accepted_at_ms: 0, flags: 0 };
  const fill = (view: DataView, bytes: Uint8Array, base: number) => {
    record.accepted_at_ms = nowAbsMs();
    writeRecord(view, bytes, base, record);
  };
  let blocked = 0;
  for (let i = 0; i < spec.records; i++) {
    pace(spec, t0, i, nap);
    const started = performance.now();
    record.id = ids[i & (ID_POOL_SIZE - 1)];
    for (let spins = 0; !ring.pushWith(fill); ) {
      blocked++;
      if (++spins < SPINS_BEFORE_NAP) continue;
      spins = 0;
      if (Date.now() > deadline_ms) return -1;
      Atomics.wait(nap, 0, 0, NAP_MS);
    }
    busy.ms += performance.now() - started;
  }
  return blocked;
}

// Round-robin over the consumers' ports, at most `slots / consumers` unconsumed per consumer.
function producePort(
  ports: import('node:worker_threads').MessagePort[],
  control: Int32Array,
  spec: ScenarioSpec,
  t0: number,
  deadline_ms: number,
  busy: { ms: number },
): number {
  const ids = idPool();
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const window = Math.max(1, Math.floor(spec.slots / spec.consumers));
  const sent = new Array<number>(spec.consumers).fill(0);
  let blocked = 0;
  for (let i = 0; i < spec.records; i++) {
    pace(spec, t0, i, nap);
    const started = performance.now();
    const c = i % spec.consumers;
    for (let spins = 0; sent[c] - Atomics.load(control, consumedWord(c)) >= window; ) {
      blocked++;
      if (++spins < SPINS_BEFORE_NAP) continue;
      spins = 0;
      if (Date.now() > deadline_ms) return -1;
      Atomics.wait(nap, 0, 0, NAP_MS);
    }
    const msg: PortRecord = { id: ids[i & (ID_POOL_SIZE - 1)], amount_cents: AMOUNT_CENTS, accepted_at_ms: nowAbsMs() };
    ports[c].postMessage(msg);
    sent[c]++;
    busy.ms += performance.now() - started;
  }
  return blocked;
}
