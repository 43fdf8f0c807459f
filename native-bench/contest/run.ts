// One contest run against a backend URL: setup, load + processor schedule + audits, teardown, score.
// Mirrors rinha-final.js: setup() sets the token and purges; scenarios run concurrently; teardown()
// reads the processors' admin summaries over the last `teardown_window_s`; handleSummary scores.
import { randomBytes } from 'node:crypto';
import { runLoad, nowEpochMs, isAccepted, type Generator, type LoadDone, type LoadTick } from './loadgen.js';
import { HttpCaller, ProcessorAdmin, Backend, INITIAL_TOKEN, type CallRecord } from './clients.js';
import { officialResult, type OfficialResult, type ProcessorAdminSummary } from './score.js';
import { countOver, latencyStats, LiveHistogram, type LatencyStats } from './stats.js';
import { ResourceSampler, type ResourcePeaks } from './resources.js';
import type { Phase } from './schedule.js';
import type { Cgroup } from '../lib/cgroup.js';
import { machineLoad, readCpuTimes, type MachineLoad } from '../lib/threads.js';

export interface AuditWindow {
  every_s: number;
  from_back_ms: number;
  to_back_ms: number;
}
export const FINAL_AUDIT: AuditWindow = { every_s: 10, from_back_ms: 15_000, to_back_ms: 2_000 };
export const PREVIEW_AUDIT: AuditWindow = { every_s: 10, from_back_ms: 10_000, to_back_ms: 1_500 };

export interface ProcessorEndpoints {
  default_url: string;
  fallback_url: string;
  token: string;
}

export interface RunParams {
  label: string; // 'service' | 'baseline'
  participant: string;
  target_url: string;
  duration_s: number;
  users: number;
  amount: number;
  timeout_ms: number;
  schedule: Phase[];
  audit: AuditWindow;
  teardown_window_s: number;
  processors: ProcessorEndpoints;
  cgroups: Cgroup[];
  process_roots: () => number[];
  harness_pids?: number[]; // the load generator and the processors: their threads' CPU and waits
  progress: (line: string) => void;
  ready_tries?: number;
  ready_gap_ms?: number;
  drain_ms?: number; // extra wait before the 'lag after drain' check
  record_ids?: boolean; // keep the accepted correlationIds (RunResult.accepted_ids)
  onLoadStart?: (t0_epoch_ms: number) => void; // when the load's t = 0 is set (chaos timers)
  generator?: Generator; // default: the Node generator
}

export interface AuditRecord {
  t_s: number;
  from: string;
  to: string;
  backend: { default: number; fallback: number; ok: boolean };
  processors: { default: number; fallback: number; ok: boolean };
  inconsistencies: number;
}

export interface TimelinePoint {
  t: number;
  vus: number;
  posts: number;
  ok: number;
  fail: number;
  p50: number;
  p99: number;
  over: number[]; // accepted POSTs slower than each step of SLOW_LADDER_MS
  default_confirmed: number;
  fallback_confirmed: number;
  audits: number[];
  // The whole machine in this second (/proc/stat): busy, and taken by the hypervisor (steal).
  // null when unreadable.
  busy_pct: number | null;
  steal_pct: number | null;
}

export interface PhaseApplied extends Phase {
  applied_at_s: number;
  ok: boolean;
  error?: string;
}

export interface RunResult {
  label: string;
  target_url: string;
  started_at: string;
  official: OfficialResult;
  p99_raw_ms: number;
  latency: { posts_ok: LatencyStats; posts_all: LatencyStats; all_expected: LatencyStats; other_calls: Record<string, LatencyStats> };
  counts: { posts: number; accepted: number; failed: number; timeouts_or_errors: number; by_status: Record<string, number> };
  lag_after_drain: { wait_ms: number; processors_total: number; lag: number };
  audits: AuditRecord[];
  phases: PhaseApplied[];
  timeline: TimelinePoint[];
  resources: ResourcePeaks;
  // The load generator's own CPU: the C generator's process, or the Node generator's thread.
  loadgen: { generator: 'c' | 'node'; cpu_ms: number; cpu_us_per_request: number };
  accepted_ids?: string[]; // with record_ids (kept out of result.json by the caller)
}

const iso = (epoch_ms: number) => new Date(epoch_ms).toISOString();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const DEFAULT_DRAIN_MS = 5000;

// The parties of one run: the test's HTTP caller, both processors' admin API, the backend.
interface Parties {
  http: HttpCaller;
  def: ProcessorAdmin;
  fb: ProcessorAdmin;
  backend: Backend;
}

