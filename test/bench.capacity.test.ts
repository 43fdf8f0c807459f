// bench:capacity end to end on the two baselines (no fixed port, real processor simulators): the
// steps' counts add up, the paying baseline's payments all reach the processors, and the files
// are written. The knee rule on its own, with steps in and out of the bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knee } from '../native-bench/capacity/report.js';
import type { StepResult } from '../native-bench/capacity/step.js';
import { parseCapacityOptions } from '../native-bench/capacity/options.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the knee is the last rate of an unbroken run of steps within the bound', () => {
  const step = (rate_per_s: number, within_bound: boolean, sustained = within_bound) =>
    ({ rate_per_s, within_bound, sustained }) as StepResult;
  assert.equal(knee([step(500, true), step(1000, true), step(2000, false), step(4000, true)]), 1000);
  assert.equal(knee([step(500, true), step(1000, false, true), step(2000, false, false)], true), 1000);
  assert.equal(knee([step(500, false), step(1000, true)]), null);
  assert.equal(knee([]), null);
});

test('options: rates ascend, the warm-up is shorter than a step, targets are known', () => {
  assert.deepEqual(parseCapacityOptions([]).rates, [500, 1000, 2000, 4000, 6000, 8000]);
  assert.throws(() => parseCapacityOptions(['--rates', '2000,1000']), /ascending/);
  assert.throws(() => parseCapacityOptions(['--step-s', '5', '--warmup-s', '5']), /shorter/);
  assert.throws(() => parseCapacityOptions(['--targets', 'service,other']), /unknown target/);
});

test('two short steps against both baselines write a consistent result', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-capacity-'));
  try {
    const bench = spawn(
      process.execPath,
      [
        join(dist, 'native-bench', 'capacity', 'main.js'),
        '--targets',
        'baseline,baseline-pays',
        '--rates',
        '200,400',
        '--step-s',
        '3',
        '--warmup-s',
        '1',
        '--connections',
        '16',
        '--default-port',
        '0',
        '--fallback-port',
        '0',
        '--no-limits',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    bench.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((r) => bench.once('exit', r));
    assert.equal(code, 0, stderr.slice(-3000));
    const j = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.deepEqual(
      j.targets.map((t: { name: string }) => t.name),
      ['baseline', 'baseline-pays'],
    );
    for (const t of j.targets) {
      assert.deepEqual(
        t.steps.map((s: StepResult) => s.rate_per_s),
        [200, 400],
      );
      for (const s of t.steps as StepResult[]) {
        assert.equal(s.measured, s.rate_per_s * 2);
        assert.equal(s.accepted + s.refused, s.measured);
        assert.equal(s.latency.count + s.generator.dropped, s.measured);
        assert.equal(s.seconds.length, 3);
      }
    }
    const paying = j.targets[1].steps as StepResult[];
    for (const s of paying) {
      assert.ok(s.summary !== null);
      assert.equal(s.summary.backend, null); // the paying baseline keeps no summary
    }
    assert.ok(
      paying.every((s) => s.summary!.exact),
      'every accepted payment reached the default processor',
    );
    for (const f of ['report.md', 'latency.svg']) assert.ok(existsSync(join(out, f)), f);
    assert.match(readFileSync(join(out, 'latency.svg'), 'utf8'), /<polyline/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
