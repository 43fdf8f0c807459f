// The ack queue (DURABILITY=strict): tickets pushed by worker threads reach the front thread's
// drain exactly once, and a wake-up comes for every batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { AckQueue } from '../src/queue/acks.js';

test('push and pop keep order; a full queue refuses; an empty one gives 0', () => {
  const q = AckQueue.create(4);
  assert.equal(q.pop(), 0);
  for (const t of [7, 8, 9, 10]) assert.equal(q.push(t), true);
  assert.equal(q.push(11), false);
  assert.deepEqual([q.pop(), q.pop()], [7, 8]);
  assert.equal(q.push(11), true);
  assert.deepEqual([q.pop(), q.pop(), q.pop(), q.pop()], [9, 10, 11, 0]);
  assert.throws(() => AckQueue.create(6), RangeError);
});

test('tickets acked by two worker threads are each drained once by the watching thread', async () => {
  const PER_WORKER = 5_000;
  const q = AckQueue.create(16_384);
  const seen = new Uint8Array(2 * PER_WORKER + 1);
  let drained = 0;
  let duplicates = 0;
  const done = new Promise<void>((resolve) => {
    const w = q.watch(() => {
      for (let t = q.pop(); t !== 0; t = q.pop()) {
        if (seen[t]++ > 0) duplicates++;
        drained++;
      }
      if (drained === 2 * PER_WORKER) {
        w.stop();
        resolve();
      }
    });
  });
  // Each worker acks its tickets in batches of 100, one turn each (one wake-up per batch).
  const module = JSON.stringify(new URL('../src/queue/acks.js', import.meta.url).href);
  const source = `
    const { workerData } = require('node:worker_threads');
    import(${module}).then(({ AckQueue }) => {
      const q = AckQueue.attach(workerData.sab);
      const end = workerData.first + workerData.n;
      let next = workerData.first;
      const batch = () => {
        for (let i = 0; i < 100 && next < end; i++) q.ack(next++);
        if (next < end) setImmediate(batch);
      };
      batch();
    });`;
  const exited = [1, 1 + PER_WORKER].map((first) => {
    const w = new Worker(source, { eval: true, workerData: { sab: q.sab, first, n: PER_WORKER } });
    return new Promise((resolve) => w.once('exit', resolve));
  });
  // A pending Atomics.waitAsync holds no handle of its own (in the service, uWS keeps the loop).
  const alive = setInterval(() => {}, 1_000);
  await done;
  clearInterval(alive);
  await Promise.all(exited);
  assert.equal(duplicates, 0);
  assert.equal(drained, 2 * PER_WORKER);
});
