// The worker thread of a real instance: it names itself (rinha-worker-0), runs at the front's
// priority while cold, and drops to WORKER_NICE once it has taken its first 1,000 payments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseStatTicks } from '../native-bench/lib/threads.js';
import { post, startStack } from './support/stack.js';

function workerThread(pid: number): { tid: string; nice: number } | undefined {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== 'rinha-worker-0') continue;
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    parseStatTicks(stat); // a well-formed stat line
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19 overall
    return { tid, nice };
  }
  return undefined;
}

test('the worker runs at nice 0 while cold and at WORKER_NICE after its first 1,000 payments', {
  skip: process.platform !== 'linux' && 'Linux /proc only',
  timeout: 120_000,
}, async () => {
  const stack = await startStack({ instances: 1, env: { WORKER_NICE: '7' } });
  try {
    const inst = stack.instances[0];
    const before = workerThread(inst.child.pid!);
    assert.ok(before, 'a thread named rinha-worker-0');
    assert.equal(before.nice, 0);

    for (let sent = 0; sent < 1_100; sent += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          post(inst.url, '/payments', JSON.stringify({ correlationId: crypto.randomUUID(), amount: 1.5 })).then((r) =>
            assert.equal(r.status, 202),
          ),
        ),
      );
    }
    let after = workerThread(inst.child.pid!);
    for (let i = 0; i < 300 && after?.nice !== 7; i++) {
      await new Promise((r) => setTimeout(r, 100)); // the worker takes the ring on its next tick
      after = workerThread(inst.child.pid!);
    }
    assert.equal(after?.tid, before.tid);
    assert.equal(after?.nice, 7);
  } finally {
    await stack.stop();
  }
});
