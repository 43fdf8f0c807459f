// DURABILITY=strict: the way back from the workers to the front thread. A worker pushes the
// ticket of each payment whose claim is committed; the front thread drains them and answers the
// waiting responses. A bounded lock-free multi-producer queue of int32 tickets in a
// SharedArrayBuffer (the ring's algorithm, one sequence number per slot), and a signal word the
// front thread waits on with Atomics.waitAsync: it is woken (one notify per worker batch, not per
// payment) and never blocks. Imports nothing of the app.
//
// It cannot fill: its capacity is the number of tickets, and a ticket is pushed once per use
// (the front hands it out again only after draining it).

const H_ENQUEUE = 0;
const H_DEQUEUE = 16;
const H_SIGNAL = 32; // bumped by notify()
const HEADER_WORDS = 48;

export class AckQueue {
  readonly sab: SharedArrayBuffer;
  readonly slots: number;
  private readonly mask: number;
  private readonly header: Int32Array;
  private readonly cells: Int32Array; // [seq, ticket] per slot

  static create(slots: number): AckQueue {
    if (!Number.isInteger(slots) || slots < 2 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`ack queue slots must be a power of two >= 2, got ${slots}`);
    }
    const q = new AckQueue(new SharedArrayBuffer((HEADER_WORDS + 2 * slots) * 4));
    for (let i = 0; i < slots; i++) Atomics.store(q.cells, 2 * i, i);
    return q;
  }

  static attach(sab: SharedArrayBuffer): AckQueue {
    return new AckQueue(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.slots = (sab.byteLength / 4 - HEADER_WORDS) / 2;
    this.mask = this.slots - 1;
    this.header = new Int32Array(sab, 0, HEADER_WORDS);
    this.cells = new Int32Array(sab, HEADER_WORDS * 4);
  }

  // Any thread. False only if full, which the ticket count rules out (the caller asserts).
  push(ticket: number): boolean {
    let pos = Atomics.load(this.header, H_ENQUEUE);
    for (;;) {
      const at = 2 * (pos & this.mask);
      const dif = (Atomics.load(this.cells, at) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(this.header, H_ENQUEUE, pos, (pos + 1) | 0);
        if (seen === pos) {
          Atomics.store(this.cells, at + 1, ticket);
          Atomics.store(this.cells, at, (pos + 1) | 0);
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(this.header, H_ENQUEUE);
      }
    }
  }

  // The front thread only: the next ticket, or 0 when empty.
  pop(): number {
    const pos = Atomics.load(this.header, H_DEQUEUE);
    const at = 2 * (pos & this.mask);
    if (((Atomics.load(this.cells, at) - ((pos + 1) | 0)) | 0) < 0) return 0;
    Atomics.store(this.header, H_DEQUEUE, (pos + 1) | 0); // a single consumer: no race
    const ticket = Atomics.load(this.cells, at + 1);
    Atomics.store(this.cells, at, (pos + this.slots) | 0);
    return ticket;
  }

  private notify_scheduled = false;

  // A worker: pushes a ticket, and wakes the front thread once for every ticket pushed in this
  // turn (one claim batch resolves all its payments in one microtask run).
  ack(ticket: number): void {
    if (!this.push(ticket)) throw new Error(`ack queue full (ticket ${ticket}): more tickets than slots`);
    if (this.notify_scheduled) return;
    this.notify_scheduled = true;
    queueMicrotask(() => {
      this.notify_scheduled = false;
      this.notify();
    });
  }

  // After a batch of pushes: wakes the front thread.
  notify(): void {
    Atomics.add(this.header, H_SIGNAL, 1);
    Atomics.notify(this.header, H_SIGNAL);
  }

  // The front thread: calls `drain` whenever tickets may be there, until stop() is called.
  // Reads the signal before draining, so a push after the drain changes it and the wait returns
  // at once ('not-equal').
  watch(drain: () => void): { stop(): void } {
    let stopped = false;
    const loop = (): void => {
      if (stopped) return;
      const signal = Atomics.load(this.header, H_SIGNAL);
      drain();
      const w = Atomics.waitAsync(this.header, H_SIGNAL, signal);
      if (w.async) void w.value.then(loop);
      else setImmediate(loop); // signalled meanwhile: drain again on the next turn
    };
    loop();
    return {
      stop: () => {
        stopped = true;
        this.notify(); // releases the pending wait
      },
    };
  }
}