// The run's clock and what the concurrent scenarios share while it goes.
interface Clock {
  t0: number;
  end_at: number;
  elapsedS(): number;
}
interface Live {
  inconsistencies: number;
  total_ok: number;
}

export async function contestRun(p: RunParams): Promise<RunResult> {
  const http = new HttpCaller();
  const parties: Parties = {
    http,
    backend: new Backend(p.target_url, http),
    def: new ProcessorAdmin('default', p.processors.default_url, p.processors.token, http),
    fb: new ProcessorAdmin('fallback', p.processors.fallback_url, p.processors.token, http),
  };
  try {
    await setup(p, parties);
    const t0 = nowEpochMs() + 200; // give the worker time to start
    const clock: Clock = { t0, end_at: t0 + p.duration_s * 1000, elapsedS: () => (nowEpochMs() - t0) / 1000 };
    const live: Live = { inconsistencies: 0, total_ok: 0 };
    const ticks: LoadTick[] = [];
    const load = startLoad(p, clock, live, ticks);
    p.onLoadStart?.(t0);
    const harness = load.pid === null ? (p.harness_pids ?? []) : [...(p.harness_pids ?? []), load.pid];
    const sampler = new ResourceSampler(p.cgroups, p.process_roots, () => harness);
    sampler.start(1000);
    const phases: PhaseApplied[] = [];
    const audits: AuditRecord[] = [];
    const confirmed: SecondSample[] = [];
    const scenarios = [
      applySchedule(p, parties, clock, phases),
      audit(p, parties, clock, live, audits),
      sampleProcessors(p, parties, clock, confirmed),
    ];
    const done: LoadDone = await load.done;
    await Promise.all(scenarios);
    const sums = await teardown(p, parties);
    const resources = sampler.stop();
    const lag_after_drain = await lagAfterDrain(p, parties);
    const result = summarize(p, http.records, done, sums, lag_after_drain, {
      started_at: iso(t0),
      audits,
      phases,
      resources,
      timeline: buildTimeline(p.duration_s, done, ticks, confirmed, audits),
      inconsistencies: live.inconsistencies,
    });
    if (p.record_ids) result.accepted_ids = done.accepted_ids ?? [];
    return result;
  } finally {
    await http.close();
  }
}

// Readiness, then setup() as the official script: token on both, purge both, purge the backend
// (errors ignored). The readiness probe is not part of k6's metrics (the shell script runs it with curl).
async function setup(p: RunParams, { def, fb, backend }: Parties): Promise<void> {
  if (!(await backend.waitReady(p.ready_tries ?? 15, p.ready_gap_ms ?? 5000, p.progress))) {
    throw new Error(`backend ${p.target_url} not ready: GET /payments-summary never answered 2xx`);
  }
  const run_token = randomBytes(8).toString('hex');
  await def.setToken(run_token, p.processors.token || INITIAL_TOKEN);
  await fb.setToken(run_token, p.processors.token || INITIAL_TOKEN);
  p.processors.token = run_token; // the next run on the same simulators starts from this one
  await def.purge();
  await fb.purge();
  await backend.purge();
}

// Scenario: the payments, with a progress line per second.
function startLoad(p: RunParams, clock: Clock, live: Live, ticks: LoadTick[]) {
  const histogram = new LiveHistogram();
  return runLoad(
    {
      target_url: p.target_url,
      duration_s: p.duration_s,
      users: p.users,
      amount: p.amount,
      timeout_ms: p.timeout_ms,
      start_epoch_ms: clock.t0,
      record_ids: p.record_ids,
    },
    (tick) => {
      ticks.push(tick);
      for (const d of tick.ok_durations_ms) histogram.add(d);
      live.total_ok += tick.ok;
      const rps = tick.ok + tick.fail;
      p.progress(
        `[${p.label}] t=${tick.t}s vus=${tick.vus} req/s=${rps} fail=${tick.fail} p99(1s)=${tick.p99_ms.toFixed(2)}ms p99(so far)=${histogram.quantile(0.99).toFixed(2)}ms ok=${live.total_ok} inconsistencies=${live.inconsistencies}`,
      );
    },
    p.generator,
  );
}

