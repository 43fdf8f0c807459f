// Processor schedules (the contest's final test): when each processor's delay / failure flag changes.
import { readFileSync } from 'node:fs';

export interface ProcessorState {
  delay_ms: number;
  failure: boolean;
}
export interface Phase {
  at_s: number;
  default: ProcessorState;
  fallback: ProcessorState;
}

const p = (delay_ms: number, failure = false): ProcessorState => ({ delay_ms, failure });

/** The final test (rinha-final.js), phases at t = 1, 30, 60, …, 270 s of a 300 s run. */
export const FINAL_SCHEDULE: readonly Phase[] = [
  { at_s: 1, default: p(0), fallback: p(0) },
  { at_s: 30, default: p(1000), fallback: p(0) },
  { at_s: 60, default: p(500), fallback: p(0) },
  { at_s: 90, default: p(2000, true), fallback: p(1000) },
  { at_s: 120, default: p(5000, true), fallback: p(5) },
  { at_s: 150, default: p(0), fallback: p(5, true) },
  { at_s: 180, default: p(100), fallback: p(5) },
  { at_s: 210, default: p(50), fallback: p(0) },
  { at_s: 240, default: p(103), fallback: p(10) },
  { at_s: 270, default: p(2000), fallback: p(0) },
];
export const FINAL_DURATION_S = 300;

/** The older development preview test (rinha.js), phases at t = 1, 10, …, 50 s of a 60 s run. */
export const PREVIEW_SCHEDULE: readonly Phase[] = [
  { at_s: 1, default: p(0), fallback: p(0) },
  { at_s: 10, default: p(100), fallback: p(0) },
  { at_s: 20, default: p(100, true), fallback: p(0) },
  { at_s: 30, default: p(2000, true), fallback: p(1000, true) },
  { at_s: 40, default: p(20), fallback: p(20) },
  { at_s: 50, default: p(0), fallback: p(5000) },
];
export const PREVIEW_DURATION_S = 60;

/**
 * Fit a schedule written for `base_s` seconds into `duration_s`: phase times scale linearly
 * (so a 30 s run of the final test changes phase every 3 s); the first phase stays at t = 1 s.
 */
export function scaleSchedule(schedule: readonly Phase[], base_s: number, duration_s: number): Phase[] {
  if (duration_s === base_s) return schedule.map((ph) => ({ ...ph }));
  const k = duration_s / base_s;
  return schedule.map((ph, i) => ({ ...ph, at_s: i === 0 ? Math.min(ph.at_s, duration_s / 20) : Math.round(ph.at_s * k * 1000) / 1000 }));
}

/** A schedule file: JSON array of {at_s, default:{delay_ms,failure}, fallback:{...}}. */
export function readScheduleFile(path: string): Phase[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 1000) throw new Error(`${path}: expected a non-empty JSON array of phases`);
  const state = (x: unknown, where: string): ProcessorState => {
    const o = x as Partial<ProcessorState> | undefined;
    if (!o || typeof o.delay_ms !== 'number' || !(o.delay_ms >= 0) || typeof (o.failure ?? false) !== 'boolean') {
      throw new Error(`${path}: ${where} needs {delay_ms: number >= 0, failure?: boolean}`);
    }
    return { delay_ms: o.delay_ms, failure: o.failure ?? false };
  };
  return raw
    .map((entry: unknown, i: number) => {
      const ph = entry as { at_s?: unknown; default?: unknown; fallback?: unknown } | null;
      if (typeof ph?.at_s !== 'number' || !(ph.at_s >= 0)) throw new Error(`${path}: phase ${i} needs at_s >= 0`);
      return { at_s: ph.at_s, default: state(ph.default, `phase ${i}.default`), fallback: state(ph.fallback, `phase ${i}.fallback`) };
    })
    .sort((a, b) => a.at_s - b.at_s);
}

export function phaseLabel(s: ProcessorState): string {
  return `${s.delay_ms}${s.failure ? ' F' : ''}`;
}
