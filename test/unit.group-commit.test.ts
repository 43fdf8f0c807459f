// Group commit: what one turn of the loop queues leaves together; more queued meanwhile follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../src/store/group-commit.js';

test('items queued in one turn go in one flush; items queued during it go in the next', async () => {
  const queue: number[] = [];
  const flushes: number[][] = [];
  let idle!: () => void;
  const idled = new Promise<void>((r) => (idle = r));
  const commit = new GroupCommit(
    async () => {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        flushes.push(batch);
        if (batch[0] === 1) { queue.push(4); commit.kick(); } // arrives while this flush runs
        await new Promise((r) => setImmediate(r));
      }
    },
    () => queue.length > 0,
    () => idle(),
  );
  for (const n of [1, 2, 3]) { queue.push(n); commit.kick(); }
  assert.equal(commit.busy, true);
  assert.deepEqual(flushes, [], 'nothing leaves in the turn that queued it');
  await idled;
  assert.deepEqual(flushes, [[1, 2, 3], [4]]);
  assert.equal(commit.busy, false);
});
