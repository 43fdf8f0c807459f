// Where a run's slow requests fell: for each stretch of the run (a phase of the schedule), how
// many accepted POSTs were slower than one threshold, the baseline's p99, in the service's run
// and in the baseline's. The service's p99 exceeds the baseline's by exactly the requests it has
// over that threshold beyond the baseline's 1 %; this says in which phases they are.
import { overThreshold } from './stats.js';
import type { TimelinePoint } from './run.js';

export interface TailBucket {
  from_s: number;
  to_s: number;
  service_posts: number;
  service_over: number;
  baseline_posts: number;
  baseline_over: number;
  extra: number; // the service's slow requests beyond the baseline's rate in the same stretch
}

export interface TailByPhase {
  threshold_ms: number;
  bucket_s: number;
  buckets: TailBucket[];
  extra_total: number;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export function tailByPhase(service: readonly TimelinePoint[], baseline: readonly TimelinePoint[], threshold_ms: number, bucket_s: number): TailByPhase {
  if (!(bucket_s >= 1)) throw new Error(`bucket_s must be ≥ 1, got ${bucket_s}`);
  const seconds = Math.max(service.length, baseline.length);
  const buckets: TailBucket[] = [];
  for (let from = 0; from < seconds; from += bucket_s) {
    const to = Math.min(seconds, from + bucket_s);
    const sum = (pts: readonly TimelinePoint[]) => {
      let posts = 0;
      let over = 0;
      for (const p of pts.slice(from, to)) {
        posts += p.ok;
        over += overThreshold(p.over, p.ok, threshold_ms);
      }
      return { posts, over };
    };
    const s = sum(service);
    const b = sum(baseline);
    // The baseline's rate of slow requests, applied to the service's count of requests.
    const expected = b.posts > 0 ? (b.over / b.posts) * s.posts : 0;
    buckets.push({
      from_s: from, to_s: to, service_posts: s.posts, service_over: r1(s.over), baseline_posts: b.posts, baseline_over: r1(b.over),
      extra: r1(s.over - expected),
    });
  }
  return { threshold_ms, bucket_s, buckets, extra_total: r1(buckets.reduce((t, x) => t + x.extra, 0)) };
}
