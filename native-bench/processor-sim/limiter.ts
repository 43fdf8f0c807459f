// Concurrency limiter of the processor's POST /payments and GET /payments/{id}:
// at most max_running at once, max_queued waiting in FIFO order, the rest refused (429).

export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private waiting_head = 0;
  rejected_total = 0;

  constructor(
    private readonly max_running: number,
    private readonly max_queued: number,
  ) {
    if (!(max_running >= 1 && max_queued >= 0)) throw new RangeError('limiter limits must be >= 1 / >= 0');
  }

  get runningCount(): number {
    return this.running;
  }

  get queuedCount(): number {
    return this.waiting.length - this.waiting_head;
  }

  /**
   * Calls start() now or later (FIFO) once a slot is free and returns true; returns false when
   * both the slots and the queue are full. The caller must call release() exactly once per start().
   */
  acquire(start: () => void): boolean {
    if (this.running < this.max_running && this.queuedCount === 0) {
      this.running += 1;
      start();
      return true;
    }
    if (this.queuedCount >= this.max_queued) {
      this.rejected_total += 1;
      return false;
    }
    this.waiting.push(start);
    return true;
  }

  release(): void {
    if (this.running <= 0) throw new Error('limiter: release without acquire');
    this.running -= 1;
    if (this.queuedCount > 0 && this.running < this.max_running) {
      const next = this.waiting[this.waiting_head];
      this.waiting_head += 1;
      // Compact once the consumed prefix dominates, so the array does not grow forever.
      if (this.waiting_head > 1024 && this.waiting_head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waiting_head);
        this.waiting_head = 0;
      }
      this.running += 1;
      next();
    }
  }

  /** Drops everyone waiting (used on close); their start() is never called. */
  dropWaiting(): void {
    this.waiting.length = 0;
    this.waiting_head = 0;
  }
}
