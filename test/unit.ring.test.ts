// When a push wakes a parked consumer, and when parking returns without sleeping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../src/queue/ring.js';

const record = (n: number) => ({ id: new Uint8Array(16).fill(n), amount_cents: 100 + n, accepted_at_ms: 1_700_000_000_000 + n, flags: 0 });
const LONG_MS = 60_000; // never reached when the wake-up works; the test would hang, not pass

// Atomics.waitAsync's timeout does not keep Node's event loop alive (a worker's parentPort does).
let keepAlive: NodeJS.Timeout;
before(() => {
  keepAlive = setInterval(() => {}, 1_000);
});
after(() => clearInterval(keepAlive));

test('the first push into an empty ring wakes the parked consumer', async () => {
  const ring = Ring.create(8);
  const parked = ring.waitForRecords(LONG_MS);
  assert.equal(ring.wakeups(), 0);
  assert.equal(ring.push(record(1)), true);
  assert.equal(ring.push(record(2)), true); // the wake-up is already sent: once per sleep
  assert.equal(ring.wakeups(), 1);
  assert.equal(await parked, 'woken');
  assert.equal(await ring.waitForRecords(LONG_MS), 'ready');
});

test('a consumer that is not parked is not woken: the push is no system call', async () => {
  const ring = Ring.create(8);
  for (let i = 0; i < 3; i++) assert.equal(ring.push(record(i)), true);
  assert.equal(ring.wakeups(), 0);
  // Records already wait: parking returns at once without sleeping.
  assert.equal(await ring.waitForRecords(LONG_MS), 'ready');
  let n = 0;
  while (ring.pop() !== null) n++;
  assert.equal(n, 3);
  // Empty again, parked with a short timeout and nobody pushing: it times out.
  assert.equal(await ring.waitForRecords(1), 'timed-out');
});

test('wakeAll wakes a parked consumer', async () => {
  const ring = Ring.create(8);
  const parked = ring.waitForRecords(LONG_MS);
  ring.wakeAll();
  assert.equal(await parked, 'woken');
});
