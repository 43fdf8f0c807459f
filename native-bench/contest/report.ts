// result.json (official keys + the bench's extras) and report.md (human summary).
import type { ContestOptions } from './options.js';
import type { LimitsPlan } from './topology.js';
import type { RunResult } from './run.js';
import { phaseLabel } from './schedule.js';
import { tailByPhase } from './tail.js';
import { type MachineLoad, stolenSharePct, type ThreadGroupTotals } from '../lib/threads.js';
import { SLOW_LADDER_MS } from './stats.js';

export interface ResultInput {
  options: ContestOptions;
  plan: LimitsPlan;
  machine: Record<string, unknown>;
  service: { description: string; result: RunResult };
  baseline?: RunResult;
  baseline_before?: RunResult; // --baseline-both: the same baseline, run before the service
  baseline_pays?: RunResult; // --baseline-pays: the minimal paying backend
  baselineNote: string;
  payingNote?: string;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);
const RSS_TARGET_MB = 100;
export const P99_RATIO_TARGET = 1.1;

// What result.json keeps of a baseline run.
type BaselineRun = ReturnType<typeof baselineRun>;
function baselineRun(run: RunResult) {
  return {
    latency: { posts_ok: run.latency.posts_ok, all_requests: run.latency.all_expected },
    counts: run.counts,
    loadgen: run.loadgen,
    resources: run.resources,
    timeline: run.timeline, // per second, to line up with the service's
  };
}

export function buildResultJson(x: ResultInput) {
  const r = x.service.result;
  const b = x.baseline;
  const bb = x.baseline_before;
  const bp = x.baseline_pays;
  const o = x.options;
  return {
    // The official final-results.json keys first, exactly as the contest computes them.
    ...r.official,
    official: r.official,
    bench: {
      test: o.preview ? 'preview' : 'final',
      duration_s: o.duration_s,
      users: o.users,
      amount: o.amount,
      fees: { default: o.fee_default, fallback: o.fee_fallback },
      timeout_ms: o.timeout_ms,
      schedule_note: o.schedule_note,
      audit: o.audit,
      teardown_window_s: o.teardown_window_s,
      topology: o.topology,
      target: r.target_url,
      service: x.service.description,
      generator: r.loadgen.generator,
      limits: {
        applied: x.plan.applied,
        cpus: x.plan.limits.cpus,
        memory_mb: x.plan.limits.memory_mb,
        source: x.plan.source,
        note: x.plan.note,
      },
      started_at: r.started_at,
    },
    p99_raw_ms: r.p99_raw_ms,
    latency: {
      posts_ok: r.latency.posts_ok,
      posts_all: r.latency.posts_all,
      all_requests: r.latency.all_expected,
      other_calls: r.latency.other_calls,
    },
    baseline: (b ? { note: x.baselineNote, duration_s: o.baseline_duration_s, ...baselineRun(b) } : { note: x.baselineNote }) as {
      note: string;
      duration_s?: number;
    } & Partial<BaselineRun>,
    baseline_before: bb ? baselineRun(bb) : null,
    baseline_pays: bp ? { note: x.payingNote ?? '', ...baselineRun(bp) } : null,
    ratios_to_baseline: b
      ? {
          // With a baseline before and after, against the mean of their p99s: the machine's drift
          // during the service run then weighs on both sides.
          post_p99: ratio(r.latency.posts_ok.p99, bb ? (b.latency.posts_ok.p99 + bb.latency.posts_ok.p99) / 2 : b.latency.posts_ok.p99),
          post_p99_after: ratio(r.latency.posts_ok.p99, b.latency.posts_ok.p99),
          post_p99_before: bb ? ratio(r.latency.posts_ok.p99, bb.latency.posts_ok.p99) : null,
          // What paying at all costs on this machine, and the service against that floor.
          paying_post_p99: bp ? ratio(bp.latency.posts_ok.p99, b.latency.posts_ok.p99) : null,
          post_p99_vs_paying: bp ? ratio(r.latency.posts_ok.p99, bp.latency.posts_ok.p99) : null,
          post_p50: ratio(r.latency.posts_ok.p50, b.latency.posts_ok.p50),
          post_p999: ratio(r.latency.posts_ok.p999, b.latency.posts_ok.p999),
          all_p99: ratio(r.latency.all_expected.p99, b.latency.all_expected.p99),
          target_post_p99: P99_RATIO_TARGET,
        }
      : null,
    // Against the baseline after the service (the one every invocation has), per phase of the
    // schedule (a tenth of the run).
    tail_by_phase: b ? tailByPhase(r.timeline, b.timeline, b.latency.posts_ok.p99, Math.max(1, Math.round(o.duration_s / 10))) : null,
    counts: r.counts,
    loadgen: r.loadgen,
    lag_after_drain: r.lag_after_drain,
    audits: r.audits,
    phases: r.phases,
    resources: { ...r.resources, rss_target_mb: RSS_TARGET_MB },
    timeline: r.timeline,
    machine: x.machine,
  };
}

