// State shared by every thread of an instance without messages: the cluster's latest processor
// health (written by the main thread from the leader's NOTIFY) and control words (purge epoch).
// A seqlock guards the health fields so a reader never sees a half-written snapshot.

export interface HealthReading {
  failing: boolean;
  min_response_ms: number;
  checked_at_ms: number; // 0 = never checked
}

const W_SEQ = 0;
const W_EPOCH = 1;
const INT_WORDS = 4;
const FIELDS = 3; // failing, min_response_ms, checked_at_ms

export class SharedState {
  readonly sab: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly health: Float64Array;

  static create(): SharedState {
    return new SharedState(new SharedArrayBuffer(INT_WORDS * 4 + 2 * FIELDS * 8));
  }

  static attach(sab: SharedArrayBuffer): SharedState {
    return new SharedState(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ints = new Int32Array(sab, 0, INT_WORDS);
    this.health = new Float64Array(sab, INT_WORDS * 4, 2 * FIELDS);
  }

  // Single writer: the main thread.
  writeHealth(processor: 0 | 1, h: HealthReading): void {
    Atomics.add(this.ints, W_SEQ, 1); // odd: write in progress
    const at = processor * FIELDS;
    this.health[at] = h.failing ? 1 : 0;
    this.health[at + 1] = h.min_response_ms;
    this.health[at + 2] = h.checked_at_ms;
    Atomics.add(this.ints, W_SEQ, 1);
  }

  readHealth(processor: 0 | 1): HealthReading {
    const at = processor * FIELDS;
    for (;;) {
      const before = Atomics.load(this.ints, W_SEQ);
      const failing = this.health[at] === 1;
      const min_response_ms = this.health[at + 1];
      const checked_at_ms = this.health[at + 2];
      if ((before & 1) === 0 && Atomics.load(this.ints, W_SEQ) === before) {
        return { failing, min_response_ms, checked_at_ms };
      }
    }
  }

  epoch(): number {
    return Atomics.load(this.ints, W_EPOCH);
  }

  bumpEpoch(): number {
    return Atomics.add(this.ints, W_EPOCH, 1) + 1;
  }
}
