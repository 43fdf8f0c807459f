// autocannon (programmatic) with realistic payment bodies (a fresh uuid each), and an RSS sampler.
// autocannon ships no types: the small part used here is declared below.
import { createRequire } from 'node:module';
import { rssKb } from './reliability-stack.js';

interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>, cb?: (err: Error | null, r: AutocannonResult) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadResult {
  sent: number;
  ok_2xx: number;
  non_2xx: number;
  errors: number;
  timeouts: number;
  rate_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  statuses: Record<string, number>;
}

export function paymentLoad(
  url: string,
  opts: { duration_s: number; rate_per_s?: number; connections: number; timeout_s?: number },
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: opts.connections,
        duration: opts.duration_s,
        overallRate: opts.rate_per_s,
        timeout: opts.timeout_s ?? 2,
        requests: [
          {
            method: 'POST',
            path: '/payments',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: `{"correlationId":"${crypto.randomUUID()}","amount":19.9}` }),
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err);
        const statuses: Record<string, number> = {};
        for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) statuses[k] = v.count;
        resolve({
          sent: r.requests.total,
          ok_2xx: r['2xx'],
          non_2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          rate_per_s: Math.round(r.requests.average),
          p50_ms: r.latency.p50,
          p99_ms: r.latency.p99,
          max_ms: r.latency.max,
          statuses,
        });
      },
    );
  });
}

// Samples a process's RSS every `every_ms` until stop(); returns the peak and the last (kB).
export function rssSampler(pid: number, every_ms = 250): { stop(): { peak_kb: number; last_kb: number; samples: number } } {
  let peak_kb = 0;
  let last_kb = 0;
  let samples = 0;
  const take = (): void => {
    try {
      last_kb = rssKb(pid);
      peak_kb = Math.max(peak_kb, last_kb);
      samples++;
    } catch {
      // the process is gone
    }
  };
  take();
  const timer = setInterval(take, every_ms);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peak_kb, last_kb, samples };
    },
  };
}
