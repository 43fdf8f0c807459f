// A bounded, lock-free multi-producer multi-consumer queue of fixed-size payment records in a
// SharedArrayBuffer (Dmitry Vyukov's bounded MPMC queue: one sequence number per slot).
// The front thread produces; worker threads consume; purge drains it from any thread.
// Full = push returns false (the caller answers 503); memory never grows.
import assert from 'node:assert/strict';
import { RECORD_BYTES, type PaymentRecord, readRecord, writeRecord } from './record.js';

// Header words (Int32), each on its own 64-byte line so producers and consumers don't share one.
const H_ENQUEUE = 0;
const H_DEQUEUE = 16;
const H_SIGNAL = 32; // bumped when a sleeping consumer must wake
const H_SLEEPERS = 48; // consumers parked (or about to park) on H_SIGNAL
const H_WAKE_PENDING = 56; // 1 once a wake-up is sent, until a consumer parks again
const H_WAKEUPS = 60; // wake-ups sent by pushes (wraps at 2^32)
const HEADER_BYTES = 256;
const SLOT_SEQ_BYTES = 8;
const SLOT_BYTES = SLOT_SEQ_BYTES + RECORD_BYTES;
// Positions are int32 that wrap; a slot's sequence is compared to a position by the sign of
// their difference, which holds while the capacity is far below 2^31.
const SLOTS_MAX = 1 << 24;
// Every slot starts 8-aligned (the record's f64 fields), and the header holds its last word.
assert(SLOT_BYTES % 8 === 0 && HEADER_BYTES % 8 === 0 && (H_WAKEUPS + 1) * 4 <= HEADER_BYTES);

// The mask arithmetic needs a power of two.
function isCapacity(slots: number): boolean {
  return Number.isInteger(slots) && slots >= 2 && slots <= SLOTS_MAX && (slots & (slots - 1)) === 0;
}

export class Ring {
  readonly sab: SharedArrayBuffer;
  readonly slots: number;
  private readonly mask: number;
  private readonly header: Int32Array;
  private readonly seq: Int32Array; // seq of slot i at index i * (SLOT_BYTES / 4)
  private readonly view: DataView;
  private readonly bytes: Uint8Array;

  static byteLength(slots: number): number {
    return HEADER_BYTES + slots * SLOT_BYTES;
  }

  static create(slots: number): Ring {
    if (!isCapacity(slots)) throw new RangeError(`ring slots must be a power of two in [2, 2^24], got ${slots}`);
    const ring = new Ring(new SharedArrayBuffer(Ring.byteLength(slots)));
    for (let i = 0; i < slots; i++) Atomics.store(ring.seq, i * (SLOT_BYTES / 4), i);
    return ring;
  }

