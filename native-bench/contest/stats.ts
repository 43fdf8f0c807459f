// Latency summaries (k6 percentile formula) and a fixed-size histogram for the live "p99 so far".
import { percentileOfSorted } from './score.js';

export interface LatencyStats { count: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number }

const r4 = (x: number) => Math.round(x * 10_000) / 10_000;

export function latencyStats(durations_ms: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(durations_ms).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    p50: r4(percentileOfSorted(sorted, 0.5)), p90: r4(percentileOfSorted(sorted, 0.9)),
    p99: r4(percentileOfSorted(sorted, 0.99)), p999: r4(percentileOfSorted(sorted, 0.999)),
    max: n ? r4(sorted[n - 1]) : 0, mean: n ? r4(sum / n) : 0,
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
