// Where a run's slow requests fell: for each stretch of the run (a phase of the schedule), how
// many accepted POSTs were slower than one threshold, the baseline's p99, in the service's run
// and in the baseline's. The service's p99 exceeds the baseline's by exactly the requests it has
// over that threshold beyond the baseline's 1 %; this says in which phases they are.
import { stolenSharePct } from '../lib/threads.js';
import { overThreshold } from './stats.js';
import type { TimelinePoint } from './run.js';

interface TailBucket {
  from_s: number;
  to_s: number;
  service_posts: number;
  service_over: number;
  baseline_posts: number;
  baseline_over: number;
  extra: number; // the service's slow requests beyond the baseline's rate in the same stretch
  // Of the CPU time the machine's vCPUs wanted in the stretch, the share the hypervisor gave to
  // someone else (stolenSharePct), in either run: a stretch that lost far more than the same
  // stretch of other runs of its kind was disturbed.
  service_stolen_share_pct: number | null;
  baseline_stolen_share_pct: number | null;
}

export interface TailByPhase {
  threshold_ms: number;
  bucket_s: number;
  buckets: TailBucket[];
  extra_total: number;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

// Accepted POSTs in seconds [from, to) of a run, and how many were slower than the threshold.
function stretch(
  pts: readonly TimelinePoint[],
  from: number,
  to: number,
  threshold_ms: number,
): { posts: number; over: number; stolen_share_pct: number | null } {
  let posts = 0;
  let over = 0;
  let busy = 0;
  let steal = 0;
  for (let t = from; t < Math.min(to, pts.length); t++) {
    posts += pts[t].ok;
    over += overThreshold(pts[t].over, pts[t].ok, threshold_ms);
    const { busy_pct, steal_pct } = pts[t]; // absent in results written before they were sampled
    if (typeof busy_pct === 'number' && typeof steal_pct === 'number') {
      busy += busy_pct;
      steal += steal_pct;
    }
  }
  return { posts, over, stolen_share_pct: stolenSharePct(busy, steal) };
}

export function tailByPhase(
  service: readonly TimelinePoint[],
  baseline: readonly TimelinePoint[],
  threshold_ms: number,
  bucket_s: number,
): TailByPhase {
  if (!(bucket_s >= 1)) throw new Error(`bucket_s must be ≥ 1, got ${bucket_s}`);
  const seconds = Math.max(service.length, baseline.length);
  const buckets: TailBucket[] = [];
  for (let from = 0; from < seconds; from += bucket_s) {
    const to = Math.min(seconds, from + bucket_s);
    const s = stretch(service, from, to, threshold_ms);
    const b = stretch(baseline, from, to, threshold_ms);
    // The baseline's rate of slow requests, applied to the service's count of requests.
    const expected = b.posts > 0 ? (b.over / b.posts) * s.posts : 0;
    buckets.push({
      from_s: from,
      to_s: to,
      service_posts: s.posts,
      service_over: r1(s.over),
      baseline_posts: b.posts,
      baseline_over: r1(b.over),
      extra: r1(s.over - expected),
      service_stolen_share_pct: s.stolen_share_pct,
      baseline_stolen_share_pct: b.stolen_share_pct,
    });
  }
  return { threshold_ms, bucket_s, buckets, extra_total: r1(buckets.reduce((t, x) => t + x.extra, 0)) };
}
