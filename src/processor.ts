// The two payment processors: an index inside (0 default, 1 fallback: a ring slot, a row, an
// array index), their names at the edges (metrics, the summary).
export type Processor = 0 | 1;
export const PROCESSORS = ['default', 'fallback'] as const;

// What the health leader last read from a processor's /payments/service-health, shared by the
// whole cluster.
export interface Health {
  failing: boolean;
  min_response_ms: number;
  checked_at_ms: number; // 0 = never checked
}