// Scenario: the processors' schedule of delays and failures.
async function applySchedule(p: RunParams, { def, fb }: Parties, clock: Clock, phases: PhaseApplied[]): Promise<void> {
  for (const ph of p.schedule) {
    if (ph.at_s >= p.duration_s) break;
    await sleep(clock.t0 + ph.at_s * 1000 - nowEpochMs());
    const applied: PhaseApplied = { ...ph, applied_at_s: round3(clock.elapsedS()), ok: true };
    try {
      await def.setDelay(ph.default.delay_ms);
      await fb.setDelay(ph.fallback.delay_ms);
      await def.setFailure(ph.default.failure);
      await fb.setFailure(ph.fallback.failure);
    } catch (err) {
      applied.ok = false;
      applied.error = (err as Error).message;
      p.progress(`[${p.label}] phase at ${ph.at_s}s failed: ${applied.error}`);
    }
    phases.push(applied);
  }
}

// Scenario: consistency audits, one VU: audit, sleep every_s, until the end.
async function audit(p: RunParams, { def, fb, backend }: Parties, clock: Clock, live: Live, audits: AuditRecord[]): Promise<void> {
  for (let i = 0; i < 100_000 && nowEpochMs() < clock.end_at; i++) {
    const now = Date.now();
    const from = iso(now - p.audit.from_back_ms);
    const to = iso(now - p.audit.to_back_ms);
    const [d, f, b] = await Promise.all([def.summary(from, to), fb.summary(from, to), backend.summary(from, to)]);
    const n = Math.abs(b.default.totalRequests - d.totalRequests) + Math.abs(b.fallback.totalRequests - f.totalRequests);
    live.inconsistencies += n;
    audits.push({
      t_s: round3(clock.elapsedS()),
      from,
      to,
      inconsistencies: n,
      backend: { default: b.default.totalRequests, fallback: b.fallback.totalRequests, ok: b.ok },
      processors: { default: d.totalRequests, fallback: f.totalRequests, ok: d.ok && f.ok },
    });
    if (n > 0)
      p.progress(
        `[${p.label}] INCONSISTENCY at ${round3(clock.elapsedS())}s: backend ${b.default.totalRequests}/${b.fallback.totalRequests} vs processors ${d.totalRequests}/${f.totalRequests}`,
      );
    await sleep(Math.min(p.audit.every_s * 1000, clock.end_at - nowEpochMs()));
  }
}

// Not part of the test: processors' cumulative counts and the machine's load each second, for the timeline.
async function sampleProcessors(p: RunParams, { def, fb }: Parties, clock: Clock, confirmed: SecondSample[]): Promise<void> {
  const from = iso(clock.t0 - 1000);
  let cpu = readCpuTimes();
  for (let s = 1; s <= Math.ceil(p.duration_s) + 1; s++) {
    await sleep(clock.t0 + s * 1000 - nowEpochMs());
    const to = iso(Date.now());
    const cpu_now = readCpuTimes();
    const load = cpu !== null && cpu_now !== null ? machineLoad(cpu, cpu_now) : null;
    cpu = cpu_now;
    const [d, f] = await Promise.all([def.summary(from, to, null), fb.summary(from, to, null)]);
    confirmed.push({ t: s, default: d.totalRequests, fallback: f.totalRequests, load });
  }
}

type Sums = [ProcessorAdminSummary, ProcessorAdminSummary];

// teardown(): processors' summaries over the last N seconds, counted in the p99 like k6 does.
async function teardown(p: RunParams, { def, fb }: Parties): Promise<Sums> {
  const to_ms = Date.now();
  const from = iso(to_ms - p.teardown_window_s * 1000);
  return [await def.summary(from, iso(to_ms)), await fb.summary(from, iso(to_ms))];
}

// Not part of the test: what the processors hold after a short drain (the lag is taken against the accepted POSTs).
async function lagAfterDrain(p: RunParams, { def, fb }: Parties): Promise<{ wait_ms: number; processors_total: number }> {
  const wait_ms = p.drain_ms ?? DEFAULT_DRAIN_MS;
  await sleep(wait_ms);
  const late_to = Date.now();
  const from = iso(late_to - p.teardown_window_s * 1000);
  const [d, f] = await Promise.all([def.summary(from, iso(late_to), null), fb.summary(from, iso(late_to), null)]);
  return { wait_ms, processors_total: d.totalRequests + f.totalRequests };
}

interface Collected {
  started_at: string;
  audits: AuditRecord[];
  phases: PhaseApplied[];
  resources: ResourcePeaks;
  timeline: TimelinePoint[];
  inconsistencies: number;
}

