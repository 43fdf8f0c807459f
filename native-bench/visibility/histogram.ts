// Prometheus histograms as /metrics prints them, read back: parse, merge across instances,
// subtract an earlier snapshot, and bucket-bound quantiles (upper estimates).
export const VISIBILITY = 'rinha_visibility_lag_ms';

export interface Hist {
  le: number[];
  cumulative: number[];
}

export function parseHistogram(text: string, name: string): Hist {
  const le: number[] = [];
  const cumulative: number[] = [];
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    le.push(m[1] === '+Inf' ? Infinity : Number(m[1]));
    cumulative.push(Number(m[2]));
  }
  return { le, cumulative };
}

export function quantile(h: Hist, q: number): number {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  const want = q * total;
  for (let i = 0; i < h.le.length; i++) if (h.cumulative[i] >= want) return h.le[i];
  return Infinity;
}

export function mergeHistograms(texts: string[], name: string): Hist {
  const merged: Hist = { le: [], cumulative: [] };
  for (const text of texts) {
    const h = parseHistogram(text, name);
    if (merged.le.length === 0) Object.assign(merged, { le: h.le, cumulative: h.cumulative.map(() => 0) });
    for (const [i, c] of h.cumulative.entries()) merged.cumulative[i] += c;
  }
  return merged;
}

// Rows above `le_ms` (a bucket bound).
export function over(h: Hist, le_ms: number): number {
  const i = h.le.indexOf(le_ms);
  if (i < 0) throw new Error(`no ${le_ms} ms bucket in ${VISIBILITY}`);
  return h.cumulative[h.cumulative.length - 1] - h.cumulative[i];
}

// Fraction of rows at or below `le_ms`, to 4 decimals.
export function share(h: Hist, le_ms: number): number {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  return total === 0 ? 0 : Math.round(((total - over(h, le_ms)) / total) * 1e4) / 1e4;
}

// What was added between two snapshots of one histogram.
export function subtract(later: Hist, earlier: Hist): Hist {
  return { le: later.le, cumulative: later.cumulative.map((c, i) => c - (earlier.cumulative[i] ?? 0)) };
}
