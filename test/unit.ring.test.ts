// When a push wakes a parked consumer: at once (wake depth 1) or only once a batch waits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../src/queue/ring.js';

const record = (n: number) => ({ id: new Uint8Array(16).fill(n), amount_cents: 100 + n, accepted_at_ms: 1_700_000_000_000 + n, requested_at_ms: 0, attempts: 0, pinned: 0, flags: 0 });
const LONG_MS = 60_000; // never reached when the wake-up works; the test would hang, not pass

// Atomics.waitAsync's timeout does not keep Node's event loop alive (a worker's parentPort does).
let keepAlive: NodeJS.Timeout;
before(() => { keepAlive = setInterval(() => {}, 1_000); });
after(() => clearInterval(keepAlive));

test('wake depth 1: the first push into an empty ring wakes the parked consumer', async () => {
  const ring = Ring.create(8);
  const parked = ring.waitForRecords(LONG_MS);
  assert.equal(ring.push(record(1)), true);
  assert.equal(await parked, 'woken');
  assert.equal(await ring.waitForRecords(LONG_MS), 'ready');
});

test('wake depth 4: pushes below the depth leave the consumer to its timeout, the 4th wakes it', async () => {
  const ring = Ring.create(8, 4);
  const first = ring.waitForRecords(1);
  for (let i = 0; i < 3; i++) assert.equal(ring.push(record(i)), true);
  assert.equal(await first, 'timed-out');
  // 3 records wait: a consumer that parks anyway (it chose to) is woken by the push reaching 4.
  const second = (async () => {
    // park() sees records and returns 'ready' at once; drain to empty, then park for real.
    while (ring.pop() !== null);
    return ring.waitForRecords(LONG_MS);
  })();
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 4; i++) assert.equal(ring.push(record(10 + i)), true);
  assert.equal(await second, 'woken');
  let n = 0;
  while (ring.pop() !== null) n++;
  assert.equal(n, 4, 'every record pushed after the drain is still there, once');
});

test('wakeAll wakes a consumer whatever the depth', async () => {
  const ring = Ring.create(8, 8);
  const parked = ring.waitForRecords(LONG_MS);
  ring.wakeAll();
  assert.equal(await parked, 'woken');
});

test('a wake depth outside [1, slots] is refused', () => {
  assert.throws(() => Ring.create(8, 0), /wake depth/);
  assert.throws(() => Ring.create(8, 9), /wake depth/);
});