// Counts, latencies as k6 takes them, and the official score.
function summarize(
  p: RunParams,
  records: CallRecord[],
  done: LoadDone,
  [dSum, fSum]: Sums,
  drained: { wait_ms: number; processors_total: number },
  c: Collected,
): RunResult {
  const by_status: Record<string, number> = {};
  const ok_durations: number[] = [];
  const all_durations: number[] = [];
  let accepted = 0;
  for (let i = 0; i < done.count; i++) {
    const st = done.status[i];
    by_status[st] = (by_status[st] ?? 0) + 1;
    all_durations.push(done.dur_ms[i]);
    if (isAccepted(st)) {
      accepted++;
      ok_durations.push(done.dur_ms[i]);
    }
  }
  // k6: http_req_duration{expected_response:true} = every request with status 200..399, POSTs and the rest.
  const expected = [...ok_durations];
  const other: Record<string, number[]> = {};
  for (const r of records) {
    if (r.status >= 200 && r.status < 400) expected.push(r.dur_ms);
    other[r.kind] ??= [];
    other[r.kind].push(r.dur_ms);
  }
  const all_expected = latencyStats(expected);
  const p99_raw_ms = all_expected.p99;
  const official = officialResult({
    participant: p.participant,
    max_requests: p.users,
    success_count: accepted,
    failure_count: done.count - accepted,
    inconsistencies: c.inconsistencies,
    p99_raw_ms,
    default: {
      totalAmount: dSum.totalAmount,
      totalRequests: dSum.totalRequests,
      totalFee: dSum.totalFee,
      feePerTransaction: dSum.feePerTransaction,
    },
    fallback: {
      totalAmount: fSum.totalAmount,
      totalRequests: fSum.totalRequests,
      totalFee: fSum.totalFee,
      feePerTransaction: fSum.feePerTransaction,
    },
  });
  return {
    label: p.label,
    target_url: p.target_url,
    started_at: c.started_at,
    official,
    p99_raw_ms,
    latency: {
      posts_ok: latencyStats(ok_durations),
      posts_all: latencyStats(all_durations),
      all_expected,
      other_calls: Object.fromEntries(Object.entries(other).map(([k, v]) => [k, latencyStats(v)])),
    },
    counts: { posts: done.count, accepted, failed: done.count - accepted, timeouts_or_errors: by_status['0'] ?? 0, by_status },
    lag_after_drain: { ...drained, lag: accepted - drained.processors_total },
    audits: c.audits,
    phases: c.phases,
    timeline: c.timeline,
    resources: c.resources,
    loadgen: {
      generator: p.generator?.kind ?? 'node',
      cpu_ms: round3(done.cpu_ms),
      cpu_us_per_request: done.count > 0 ? round3((done.cpu_ms * 1000) / done.count) : 0,
    },
  };
}

interface SecondSample {
  t: number;
  default: number;
  fallback: number;
  load: MachineLoad | null;
}

function buildTimeline(
  duration_s: number,
  done: LoadDone,
  ticks: LoadTick[],
  confirmed: SecondSample[],
  audits: AuditRecord[],
): TimelinePoint[] {
  const seconds = Math.ceil(duration_s);
  const perSecond: number[][] = Array.from({ length: seconds }, () => []);
  const posts = new Array<number>(seconds).fill(0);
  const fail = new Array<number>(seconds).fill(0);
  for (let i = 0; i < done.count; i++) {
    const s = Math.min(seconds - 1, Math.max(0, Math.floor(done.start_ms[i] / 1000)));
    posts[s]++;
    if (isAccepted(done.status[i])) perSecond[s].push(done.dur_ms[i]);
    else fail[s]++;
  }
  const out: TimelinePoint[] = [];
  for (let s = 0; s < seconds; s++) {
    const st = latencyStats(perSecond[s]);
    const c1 = confirmed.find((c) => c.t === s + 1);
    const c0 = s === 0 ? { default: 0, fallback: 0 } : confirmed.find((c) => c.t === s);
    out.push({
      t: s,
      vus: ticks.find((tk) => tk.t === s + 1)?.vus ?? 0,
      posts: posts[s],
      ok: perSecond[s].length,
      fail: fail[s],
      p50: st.p50,
      p99: st.p99,
      over: countOver(perSecond[s]),
      default_confirmed: c1 && c0 ? c1.default - c0.default : 0,
      fallback_confirmed: c1 && c0 ? c1.fallback - c0.fallback : 0,
      audits: audits.filter((a) => Math.floor(a.t_s) === s).map((a) => a.inconsistencies),
      busy_pct: c1?.load?.busy_pct ?? null,
      steal_pct: c1?.load?.steal_pct ?? null,
    });
  }
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
