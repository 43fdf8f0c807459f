// One step of the capacity bench: a constant arrival rate against one target for step_s seconds,
// the first warmup_s of which are not measured. Per step: achieved rate, latency from each
// request's scheduled time, refusals, CPU per payment by part of the stack (from /proc, over the
// measured window), the generator's own CPU and lateness, backlog and visibility lag each second,
// and at the end the backend's summary against the processors' own records.
import type { Cgroup } from '../lib/cgroup.js';
import { ThreadCpu, sampleThreads, type ThreadGroupTotals } from '../lib/threads.js';
import { processTree } from '../contest/resources.js';
import { latencyStats, type LatencyStats } from '../contest/stats.js';
import type { Backend, ProcessorAdmin } from '../contest/clients.js';
import { runOpenLoop, type OpenLoopDone, type OpenLoopTick } from './openloop.js';
import { epochClockMs } from '../lib/lean-http.js';

export interface Target {
  name: 'service' | 'baseline' | 'baseline-pays';
  url: string;
  cgroups: Cgroup[];
  roots(): number[];
  pays: boolean; // payments reach the processors
  summarizes: boolean; // GET /payments-summary tells what was paid
}

export interface StepParams {
  rate_per_s: number;
  step_s: number;
  warmup_s: number;
  connections: number;
  timeout_ms: number;
  amount: number;
  settle_ms: number; // how long the summary may take to catch up after the step
  def: ProcessorAdmin;
  fb: ProcessorAdmin;
  backend: Backend;
}

interface SecondSample {
  t: number;
  accepted: number;
  processors: number;
  backend: number | null;
  backlog: number;
  visibility_lag: number | null;
}

// CPU over the measured window, µs per accepted payment, by part of the stack.
interface CpuPerPayment {
  total: number;
  fronts: number;
  workers: number;
  postgres: number;
  rest: number;
  cores: number;
}

interface SummaryCheck {
  exact: boolean;
  settle_ms: number;
  accepted: number;
  processors: { default: number; fallback: number; amount_cents: number };
  backend: { default: number; fallback: number; amount_cents: number } | null;
}

export interface StepResult {
  target: Target['name'];
  rate_per_s: number;
  achieved_per_s: number;
  measured: number; // requests scheduled in the measured window
  accepted: number;
  refused: number; // any answer but 2xx, timeouts, connection errors, dropped
  by_status: Record<string, number>; // measured window; 0 = timeout or connection error, -1 = dropped
  memory_mb: number | null; // the target's cgroups at the end of the step
  latency: LatencyStats; // from the scheduled time, measured window
  latency_from_send: LatencyStats;
  generator: { late: LatencyStats; dropped: number; waited_for_connection: number; cpu_us_per_request: number; kept_rate: boolean };
  cpu_us_per_payment: CpuPerPayment | null;
  threads: ThreadGroupTotals[];
  backlog: { max: number; last_half_max: number; end: number; bounded: boolean };
  visibility_lag: { max: number; end: number } | null;
  summary: SummaryCheck | null;
  seconds: SecondSample[];
  within_bound: boolean; // p99 ≤ bound, no refusal, bounded backlog, exact summary
  sustained: boolean; // the same without the latency bound: every payment taken, paid and counted
  why_not: string[];
}

const iso = (ms: number): string => new Date(ms).toISOString();
const sleepUntil = (at_ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, at_ms - epochClockMs())));
export const P99_BOUND_MS = 2;
// A backlog is bounded when, over the step's second half, it never held more than this much of
// the arrivals (the workers take the ring every 100 ms tick).
const BOUNDED_BACKLOG_S = 0.5;
// The generator kept the rate when it sent 99 % of the requests within this of their time.
const LATE_BOUND_MS = 5;

export async function runStep(t: Target, p: StepParams): Promise<StepResult> {
  const t0 = epochClockMs() + 500; // the connections open meanwhile
  const from = iso(t0 - 1);
  let last: OpenLoopTick | null = null;
  let at_warmup: OpenLoopTick | null = null;
  const load = runOpenLoop(
    {
      target_url: t.url,
      rate_per_s: p.rate_per_s,
      duration_s: p.step_s,
      connections: p.connections,
      timeout_ms: p.timeout_ms,
      amount: p.amount,
      start_epoch_ms: t0,
    },
    (tick) => {
      last = tick;
      if (tick.t === p.warmup_s) at_warmup = tick;
    },
  );
  await load.connected;
  const measuring = cpuWindow(t, t0 + p.warmup_s * 1000, load.done);
  const seconds = await sampleSeconds(t, p, t0, from, () => last);
  const done = await load.done;
  const window = await measuring;
  const summary = t.pays ? await checkSummary(t, p, from, done) : null;
  return assemble(t, p, done, window, seconds, summary, at_warmup);
}