export type ResultJson = ReturnType<typeof buildResultJson>;

const fmt = (n: number, d = 2) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

export function renderReport(j: ResultJson): string {
  const lines: string[] = [];
  for (const section of [scoreSection, latencySection, ratiosSection, tailSection, phasesAndAuditsSection, resourcesSection])
    section(j, lines);
  lines.push('## Machine', '', '```', JSON.stringify(j.machine, null, 2), '```', '');
  lines.push('Files: `result.json` (all numbers, per-second timeline), `timeline.svg`.', '');
  return lines.join('\n');
}

// What ran, under which limits, and the contest's score.
function scoreSection(j: ResultJson, lines: string[]): void {
  const b = j.bench;
  lines.push(`# Contest replica — ${b.test} test, topology \`${b.topology}\``, '');
  lines.push(
    `Started ${b.started_at}; ${b.duration_s} s, ${b.users} VUs, amount ${b.amount}, fees ${b.fees.default}/${b.fees.fallback}. ${b.schedule_note}.`,
    '',
  );
  lines.push(`Service: ${b.service}.`, '');
  lines.push(`Load generator: ${generatorText(b.generator)}.`, '');
  lines.push(
    `Limits: ${b.limits.applied ? `${b.limits.cpus} CPU / ${b.limits.memory_mb} MB (${b.limits.source})` : `NOT applied — ${b.limits.note}`}.`,
    '',
  );
  lines.push('## Score', '', '| | |', '|---|---|');
  lines.push(`| **score (total_liquido)** | **${fmt(j.total_liquido)}** |`);
  lines.push(`| gross (total_bruto) | ${fmt(j.total_bruto)} |`);
  lines.push(`| fees (total_taxas) | ${fmt(j.total_taxas)} |`);
  lines.push(`| p99 (all successful requests, k6 formula) | ${j.p99.valor} → bonus ${j.p99.bonus} |`);
  lines.push(`| inconsistencies | ${j.multa.composicao.num_inconsistencias} → fine ${j.multa.porcentagem * 100}% |`);
  lines.push(`| accepted / failed POSTs | ${j.pagamentos_solicitados.qtd_sucesso} / ${j.pagamentos_solicitados.qtd_falha} |`);
  lines.push(
    `| processors hold (default / fallback) | ${j.pagamentos_realizados_default.num_pagamentos} / ${j.pagamentos_realizados_fallback.num_pagamentos} |`,
  );
  lines.push(`| lag at teardown | ${j.lag.lag}${j.caixa_dois.detectado ? ' (NEGATIVE: double payments!)' : ''} |`);
  lines.push(`| lag after ${j.lag_after_drain.wait_ms} ms more | ${j.lag_after_drain.lag} |`, '');
}

// Latency percentiles of the service and of each baseline run.
function latencySection(j: ResultJson, lines: string[]): void {
  lines.push('## Latency (ms)', '', '| | count | p50 | p90 | p99 | p99.9 | max |', '|---|---|---|---|---|---|---|');
  const row = (name: string, s: { count: number; p50: number; p90: number; p99: number; p999: number; max: number }) =>
    lines.push(`| ${name} | ${s.count} | ${s.p50} | ${s.p90} | ${s.p99} | ${s.p999} | ${s.max} |`);
  row('POST /payments accepted', j.latency.posts_ok);
  row('all successful requests', j.latency.all_requests);
  for (const [k, v] of Object.entries(j.latency.other_calls)) row(k, v);
  if (j.baseline_before) {
    row('baseline before: POST accepted', j.baseline_before.latency.posts_ok);
    row('baseline before: all successful', j.baseline_before.latency.all_requests);
  }
  if ('latency' in j.baseline && j.baseline.latency) {
    row('baseline POST accepted', j.baseline.latency.posts_ok);
    row('baseline all successful', j.baseline.latency.all_requests);
  }
  if (j.baseline_pays) {
    row('paying baseline: POST accepted', j.baseline_pays.latency.posts_ok);
    row('paying baseline: all successful', j.baseline_pays.latency.all_requests);
  }
  lines.push('');
}

