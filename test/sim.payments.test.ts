// POST /payments and GET /payments/{id} of the processor simulator, over real HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { startSimulator, type SimulatorHandle } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';

let sim: SimulatorHandle;
let admin: SimAdmin;

before(async () => {
  sim = await startSimulator({ port: 0, fee: 0.07 });
  admin = new SimAdmin(sim.url);
});
after(async () => {
  await sim.close();
});

async function post(body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(sim.url + '/payments', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function getPayment(id: string): Promise<{ status: number; text: string }> {
  const res = await request(sim.url + '/payments/' + id);
  return { status: res.statusCode, text: await res.body.text() };
}

test('new id -> 200 with the processor message, then visible by id', async () => {
  const id = randomUUID();
  const requestedAt = '2025-07-01T12:00:00.123Z';
  const res = await post({ correlationId: id, amount: 19.9, requestedAt });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.text), { message: 'payment processed successfully' });
  const found = await getPayment(id);
  assert.equal(found.status, 200);
  assert.deepEqual(JSON.parse(found.text), { correlationId: id, amount: 19.9, requestedAt });
});

test('duplicate id -> 422 and nothing more is stored', async () => {
  await admin.purge();
  const id = randomUUID();
  const requestedAt = '2025-07-01T12:00:01.000Z';
  assert.equal((await post({ correlationId: id, amount: 10, requestedAt })).status, 200);
  assert.equal((await post({ correlationId: id, amount: 99, requestedAt: '2025-07-01T13:00:00.000Z' })).status, 422);
  const summary = await admin.summary();
  assert.equal(summary.totalRequests, 1);
  assert.equal(summary.totalAmount, 10);
  assert.equal(JSON.parse((await getPayment(id)).text).requestedAt, requestedAt);
});

test('malformed bodies -> 400 and nothing stored', async () => {
  await admin.purge();
  const id = randomUUID();
  const at = '2025-07-01T12:00:00.000Z';
  const bad: unknown[] = [
    '{not json',
    '',
    '[]',
    { amount: 1, requestedAt: at },
    { correlationId: id, requestedAt: at },
    { correlationId: id, amount: 1 },
    { correlationId: 'not-a-uuid', amount: 1, requestedAt: at },
    { correlationId: id, amount: '1.00', requestedAt: at },
    { correlationId: id, amount: 1, requestedAt: 'yesterday' },
    { correlationId: id, amount: 1, requestedAt: 12345 },
  ];
  for (const body of bad) {
    const res = await post(body);
    assert.equal(res.status, 400, 'body ' + JSON.stringify(body));
  }
  assert.equal((await admin.summary()).totalRequests, 0);
});

test('amount is rounded to 2 decimals (half away from zero) and summed exactly', async () => {
  await admin.purge();
  const cases: Array<[number, number]> = [
    [19.905, 19.91],
    [1.005, 1.01],
    [20.05, 20.05],
    [0.1, 0.1],
    [7.004, 7.0],
  ];
  for (const [sent] of cases) {
    assert.equal((await post({ correlationId: randomUUID(), amount: sent, requestedAt: '2025-07-01T12:00:00.000Z' })).status, 200);
  }
  const ids: string[] = [];
  for (const [sent, stored] of cases) {
    const id = randomUUID();
    ids.push(id);
    await post({ correlationId: id, amount: sent, requestedAt: '2025-07-02T12:00:00.000Z' });
    assert.equal(JSON.parse((await getPayment(id)).text).amount, stored, 'amount ' + sent);
  }
  const summary = await admin.summary('2025-07-02T00:00:00.000Z', '2025-07-02T23:59:59.999Z');
  assert.equal(summary.totalRequests, cases.length);
  assert.equal(summary.totalAmount, 48.07); // 19.91 + 1.01 + 20.05 + 0.10 + 7.00
});

test('requestedAt is stored exactly as sent (text and millisecond)', async () => {
  const id = randomUUID();
  const requestedAt = '2025-07-15T23:59:59.999Z';
  await post({ correlationId: id, amount: 5, requestedAt });
  assert.equal(JSON.parse((await getPayment(id)).text).requestedAt, requestedAt);
  const hit = await admin.summary(requestedAt, requestedAt);
  assert.equal(hit.totalRequests, 1);
  const miss = await admin.summary('2025-07-16T00:00:00.000Z', '2025-07-16T00:00:00.000Z');
  assert.equal(miss.totalRequests, 0);
});

test('GET /payments/{id}: unknown -> 404, upper-case id finds the same payment', async () => {
  assert.equal((await getPayment(randomUUID())).status, 404);
  const id = randomUUID();
  await post({ correlationId: id, amount: 1, requestedAt: '2025-07-01T00:00:00.000Z' });
  assert.equal((await getPayment(id.toUpperCase())).status, 200);
});

