// Group commit, shared by the claims and the COPY writer: one flush at a time; the first one
// starts on the next turn of the event loop, so everything queued during this turn leaves in the
// same statement; a flush that ends with more queued is followed by the next at once.
export class GroupCommit {
  private running = false;

  constructor(
    private readonly flush: () => Promise<void>, // drains the queue (or gives up: closed)
    private readonly hasMore: () => boolean,
    private readonly onIdle: () => void = () => {},
  ) {}

  get busy(): boolean {
    return this.running;
  }

  kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.running = false;
      if (this.hasMore()) this.kick();
      else this.onIdle();
    }
  }
}
