// Smoke runs of the HTTP bench CLI against the do-nothing baseline only, so the bench cannot rot:
// real autocannon load over real HTTP, the JSON/Markdown report, CPU accounting from /proc.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HTTP_MAIN = fileURLToPath(new URL('../native-bench/http/main.js', import.meta.url));
const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [HTTP_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += String(d)));
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

interface Report {
  rows: Array<{
    server: string;
    rate: number | 'max';
    requests: number;
    req_per_s: number;
    non2xx: number;
    errors: number;
    cpu_ms_per_1000_req: number | null;
    latency_ms: { p50: number; p99: number; samples: number };
  }>;
}

test('bench:http --baseline-only --duration 1 measures a fixed rate and saturation and writes JSON + Markdown', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'http-bench-'));
  dirs.push(dir);
  const r = await run(['--baseline-only', '--duration', '1', '--warmup', '0', '--rates', '300,max', '--connections', '10', '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| 300 \| baseline \|/);
  assert.match(r.stdout, /\| max \| baseline \|/);
  const report = JSON.parse(readFileSync(join(dir, 'http.json'), 'utf8')) as Report;
  assert.deepEqual(
    report.rows.map((row) => [row.server, row.rate]),
    [
      ['baseline', 300],
      ['baseline', 'max'],
    ],
  );
  for (const row of report.rows) {
    assert.ok(row.requests > 0);
    assert.equal(row.non2xx, 0);
    assert.equal(row.errors, 0);
    assert.equal(row.latency_ms.samples, row.requests); // every response was a 2xx and was timed
    assert.ok(row.latency_ms.p99 >= row.latency_ms.p50);
    if (process.platform === 'linux') assert.notEqual(row.cpu_ms_per_1000_req, null);
  }
  assert.ok(existsSync(join(dir, 'http.md')));
});

test('bench:http rejects bad options with exit 2', async () => {
  for (const args of [['--rates', 'fast'], ['--duration', '0'], ['--bogus'], ['--pids', '1'], ['--baseline-only', '--cpu-prof']]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /http bench:/);
  }
});
