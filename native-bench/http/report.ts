// The HTTP bench's results: one row per (step, server), service/baseline ratios per step, and
// the Markdown rendering printed and written next to the JSON.
import type { LoadStep } from './load.js';
import type { Rate } from './options.js';

export interface StepRow extends LoadStep {
  server: 'service' | 'baseline';
  cpu_ms: number | null; // CPU of the server's processes during the step
  cpu_ms_per_1000_req: number | null;
}

export interface StepRatio {
  rate: Rate;
  req_per_s: number;
  p50: number;
  p99: number;
  cpu_per_req: number | null;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : 0);

export function ratios(rows: StepRow[]): StepRatio[] {
  const out: StepRatio[] = [];
  for (const s of rows.filter((r) => r.server === 'service')) {
    const b = rows.find((r) => r.server === 'baseline' && r.rate === s.rate);
    if (!b) continue;
    out.push({
      rate: s.rate,
      req_per_s: ratio(s.req_per_s, b.req_per_s),
      p50: ratio(s.latency_ms.p50, b.latency_ms.p50),
      p99: ratio(s.latency_ms.p99, b.latency_ms.p99),
      cpu_per_req:
        s.cpu_ms_per_1000_req !== null && b.cpu_ms_per_1000_req !== null ? ratio(s.cpu_ms_per_1000_req, b.cpu_ms_per_1000_req) : null,
    });
  }
  return out;
}

export function markdown(rows: StepRow[]): string {
  const lines = [
    '| step (req/s) | server | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | non-2xx | errors | CPU ms / 1000 req |',
    '|' + '---|'.repeat(11),
    ...rows.map(
      (r) =>
        `| ${r.rate} | ${r.server} | ${r.req_per_s} | ${r.latency_ms.p50} | ${r.latency_ms.p90} | ${r.latency_ms.p99} | ${r.latency_ms.p999} | ${r.latency_ms.max} | ${r.non2xx} | ${r.errors} | ${r.cpu_ms_per_1000_req ?? 'n/a'} |`,
    ),
  ];
  const rs = ratios(rows);
  if (rs.length > 0) {
    lines.push('', '| step (req/s) | service/baseline req/s | p50 | p99 | CPU per req |', '|---|---|---|---|---|');
    for (const r of rs) lines.push(`| ${r.rate} | ${r.req_per_s} | ${r.p50} | ${r.p99} | ${r.cpu_per_req ?? 'n/a'} |`);
  }
  return lines.join('\n') + '\n';
}
