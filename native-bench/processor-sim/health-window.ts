// The processor's service-health rate limit: ONE fixed window shared by all callers, 1 permit per
// window, up to max_held callers queued (oldest first) and answered one per following window,
// everyone beyond that refused. Windows are aligned to the simulator's start time.

export type HealthDecision = 'now' | 'held' | 'rejected';

export class HealthWindow {
  private readonly started_ms = Date.now();
  private window_index = -1;
  private permit_used = false;
  private readonly held: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly window_ms: number,
    private readonly max_held: number,
  ) {
    if (!(window_ms >= 1)) throw new RangeError('window_ms must be >= 1');
  }

  /** Runs answer() now (returns 'now'), later ('held') or never ('rejected'). */
  request(answer: () => void): HealthDecision {
    this.roll();
    if (!this.permit_used && this.held.length === 0) {
      this.permit_used = true;
      answer();
      return 'now';
    }
    if (this.held.length >= this.max_held) return 'rejected';
    this.held.push(answer);
    this.schedule();
    return 'held';
  }

  /** Callers waiting for a later window. */
  get heldCount(): number {
    return this.held.length;
  }

  close(): void {
    this.closed = true;
    this.held.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private currentIndex(): number {
    return Math.floor((Date.now() - this.started_ms) / this.window_ms);
  }

  /** Enters the current window if time moved on; its permit goes to the oldest held caller. */
  private roll(): void {
    const index = this.currentIndex();
    if (index === this.window_index) return;
    this.window_index = index;
    this.permit_used = false;
    const next = this.held.shift();
    if (next) {
      this.permit_used = true;
      next();
    }
  }

  private schedule(): void {
    if (this.timer || this.closed || this.held.length === 0) return;
    const next_start_ms = this.started_ms + (this.currentIndex() + 1) * this.window_ms;
    const wait_ms = Math.max(1, next_start_ms - Date.now() + 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.roll();
      this.schedule();
    }, wait_ms);
  }
}
