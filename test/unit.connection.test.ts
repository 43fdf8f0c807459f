// LazyConnection: one connect at a time (a warm-up racing the first batch must not open two
// backends), and a failed connect is forgotten so the next get() tries again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../src/net.js';
import { LazyConnection } from '../src/store/connection.js';

test('concurrent get() calls share one connect attempt; a failed one is retried by the next get()', async () => {
  const port = await freePort(); // nothing listens there
  const conn = new LazyConnection(`postgres://u:p@127.0.0.1:${port}/db`, 'test');
  const a = conn.get();
  const b = conn.get();
  assert.equal(a, b, 'the second caller waits for the first connect');
  await assert.rejects(a, /ECONNREFUSED/);
  const c = conn.get();
  assert.notEqual(c, a, 'after a failure, a new attempt');
  await assert.rejects(c, /ECONNREFUSED/);
});

test('warm() swallows a failed connect (get() reports it later)', async () => {
  const port = await freePort(); // nothing listens there
  const conn = new LazyConnection(`postgres://u:p@127.0.0.1:${port}/db`, 'test');
  conn.warm();
  await assert.rejects(conn.get(), /ECONNREFUSED/);
});
