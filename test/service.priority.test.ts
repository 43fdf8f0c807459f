// The threads of a real instance and the embedded Postgres yield to the front: the worker names
// itself (rinha-worker-0), runs at the front's priority and slice while cold, and takes WORKER_NICE
// and WORKER_SLICE_US once it has taken its first 1,000 payments; Postgres runs at
// EMBEDDED_PG_NICE with EMBEDDED_PG_SLICE_US, down to the backend of each connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { parseStatTicks } from '../native-bench/lib/threads.js';
import { readSliceNs } from '../src/sched.js';
import { EMBEDDED_PG, post, startStack, stopProcess, waitForLine } from './support/stack.js';

// Custom slices are EEVDF's (Linux >= 6.12); /proc shows se.slice there and nowhere else.
const slices = readSliceNs(process.pid) !== null;
const default_slice_ns = readSliceNs(process.pid);

function niceOf(pid: number, tid: number = pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  parseStatTicks(stat); // a well-formed stat line
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19 overall
}

function workerThread(pid: number): { tid: number; nice: number; slice_ns: number | null } | undefined {
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== 'rinha-worker-0') continue;
    return { tid, nice: niceOf(pid, tid), slice_ns: readSliceNs(pid, tid) };
  }
  return undefined;
}

test('the worker runs like the front while cold, and at WORKER_NICE and WORKER_SLICE_US after its first 1,000 payments', { skip: process.platform !== 'linux' && 'Linux /proc only', timeout: 120_000 }, async (t) => {
  const stack = await startStack({ instances: 1, env: { WORKER_NICE: '7', WORKER_SLICE_US: '30000' } });
  try {
    const inst = stack.instances[0];
    const before = workerThread(inst.child.pid!);
    assert.ok(before, 'a thread named rinha-worker-0');
    assert.equal(before.nice, 0);
    assert.equal(before.slice_ns, default_slice_ns);

    for (let sent = 0; sent < 1_100; sent += 50) {
      await Promise.all(Array.from({ length: 50 }, () =>
        post(inst.url, '/payments', JSON.stringify({ correlationId: crypto.randomUUID(), amount: 1.5 })).then((r) => assert.equal(r.status, 202))));
    }
    const lowered = (w: ReturnType<typeof workerThread>): boolean => w?.nice === 7 && (!slices || w.slice_ns === 30_000_000);
    let after = workerThread(inst.child.pid!);
    for (let i = 0; i < 300 && !lowered(after); i++) {
      await new Promise((r) => setTimeout(r, 100)); // the worker takes the ring on its next tick
      after = workerThread(inst.child.pid!);
    }
    assert.equal(after?.tid, before.tid);
    assert.equal(after?.nice, 7);
    if (slices) assert.equal(after?.slice_ns, 30_000_000);
    else t.diagnostic('this kernel has no custom slices (Linux < 6.12): slice not checked');
    assert.equal(readSliceNs(inst.child.pid!), default_slice_ns, 'the front keeps the default slice');
  } finally {
    await stack.stop();
  }
});

// The postgres processes under a pid (the embedded program forks the postmaster, which forks one
// backend per connection).
function postgresUnder(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const under = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  };
  return [...parent.keys()].filter((pid) => under(pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('postgres'));
}

test('embedded Postgres and its backends run at EMBEDDED_PG_NICE with EMBEDDED_PG_SLICE_US', { skip: (process.platform !== 'linux' && 'Linux /proc only') || (!slices && 'this kernel has no custom slices (Linux < 6.12)'), timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [EMBEDDED_PG], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, EMBEDDED_PG_NICE: '4', EMBEDDED_PG_SLICE_US: '25000' } });
  try {
    const m = await waitForLine(child, (x) => x.event === 'listening');
    const client = new pg.Client({ connectionString: String(m.url) });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const procs = postgresUnder(child.pid!);
      assert.ok(procs.includes(rows[0].pid), 'the backend serving this connection is among them');
      assert.ok(procs.length >= 3, `the postmaster, its helpers and a backend: ${procs.length}`);
      for (const pid of procs) {
        assert.equal(niceOf(pid), 4, `nice of postgres ${pid}`);
        assert.equal(readSliceNs(pid), 25_000_000, `slice of postgres ${pid}`);
      }
    } finally {
      await client.end();
    }
  } finally {
    await stopProcess(child);
  }
});
