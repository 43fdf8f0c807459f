// LazyConnection: one connect at a time (a warm-up racing the first batch must not open two
// backends), and a failed connect is forgotten so the next get() tries again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { LazyConnection } from '../src/store/connection.js';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('concurrent get() calls share one connect attempt; a failed one is retried by the next get()', async () => {
  const port = await closedPort();
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
  const port = await closedPort();
  const conn = new LazyConnection(`postgres://u:p@127.0.0.1:${port}/db`, 'test');
  conn.warm();
  await assert.rejects(conn.get(), /ECONNREFUSED/);
});