test('failure flag -> 500 with empty body, nothing stored; the same id is accepted afterwards', async () => {
  await admin.purge();
  assert.deepEqual(await admin.setFailure(true), { config: 'failure', was: false, is: true });
  const id = randomUUID();
  const body = { correlationId: id, amount: 3, requestedAt: '2025-07-01T00:00:00.000Z' };
  try {
    const res = await post(body);
    assert.equal(res.status, 500);
    assert.equal(res.text, '');
    assert.equal((await getPayment(id)).status, 404);
    assert.equal((await admin.summary()).totalRequests, 0);
  } finally {
    assert.deepEqual(await admin.setFailure(false), { config: 'failure', was: true, is: false });
  }
  assert.equal((await post(body)).status, 200);
});

test('delay: the answer does not come before the delay, and failure applies after it', async () => {
  assert.deepEqual(await admin.setDelay(300), { config: 'delay', was: 0, is: 300 });
  try {
    let started = performance.now();
    assert.equal((await post({ correlationId: randomUUID(), amount: 1, requestedAt: '2025-07-01T00:00:00.000Z' })).status, 200);
    assert.ok(performance.now() - started >= 295, 'answered before the 300 ms delay');
    await admin.setFailure(true);
    started = performance.now();
    assert.equal((await post({ correlationId: randomUUID(), amount: 1, requestedAt: '2025-07-01T00:00:00.000Z' })).status, 500);
    assert.ok(performance.now() - started >= 295, 'the failure came before the delay');
  } finally {
    await admin.setFailure(false);
    await admin.setDelay(0);
  }
});

test('a client that gives up during the delay does not cancel the store', async () => {
  await admin.setDelay(300);
  const id = randomUUID();
  try {
    const aborted = request(sim.url + '/payments', {
      method: 'POST',
      body: JSON.stringify({ correlationId: id, amount: 2, requestedAt: '2025-07-01T00:00:00.000Z' }),
      signal: AbortSignal.timeout(50),
    });
    await assert.rejects(aborted);
    assert.equal((await getPayment(id)).status, 404, 'stored before the delay ran out');
    // Bounded wait for the delayed store to land.
    let status = 404;
    for (let i = 0; i < 50 && status === 404; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await getPayment(id)).status;
    }
    assert.equal(status, 200);
  } finally {
    await admin.setDelay(0);
  }
});

test('every answer tells keep-alive clients to retire the connection before the server would close it idle', async () => {
  // uWS closes a connection idle for 10 s; a client that sends on it at that moment loses the
  // request. undici retires a connection at the hinted timeout less 1 s.
  const answers = [
    await request(sim.url + '/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ correlationId: randomUUID(), amount: 1, requestedAt: '2025-07-01T00:00:00.000Z' }),
    }),
    await request(sim.url + '/payments/service-health'),
    await request(sim.url + '/payments/' + randomUUID()),
  ];
  for (const res of answers) {
    await res.body.text();
    const hint = /^timeout=(\d+)$/.exec(String(res.headers['keep-alive']));
    assert.ok(hint, `keep-alive header: ${String(res.headers['keep-alive'])}`);
    assert.ok(Number(hint[1]) < 10, 'the hint is below the server idle close');
  }
});

test('unknown route -> 404', async () => {
  const res = await request(sim.url + '/nope');
  await res.body.text();
  assert.equal(res.statusCode, 404);
});

test('a body over 16 KiB -> 413, nothing stored', async () => {
  const before_count = (await admin.stats()).stored;
  const res = await post({ correlationId: randomUUID(), amount: 1, requestedAt: '2025-07-01T00:00:00.000Z', pad: 'x'.repeat(20_000) });
  assert.equal(res.status, 413);
  assert.equal((await admin.stats()).stored, before_count);
});

test('clients that vanish mid-body leave no limiter slot behind', async () => {
  const { connect } = await import('node:net');
  const port = Number(new URL(sim.url).port);
  for (let i = 0; i < 5; i += 1) {
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST /payments HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"correl');
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 30);
      });
      socket.on('error', () => resolve());
    });
  }
  let stats = await admin.stats();
  for (let i = 0; i < 50 && stats.running > 0; i += 1) {
    await new Promise((r) => setTimeout(r, 10));
    stats = await admin.stats();
  }
  assert.equal(stats.running, 0);
  assert.equal(stats.queued, 0);
  assert.equal((await post({ correlationId: randomUUID(), amount: 1, requestedAt: '2025-07-01T00:00:00.000Z' })).status, 200);
});
