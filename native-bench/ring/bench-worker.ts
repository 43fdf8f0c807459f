// A consumer thread of the ring bench: pops records from the SAB ring (waiting with
// Atomics.waitAsync like the service's workers, or Atomics.wait) or receives them on a
// MessagePort, and records each one's latency (producer timestamp -> here, shared clock).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Ring } from '../../src/queue/ring.js';
import { nowAbsMs } from './clock.js';

export type Transport = 'ring-async' | 'ring-sync' | 'port';

// Control words (Int32, one 64-byte line each): GO, producer done, per-consumer consumed counts.
export const W_GO = 0;
export const W_DONE = 16;
export const consumedWord = (consumer: number) => 32 + consumer * 16;
export const controlBytes = (consumers: number) => (32 + consumers * 16) * 4;

export interface BenchWorkerData {
  transport: Transport;
  consumer: number;
  control: SharedArrayBuffer;
  ring?: SharedArrayBuffer; // ring transports
  port?: MessagePort; // port transport
  expected?: number; // port transport: records this consumer gets (round-robin)
  max_samples: number; // latency samples kept (the first ones)
  deadline_ms: number; // epoch ms: give up after it
}

export interface PortRecord {
  id: Uint8Array;
  amount_cents: number;
  accepted_at_ms: number;
}

export interface BenchWorkerResult {
  consumed: number;
  last_ms: number;
  latencies_ms: Float64Array;
  timed_out: boolean;
  checksum_cents: number;
}

const WAIT_MS = 50;

async function consumeRing(d: BenchWorkerData, control: Int32Array): Promise<BenchWorkerResult> {
  // A pending Atomics.waitAsync does not keep a thread alive; this timer does.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await consumeRingLoop(d, control);
  } finally {
    clearInterval(keepAlive);
  }
}

async function consumeRingLoop(d: BenchWorkerData, control: Int32Array): Promise<BenchWorkerResult> {
  const ring = Ring.attach(d.ring!);
  const lat = new Float64Array(d.max_samples);
  const counter = consumedWord(d.consumer);
  let consumed = 0;
  let last_ms = 0;
  let checksum_cents = 0;
  for (;;) {
    let r = ring.pop();
    while (r !== null) {
      const now = nowAbsMs();
      if (consumed < lat.length) lat[consumed] = now - r.accepted_at_ms;
      checksum_cents += r.amount_cents;
      consumed++;
      last_ms = now;
      r = ring.pop();
    }
    Atomics.store(control, counter, consumed);
    if (Atomics.load(control, W_DONE) !== 0 && ring.isEmpty()) break;
    if (Date.now() > d.deadline_ms)
      return { consumed, last_ms, latencies_ms: lat.subarray(0, Math.min(consumed, lat.length)), timed_out: true, checksum_cents };
    if (d.transport === 'ring-async') await ring.waitForRecords(WAIT_MS);
    else ring.waitForRecordsSync(WAIT_MS);
  }
  return { consumed, last_ms, latencies_ms: lat.subarray(0, Math.min(consumed, lat.length)), timed_out: false, checksum_cents };
}

function consumePort(d: BenchWorkerData, control: Int32Array): Promise<BenchWorkerResult> {
  const port = d.port!;
  const expected = d.expected ?? 0;
  const lat = new Float64Array(d.max_samples);
  const counter = consumedWord(d.consumer);
  let consumed = 0;
  let last_ms = 0;
  let checksum_cents = 0;
  return new Promise((resolve) => {
    const finish = (timed_out: boolean) => {
      clearInterval(watchdog);
      port.close();
      resolve({ consumed, last_ms, latencies_ms: lat.subarray(0, Math.min(consumed, lat.length)), timed_out, checksum_cents });
    };
    const watchdog = setInterval(() => {
      if (Date.now() > d.deadline_ms) finish(true);
    }, 250);
    if (expected === 0) {
      finish(false);
      return;
    }
    port.on('message', (r: PortRecord) => {
      const now = nowAbsMs();
      if (consumed < lat.length) lat[consumed] = now - r.accepted_at_ms;
      checksum_cents += r.amount_cents;
      consumed++;
      last_ms = now;
      Atomics.store(control, counter, consumed); // the producer's flow-control window
      if (consumed === expected) finish(false);
    });
  });
}

if (parentPort !== null && (workerData as BenchWorkerData | undefined)?.transport !== undefined) {
  const d = workerData as BenchWorkerData;
  const control = new Int32Array(d.control);
  const done = d.transport === 'port' ? consumePort(d, control) : null; // listen before "ready"
  parentPort.postMessage({ ready: true });
  while (Atomics.load(control, W_GO) === 0 && Date.now() < d.deadline_ms) Atomics.wait(control, W_GO, 0, 100);
  const result = await (done ?? consumeRing(d, control));
  parentPort.postMessage(result, [result.latencies_ms.buffer as ArrayBuffer]);
}
