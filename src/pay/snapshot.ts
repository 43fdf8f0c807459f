// State shared by every thread of an instance without messages: the cluster's latest processor
// health (written by the main thread from the leader's NOTIFY) and the purge fence.
// A seqlock guards the health fields so a reader never sees a half-written snapshot.

import assert from 'node:assert/strict';
import { type Health, PROCESSORS, type Processor } from '../processor.js';

const W_SEQ = 0;
const INT_WORDS = 4;
const INT_BYTES = 4;
const F64_BYTES = 8;
const FIELDS = 3; // failing, min_response_ms, checked_at_ms (f64 each)
const F_FAILING = 0;
const F_MIN_RESPONSE_MS = 1;
const F_CHECKED_AT_MS = 2;
const FENCE_OFFSET = INT_WORDS * INT_BYTES + PROCESSORS.length * FIELDS * F64_BYTES;
assert(FENCE_OFFSET % F64_BYTES === 0, 'the fence is a BigInt64: 8-aligned');

export class SharedState {
  readonly sab: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly health: Float64Array;
  private readonly fence: BigInt64Array;

  static create(): SharedState {
    return new SharedState(new SharedArrayBuffer(FENCE_OFFSET + F64_BYTES));
  }

  static attach(sab: SharedArrayBuffer): SharedState {
    return new SharedState(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ints = new Int32Array(sab, 0, INT_WORDS);
    this.health = new Float64Array(sab, INT_WORDS * INT_BYTES, PROCESSORS.length * FIELDS);
    this.fence = new BigInt64Array(sab, FENCE_OFFSET, 1);
  }

  // Single writer: the main thread.
  writeHealth(processor: Processor, h: Health): void {
    Atomics.add(this.ints, W_SEQ, 1); // odd: write in progress
    const at = processor * FIELDS;
    this.health[at + F_FAILING] = h.failing ? 1 : 0;
    this.health[at + F_MIN_RESPONSE_MS] = h.min_response_ms;
    this.health[at + F_CHECKED_AT_MS] = h.checked_at_ms;
    Atomics.add(this.ints, W_SEQ, 1);
  }

  readHealth(processor: Processor): Health {
    const at = processor * FIELDS;
    for (;;) {
      const before = Atomics.load(this.ints, W_SEQ);
      const failing = this.health[at + F_FAILING] === 1;
      const min_response_ms = this.health[at + F_MIN_RESPONSE_MS];
      const checked_at_ms = this.health[at + F_CHECKED_AT_MS];
      if ((before & 1) === 0 && Atomics.load(this.ints, W_SEQ) === before) {
        return { failing, min_response_ms, checked_at_ms };
      }
    }
  }

  // Payments accepted at or before this time (epoch ms) were purged; 0 = never.
  purgedThroughMs(): number {
    return Number(Atomics.load(this.fence, 0));
  }

  // Single writer: the main thread. The fence only moves forward.
  purgeThrough(fence_ms: number): void {
    if (fence_ms > this.purgedThroughMs()) Atomics.store(this.fence, 0, BigInt(Math.floor(fence_ms)));
  }
}