  // For another thread: the same queue over the same memory.
  static attach(sab: SharedArrayBuffer): Ring {
    return new Ring(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    const slots = (sab.byteLength - HEADER_BYTES) / SLOT_BYTES;
    if (!isCapacity(slots)) throw new RangeError('not a ring buffer');
    this.sab = sab;
    this.slots = slots;
    this.mask = slots - 1;
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.seq = new Int32Array(sab, HEADER_BYTES);
    this.view = new DataView(sab, HEADER_BYTES);
    this.bytes = new Uint8Array(sab, HEADER_BYTES);
  }

  // Claims a slot and lets `fill` write the record at byte offset `base` of (view, bytes).
  // Returns false when the ring is full. `fill` must not throw.
  pushWith(fill: (view: DataView, bytes: Uint8Array, base: number) => void): boolean {
    const h = this.header;
    let pos = Atomics.load(h, H_ENQUEUE);
    for (;;) {
      const index = (pos & this.mask) * (SLOT_BYTES / 4);
      const dif = (Atomics.load(this.seq, index) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(h, H_ENQUEUE, pos, (pos + 1) | 0);
        if (seen === pos) {
          fill(this.view, this.bytes, index * 4 + SLOT_SEQ_BYTES);
          Atomics.store(this.seq, index, (pos + 1) | 0);
          // Only a parked consumer is woken, once per sleep: notify is the costly part of a push.
          // A busy worker is not parked (it ticks on a timer), so under load a push is no
          // system call at all.
          if (Atomics.load(h, H_SLEEPERS) > 0 && Atomics.compareExchange(h, H_WAKE_PENDING, 0, 1) === 0) {
            Atomics.add(h, H_SIGNAL, 1);
            Atomics.notify(h, H_SIGNAL);
            Atomics.add(h, H_WAKEUPS, 1);
          }
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false; // full: the slot still holds an unconsumed record of the previous lap
      } else {
        pos = Atomics.load(h, H_ENQUEUE);
      }
    }
  }

  push(record: PaymentRecord): boolean {
    return this.pushWith((view, bytes, base) => writeRecord(view, bytes, base, record));
  }

  // Pops one record, or null when empty.
  pop(): PaymentRecord | null {
    const h = this.header;
    let pos = Atomics.load(h, H_DEQUEUE);
    for (;;) {
      const index = (pos & this.mask) * (SLOT_BYTES / 4);
      const dif = (Atomics.load(this.seq, index) - ((pos + 1) | 0)) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(h, H_DEQUEUE, pos, (pos + 1) | 0);
        if (seen === pos) {
          const record = readRecord(this.view, this.bytes, index * 4 + SLOT_SEQ_BYTES);
          Atomics.store(this.seq, index, (pos + this.slots) | 0);
          return record;
        }
        pos = seen;
      } else if (dif < 0) {
        return null; // empty: the producer has not published this slot yet
      } else {
        pos = Atomics.load(h, H_DEQUEUE);
      }
    }
  }

  // Parked consumers woken by a push so far (mod 2^32): each one cost the pushing thread a system
  // call, so under load it should stay flat.
  wakeups(): number {
    return Atomics.load(this.header, H_WAKEUPS) >>> 0;
  }

  // Records waiting (a snapshot: exact when nobody is pushing or popping).
  size(): number {
    const n = (Atomics.load(this.header, H_ENQUEUE) - Atomics.load(this.header, H_DEQUEUE)) | 0;
    return Math.min(Math.max(n, 0), this.slots);
  }

  isEmpty(): boolean {
    const pos = Atomics.load(this.header, H_DEQUEUE);
    const index = (pos & this.mask) * (SLOT_BYTES / 4);
    return ((Atomics.load(this.seq, index) - ((pos + 1) | 0)) | 0) < 0;
  }

  // Resolves when a record may be available or after timeout_ms. Never blocks the thread, so a
  // worker keeps serving its sockets while it waits (Atomics.waitAsync, not Atomics.wait).
  // 'ready': records were already there; 'woken': a push (or wakeAll) woke it; 'timed-out'.
  async waitForRecords(timeout_ms: number): Promise<'ready' | 'woken' | 'timed-out'> {
    const signal = this.park();
    try {
      if (signal === null) return 'ready';
      const waiting = Atomics.waitAsync(this.header, H_SIGNAL, signal, timeout_ms);
      const outcome = waiting.async ? await waiting.value : waiting.value;
      return outcome === 'timed-out' ? 'timed-out' : 'woken'; // 'not-equal': signalled meanwhile
    } finally {
      Atomics.sub(this.header, H_SLEEPERS, 1);
    }
  }

  // The blocking variant, for threads with nothing else to do (benchmarks, stress tests).
  waitForRecordsSync(timeout_ms: number): void {
    const signal = this.park();
    try {
      if (signal !== null) Atomics.wait(this.header, H_SIGNAL, signal, timeout_ms);
    } finally {
      Atomics.sub(this.header, H_SLEEPERS, 1);
    }
  }

  // Registers a sleeper; the signal value to wait on, or null when records are already there.
  // The caller must unregister (Atomics.sub on H_SLEEPERS) when done.
  private park(): number | null {
    const h = this.header;
    // Re-arm the wake-up before the emptiness check, so a push after the check notifies.
    Atomics.store(h, H_WAKE_PENDING, 0);
    Atomics.add(h, H_SLEEPERS, 1);
    // Read the signal before checking emptiness: a push after the check bumps it.
    const signal = Atomics.load(h, H_SIGNAL);
    return this.isEmpty() ? signal : null;
  }

  // Wakes every parked consumer (shutdown, purge).
  wakeAll(): void {
    Atomics.add(this.header, H_SIGNAL, 1);
    Atomics.notify(this.header, H_SIGNAL);
  }
}
