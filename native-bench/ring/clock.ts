// The clock both threads share: epoch ms with sub-µs resolution. performance.timeOrigin is set
// per thread, so timeOrigin + now() is comparable across threads (skew is measured, see skew.ts).
export function nowAbs_ms(): number {
  return performance.timeOrigin + performance.now();
}