// The service's p99 against the do-nothing and the paying baselines.
function ratiosSection(j: ResultJson, lines: string[]): void {
  if (j.ratios_to_baseline) {
    const r = j.ratios_to_baseline;
    lines.push(
      `Service / baseline: POST p99 ×${r.post_p99}${r.post_p99_before !== null ? ` (against the mean of the baseline before, ×${r.post_p99_before}, and after, ×${r.post_p99_after})` : ''} (target ≤ ×${r.target_post_p99}: ${r.post_p99 !== null && r.post_p99 <= r.target_post_p99 ? 'met' : 'NOT met'}), p50 ×${r.post_p50}, p99.9 ×${r.post_p999}. Baseline: ${j.baseline.note}.`,
      '',
    );
    if (r.paying_post_p99 !== null && j.baseline_pays) {
      lines.push(
        `Paying baseline / baseline: POST p99 ×${r.paying_post_p99}: what sending each payment to the processors costs this machine's latency with no service logic at all. Service / paying baseline: ×${r.post_p99_vs_paying}. Paying baseline: ${j.baseline_pays.note}.`,
        '',
      );
    }
  } else lines.push(`Baseline: ${j.baseline.note}.`, '');
}

// Where in the run the requests slower than the baseline's p99 fell.
function tailSection(j: ResultJson, lines: string[]): void {
  if (j.tail_by_phase) {
    const t = j.tail_by_phase;
    lines.push(
      '## Where the slow requests fell',
      '',
      `Accepted POSTs slower than the baseline's p99 (${t.threshold_ms} ms), by ${t.bucket_s} s of the run, counted per second at fixed steps (${SLOW_LADDER_MS[0]}–${SLOW_LADDER_MS[SLOW_LADDER_MS.length - 1]} ms) and interpolated between them. "Extra" is what the service had beyond the baseline's rate in the same stretch; together they are what lifts its p99 above the baseline's. "Stolen" is, of the CPU time the machine wanted in that stretch of each run, the share the hypervisor gave to someone else (steal ÷ (busy + steal), /proc/stat). A stretch that lost far more than the same stretch of other runs of its kind was disturbed; the do-nothing run, less busy, usually loses a larger share than the service's.`,
      '',
      '| s | POSTs | service: slower | % | baseline: slower | % | extra | share of extra | stolen % of demand: service / baseline |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    const pct = (a: number, n: number) => (n > 0 ? fmt((100 * a) / n) : '–');
    const extra_pos = t.buckets.reduce((a, x) => a + Math.max(0, x.extra), 0); // shares of what lifted it
    for (const x of t.buckets) {
      lines.push(
        `| ${x.from_s}–${x.to_s} | ${x.service_posts} | ${x.service_over} | ${pct(x.service_over, x.service_posts)} | ${x.baseline_over} | ${pct(x.baseline_over, x.baseline_posts)} | ${x.extra} | ${extra_pos > 0 ? `${pct(Math.max(0, x.extra), extra_pos)} %` : '–'} | ${x.service_stolen_share_pct ?? '–'} / ${x.baseline_stolen_share_pct ?? '–'} |`,
      );
    }
    lines.push(`| all | ${t.buckets.reduce((a, x) => a + x.service_posts, 0)} | | | | | ${t.extra_total} | | |`, '');
  }
}

// When each processor phase was applied, and what each audit found.
function phasesAndAuditsSection(j: ResultJson, lines: string[]): void {
  lines.push('## Processor phases', '', '| at (s) | applied (s) | default | fallback | ok |', '|---|---|---|---|---|');
  for (const p of j.phases)
    lines.push(
      `| ${p.at_s} | ${p.applied_at_s} | ${phaseLabel(p.default)} | ${phaseLabel(p.fallback)} | ${p.ok ? 'yes' : `no: ${p.error}`} |`,
    );
  lines.push('');
  lines.push('## Audits', '', '| t (s) | window | backend d/f | processors d/f | Δ |', '|---|---|---|---|---|');
  for (const a of j.audits)
    lines.push(
      `| ${a.t_s} | ${a.from.slice(11, 23)}–${a.to.slice(11, 23)} | ${a.backend.default}/${a.backend.fallback}${a.backend.ok ? '' : ' (error)'} | ${a.processors.default}/${a.processors.fallback} | ${a.inconsistencies} |`,
    );
  lines.push('');
}

// CPU and memory per cgroup, thread group and process, and the machine's load.
function resourcesSection(j: ResultJson, lines: string[]): void {
  lines.push('## Resources', '');
  for (const c of j.resources.cgroups) {
    lines.push(
      `- cgroup ${c.name} (${c.limits.cpus} CPU / ${c.limits.memory_mb} MB): CPU ${c.cpu_seconds} s, avg ${c.cpu_avg_cores} cores, max ${c.cpu_max_cores_1s} cores over ~1 s; memory peak ${c.memory_peak_mb} MB${c.memory_peak_pct_of_limit != null ? ` (${c.memory_peak_pct_of_limit} % of its limit${c.memory_limit_hits != null ? `, limit hit ${c.memory_limit_hits} times, ${c.oom_kills} OOM kills` : ''})` : ''}; ${throttleText(c)}; ${cpuPerPayment(c.cpu_seconds, j.pagamentos_solicitados.qtd_sucesso)}`,
    );
  }
  if (j.resources.cgroups.length === 0) lines.push('- no cgroup (service not started under limits by the bench)');
  const paid = j.pagamentos_solicitados.qtd_sucesso;
  const threadText = (t: ThreadGroupTotals) =>
    `${t.group} (${t.threads} thread${t.threads === 1 ? '' : 's'}): ${t.cpu_s} s, ${cpuPerPayment(t.cpu_s, paid)}; waited for a CPU ${t.wait_s} s, ${t.wait_per_slice_us} µs per time scheduled`;
  if ((j.resources.threads ?? []).length > 0) {
    lines.push('- CPU by thread (/proc, whole run), and run-queue wait (/proc/…/schedstat):');
    for (const t of j.resources.threads) lines.push(`  - ${threadText(t)}`);
  }
  if ((j.resources.harness_threads ?? []).length > 0) {
    lines.push('- the harness on the same machine (not the service):');
    for (const t of j.resources.harness_threads) lines.push(`  - ${threadText(t)}`);
  }
  if (j.loadgen)
    lines.push(
      `- the load generator (${generatorText(j.loadgen.generator)}): ${j.loadgen.cpu_ms} ms CPU, ${j.loadgen.cpu_us_per_request} µs per request`,
    );
  if (j.baseline?.loadgen)
    lines.push(
      `- baseline run: the load generator ${j.baseline.loadgen.cpu_ms} ms CPU, ${j.baseline.loadgen.cpu_us_per_request} µs per request`,
    );
  const b_res = j.baseline?.resources;
  for (const t of [...(b_res?.threads ?? []), ...(b_res?.harness_threads ?? [])]) {
    if (t.group.startsWith('baseline server (main') || t.group.startsWith('load generator')) lines.push(`- baseline run: ${threadText(t)}`);
  }
  const load = (r: { machine_load?: MachineLoad | null } | undefined) =>
    r?.machine_load
      ? `${r.machine_load.busy_pct} % busy, ${r.machine_load.steal_pct} % stolen by the hypervisor (${stolenSharePct(r.machine_load.busy_pct, r.machine_load.steal_pct) ?? 0} % of what it wanted)`
      : 'not measured';
  lines.push(
    `- the whole machine (every process on it, /proc/stat): during the service run ${load(j.resources)}${j.baseline.resources ? `; during the baseline run ${load(j.baseline.resources)}` : ''}`,
  );
  lines.push(`- peak RSS per process (VmHWM; target ≤ ${j.resources.rss_target_mb} MB per instance):`);
  for (const p of j.resources.processes.slice(0, 20)) lines.push(`  - ${p.vm_hwm_mb} MB — pid ${p.pid} \`${p.command}\``);
  if (j.resources.processes.length === 0) lines.push('  - (no processes watched)');
  lines.push('');
}

function generatorText(g: 'c' | 'node'): string {
  return g === 'c' ? 'C (native-bench/contest/loadgen.c, its own process)' : 'Node (loadgen-worker.ts, a worker thread of the bench)';
}

// CPU the group spent per accepted payment: the cost the service adds to the machine the load
// generator shares (less noisy than p99 from run to run).
export function cpuUsPerPayment(cpu_s: number, accepted: number): number | null {
  return accepted > 0 ? Math.round((cpu_s * 1e6) / accepted) : null;
}

// CFS throttling of one group: how often it met its quota, and how it spread over the run's seconds.
function throttleText(c: ResultJson['resources']['cgroups'][number]): string {
  const base = `CFS quota hit in ${c.throttled_periods ?? 0} of ${c.periods ?? 0} periods (${c.throttled_ms ?? 0} ms stalled)`;
  if (c.seconds === undefined) return base;
  return `${base}, ${c.throttled_periods_per_s} per s on average, at most ${c.throttled_periods_max_1s} periods (${c.throttled_ms_max_1s} ms) in one second, in ${c.seconds_throttled} of ${c.seconds} seconds`;
}

function cpuPerPayment(cpu_s: number, accepted: number): string {
  const us = cpuUsPerPayment(cpu_s, accepted);
  return us !== null ? `${us} µs CPU per accepted payment` : 'no payments accepted';
}
