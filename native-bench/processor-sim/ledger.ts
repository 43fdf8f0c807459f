// The stored payments: a Map by correlationId for lookups and duplicates, plus parallel typed
// arrays sorted by requestedAt (ms) with lazily rebuilt prefix sums, so a summary is two binary
// searches, never a scan of every payment.

export interface StoredPayment {
  readonly correlation_id: string;
  readonly amount_cents: number;
  readonly requested_at_text: string; // exactly as sent
  readonly requested_at_ms: number;
}

export interface RangeTotals {
  readonly count: number;
  readonly amount_cents: number;
}

const initial_capacity = 1024;

export class Ledger {
  private readonly by_id = new Map<string, StoredPayment>();
  private times_ms = new Float64Array(initial_capacity);
  private cents = new Float64Array(initial_capacity);
  // prefix_cents[i] = sum of cents[0..i-1]; valid for indices <= prefix_valid_upto.
  private prefix_cents = new Float64Array(initial_capacity + 1);
  private prefix_valid_upto = 0;
  private length = 0;

  get size(): number {
    return this.length;
  }

  get(correlation_id: string): StoredPayment | undefined {
    return this.by_id.get(correlation_id);
  }

  /** Stores a new payment; returns false (and stores nothing) when the id already exists. */
  insert(payment: StoredPayment): boolean {
    if (this.by_id.has(payment.correlation_id)) return false;
    this.by_id.set(payment.correlation_id, payment);
    if (this.length === this.times_ms.length) this.grow();
    // Insertion from the end: payments arrive nearly in requestedAt order, so this rarely moves much.
    let index = this.length;
    while (index > 0 && this.times_ms[index - 1] > payment.requested_at_ms) index -= 1;
    if (index < this.length) {
      this.times_ms.copyWithin(index + 1, index, this.length);
      this.cents.copyWithin(index + 1, index, this.length);
    }
    this.times_ms[index] = payment.requested_at_ms;
    this.cents[index] = payment.amount_cents;
    this.length += 1;
    if (index < this.prefix_valid_upto) this.prefix_valid_upto = index;
    return true;
  }

  /** Totals over requestedAt in [from_ms, to_ms], both inclusive; null bounds mean "everything". */
  totals(from_ms: number | null, to_ms: number | null): RangeTotals {
    this.refreshPrefix();
    if (from_ms === null || to_ms === null) {
      return { count: this.length, amount_cents: this.prefix_cents[this.length] };
    }
    if (from_ms > to_ms) return { count: 0, amount_cents: 0 };
    const lo = this.lowerBound(from_ms);
    const hi = this.upperBound(to_ms);
    return { count: hi - lo, amount_cents: this.prefix_cents[hi] - this.prefix_cents[lo] };
  }

  clear(): void {
    this.by_id.clear();
    this.times_ms = new Float64Array(initial_capacity);
    this.cents = new Float64Array(initial_capacity);
    this.prefix_cents = new Float64Array(initial_capacity + 1);
    this.prefix_valid_upto = 0;
    this.length = 0;
  }

  private refreshPrefix(): void {
    for (let i = this.prefix_valid_upto; i < this.length; i += 1) {
      this.prefix_cents[i + 1] = this.prefix_cents[i] + this.cents[i];
    }
    this.prefix_valid_upto = this.length;
  }

  /** First index whose time is >= t_ms. */
  private lowerBound(t_ms: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times_ms[mid] < t_ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose time is > t_ms. */
  private upperBound(t_ms: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times_ms[mid] <= t_ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const capacity = this.times_ms.length * 2;
    const times = new Float64Array(capacity);
    times.set(this.times_ms);
    const cents = new Float64Array(capacity);
    cents.set(this.cents);
    const prefix = new Float64Array(capacity + 1);
    prefix.set(this.prefix_cents);
    this.times_ms = times;
    this.cents = cents;
    this.prefix_cents = prefix;
  }
}