interface CpuWindowResult {
  threads: ThreadGroupTotals[];
  cgroup_ns: number | null;
  wall_ms: number;
}

// Service CPU from the end of the warm-up to the last answer.
function cpuWindow(t: Target, from_ms: number, done: Promise<OpenLoopDone>): Promise<CpuWindowResult> {
  const cpu = new ThreadCpu();
  const sample = (): void => cpu.add(sampleThreads(processTree(t.roots())));
  const cgroupNs = (): number | null => (t.cgroups.length ? t.cgroups.reduce((a, c) => a + c.cpuUsageNs(), 0) : null);
  return (async () => {
    await sleepUntil(from_ms);
    sample();
    const ns0 = cgroupNs();
    const started = epochClockMs();
    await done;
    sample();
    const ns1 = cgroupNs();
    return { threads: cpu.totals(), cgroup_ns: ns0 !== null && ns1 !== null ? ns1 - ns0 : null, wall_ms: epochClockMs() - started };
  })();
}

// Each second of the step: what was accepted, what the processors hold, what the backend shows.
async function sampleSeconds(t: Target, p: StepParams, t0: number, from: string, last: () => OpenLoopTick | null): Promise<SecondSample[]> {
  const out: SecondSample[] = [];
  for (let s = 1; s <= p.step_s; s++) {
    await sleepUntil(t0 + s * 1000 + 50); // just after the generator's tick
    const accepted = last()?.accepted ?? 0;
    if (!t.pays) {
      out.push({ t: s, accepted, processors: 0, backend: null, backlog: 0, visibility_lag: null });
      continue;
    }
    const to = iso(Date.now() + 60_000);
    const [d, f, b] = await Promise.all([
      p.def.summary(from, to, null),
      p.fb.summary(from, to, null),
      t.summarizes ? p.backend.summary(from, to) : null,
    ]);
    const processors = d.totalRequests + f.totalRequests;
    const backend = b === null ? null : b.default.totalRequests + b.fallback.totalRequests;
    out.push({
      t: s,
      accepted,
      processors,
      backend,
      backlog: accepted - processors,
      visibility_lag: backend === null ? null : processors - backend,
    });
  }
  return out;
}

const cents = (x: number): number => Math.round(x * 100);

// After the step: the backend's summary against the processors' records, once it has caught up
// (or settle_ms has passed).
async function checkSummary(t: Target, p: StepParams, from: string, done: OpenLoopDone): Promise<SummaryCheck> {
  let accepted = 0;
  for (let i = 0; i < done.total; i++) if (done.status[i] >= 200 && done.status[i] < 300) accepted++;
  const started = epochClockMs();
  for (;;) {
    const to = iso(Date.now() + 60_000);
    const [d, f, b] = await Promise.all([
      p.def.summary(from, to, null),
      p.fb.summary(from, to, null),
      t.summarizes ? p.backend.summary(from, to) : null,
    ]);
    const processors = { default: d.totalRequests, fallback: f.totalRequests, amount_cents: cents(d.totalAmount) + cents(f.totalAmount) };
    const backend =
      b === null
        ? null
        : {
            default: b.default.totalRequests,
            fallback: b.fallback.totalRequests,
            amount_cents: cents(b.default.totalAmount) + cents(b.fallback.totalAmount),
          };
    const all_paid = processors.default + processors.fallback === accepted;
    const exact =
      all_paid &&
      (backend === null ||
        (backend.default === processors.default &&
          backend.fallback === processors.fallback &&
          backend.amount_cents === processors.amount_cents));
    const settle_ms = Math.round(epochClockMs() - started);
    if (exact || settle_ms >= p.settle_ms) return { exact, settle_ms, accepted, processors, backend };
    await new Promise((r) => setTimeout(r, 200));
  }
}

