// Group commit, shared by the claims and the COPY writer: one flush at a time; a flush that ends
// with more queued is followed by the next at once. The first flush after an idle spell starts on
// the next turn of the event loop, so everything queued during this turn leaves in the same
// statement; with a linger, it waits that long for the rest of a burst (the processor's answers
// to one tick's sends arrive over a few ms), so a burst costs one statement instead of several.
import assert from 'node:assert/strict';

export class GroupCommit {
  private running = false;

  constructor(
    private readonly flush: () => Promise<void>, // drains the queue (or gives up: closed)
    private readonly hasMore: () => boolean,
    private readonly onIdle: () => void = () => {},
    private readonly linger_ms = 0,
  ) {
    assert(Number.isSafeInteger(linger_ms) && linger_ms >= 0, 'a linger is a whole number of ms, 0 or more');
  }

  get busy(): boolean {
    return this.running;
  }

  kick(): void {
    this.start(this.linger_ms);
  }

  private start(wait_ms: number): void {
    if (this.running) return;
    this.running = true;
    if (wait_ms > 0) setTimeout(() => void this.run(), wait_ms);
    else setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.running = false;
      if (this.hasMore())
        this.start(0); // what queued during a flush leaves as soon as it returns
      else this.onIdle();
    }
  }
}
