// The processor client against a real HTTP server: what each answer means for the payment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProcessorClient } from '../src/pay/client.js';

let server: http.Server;
let origin = '';
const seen: Array<{ method: string; url: string; type: string; body: string }> = [];
// What the server answers for a body's "mode".
const modes: Record<string, (res: http.ServerResponse) => void> = {
  ok: (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"payment processed successfully"}'),
  dup: (res) => res.writeHead(422).end('{"message":"CorrelationId already exists"}'),
  busy: (res) => res.writeHead(429, { 'retry-after': '3' }).end(),
  fail: (res) => res.writeHead(500).end(),
  teapot: (res) => res.writeHead(418).end(),
  hang: () => {}, // never answers: the client's timeout decides
  reset: (res) => res.socket?.destroy(),
};

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'] ?? '', body });
      modes[(JSON.parse(body) as { mode: string }).mode](res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const client = (timeout_ms = 5_000) =>
  new ProcessorClient({ origin, connections: 4, request_timeout_ms: timeout_ms, connect_timeout_ms: 1_000 });

test('200 is stored; the request is a JSON POST to /payments with the given body', async () => {
  const c = client();
  const r = await c.pay('{"mode":"ok","n":1}');
  await c.close();
  assert.deepEqual(r, { outcome: 'ok', status: 200, retry_after_ms: 0 });
  assert.deepEqual(seen.at(-1), { method: 'POST', url: '/payments', type: 'application/json', body: '{"mode":"ok","n":1}' });
});

test('422 means already stored, 429 carries Retry-After, 5xx failed, other 4xx unexpected', async () => {
  const c = client();
  const [dup, busy, fail, teapot] = await Promise.all(['dup', 'busy', 'fail', 'teapot'].map((mode) => c.pay(JSON.stringify({ mode }))));
  await c.close();
  assert.equal(dup.outcome, 'already_stored');
  assert.deepEqual(busy, { outcome: 'rate_limited', status: 429, retry_after_ms: 3_000 });
  assert.deepEqual(fail, { outcome: 'failed', status: 500, retry_after_ms: 0 });
  assert.equal(teapot.outcome, 'unexpected');
});

test('no answer in time, or a connection cut mid-request: unknown (it may be stored)', async () => {
  const c = client(300);
  const [hang, reset] = await Promise.all([c.pay('{"mode":"hang"}'), c.pay('{"mode":"reset"}')]);
  await c.close();
  assert.equal(hang.outcome, 'unknown');
  assert.match(hang.error ?? '', /timeout/i);
  assert.equal(reset.outcome, 'unknown');
});

test('nothing listening: not sent; a closed client: never hangs, not ok', async () => {
  const dead = new ProcessorClient({ origin: 'http://127.0.0.1:1', connections: 1, request_timeout_ms: 1_000, connect_timeout_ms: 500 });
  assert.equal((await dead.pay('{"mode":"ok"}')).outcome, 'not_sent');
  await dead.close();
  const closed = client();
  await closed.close();
  assert.notEqual((await closed.pay('{"mode":"ok"}')).outcome, 'ok');
});
