// `npm run bench:replicas -- <result dir or result.json>...`: many contest replicas at once. One
// line per replica (p99s, ratio, score, consistency, CPU, the hypervisor's steal), then how far
// the ratio can be trusted (spread.ts) and, where the runs have it, in which tenth of the run the
// service's extra slow requests fell (tail.ts), averaged. Markdown on stdout.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cpuUsPerPayment, P99_RATIO_TARGET } from './report.js';
import { spread } from './spread.js';
import { type MachineLoad, stolenSharePct } from '../lib/threads.js';

const USAGE = `usage: node dist/native-bench/contest/replicas.js [--max-stolen <pct>] <result dir | result.json>...
  --max-stolen <pct>   leave out of the summary the replicas during whose service run the hypervisor
                       stole more than pct % of the machine (they are still listed)`;

interface Row {
  name: string;
  started: string;
  duration_s: number;
  service_p99: number;
  baseline_p99: number | null;
  before_p99: number | null;
  ratio: number | null;
  score: number;
  inconsistencies: number;
  lag: number;
  lag_after: number;
  cpu_us: number | null;
  stolen_pct: number | null;
  service_stolen_share: number | null;
  baseline_stolen_share: number | null; // % of each run's demand (stolenSharePct)
  extra: number[] | null;
}

const share = (m: MachineLoad | undefined): number | null => (m ? stolenSharePct(m.busy_pct, m.steal_pct) : null);

function load(path: string): Row {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'result.json') : path;
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const accepted: number = j.pagamentos_solicitados.qtd_sucesso;
  // Every group the service ran in: one for npm start, one per compose service otherwise.
  const groups: Array<{ cpu_seconds: number }> = j.resources?.cgroups ?? [];
  return {
    name: basename(dirname(file)),
    started: String(j.bench.started_at).slice(0, 16).replace('T', ' '),
    duration_s: j.bench.duration_s,
    service_p99: j.latency.posts_ok.p99,
    baseline_p99: j.baseline?.latency?.posts_ok?.p99 ?? null,
    before_p99: j.baseline_before?.latency?.posts_ok?.p99 ?? null,
    ratio: j.ratios_to_baseline?.post_p99 ?? null,
    score: j.total_liquido,
    inconsistencies: j.multa.composicao.num_inconsistencias,
    lag: j.lag.lag,
    lag_after: j.lag_after_drain?.lag ?? j.lag.lag,
    cpu_us: groups.length
      ? cpuUsPerPayment(
          groups.reduce((a, g) => a + g.cpu_seconds, 0),
          accepted,
        )
      : null,
    stolen_pct: j.resources?.machine_load?.steal_pct ?? null,
    service_stolen_share: share(j.resources?.machine_load),
    baseline_stolen_share: share(j.baseline?.resources?.machine_load),
    extra: j.tail_by_phase ? j.tail_by_phase.buckets.map((b: { extra: number }) => b.extra) : null,
  };
}

function main(argv: string[]): number {
  let max_stolen = Infinity;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--max-stolen') {
      max_stolen = Number(argv[++i]);
      if (!(max_stolen >= 0)) {
        process.stderr.write(`--max-stolen needs a percentage\n${USAGE}\n`);
        return 2;
      }
    } else if (argv[i].startsWith('--')) {
      process.stderr.write(`${USAGE}\n`);
      return argv[i] === '--help' ? 0 : 2;
    } else paths.push(argv[i]);
  }
  if (paths.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const rows: Row[] = [];
  for (const p of paths) {
    try {
      rows.push(load(p));
    } catch (err) {
      process.stderr.write(`skipped ${p}: ${(err as Error).message}\n`);
    }
  }
  const L: string[] = [];
  const f = (x: number | null, d = 2) => (x === null ? '–' : x.toFixed(d));
  L.push(
    '| replica | started (UTC) | s | service p99 (ms) | baseline p99 (ms) | service ÷ baseline | score | inconsistencies | lag / after drain | CPU µs per payment | stolen % | stolen % of demand: service / baseline |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    const base = r.before_p99 !== null ? `${f(r.before_p99)} / ${f(r.baseline_p99)}` : f(r.baseline_p99);
    L.push(
      `| ${r.name} | ${r.started} | ${r.duration_s} | ${f(r.service_p99)} | ${base} | ${r.ratio === null ? '–' : `×${f(r.ratio, 3)}`} | ${Math.round(r.score).toLocaleString('en-US')} | ${r.inconsistencies} | ${r.lag} / ${r.lag_after} | ${r.cpu_us ?? '–'} | ${f(r.stolen_pct)} | ${f(r.service_stolen_share, 1)} / ${f(r.baseline_stolen_share, 1)} |`,
    );
  }
  L.push('');
  const kept = rows.filter((r) => r.ratio !== null && (r.stolen_pct ?? 0) <= max_stolen);
  if (new Set(kept.map((r) => r.duration_s)).size > 1)
    L.push('Note: these replicas ran for different durations; their ratios are not of one test.', '');
  if (kept.length > 0) {
    const s = spread(
      kept.map((r) => r.ratio!),
      P99_RATIO_TARGET,
    );
    const left = rows.length - kept.length;
    L.push(
      `POST p99, service ÷ baseline, over ${s.n} replica${s.n === 1 ? '' : 's'}${left ? ` (${left} left out: no baseline${Number.isFinite(max_stolen) ? ` or more than ${max_stolen} % stolen` : ''})` : ''}: ` +
        `median ×${s.median}, mean ×${s.mean} (95 % interval ×${s.ci95[0]}–${s.ci95[1]}), geometric mean ×${s.geo_mean} (×${s.geo_ci95[0]}–${s.geo_ci95[1]}); ` +
        `one replica's standard deviation ${s.sd}; ${s.at_or_below} of ${s.n} at or under ×${s.target}.`,
      '',
    );
  }
  const withTail = kept.filter((r) => r.extra !== null);
  if (withTail.length > 0) {
    const k = Math.max(...withTail.map((r) => r.extra!.length));
    const mean = Array.from({ length: k }, (_, i) => withTail.reduce((a, r) => a + (r.extra![i] ?? 0), 0) / withTail.length);
    const total = mean.reduce((a, b) => a + b, 0);
    L.push(
      `Extra slow requests (slower than the baseline's p99, beyond its rate) by tenth of the run, mean of ${withTail.length}: ` +
        `${mean.map((x) => Math.round(x)).join(', ')} (total ${Math.round(total)}).`,
      '',
    );
  }
  process.stdout.write(L.join('\n'));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
