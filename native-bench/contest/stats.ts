// Latency summaries (k6 percentile formula) and a fixed-size histogram for the live "p99 so far".
import { percentileOfSorted } from './score.js';

export interface LatencyStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const r4 = (x: number) => Math.round(x * 10_000) / 10_000;

export function latencyStats(durations_ms: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(durations_ms).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    p50: r4(percentileOfSorted(sorted, 0.5)),
    p90: r4(percentileOfSorted(sorted, 0.9)),
    p99: r4(percentileOfSorted(sorted, 0.99)),
    p999: r4(percentileOfSorted(sorted, 0.999)),
    max: n ? r4(sorted[n - 1]) : 0,
    mean: n ? r4(sum / n) : 0,
  };
}

/** 10 µs buckets up to 2 s (the client gives up at 1.5 s); enough for a progress line. */
export class LiveHistogram {
  private static readonly BUCKET_MS = 0.01;
  private readonly buckets = new Uint32Array(200_001);
  private n = 0;

  add(ms: number): void {
    const i = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms / LiveHistogram.BUCKET_MS)));
    this.buckets[i]++;
    this.n++;
  }

  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return (i + 1) * LiveHistogram.BUCKET_MS;
    }
    return this.buckets.length * LiveHistogram.BUCKET_MS;
  }
}

/**
 * Thresholds (ms) at which each second of a run counts its slow requests. With them, a run's
 * timeline can say how many requests of any stretch were slower than a threshold chosen after
 * the run, such as the baseline's p99, which is only known once the baseline has run.
 */
export const SLOW_LADDER_MS: readonly number[] = Object.freeze([
  1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9, 10, 12, 15, 20, 30, 50, 100,
]);

/** How many of `durations_ms` are slower than each step of `ladder` (ascending). */
export function countOver(durations_ms: ArrayLike<number>, ladder: readonly number[] = SLOW_LADDER_MS): number[] {
  const over = new Array<number>(ladder.length).fill(0);
  for (let i = 0; i < durations_ms.length; i++) {
    const d = durations_ms[i];
    for (let k = 0; k < ladder.length && d > ladder[k]; k++) over[k]++;
  }
  return over;
}

/**
 * Requests slower than `threshold_ms`, from counts over the ladder: linear between the two steps
 * around it, the count itself on a step, the last step's count beyond the ladder, and `total`
 * below its first step (every request is slower than a threshold below the fastest step's).
 */
export function overThreshold(
  over: readonly number[],
  total: number,
  threshold_ms: number,
  ladder: readonly number[] = SLOW_LADDER_MS,
): number {
  if (over.length !== ladder.length) throw new Error(`ladder has ${ladder.length} steps, counts ${over.length}`);
  if (threshold_ms <= ladder[0]) {
    const f = ladder[0] > 0 ? threshold_ms / ladder[0] : 1; // from `total` at 0 ms to the first step
    return total + (over[0] - total) * Math.max(0, f);
  }
  for (let k = 1; k < ladder.length; k++) {
    if (threshold_ms <= ladder[k]) {
      const f = (threshold_ms - ladder[k - 1]) / (ladder[k] - ladder[k - 1]);
      return over[k - 1] + (over[k] - over[k - 1]) * f;
    }
  }
  return over[ladder.length - 1];
}
