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
        if (batch[0] === 1) {
          queue.push(4);
          commit.kick();
        } // arrives while this flush runs
        await new Promise((r) => setImmediate(r));
      }
    },
    () => queue.length > 0,
    () => idle(),
  );
  for (const n of [1, 2, 3]) {
    queue.push(n);
    commit.kick();
  }
  assert.equal(commit.busy, true);
  assert.deepEqual(flushes, [], 'nothing leaves in the turn that queued it');
  await idled;
  assert.deepEqual(flushes, [[1, 2, 3], [4]]);
  assert.equal(commit.busy, false);
});

test('with a linger, the first flush after an idle spell waits for the rest of its burst; the next follows at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] }); // the linger's clock; setImmediate stays real
  const queue: number[] = [];
  const flushes: number[][] = [];
  let release!: () => void;
  let idle!: () => void;
  const idled = new Promise<void>((r) => (idle = r));
  const commit = new GroupCommit(
    async () => {
      flushes.push(queue.splice(0)); // one batch per flush: what queues meanwhile needs the next
      if (flushes.length === 1) await new Promise<void>((r) => (release = r)); // a COPY in flight
    },
    () => queue.length > 0,
    () => idle(),
    5,
  );
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  queue.push(1);
  commit.kick();
  await turn();
  queue.push(2); // a later turn, inside the linger
  commit.kick();
  await turn();
  t.mock.timers.tick(4);
  await turn();
  assert.deepEqual(flushes, [], 'nothing leaves before the linger ends');
  t.mock.timers.tick(1);
  await turn();
  assert.deepEqual(flushes, [[1, 2]], 'the burst leaves in one flush');
  queue.push(3); // queued while that flush is in flight
  commit.kick();
  release();
  await idled; // no timer ticked: a new linger would never end
  assert.deepEqual(flushes, [[1, 2], [3]], 'what queued during a flush follows it without a new linger');
});

test('a linger is a whole number of ms, 0 or more', () => {
  for (const bad of [-1, 1.5, Number.NaN])
    assert.throws(
      () =>
        new GroupCommit(
          async () => {},
          () => false,
          () => {},
          bad,
        ),
    );
  assert.doesNotThrow(
    () =>
      new GroupCommit(
        async () => {},
        () => false,
        () => {},
        0,
      ),
  );
});
