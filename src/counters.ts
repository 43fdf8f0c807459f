import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { PROCESSORS } from './processor.js';
// Counters, gauges and histograms in one SharedArrayBuffer: every thread of an instance writes
// with Atomics, /metrics reads them without stopping anyone. Fixed layout, no allocation to count.

// acks_full, ack_timeout: DURABILITY=strict only (too many answers waiting for their commit; a
// commit that did not come in ACK_TIMEOUT_MS).
const REJECT_REASONS = [
  'invalid',
  'too_large',
  'unsupported_media_type',
  'ring_full',
  'shutting_down',
  'not_found',
  'acks_full',
  'ack_timeout',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

// What an attempt at a processor came to.
const OUTCOMES = [
  'ok', // 200: stored now
  'recovered', // 422 after an unknown outcome: stored by the earlier attempt
  'duplicate', // 422 on a first attempt: someone else stored this id; not ours to count
  'failed', // 500: not stored
  'rate_limited', // 429: not stored
  'unknown', // timeout or connection lost after sending: maybe stored
  'not_sent', // could not connect: not stored
  'unexpected', // any other status
] as const;
export type Outcome = (typeof OUTCOMES)[number];

const DECISIONS = ['default', 'fallback', 'hold'] as const;

// Histogram bucket upper bounds, in their metric's unit (ms or rows).
const MS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 1500, 2000, 5000, 10000];
const ROW_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
// GC pauses are mostly scavenges well under a millisecond; a full collection is a few ms.
export const GC_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100];
// A blocking summary or purge stops the front for a database round trip: a millisecond or so.
const BLOCKED_BUCKETS = [0.5, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

interface HistogramDef {
  name: string;
  help: string;
  unit_buckets: number[];
  labels: string;
}

const HISTOGRAMS: HistogramDef[] = [
  { name: 'rinha_processor_latency_ms', help: 'Processor round trip per attempt', unit_buckets: MS_BUCKETS, labels: 'processor="default"' },
  {
    name: 'rinha_processor_latency_ms',
    help: 'Processor round trip per attempt',
    unit_buckets: MS_BUCKETS,
    labels: 'processor="fallback"',
  },
  { name: 'rinha_writer_flush_ms', help: 'COPY batch round trip', unit_buckets: MS_BUCKETS, labels: '' },
  { name: 'rinha_writer_batch_rows', help: 'Rows per COPY batch', unit_buckets: ROW_BUCKETS, labels: '' },
  { name: 'rinha_visibility_lag_ms', help: 'Processor confirmation to committed row', unit_buckets: MS_BUCKETS, labels: '' },
  { name: 'rinha_queue_wait_ms', help: 'Accepted to first send', unit_buckets: [...MS_BUCKETS, 30000, 60000, 120000], labels: '' },
  { name: 'rinha_gc_pause_ms', help: 'V8 garbage collection pauses per thread kind', unit_buckets: GC_BUCKETS, labels: 'thread="front"' },
  { name: 'rinha_gc_pause_ms', help: 'V8 garbage collection pauses per thread kind', unit_buckets: GC_BUCKETS, labels: 'thread="workers"' },
  {
    name: 'rinha_front_blocked_ms',
    help: 'Time the front thread waited inside a request handler for a blocking answer',
    unit_buckets: BLOCKED_BUCKETS,
    labels: 'answer="summary"',
  },
  {
    name: 'rinha_front_blocked_ms',
    help: 'Time the front thread waited inside a request handler for a blocking answer',
    unit_buckets: BLOCKED_BUCKETS,
    labels: 'answer="purge"',
  },
];
export const H_LATENCY_DEFAULT = 0;
export const H_LATENCY_FALLBACK = 1;
export const H_FLUSH_MS = 2;
export const H_BATCH_ROWS = 3;
export const H_VISIBILITY_MS = 4;
export const H_QUEUE_WAIT_MS = 5;
export const H_GC_FRONT = 6; // + 1 for the workers
export const H_BLOCKED_SUMMARY = 8;
export const H_BLOCKED_PURGE = 9;
// Each H_* index is its histogram's place in HISTOGRAMS, which has no other entry.
const H_INDEX: ReadonlyArray<readonly [number, string, string]> = [
  [H_LATENCY_DEFAULT, 'rinha_processor_latency_ms', 'processor="default"'],
  [H_LATENCY_FALLBACK, 'rinha_processor_latency_ms', 'processor="fallback"'],
  [H_FLUSH_MS, 'rinha_writer_flush_ms', ''],
  [H_BATCH_ROWS, 'rinha_writer_batch_rows', ''],
  [H_VISIBILITY_MS, 'rinha_visibility_lag_ms', ''],
  [H_QUEUE_WAIT_MS, 'rinha_queue_wait_ms', ''],
  [H_GC_FRONT, 'rinha_gc_pause_ms', 'thread="front"'],
  [H_GC_FRONT + 1, 'rinha_gc_pause_ms', 'thread="workers"'],
  [H_BLOCKED_SUMMARY, 'rinha_front_blocked_ms', 'answer="summary"'],
  [H_BLOCKED_PURGE, 'rinha_front_blocked_ms', 'answer="purge"'],
];
assert(H_INDEX.length === HISTOGRAMS.length);
for (const [at, name, labels] of H_INDEX) assert(HISTOGRAMS[at].name === name && HISTOGRAMS[at].labels === labels, name);

// Counter word indices.
let next = 0;
const alloc = (n: number): number => {
  const at = next;
  next += n;
  return at;
};
export const C_ACCEPTED = alloc(1);
const C_REJECTED = alloc(REJECT_REASONS.length);
const C_OUTCOME = alloc(PROCESSORS.length * OUTCOMES.length);
export const C_DECISION = alloc(DECISIONS.length);
export const C_RETRIES = alloc(1);
export const C_PURGED = alloc(1);
export const C_STALE_DROPPED = alloc(1);
export const C_DUPLICATES_DROPPED = alloc(1);
export const C_WRITER_ROWS = alloc(1);
export const C_WRITER_BATCHES = alloc(1);
export const C_WRITER_ERRORS = alloc(1);
export const C_HEALTH_POLLS = alloc(PROCESSORS.length);
export const C_BLOCKED_TIMEOUTS = alloc(1);
export const G_BLOCKED_MAX_US = alloc(1); // the longest blocking answer so far
// Gauges (incremented and decremented by their owners).
export const G_INFLIGHT = alloc(PROCESSORS.length);
export const G_BACKLOG = alloc(1);
export const G_HELD = alloc(1);
export const G_WRITER_PENDING = alloc(1);
export const G_WORKERS_ALIVE = alloc(1);
export const G_IS_LEADER = alloc(1);
export const G_DB_READY = alloc(1);
const G_HEAP_KB = alloc(2); // V8 heap used: front thread, workers (summed)
const G_HEAP_TOTAL_KB = alloc(2); // V8 heap reserved
const histSlots = HISTOGRAMS.map((h) => h.unit_buckets.length + 2); // buckets + +Inf + count
const HIST_OFFSETS: number[] = [];
for (const n of histSlots) HIST_OFFSETS.push(alloc(n));
const WORDS = next;

export class Counters {
  readonly sab: SharedArrayBuffer;
  readonly words: Uint32Array;
  readonly sums: Float64Array; // histogram sums; see observe() for why Float64 is safe here

  static create(): Counters {
    return new Counters(new SharedArrayBuffer(WORDS * 4 + HISTOGRAMS.length * 8 + 8));
  }

  static attach(sab: SharedArrayBuffer): Counters {
    return new Counters(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.words = new Uint32Array(sab, 0, WORDS);
    const sums_at = Math.ceil((WORDS * 4) / 8) * 8;
    this.sums = new Float64Array(sab, sums_at, HISTOGRAMS.length);
  }

  add(index: number, n = 1): void {
    Atomics.add(this.words, index, n);
  }

  sub(index: number, n = 1): void {
    Atomics.sub(this.words, index, n);
  }

  set(index: number, value: number): void {
    Atomics.store(this.words, index, value);
  }

  get(index: number): number {
    return Atomics.load(this.words, index);
  }

  reject(reason: RejectReason): void {
    Atomics.add(this.words, C_REJECTED + REJECT_REASONS.indexOf(reason), 1);
  }

  outcome(processor: number, outcome: Outcome): void {
    Atomics.add(this.words, C_OUTCOME + processor * OUTCOMES.length + OUTCOMES.indexOf(outcome), 1);
  }

  observe(histogram: number, value: number): void {
    const def = HISTOGRAMS[histogram];
    const base = HIST_OFFSETS[histogram];
    const bounds = def.unit_buckets;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    Atomics.add(this.words, base + i, 1);
    Atomics.add(this.words, base + bounds.length + 1, 1);
    // Sums are approximate under contention (two threads may add at once); counts and buckets,
    // which carry the information, are exact.
    this.sums[histogram] += value;
  }

  histogram(histogram: number): { buckets: number[]; count: number; sum: number } {
    const def = HISTOGRAMS[histogram];
    const base = HIST_OFFSETS[histogram];
    const buckets: number[] = [];
    for (let i = 0; i <= def.unit_buckets.length; i++) buckets.push(Atomics.load(this.words, base + i));
    return { buckets, count: Atomics.load(this.words, base + def.unit_buckets.length + 1), sum: this.sums[histogram] };
  }
}

// Prometheus text exposition of one instance's counters.
export function renderMetrics(c: Counters, extra: { ring_depth: number; ring_slots: number; ring_wakeups: number }): string {
  const out: string[] = [];
  const counter = (name: string, help: string, type = 'counter'): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  renderPaymentCounters(c, out, counter);
  renderWriterCounters(c, out, counter);
  out.push(...blockedSeries(c));
  renderQueueGauges(c, extra, out, counter);
  renderStatusGauges(c, out, counter);
  renderHistograms(c, out, counter);
  return out.join('\n') + '\n';
}

type Header = (name: string, help: string, type?: string) => void;

// Requests in, router decisions, processor attempts, retries, purges, drops, health polls.
function renderPaymentCounters(c: Counters, out: string[], counter: Header): void {
  counter('rinha_payments_accepted_total', 'Payments accepted (202)');
  out.push(`rinha_payments_accepted_total ${c.get(C_ACCEPTED)}`);
  counter('rinha_payments_rejected_total', 'Requests refused, by reason');
  REJECT_REASONS.forEach((r, i) => out.push(`rinha_payments_rejected_total{reason="${r}"} ${c.get(C_REJECTED + i)}`));
  counter('rinha_processor_attempts_total', 'Attempts at a processor, by outcome');
  PROCESSORS.forEach((p, pi) =>
    OUTCOMES.forEach((o, oi) =>
      out.push(`rinha_processor_attempts_total{processor="${p}",outcome="${o}"} ${c.get(C_OUTCOME + pi * OUTCOMES.length + oi)}`),
    ),
  );
  counter('rinha_router_decisions_total', 'Router decisions: payments sent per processor, payments held');
  DECISIONS.forEach((d, i) => out.push(`rinha_router_decisions_total{decision="${d}"} ${c.get(C_DECISION + i)}`));
  counter('rinha_retries_total', 'Attempts after the first');
  out.push(`rinha_retries_total ${c.get(C_RETRIES)}`);
  counter('rinha_purges_total', 'Purges applied');
  out.push(`rinha_purges_total ${c.get(C_PURGED)}`);
  counter('rinha_stale_dropped_total', 'Attempts in flight at a purge, dropped when they came back (not retried, not recorded)');
  out.push(`rinha_stale_dropped_total ${c.get(C_STALE_DROPPED)}`);
  counter('rinha_duplicates_dropped_total', 'Payments whose correlationId another accepted payment already claimed');
  out.push(`rinha_duplicates_dropped_total ${c.get(C_DUPLICATES_DROPPED)}`);
}

// The COPY writer's counters, then the leader's health polls.
function renderWriterCounters(c: Counters, out: string[], counter: Header): void {
  counter('rinha_writer_rows_total', 'Rows committed by the COPY writer');
  out.push(`rinha_writer_rows_total ${c.get(C_WRITER_ROWS)}`);
  counter('rinha_writer_batches_total', 'COPY batches committed');
  out.push(`rinha_writer_batches_total ${c.get(C_WRITER_BATCHES)}`);
  counter('rinha_writer_errors_total', 'COPY batches that failed and were retried');
  out.push(`rinha_writer_errors_total ${c.get(C_WRITER_ERRORS)}`);
  counter('rinha_health_polls_total', 'Health polls made by this instance as leader');
  PROCESSORS.forEach((p, i) => out.push(`rinha_health_polls_total{processor="${p}"} ${c.get(C_HEALTH_POLLS + i)}`));
}

// Where payments wait: in flight, in the ring, in the backlog, held, before COPY.
function renderQueueGauges(
  c: Counters,
  extra: { ring_depth: number; ring_slots: number; ring_wakeups: number },
  out: string[],
  counter: Header,
): void {
  counter('rinha_inflight', 'Requests in flight per processor', 'gauge');
  PROCESSORS.forEach((p, i) => out.push(`rinha_inflight{processor="${p}"} ${c.get(G_INFLIGHT + i)}`));
  counter('rinha_ring_depth', 'Records waiting in the ring', 'gauge');
  out.push(`rinha_ring_depth ${extra.ring_depth}`);
  counter('rinha_ring_slots', 'Ring capacity', 'gauge');
  out.push(`rinha_ring_slots ${extra.ring_slots}`);
  counter('rinha_ring_wakeups_total', 'Times a push woke a parked worker (a system call on the front thread; flat while workers tick)');
  out.push(`rinha_ring_wakeups_total ${extra.ring_wakeups}`);
  counter('rinha_backlog', 'Payments taken from the ring and not yet confirmed or in flight', 'gauge');
  out.push(`rinha_backlog ${c.get(G_BACKLOG)}`);
  counter('rinha_held', 'Payments of the backlog held by the router', 'gauge');
  out.push(`rinha_held ${c.get(G_HELD)}`);
  counter('rinha_writer_pending', 'Confirmed payments waiting for COPY', 'gauge');
  out.push(`rinha_writer_pending ${c.get(G_WRITER_PENDING)}`);
}

// Liveness and memory: workers, leadership, database, V8 heaps.
function renderStatusGauges(c: Counters, out: string[], counter: Header): void {
  counter('rinha_workers_alive', 'Worker threads running', 'gauge');
  out.push(`rinha_workers_alive ${c.get(G_WORKERS_ALIVE)}`);
  counter('rinha_health_leader', '1 when this instance polls processor health for the cluster', 'gauge');
  out.push(`rinha_health_leader ${c.get(G_IS_LEADER)}`);
  counter('rinha_db_ready', '1 when Postgres answers', 'gauge');
  out.push(`rinha_db_ready ${c.get(G_DB_READY)}`);
  counter('rinha_v8_heap_used_kb', 'V8 heap used per thread kind', 'gauge');
  out.push(`rinha_v8_heap_used_kb{thread="front"} ${c.get(G_HEAP_KB)}`, `rinha_v8_heap_used_kb{thread="workers"} ${c.get(G_HEAP_KB + 1)}`);
  counter('rinha_v8_heap_total_kb', 'V8 heap reserved per thread kind', 'gauge');
  out.push(
    `rinha_v8_heap_total_kb{thread="front"} ${c.get(G_HEAP_TOTAL_KB)}`,
    `rinha_v8_heap_total_kb{thread="workers"} ${c.get(G_HEAP_TOTAL_KB + 1)}`,
  );
}

// Histograms sharing a name (different labels) get one HELP/TYPE header.
function renderHistograms(c: Counters, out: string[], counter: Header): void {
  const seen = new Set<string>();
  HISTOGRAMS.forEach((def, h) => {
    if (!seen.has(def.name)) {
      seen.add(def.name);
      counter(def.name, def.help, 'histogram');
    }
    const { buckets, count, sum } = c.histogram(h);
    const sep = def.labels ? `${def.labels},` : '';
    let cumulative = 0;
    def.unit_buckets.forEach((le, i) => {
      cumulative += buckets[i];
      out.push(`${def.name}_bucket{${sep}le="${le}"} ${cumulative}`);
    });
    out.push(`${def.name}_bucket{${sep}le="+Inf"} ${count}`);
    const labels = def.labels ? `{${def.labels}}` : '';
    out.push(`${def.name}_sum${labels} ${Math.round(sum * 1000) / 1000}`, `${def.name}_count${labels} ${count}`);
  });
}

// The front's waits for blocking answers beyond their histogram (src/http/blocking.ts).
function blockedSeries(c: Counters): string[] {
  return [
    '# HELP rinha_front_blocked_timeouts_total Blocking summaries and purges answered 503 when their wait bound passed',
    '# TYPE rinha_front_blocked_timeouts_total counter',
    `rinha_front_blocked_timeouts_total ${c.get(C_BLOCKED_TIMEOUTS)}`,
    '# HELP rinha_front_blocked_max_us Longest wait of the front thread for a blocking answer',
    '# TYPE rinha_front_blocked_max_us gauge',
    `rinha_front_blocked_max_us ${c.get(G_BLOCKED_MAX_US)}`,
  ];
}

// Publishes this thread's V8 heap into the shared gauges once a second (slot 0 front, 1 workers).
export function trackHeap(c: Counters, slot: 0 | 1): NodeJS.Timeout {
  let last_used = 0;
  let last_total = 0;
  const t = setInterval(() => {
    const h = getHeapStatistics();
    const used = Math.round(h.used_heap_size / 1024);
    const total = Math.round(h.total_heap_size / 1024);
    c.add(G_HEAP_KB + slot, (used - last_used) >>> 0);
    c.add(G_HEAP_TOTAL_KB + slot, (total - last_total) >>> 0);
    last_used = used;
    last_total = total;
  }, 1000);
  t.unref();
  return t;
}

// Observes this thread's GC pauses into the shared histogram (slot 0 front, 1 workers). A pause
// on the front thread is a pause of every request it holds; the observer allocates one entry per
// collection, nothing per request, and (like trackHeap's unref'd timer) keeps no thread alive.
export function trackGc(c: Counters, slot: 0 | 1): PerformanceObserver {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) c.observe(H_GC_FRONT + slot, entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  return observer;
}
