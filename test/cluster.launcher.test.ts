// npm start's launcher (src/cluster.ts) with everything it starts: the embedded Postgres, the two
// simulators, two instances. Each instance serves its own metrics; killed with SIGKILL, the
// launcher leaves no process and no data directory behind; stopped cleanly, none either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from '../src/net.js';
import { processTree } from '../native-bench/contest/resources.js';
import { DIST, eventually, payment, post } from './support/stack.js';
import { metricValue, parseMetrics } from './support/reliability-metrics.js';

const CLUSTER = join(DIST, 'src', 'cluster.js');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

// A base port with the next one free too (one metrics port per instance).
async function twoFreePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
}

interface Launcher {
  child: ChildProcess;
  tmp: string;
  port: number;
  metrics_port: number;
  out: string[];
}

async function startLauncher(): Promise<Launcher> {
  const tmp = mkdtempSync(join(tmpdir(), 'rinha-launcher-test-'));
  chmodSync(tmp, 0o777); // initdb runs as the postgres user when the test runs as root
  const port = await freePort();
  const metrics_port = await twoFreePorts();
  const out: string[] = [];
  const child = spawn(process.execPath, [CLUSTER], {
    env: {
      ...process.env,
      TMPDIR: tmp,
      PORT: String(port),
      METRICS_PORT: String(metrics_port),
      SIMULATOR_PORT_BASE: '0',
      INSTANCES: '2',
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      PAYMENT_PROCESSOR_URL_DEFAULT: '',
      PAYMENT_PROCESSOR_URL_FALLBACK: '',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
  const up = await eventually(async () => out.join('').includes('rinha-node is up') || child.exitCode !== null, 60_000, 100);
  assert.ok(up && child.exitCode === null, `launcher did not come up: ${out.join('').slice(-2000)}`);
  return { child, tmp, port, metrics_port, out };
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'; // a zombie has stopped; only its parent's wait is missing
  } catch {
    return false;
  }
}

test('each instance serves its own metrics; their accepted payments add up to the requests sent', async () => {
  const l = await startLauncher();
  try {
    const banner = l.out.join('');
    for (const i of [0, 1])
      assert.ok(banner.includes(`http://127.0.0.1:${l.metrics_port + i}/metrics`), `banner names instance ${i}'s metrics`);
    const N = 200;
    for (let i = 0; i < N; i++) assert.equal((await post(`http://127.0.0.1:${l.port}`, '/payments', payment())).status, 202);
    const accepted = await Promise.all(
      [0, 1].map(async (i) => {
        const res = await request(`http://127.0.0.1:${l.metrics_port + i}/metrics`);
        assert.equal(res.statusCode, 200);
        const m = parseMetrics(await res.body.text());
        // every sample carries its instance
        assert.ok(
          m.samples.every((s) => s.labels.rinha_instance === String(i)),
          `instance ${i}: a sample without rinha_instance="${i}"`,
        );
        return metricValue(m, 'rinha_payments_accepted_total');
      }),
    );
    assert.equal(accepted[0] + accepted[1], N, `accepted per instance: ${accepted.join(' + ')}`);
  } finally {
    l.child.kill('SIGKILL');
    await eventually(async () => readdirSync(l.tmp).length === 0, 60_000, 100);
    rmSync(l.tmp, { recursive: true, force: true });
  }
});

test('launcher killed with SIGKILL: every child stops and the data directory is removed', async () => {
  const l = await startLauncher();
  const tree = processTree([l.child.pid!]);
  // the launcher, embedded Postgres (its program and the server's processes), 2 simulators, 2 instances
  assert.ok(tree.length >= 7, `processes under the launcher: ${tree.length}`);
  assert.equal(readdirSync(l.tmp).filter((n) => n.startsWith('rinha-node-pg-')).length, 1, 'one data directory while running');
  l.child.kill('SIGKILL');
  const stopped = await eventually(async () => tree.every((pid) => !alive(pid)), 60_000, 100);
  assert.ok(stopped, `still running: ${tree.filter(alive).join(', ')}`);
  const cleaned = await eventually(async () => readdirSync(l.tmp).length === 0, 30_000, 100);
  assert.ok(cleaned, `left in TMPDIR: ${readdirSync(l.tmp).join(', ')}`);
  rmSync(l.tmp, { recursive: true, force: true });
});

test('launcher stopped with SIGTERM: exit 0, no process and no data directory left', async () => {
  const l = await startLauncher();
  const tree = processTree([l.child.pid!]);
  const code = await new Promise<number | null>((resolve) => {
    l.child.once('exit', (c) => resolve(c));
    l.child.kill('SIGTERM');
  });
  assert.equal(code, 0);
  assert.deepEqual(tree.filter(alive), []);
  assert.ok(existsSync(l.tmp));
  assert.deepEqual(readdirSync(l.tmp), []);
  rmSync(l.tmp, { recursive: true, force: true });
});
