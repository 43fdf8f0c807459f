// result.json, report.md and latency.svg of a capacity run: per target, its steps and its knee.
import type { CapacityOptions } from './options.js';
import { P99_BOUND_MS, type StepResult } from './step.js';

export interface TargetRun {
  name: string;
  description: string;
  steps: StepResult[];
  stopped_early?: string;
}

export interface CapacityJson {
  started_at: string;
  options: CapacityOptions;
  limits: { applied: boolean; cpus: number; memory_mb: number; note: string };
  machine: Record<string, unknown>;
  knee_rule: string;
  targets: (TargetRun & { knee_per_s: number | null; sustained_per_s: number | null; cpu_us_per_payment_at_2k: number | null })[];
}

const KNEE_RULE = `highest rate whose measured window kept POST p99 ≤ ${P99_BOUND_MS} ms (from each request's scheduled time), no refusal, a bounded backlog and an exact summary`;

// The knee: the highest rate within the bound, every lower step within it too. With `sustained`,
// the same without the latency bound (what a noisy machine still tells).
export function knee(steps: StepResult[], sustained = false): number | null {
  let k: number | null = null;
  for (const s of steps) {
    if (!(sustained ? s.sustained : s.within_bound)) break;
    k = s.rate_per_s;
  }
  return k;
}

export function buildCapacityJson(x: Omit<CapacityJson, 'targets' | 'knee_rule'> & { targets: TargetRun[] }): CapacityJson {
  return {
    ...x,
    knee_rule: KNEE_RULE,
    targets: x.targets.map((t) => ({
      ...t,
      knee_per_s: knee(t.steps),
      sustained_per_s: knee(t.steps, true),
      cpu_us_per_payment_at_2k: t.steps.find((s) => s.rate_per_s === 2000)?.cpu_us_per_payment?.total ?? null,
    })),
  };
}

const f1 = (x: number | undefined | null): string => (x === undefined || x === null ? '–' : (Math.round(x * 10) / 10).toString());
const f2 = (x: number): string => x.toFixed(2);

export function renderCapacityReport(j: CapacityJson): string {
  const L: string[] = [];
  L.push(`# Capacity — open-loop steps, ${j.options.label}`, '');
  L.push(
    `Started ${j.started_at}. Steps of ${j.options.step_s} s, the first ${j.options.warmup_s} s of each left out; ${j.options.connections} keep-alive connections, timeout ${j.options.timeout_ms} ms; processors answering at once.`,
    '',
  );
  L.push(
    `Limits: ${j.limits.applied ? `${j.limits.cpus} CPU / ${j.limits.memory_mb} MB` : 'NOT applied'} (${j.limits.note}). Machine: ${j.machine.cpu_count} × ${j.machine.cpu_model}, load average at start ${(j.machine.loadavg_at_start as number[]).map(f2).join(' ')}.`,
    '',
  );
  L.push(`Knee: ${j.knee_rule}. Latencies on a shared machine are noisy; CPU per payment is the stable figure.`, '');
  L.push('| target | knee (payments/s) | sustained without the latency bound | CPU per payment at 2,000/s |', '|---|---|---|---|');
  for (const t of j.targets)
    L.push(
      `| ${t.name} | ${t.knee_per_s ?? 'none'} | ${t.sustained_per_s ?? 'none'} | ${t.cpu_us_per_payment_at_2k === null ? '–' : `${t.cpu_us_per_payment_at_2k} µs`} |`,
    );
  L.push('');
  for (const t of j.targets) {
    L.push(`## ${t.name}`, '', `${t.description}.`, '');
    L.push(
      '| rate/s | achieved/s | p50 | p99 | p99.9 | refused | CPU µs/payment: total (fronts / workers / Postgres / rest) | cores | memory MB | backlog max (2nd half) | visibility lag max | summary | generator: late p99, CPU µs/req | within |',
    );
    L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of t.steps) {
      const c = s.cpu_us_per_payment;
      const cpu = c ? `${f1(c.total)} (${f1(c.fronts)} / ${f1(c.workers)} / ${f1(c.postgres)} / ${f1(c.rest)})` : '–';
      const sum =
        s.summary === null
          ? '–'
          : s.summary.exact
            ? `exact (${s.summary.settle_ms} ms)`
            : `OFF: backend ${JSON.stringify(s.summary.backend)} processors ${JSON.stringify(s.summary.processors)} accepted ${s.summary.accepted}`;
      const gen = `${f2(s.generator.late.p99)} ms, ${f1(s.generator.cpu_us_per_request)}${s.generator.kept_rate ? '' : ' (rate NOT kept)'}`;
      L.push(
        `| ${s.rate_per_s} | ${s.achieved_per_s} | ${f2(s.latency.p50)} | ${f2(s.latency.p99)} | ${f2(s.latency.p999)} | ${s.refused} | ${cpu} | ${c ? c.cores : '–'} | ${s.memory_mb ?? '–'} | ${s.backlog.max} (${s.backlog.last_half_max}) | ${s.visibility_lag ? s.visibility_lag.max : '–'} | ${sum} | ${gen} | ${s.within_bound ? 'yes' : `no: ${s.why_not.join('; ')}`} |`,
      );
    }
    if (t.stopped_early) L.push('', `Stopped climbing: ${t.stopped_early}.`);
    L.push('');
  }
  L.push(
    'Latency is from each request\'s scheduled time (so it includes the generator\'s lateness, shown on its own); "late p99" is how late the generator sent; the generator "kept the rate" when 99 % of requests left within 5 ms of their time and none was dropped.',
  );
  return L.join('\n') + '\n';
}

