// The load generators' lean HTTP client against a real HTTP server: each way an answer can end
// (no body, a sized body in pieces, a chunked body, a closed connection), a request that is never
// answered (timeout: status 0, and the connection serves the next request), and keep-alive reuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LeanHttp, postRequest } from '../native-bench/lib/lean-http.js';

let server: http.Server;
let port = 0;
let sockets_seen = 0;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/empty') res.writeHead(202, { 'content-length': '0' }).end();
      else if (req.url === '/sized') {
        res.writeHead(200, { 'content-length': '10' });
        res.write('hello');
        setImmediate(() => res.end('world'));
      } else if (req.url === '/chunked') {
        res.writeHead(201, { 'transfer-encoding': 'chunked' });
        res.write('abc');
        setImmediate(() => res.end('def'));
      } else if (req.url === '/close') res.writeHead(503, { connection: 'close', 'content-length': '2' }).end('no');
      // '/never': no answer
    });
  });
  server.on('connection', () => {
    sockets_seen++;
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

// Sends the requests one after another on connection 0, resolving with each one's status.
function sequence(paths: string[], timeout_ms = 5_000): Promise<number[]> {
  return new Promise((resolve) => {
    const statuses: number[] = [];
    const client = new LeanHttp({
      host: '127.0.0.1',
      port,
      connections: 1,
      timeout_ms,
      onDone: (_conn, status) => {
        statuses.push(status);
        if (statuses.length === paths.length) {
          client.close();
          resolve(statuses);
        } else client.send(0, postRequest(`127.0.0.1:${port}`, paths[statuses.length], '{"a":1}'));
      },
    });
    client.send(0, postRequest(`127.0.0.1:${port}`, paths[0], '{"a":1}'));
  });
}

test('every way an answer ends is read, on one kept-alive connection', async () => {
  const before_n = sockets_seen;
  assert.deepEqual(await sequence(['/empty', '/sized', '/chunked', '/empty', '/sized']), [202, 200, 201, 202, 200]);
  assert.equal(sockets_seen - before_n, 1);
});

test('a connection the server closes is opened again for the next request', async () => {
  const before_n = sockets_seen;
  assert.deepEqual(await sequence(['/close', '/empty', '/close', '/empty']), [503, 202, 503, 202]);
  assert.equal(sockets_seen - before_n, 3);
});

test('an unanswered request fails with status 0 and the next one is sent on a new connection', async () => {
  const before_n = sockets_seen;
  assert.deepEqual(await sequence(['/never', '/empty'], 100), [0, 202]);
  assert.equal(sockets_seen - before_n, 2);
});

test('several connections carry requests at once', async () => {
  const n = 8;
  const statuses = await new Promise<number[]>((resolve) => {
    const got: number[] = [];
    const client = new LeanHttp({
      host: '127.0.0.1',
      port,
      connections: n,
      timeout_ms: 5_000,
      onDone: (conn, status) => {
        assert.equal(client.isBusy(conn), false);
        got.push(status);
        if (got.length === n) {
          client.close();
          resolve(got);
        }
      },
    });
    for (let i = 0; i < n; i++) client.send(i, postRequest('x', i % 2 ? '/sized' : '/chunked', '{}'));
    for (let i = 0; i < n; i++) assert.equal(client.isBusy(i), true);
  });
  assert.deepEqual(statuses.sort(), [200, 200, 200, 200, 201, 201, 201, 201]);
});