function cpuParts(w: CpuWindowResult, payments: number): CpuPerPayment | null {
  if (payments === 0) return null;
  const per = (s: number): number => Math.round(((s * 1e6) / payments) * 10) / 10;
  let fronts = 0,
    workers = 0,
    postgres = 0,
    rest = 0;
  for (const g of w.threads) {
    if (g.group.includes('(main thread)')) fronts += g.cpu_s;
    else if (g.group.includes('payment workers') || g.group.startsWith('baseline server, other')) workers += g.cpu_s;
    else if (g.group === 'postgres') postgres += g.cpu_s;
    else rest += g.cpu_s;
  }
  const total_s = w.cgroup_ns !== null ? w.cgroup_ns / 1e9 : fronts + workers + postgres + rest;
  return {
    total: per(total_s),
    fronts: per(fronts),
    workers: per(workers),
    postgres: per(postgres),
    rest: per(rest),
    cores: Math.round(((total_s * 1000) / Math.max(1, w.wall_ms)) * 100) / 100,
  };
}

function assemble(
  t: Target,
  p: StepParams,
  done: OpenLoopDone,
  w: CpuWindowResult,
  seconds: SecondSample[],
  summary: SummaryCheck | null,
  at_warmup: OpenLoopTick | null,
): StepResult {
  const first = Math.round(p.rate_per_s * p.warmup_s);
  const lat: number[] = [],
    from_send: number[] = [],
    late: number[] = [];
  let accepted = 0,
    refused = 0;
  const by_status: Record<string, number> = {};
  for (let i = first; i < done.total; i++) {
    const st = done.status[i];
    by_status[st] = (by_status[st] ?? 0) + 1;
    if (st >= 200 && st < 300) accepted++;
    else refused++;
    if (st === -1) continue; // dropped: never sent
    lat.push(done.latency_ms[i]);
    from_send.push(done.latency_ms[i] - done.late_ms[i]);
    late.push(done.late_ms[i]);
  }
  const measured = done.total - first;
  const measured_s = p.step_s - p.warmup_s;
  const late_stats = latencyStats(late);
  const gen_cpu_ns = done.cpu_ns - (at_warmup?.cpu_ns ?? 0);
  const latency = latencyStats(lat);
  const half = seconds.slice(Math.floor(seconds.length / 2));
  const last_half_max = Math.max(0, ...half.map((s) => s.backlog));
  const bounded = last_half_max <= Math.max(50, p.rate_per_s * BOUNDED_BACKLOG_S);
  const lags = seconds.map((s) => s.visibility_lag).filter((x): x is number => x !== null);
  const why_not: string[] = [];
  if (latency.p99 > P99_BOUND_MS) why_not.push(`p99 ${latency.p99} ms > ${P99_BOUND_MS} ms`);
  if (refused > 0)
    why_not.push(
      `${refused} refused (${Object.entries(by_status)
        .filter(([k]) => !k.startsWith('2'))
        .map(([k, n]) => `${k === '0' ? 'timeout/error' : k === '-1' ? 'dropped' : k}: ${n}`)
        .join(', ')})`,
    );
  if (t.pays && !bounded) why_not.push(`backlog up to ${last_half_max} in the second half`);
  if (summary !== null && !summary.exact) why_not.push('summary not exact');
  return {
    target: t.name,
    rate_per_s: p.rate_per_s,
    achieved_per_s: Math.round(accepted / measured_s),
    measured,
    accepted,
    refused,
    by_status,
    memory_mb: t.cgroups.length ? Math.round(t.cgroups.reduce((a, c) => a + c.memoryUsageBytes(), 0) / 1048576) : null,
    latency,
    latency_from_send: latencyStats(from_send),
    generator: {
      late: late_stats,
      dropped: done.dropped,
      waited_for_connection: done.waited_for_connection,
      cpu_us_per_request: measured > 0 ? Math.round((gen_cpu_ns / 1000 / measured) * 10) / 10 : 0,
      kept_rate: late_stats.p99 <= LATE_BOUND_MS && done.dropped === 0,
    },
    cpu_us_per_payment: cpuParts(w, accepted),
    threads: w.threads,
    backlog: { max: Math.max(0, ...seconds.map((s) => s.backlog)), last_half_max, end: seconds.at(-1)?.backlog ?? 0, bounded },
    visibility_lag: lags.length ? { max: Math.max(...lags), end: lags.at(-1)! } : null,
    summary,
    seconds,
    within_bound: why_not.length === 0,
    why_not,
    sustained: why_not.every((w) => w.startsWith('p99')),
  };
}