// Latency against achieved throughput, every target on the same axes: p99 solid, p50 dashed.
export function renderCapacitySvg(j: CapacityJson): string {
  const W = 900,
    H = 520,
    LEFT = 70,
    RIGHT = 170,
    TOP = 40,
    BOTTOM = 50;
  const colors: Record<string, string> = { service: '#d62728', baseline: '#7f7f7f', 'baseline-pays': '#1f77b4' };
  const steps = j.targets.flatMap((t) => t.steps);
  const xmax = Math.max(1000, ...steps.map((s) => s.achieved_per_s)) * 1.05;
  const LMIN = -1,
    LMAX = 3; // 0.1 ms to 1 s, log
  const x = (r: number): number => LEFT + (r / xmax) * (W - LEFT - RIGHT);
  const y = (ms: number): number => TOP + (H - TOP - BOTTOM) * (1 - (Math.log10(Math.min(1000, Math.max(0.1, ms))) - LMIN) / (LMAX - LMIN));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${LEFT}" y="20" font-size="14" font-weight="bold">POST latency against throughput (open loop, ${j.limits.applied ? `${j.limits.cpus} CPU / ${j.limits.memory_mb} MB` : 'no limits'})</text>`,
  );
  for (const ms of [0.1, 0.5, 1, 2, 5, 10, 100, 1000]) {
    out.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(ms).toFixed(1)}" y2="${y(ms).toFixed(1)}" stroke="${ms === P99_BOUND_MS ? '#f4a' : '#ddd'}"${ms === P99_BOUND_MS ? ' stroke-dasharray="6,3"' : ''}/>`,
    );
    out.push(`<text x="${LEFT - 6}" y="${(y(ms) + 4).toFixed(1)}" text-anchor="end">${ms} ms</text>`);
  }
  const xstep = xmax > 6000 ? 2000 : 1000;
  for (let r = 0; r <= xmax; r += xstep) {
    out.push(`<line x1="${x(r).toFixed(1)}" x2="${x(r).toFixed(1)}" y1="${TOP}" y2="${H - BOTTOM}" stroke="#eee"/>`);
    out.push(`<text x="${x(r).toFixed(1)}" y="${H - BOTTOM + 16}" text-anchor="middle">${r}</text>`);
  }
  out.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 12}" text-anchor="middle">payments/s achieved</text>`);
  j.targets.forEach((t, i) => {
    const color = colors[t.name] ?? '#000';
    const line = (pick: (s: StepResult) => number, dash: string): void => {
      const pts = t.steps.map((s) => `${x(s.achieved_per_s).toFixed(1)},${y(pick(s)).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts}"/>`);
    };
    line((s) => s.latency.p99, '');
    line((s) => s.latency.p50, ' stroke-dasharray="4,3"');
    for (const s of t.steps)
      out.push(
        `<circle cx="${x(s.achieved_per_s).toFixed(1)}" cy="${y(s.latency.p99).toFixed(1)}" r="3.5" fill="${s.within_bound ? color : 'white'}" stroke="${color}"/>`,
      );
    const ly = TOP + 20 + i * 36;
    out.push(`<line x1="${W - RIGHT + 10}" x2="${W - RIGHT + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${W - RIGHT + 46}" y="${ly + 4}">${t.name}</text>`);
    out.push(`<text x="${W - RIGHT + 46}" y="${ly + 17}" fill="#555">knee ${t.knee_per_s ?? 'none'}</text>`);
  });
  out.push(`<text x="${W - RIGHT + 10}" y="${TOP + 20 + j.targets.length * 36 + 10}" fill="#555">solid p99, dashed p50;</text>`);
  out.push(`<text x="${W - RIGHT + 10}" y="${TOP + 20 + j.targets.length * 36 + 24}" fill="#555">hollow: outside the bound</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
