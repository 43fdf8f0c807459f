// Percentiles over raw samples, and the results-directory stamp shared with the contest bench.
export interface LatencySummaryUs {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function summarizeUs(samples_ms: Float64Array): LatencySummaryUs {
  const n = samples_ms.length;
  if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(samples_ms).sort();
  const at = (q: number) => round1(sorted[Math.min(n - 1, Math.floor(q * n))] * 1000);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: round1(sorted[n - 1] * 1000),
    mean: round1((sum / n) * 1000),
  };
}

export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function utcStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
