// How far a set of replicas' service ÷ baseline p99 ratios can be trusted: one replica's ratio
// moves by ~0.3 on a shared 2-core machine, so a target of ≤ ×1.1 is judged on many of them, with
// a confidence interval, never on one.
import { percentileOfSorted } from './score.js';

// Two-sided 95 % critical values of Student's t for 1..30 degrees of freedom; 1.96 beyond.
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function t95(df: number): number {
  if (!(df >= 1)) throw new Error(`degrees of freedom must be ≥ 1, got ${df}`);
  return df <= T95.length ? T95[Math.floor(df) - 1] : 1.96;
}

export interface Spread {
  n: number;
  median: number;
  mean: number;
  sd: number; // sample standard deviation of one replica
  ci95: [number, number]; // of the mean (Student's t); [mean, mean] for one replica
  geo_mean: number; // the mean of log ratios, back: ×a and ×1/a weigh the same
  geo_ci95: [number, number];
  at_or_below: number; // replicas at or under the target
  target: number;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function meanCi(xs: readonly number[]): { mean: number; sd: number; lo: number; hi: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, sd: 0, lo: mean, hi: mean };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (t95(n - 1) * sd) / Math.sqrt(n);
  return { mean, sd, lo: mean - half, hi: mean + half };
}

export function spread(ratios: readonly number[], target: number): Spread {
  if (ratios.length === 0) throw new Error('no ratios');
  if (!ratios.every((r) => Number.isFinite(r) && r > 0)) throw new Error('ratios must be positive numbers');
  const median = percentileOfSorted(Float64Array.from(ratios).sort(), 0.5);
  const a = meanCi(ratios);
  const g = meanCi(ratios.map(Math.log));
  return {
    n: ratios.length,
    median: r3(median),
    mean: r3(a.mean),
    sd: r3(a.sd),
    ci95: [r3(a.lo), r3(a.hi)],
    geo_mean: r3(Math.exp(g.mean)),
    geo_ci95: [r3(Math.exp(g.lo)), r3(Math.exp(g.hi))],
    at_or_below: ratios.filter((r) => r <= target).length,
    target,
  };
}
