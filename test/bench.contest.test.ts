// A short real contest run (topology none) against the do-nothing baseline server, with real
// processor simulators started by the bench: checks result.json's keys and that the counts add up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { SLOW_LADDER_MS } from '../native-bench/contest/stats.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..');
const children: ChildProcess[] = [];
let outDir = '';
let targetUrl = '';

function startChild(args: string[]): ChildProcess {
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

function firstJsonLine(c: ChildProcess, event: string, timeout_ms: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} line within ${timeout_ms} ms`)), timeout_ms);
    createInterface({ input: c.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.event === event) {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        /* log line */
      }
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ${event}`));
    });
  });
}

before(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'bench-contest-'));
  const baseline = startChild([join(dist, 'native-bench', 'baseline', 'server.js'), '--port', '0']);
  targetUrl = String((await firstJsonLine(baseline, 'listening', 10_000)).url);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(outDir, { recursive: true, force: true });
});

test('contest run against the baseline server writes a consistent result', { timeout: 70_000 }, async () => {
  const bench = startChild([
    join(dist, 'native-bench', 'contest', 'main.js'),
    '--topology',
    'none',
    '--target',
    targetUrl,
    '--default-port',
    '0',
    '--fallback-port',
    '0',
    '--duration',
    '8',
    '--users',
    '20',
    '--baseline-duration',
    '3',
    '--baseline-both',
    '--baseline-pays',
    '--drain-ms',
    '500',
    '--out',
    outDir,
  ]);
  let stderr = '';
  bench.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = await firstJsonLine(bench, 'done', 65_000).catch((err) => {
    throw new Error(`${err.message}\n${stderr.slice(-3000)}`);
  });
  assert.equal(done.out, outDir);
  await new Promise((r) => (bench.exitCode !== null ? r(null) : bench.once('exit', r)));
  assert.equal(bench.exitCode, 0, stderr.slice(-2000));

  const j = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8'));
  for (const k of [
    'timestamp',
    'participante',
    'total_liquido',
    'total_bruto',
    'total_taxas',
    'p99',
    'multa',
    'caixa_dois',
    'lag',
    'pagamentos_solicitados',
    'pagamentos_realizados_default',
    'pagamentos_realizados_fallback',
    'latency',
    'ratios_to_baseline',
    'timeline',
    'audits',
    'phases',
    'resources',
    'machine',
    'bench',
    'counts',
  ]) {
    assert.ok(k in j, `result.json lacks ${k}`);
  }
  assert.ok(Array.isArray(j.resources.threads), 'CPU by thread group (empty: topology none watches no process)');
  // The C load generator ran (the machines this runs on have a C compiler), and its CPU was counted.
  assert.equal(j.bench.generator, 'c');
  assert.equal(j.loadgen.generator, 'c');
  assert.ok(j.loadgen.cpu_ms > 0);
  // The baseline answers 202 to everything and pays nothing.
  assert.ok(j.counts.posts > 20, `only ${j.counts.posts} POSTs`);
  assert.equal(j.pagamentos_solicitados.qtd_sucesso, j.counts.accepted);
  assert.equal(j.counts.accepted + j.counts.failed, j.counts.posts);
  assert.equal(j.counts.by_status['202'], j.counts.accepted);
  assert.equal(j.latency.posts_ok.count, j.counts.accepted);
  assert.equal(j.lag.num_pagamentos_total, 0);
  assert.equal(j.lag.lag, j.counts.accepted);
  assert.equal(j.total_bruto, 0);
  assert.equal(j.total_liquido, 0);
  // Timeline covers every second and its POSTs add up.
  assert.equal(j.timeline.length, 8);
  assert.equal(
    j.timeline.reduce((s: number, p: { posts: number }) => s + p.posts, 0),
    j.counts.posts,
  );
  // Each second counts its slow requests at every step of the ladder: never more than it
  // accepted, never more at a higher step.
  for (const p of j.timeline as { ok: number; over: number[] }[]) {
    assert.equal(p.over.length, SLOW_LADDER_MS.length);
    assert.ok(p.over[0] <= p.ok && p.over.every((n, k) => k === 0 || n <= p.over[k - 1]), JSON.stringify(p));
  }
  // And the machine's load in that second (Linux has /proc/stat): shares of the machine.
  for (const p of j.timeline as { busy_pct: number; steal_pct: number }[]) {
    assert.ok(p.busy_pct >= 0 && p.busy_pct <= 100 && p.steal_pct >= 0 && p.steal_pct + p.busy_pct <= 100.1, JSON.stringify(p));
  }
  assert.ok(
    j.timeline.some((p: { busy_pct: number }) => p.busy_pct > 0),
    'the load generator alone keeps the machine busy',
  );
  // Where the slow requests fell, against the baseline after the service's run.
  assert.equal(j.tail_by_phase.threshold_ms, j.baseline.latency.posts_ok.p99);
  assert.equal(
    j.tail_by_phase.buckets.reduce((s: number, b: { service_posts: number }) => s + b.service_posts, 0),
    j.counts.accepted,
  );
  // The hypervisor's share of each stretch's demand; none for the baseline after its (shorter) run.
  const share = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 100;
  for (const b of j.tail_by_phase.buckets as { from_s: number; service_stolen_share_pct: unknown; baseline_stolen_share_pct: unknown }[]) {
    assert.ok(share(b.service_stolen_share_pct), JSON.stringify(b));
    assert.ok(
      b.from_s < j.baseline.timeline.length ? share(b.baseline_stolen_share_pct) : b.baseline_stolen_share_pct === null,
      JSON.stringify(b),
    );
  }
  // Schedule scaled to 8 s: all 10 phases applied; audits every 10 s → one at t≈0, consistent (0 vs 0).
  assert.equal(j.phases.length, 10);
  assert.ok(j.phases.every((p: { ok: boolean }) => p.ok));
  assert.ok(j.audits.length >= 1);
  assert.equal(j.multa.composicao.num_inconsistencias, 0);
  assert.ok(j.baseline.latency.posts_ok.count > 0);
  assert.equal(typeof j.ratios_to_baseline.post_p99, 'number');
  // --baseline-both: a baseline before the service too; the headline ratio is against their mean.
  assert.ok(j.baseline_before.latency.posts_ok.count > 0);
  const mean_p99 = (j.baseline.latency.posts_ok.p99 + j.baseline_before.latency.posts_ok.p99) / 2;
  assert.ok(Math.abs(j.ratios_to_baseline.post_p99 - j.latency.posts_ok.p99 / mean_p99) < 0.001);
  assert.ok(Math.abs(j.ratios_to_baseline.post_p99_before - j.latency.posts_ok.p99 / j.baseline_before.latency.posts_ok.p99) < 0.001);
  // --baseline-pays: the paying baseline ran too, and the two ratios that place it are there.
  assert.ok(j.baseline_pays.latency.posts_ok.count > 0);
  assert.match(j.baseline_pays.note, /paying baseline/);
  assert.equal(typeof j.ratios_to_baseline.paying_post_p99, 'number');
  assert.equal(typeof j.ratios_to_baseline.post_p99_vs_paying, 'number');

  const svg = readFileSync(join(outDir, 'timeline.svg'), 'utf8');
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\s*$/);
  assert.match(svg, /baseline p99 \/ s/, 'the baseline ran: its p99 line is drawn');
  assert.ok(
    j.baseline.timeline.length >= 3 && j.baseline.timeline.length < j.timeline.length,
    'a baseline point per second of its 3 s run',
  );
  assert.ok(existsSync(join(outDir, 'report.md')));
  assert.match(readFileSync(join(outDir, 'report.md'), 'utf8'), /## Score/);
  assert.match(
    readFileSync(join(outDir, 'report.md'), 'utf8'),
    /## Where the slow requests fell[\s\S]*\| stolen % of demand: service \/ baseline \|/,
  );
});
