// The clock both threads share: epoch ms with sub-µs resolution. performance.timeOrigin is set
// per thread, so timeOrigin + now() is comparable across threads (skew is measured, see skew.ts).
export function nowAbsMs(): number {
  return performance.timeOrigin + performance.now();
}
