// timeline.svg, written by hand: POST p50/p99 per second (log axis) with the do-nothing
// baseline's p99 per second when it ran (same harness, a few minutes later), default vs fallback
// confirmations per second, processor phases shaded and labelled, audit marks.
import type { RunResult } from './run.js';
import { phaseLabel, type Phase } from './schedule.js';

const W = 1100,
  LEFT = 60,
  RIGHT = 20,
  TOP = 40;
const LAT_H = 220,
  GAP = 50,
  CNT_H = 160;
const H = TOP + LAT_H + GAP + CNT_H + 40;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// What every panel draws with: the output lines, the run's length in seconds, time → x.
interface Plot {
  out: string[];
  n: number;
  x: (t: number) => number;
}

const CNT_TOP = TOP + LAT_H + GAP;

export function renderTimelineSvg(r: RunResult, schedule: Phase[], baseline?: RunResult): string {
  const pts = r.timeline;
  const n = Math.max(1, pts.length);
  const plotW = W - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / n) * plotW;
  const out: string[] = [];
  const plot: Plot = { out, n, x };
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${esc(`${r.label}: score ${r.official.total_liquido.toFixed(2)}, p99 ${r.official.p99.valor}, inconsistencies ${r.official.multa.composicao.num_inconsistencias}, lag ${r.official.lag.lag}`)}</text>`,
  );
  drawPhases(plot, schedule);
  drawLatencyPanel(plot, r, baseline);
  drawAudits(plot, r);
  drawConfirmationsPanel(plot, r);

  // Time axis.
  const step = n > 120 ? 30 : n > 40 ? 10 : n > 10 ? 2 : 1;
  for (let t = 0; t <= n; t += step) {
    out.push(`<text x="${x(t).toFixed(1)}" y="${CNT_TOP + CNT_H + 16}" text-anchor="middle">${t}s</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function poly({ out, x }: Plot, vals: number[], yf: (v: number) => number, color: string, width = 1.5): void {
  const d = vals.map((v, i) => `${x(i + 0.5).toFixed(1)},${yf(v).toFixed(1)}`).join(' ');
  out.push(`<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${d}"/>`);
}

// Phases: alternate shading over both panels, with delay / failure labels.
function drawPhases({ out, n, x }: Plot, schedule: Phase[]): void {
  const phases = schedule.filter((p) => p.at_s < n);
  phases.forEach((p, i) => {
    const x0 = x(p.at_s),
      x1 = x(i + 1 < phases.length ? phases[i + 1].at_s : n);
    const failing = p.default.failure || p.fallback.failure;
    const fill = failing ? '#fde2e2' : i % 2 ? '#f2f2f2' : '#fafafa';
    out.push(
      `<rect x="${x0.toFixed(1)}" y="${TOP}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${LAT_H + GAP + CNT_H}" fill="${fill}"/>`,
    );
    out.push(`<text x="${(x0 + 3).toFixed(1)}" y="${TOP + 12}" fill="#555">${esc(`d ${phaseLabel(p.default)}`)}</text>`);
    out.push(`<text x="${(x0 + 3).toFixed(1)}" y="${TOP + 24}" fill="#555">${esc(`f ${phaseLabel(p.fallback)}`)}</text>`);
  });
}

// Latency panel, log10 axis from 0.1 ms to 2000 ms.
function drawLatencyPanel(plot: Plot, r: RunResult, baseline: RunResult | undefined): void {
  const { out, n } = plot;
  const LMIN = -1,
    LMAX = Math.log10(2000);
  const yl = (ms: number) => TOP + LAT_H - ((Math.log10(Math.max(0.1, ms)) - LMIN) / (LMAX - LMIN)) * LAT_H;
  for (const ms of [0.1, 1, 10, 100, 1000]) {
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${yl(ms).toFixed(1)}" y2="${yl(ms).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${LEFT - 6}" y="${(yl(ms) + 4).toFixed(1)}" text-anchor="end">${ms} ms</text>`);
  }
  const withData = r.timeline.map((p) => (p.ok > 0 ? p : { ...p, p50: 0.1, p99: 0.1 }));
  if (baseline)
    poly(
      plot,
      baseline.timeline.slice(0, n).map((p) => (p.ok > 0 ? p.p99 : 0.1)),
      yl,
      '#888',
      1,
    );
  poly(
    plot,
    withData.map((p) => p.p99),
    yl,
    '#d62728',
  );
  poly(
    plot,
    withData.map((p) => p.p50),
    yl,
    '#1f77b4',
  );
  out.push(
    `<text x="${W - RIGHT - 190}" y="${TOP - 6}" fill="#d62728">— POST p99 / s</text><text x="${W - RIGHT - 95}" y="${TOP - 6}" fill="#1f77b4">— POST p50 / s</text>`,
  );
  if (baseline) out.push(`<text x="${W - RIGHT - 330}" y="${TOP - 6}" fill="#888">— baseline p99 / s</text>`);
}

// Audit marks on the latency panel's top edge.
function drawAudits({ out, x }: Plot, r: RunResult): void {
  for (const a of r.audits) {
    const ax = x(a.t_s);
    const bad = a.inconsistencies > 0;
    out.push(
      `<line x1="${ax.toFixed(1)}" x2="${ax.toFixed(1)}" y1="${TOP + 28}" y2="${TOP + LAT_H}" stroke="${bad ? '#d00' : '#2ca02c'}" stroke-dasharray="3,3"/>`,
    );
    out.push(
      `<text x="${(ax + 2).toFixed(1)}" y="${TOP + LAT_H - 4}" fill="${bad ? '#d00' : '#2ca02c'}">${bad ? `Δ${a.inconsistencies}` : 'audit'}</text>`,
    );
  }
}

// Confirmations panel (linear).
function drawConfirmationsPanel(plot: Plot, r: RunResult): void {
  const { out } = plot;
  const pts = r.timeline;
  const top2 = CNT_TOP;
  const maxC = Math.max(10, ...pts.map((p) => Math.max(p.default_confirmed, p.fallback_confirmed, p.ok)));
  const yc = (v: number) => top2 + CNT_H - (Math.max(0, v) / maxC) * CNT_H;
  for (const v of [0, Math.round(maxC / 2), maxC]) {
    out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${yc(v).toFixed(1)}" y2="${yc(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${LEFT - 6}" y="${(yc(v) + 4).toFixed(1)}" text-anchor="end">${v}/s</text>`);
  }
  poly(
    plot,
    pts.map((p) => p.ok),
    yc,
    '#999',
    1,
  );
  poly(
    plot,
    pts.map((p) => p.default_confirmed),
    yc,
    '#2ca02c',
  );
  poly(
    plot,
    pts.map((p) => p.fallback_confirmed),
    yc,
    '#ff7f0e',
  );
  out.push(
    `<text x="${LEFT}" y="${top2 - 6}"><tspan fill="#2ca02c">— default confirmed / s</tspan>  <tspan fill="#ff7f0e">— fallback confirmed / s</tspan>  <tspan fill="#999">— POSTs accepted / s</tspan></text>`,
  );
}
