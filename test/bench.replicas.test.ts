import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spread, t95 } from '../native-bench/contest/spread.js';

test('spread: median, mean with a Student-t interval, geometric mean, count at or under the target', () => {
  const s = spread([1.4, 1.0, 1.2], 1.1);
  assert.equal(s.n, 3);
  assert.equal(s.median, 1.2);
  assert.equal(s.mean, 1.2);
  assert.equal(s.sd, 0.2);
  assert.deepEqual(s.ci95, [0.703, 1.697]); // 1.2 ± 4.303 · 0.2 / √3
  assert.equal(s.geo_mean, 1.189);
  assert.equal(s.at_or_below, 1);
  assert.deepEqual(spread([0.9, 1.1, 1.3, 1.5], 1.1).median, 1.2, 'even count: the middle two');
  assert.deepEqual(spread([1.05], 1.1).ci95, [1.05, 1.05], 'one replica: no interval to speak of');
  assert.throws(() => spread([], 1.1), /no ratios/);
  assert.throws(() => spread([1, -1], 1.1), /positive/);
  assert.equal(t95(1), 12.706);
  assert.equal(t95(40), 1.96);
  assert.throws(() => t95(0), /degrees of freedom/);
});

// Two result.json files as bench:contest writes them (only the fields the summary reads).
function result(ratio: number, service_p99: number, stolen: number, extra: number[] | null, baseline_stolen = stolen) {
  return {
    total_liquido: 1880000.5,
    multa: { composicao: { num_inconsistencias: 0 } },
    lag: { lag: 0 },
    lag_after_drain: { lag: 0 },
    pagamentos_solicitados: { qtd_sucesso: 90000 },
    bench: { started_at: '2026-11-26T14:35:50.000Z', duration_s: 300 },
    latency: { posts_ok: { p99: service_p99 } },
    baseline: {
      latency: { posts_ok: { p99: service_p99 / ratio } },
      resources: { machine_load: { busy_pct: 5, steal_pct: baseline_stolen } },
    },
    baseline_before: null,
    ratios_to_baseline: { post_p99: ratio },
    resources: { cgroups: [{ cpu_seconds: 36.9 }], machine_load: { busy_pct: 10, steal_pct: stolen } },
    tail_by_phase: extra ? { buckets: extra.map((e) => ({ extra: e })) } : null,
  };
}

test('bench:replicas lists each replica and summarizes the ratio, leaving out the disturbed ones when asked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'replicas-'));
  try {
    const a = join(dir, 'a-rep1');
    const b = join(dir, 'b-rep2');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'result.json'), JSON.stringify(result(1.0, 4, 0.1, [10, 30])));
    writeFileSync(join(b, 'result.json'), JSON.stringify(result(1.5, 6, 4.2, [50, 70], 1.25)));
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'native-bench', 'contest', 'replicas.js');
    const all = execFileSync(process.execPath, [cli, a, join(b, 'result.json')], { encoding: 'utf8' });
    assert.match(
      all,
      /\| a-rep1 \| 2026-11-26 14:35 \| 300 \| 4\.00 \| 4\.00 \| ×1\.000 \| 1,880,001 \| 0 \| 0 \/ 0 \| 410 \| 0\.10 \| 1\.0 \/ 2\.0 \|/,
    );
    assert.match(all, /\| b-rep2 \|.*\| ×1\.500 \|.*\| 4\.20 \| 29\.6 \/ 20\.0 \|/); // 4.2 of 14.2 wanted; 1.25 of 6.25
    assert.match(all, /over 2 replicas: median ×1\.25, mean ×1\.25/);
    assert.match(all, /1 of 2 at or under ×1\.1/);
    assert.match(all, /mean of 2: 30, 50 \(total 80\)/);
    const calm = execFileSync(process.execPath, [cli, '--max-stolen', '1', a, b], { encoding: 'utf8' });
    assert.match(calm, /over 1 replica \(1 left out: no baseline or more than 1 % stolen\): median ×1, mean ×1/);
    assert.match(calm, /mean of 1: 10, 30 \(total 40\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
