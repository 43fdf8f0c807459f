// The contest replica's load generators (the C one, compiled here, and the Node one) against a real
// HTTP server that counts what it receives and answers in each way an answer can end: every request
// the generator reports is one the server received, with the status the server gave it; each
// carries its own uuid v4; a request the server never answers is a failure (status 0) and the VU
// goes on on a new connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildCGenerator } from '../native-bench/contest/loadgen-native.js';
import { isAccepted, nowEpochMs, runLoad, type Generator, type LoadTick } from '../native-bench/contest/loadgen.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const NEVER_ANSWERED = 2; // the third request the server receives gets no answer

let server: http.Server;
let url = '';
// Per run: each request's correlationId in the order received, and the status it was answered with.
let received: { id: string; status: number | null }[] = [];
let connections = 0;

// The answer for the n-th request: no body, a sized body in two writes, a chunked body, a close.
function answer(n: number, res: http.ServerResponse): number | null {
  if (n === NEVER_ANSWERED) return null;
  switch (n % 4) {
    case 0:
      res.writeHead(202, { 'content-length': '0' }).end();
      return 202;
    case 1:
      res.writeHead(200, { 'content-length': '10' });
      res.write('hello');
      setImmediate(() => res.end('world'));
      return 200;
    case 2:
      res.writeHead(201, { 'transfer-encoding': 'chunked' });
      res.write('abc');
      setImmediate(() => res.end('def'));
      return 201;
    default:
      res.writeHead(503, { connection: 'close', 'content-length': '2' }).end('no');
      return 503;
  }
}

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (s: string) => {
      body += s;
    });
    req.on('end', () => {
      const n = received.length;
      const id = (JSON.parse(body) as { correlationId: string }).correlationId;
      received.push({ id, status: null });
      received[n].status = answer(n, res);
    });
  });
  server.on('connection', () => {
    connections++;
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const built = buildCGenerator();

test('the C generator compiles with the system compiler', () => {
  assert.ok('binary' in built, 'error' in built ? built.error : '');
});

const generators: [string, () => Generator][] = [
  ['C', () => ('binary' in built ? { kind: 'c', binary: built.binary } : assert.fail(built.error))],
  ['Node', () => ({ kind: 'node' })],
];

for (const [name, generator] of generators) {
  test(`${name} generator: what it reports is what the server received, and an unanswered request failed`, async () => {
    received = [];
    connections = 0;
    const users = 6;
    const ticks: LoadTick[] = [];
    const load = runLoad(
      { target_url: url, duration_s: 3, users, amount: 19.9, timeout_ms: 300, start_epoch_ms: nowEpochMs() + 200, record_ids: true },
      (t) => ticks.push(t),
      generator(),
    );
    assert.equal(load.pid === null, name === 'Node');
    const done = await load.done;
    await load.stop();

    assert.equal(done.count, received.length);
    assert.ok(done.count > users, `${done.count} requests`);
    const ids = received.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'a fresh correlationId per request');
    for (const id of ids) assert.match(id, UUID_V4);

    // The statuses reported are those the server gave; the unanswered one is a failure.
    const sent = received.map((r) => r.status ?? 0).sort();
    assert.deepEqual([...done.status].sort(), sent);
    assert.equal(done.status.filter((s) => s === 0).length, 1);
    const answered_2xx = received.filter((r) => r.status !== null && isAccepted(r.status)).map((r) => r.id);
    assert.deepEqual([...(done.accepted_ids ?? [])].sort(), answered_2xx.sort());

    // Each 503 closed its connection and the timeout closed one: each was opened again.
    const closed = received.filter((r) => r.status === 503).length + 1;
    assert.ok(connections > closed, `${connections} connections for ${closed} closed`);

    // Every request has a start within the run and a duration; the ticks account for them.
    for (let i = 0; i < done.count; i++) {
      assert.ok(done.start_ms[i] >= 0 && done.start_ms[i] < 3000, `start ${done.start_ms[i]}`);
      assert.ok(done.dur_ms[i] > 0, `duration ${done.dur_ms[i]}`);
    }
    assert.ok(ticks.length >= 2, `${ticks.length} ticks`);
    const ok_in_ticks = ticks.reduce((s, t) => s + t.ok, 0);
    assert.ok(ok_in_ticks <= answered_2xx.length && ok_in_ticks > 0);
    for (const t of ticks) assert.equal(t.ok_durations_ms.length, t.ok);
    assert.ok(done.cpu_ms > 0);
  });
}
