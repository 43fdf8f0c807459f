// One thread of the ring stress run (see test/bench.ring.test.ts): a producer pushing seq
// 0..count-1 as `producer`, or a consumer popping until every producer is done and the ring is
// empty. Results go back as one message; the `seen` counters (one Int32 per (producer, seq)) are
// shared, so main can check "exactly once" without shipping the ids.
import { parentPort, workerData } from 'node:worker_threads';
import { Ring } from '../../src/queue/ring.js';
import { C_ABORT, C_GO, C_PRODUCERS_DONE, decodeStressRecord, stressRecord } from './stress-records.js';

export interface StressWorkerData {
  role: 'producer' | 'consumer';
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  seen: SharedArrayBuffer; // Int32 per (producer * per_producer + seq)
  producers: number;
  per_producer: number;
  producer?: number; // producer role: its id
  deadline_ms: number; // epoch ms: every loop gives up after it
}

export interface ProducerResult {
  role: 'producer';
  pushed: number;
  full_returns: number;
  timed_out: boolean;
}
export interface ConsumerResult {
  role: 'consumer';
  popped: number;
  bad_payload: number;
  out_of_order: number;
  out_of_range: number;
  timed_out: boolean;
}

const SPINS_BEFORE_SLEEP = 64;
const BACKOFF_MS = 0.05;

// Pushes seq from..count-1 of `producer`, backing off briefly while the ring is full.
export function produce(
  ring: Ring,
  control: Int32Array,
  producer: number,
  from: number,
  count: number,
  deadline_ms: number,
): ProducerResult {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let full_returns = 0;
  let spins = 0;
  let seq = from;
  while (seq < count) {
    if (ring.push(stressRecord(producer, seq))) {
      seq++;
      spins = 0;
      continue;
    }
    full_returns++;
    if (++spins < SPINS_BEFORE_SLEEP) continue;
    spins = 0;
    if (Atomics.load(control, C_ABORT) !== 0 || Date.now() > deadline_ms) {
      return { role: 'producer', pushed: seq - from, full_returns, timed_out: true };
    }
    Atomics.wait(nap, 0, 0, BACKOFF_MS);
  }
  Atomics.add(control, C_PRODUCERS_DONE, 1);
  ring.wakeAll(); // consumers parked on an empty ring must see "done"
  return { role: 'producer', pushed: seq - from, full_returns, timed_out: false };
}

function consume(d: StressWorkerData, ring: Ring, control: Int32Array): ConsumerResult {
  const seen = new Int32Array(d.seen);
  const last_seq = new Float64Array(d.producers).fill(-1);
  const result: ConsumerResult = { role: 'consumer', popped: 0, bad_payload: 0, out_of_order: 0, out_of_range: 0, timed_out: false };
  for (let idle = 0; ; ) {
    const r = ring.pop();
    if (r !== null) {
      idle = 0;
      result.popped++;
      const key = decodeStressRecord(r);
      if (key === null) {
        result.bad_payload++;
        continue;
      }
      if (key.producer >= d.producers || key.seq >= d.per_producer) {
        result.out_of_range++;
        continue;
      }
      Atomics.add(seen, key.producer * d.per_producer + key.seq, 1);
      // One producer's positions increase, one consumer's pops increase: its seqs must too.
      if (key.seq <= last_seq[key.producer]) result.out_of_order++;
      last_seq[key.producer] = key.seq;
      continue;
    }
    if (Atomics.load(control, C_PRODUCERS_DONE) === d.producers && ring.isEmpty()) return result;
    if ((++idle & 63) === 0 && (Atomics.load(control, C_ABORT) !== 0 || Date.now() > d.deadline_ms)) {
      return { ...result, timed_out: true };
    }
    ring.waitForRecordsSync(5);
  }
}

if (parentPort !== null && (workerData as StressWorkerData | undefined)?.role !== undefined) {
  const d = workerData as StressWorkerData;
  const ring = Ring.attach(d.ring);
  const control = new Int32Array(d.control);
  parentPort.postMessage({ ready: true });
  // Everyone starts together once main has filled the ring and seen it refuse a push.
  while (Atomics.load(control, C_GO) === 0 && Date.now() < d.deadline_ms) Atomics.wait(control, C_GO, 0, 100);
  const result =
    d.role === 'producer' ? produce(ring, control, d.producer ?? 0, 0, d.per_producer, d.deadline_ms) : consume(d, ring, control);
  parentPort.postMessage(result);
}
