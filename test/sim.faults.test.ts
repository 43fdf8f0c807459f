// Our extra fault modes (hang, reset, garbage, slow-body): what the client sees and what is stored.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { request } from 'undici';
import { startSimulator, type SimulatorHandle } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';

let sim: SimulatorHandle;
let admin: SimAdmin;

before(async () => {
  sim = await startSimulator({ port: 0, fee: 0.07 });
  admin = new SimAdmin(sim.url);
});
afterEach(async () => {
  await admin.setFault('none');
  await admin.setDelay(0);
});
after(async () => {
  await sim.close();
});

function bodyFor(id: string): string {
  return JSON.stringify({ correlationId: id, amount: 20.05, requestedAt: '2025-07-01T12:00:00.000Z' });
}

async function stored(id: string): Promise<boolean> {
  const res = await request(sim.url + '/payments/' + id);
  await res.body.text();
  return res.statusCode === 200;
}

/** POST with node:http so the raw socket error code is visible. */
function rawPost(base_url: string, body: string, timeout_ms: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      base_url + '/payments',
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeout_ms, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

test('hang: no answer until the client gives up, and nothing stored', async () => {
  assert.deepEqual(await admin.setFault('hang'), { config: 'fault', was: 'none', is: 'hang' });
  const id = randomUUID();
  await assert.rejects(rawPost(sim.url, bodyFor(id), 300), { code: 'CLIENT_TIMEOUT' });
  assert.equal(await stored(id), false);
  await admin.setFault('none');
  assert.equal((await rawPost(sim.url, bodyFor(id), 2000)).status, 200, 'the same id is new afterwards');
});

test('hang: close() destroys held sockets and resolves', async () => {
  const own = await startSimulator({ port: 0, fee: 0.07 });
  try {
    await new SimAdmin(own.url).setFault('hang');
    const held = rawPost(own.url, bodyFor(randomUUID()), 30_000);
    const held_outcome = held.then(
      () => 'answered',
      (e: NodeJS.ErrnoException) => e.code ?? 'error',
    );
    for (let i = 0; i < 100 && (await new SimAdmin(own.url).stats()).held < 1; i += 1) await new Promise((r) => setTimeout(r, 10));
    await own.close();
    assert.equal(await held_outcome, 'ECONNRESET');
  } finally {
    await own.close();
  }
});

test('reset: the connection is reset without an answer, but the payment WAS stored', async () => {
  await admin.setFault('reset');
  const id = randomUUID();
  await assert.rejects(rawPost(sim.url, bodyFor(id), 5000), { code: 'ECONNRESET' });
  assert.equal(await stored(id), true);
  await admin.setFault('none');
  assert.equal((await rawPost(sim.url, bodyFor(id), 2000)).status, 422, 'a retry learns it was stored');
});

test('garbage: 200 with a body that is not JSON, and the payment is stored', async () => {
  await admin.setFault('garbage');
  const id = randomUUID();
  const res = await rawPost(sim.url, bodyFor(id), 5000);
  assert.equal(res.status, 200);
  assert.throws(() => JSON.parse(res.text));
  assert.equal(await stored(id), true);
});

test('slow-body: 200 headers at once, the body dribbles out over ~3 s, payment stored', async () => {
  await admin.setFault('slow-body');
  const id = randomUUID();
  const started = performance.now();
  const res = await request(sim.url + '/payments', { method: 'POST', body: bodyFor(id) });
  const headers_ms = performance.now() - started;
  assert.equal(res.statusCode, 200);
  const text = await res.body.text();
  const body_ms = performance.now() - started;
  assert.deepEqual(JSON.parse(text), { message: 'payment processed successfully' });
  assert.ok(body_ms - headers_ms >= 2000, `body came ${Math.round(body_ms - headers_ms)} ms after the headers`);
  assert.equal(await stored(id), true);
});

test('faults apply after delay and failure; a duplicate still gets 422', async () => {
  const id = randomUUID();
  assert.equal((await rawPost(sim.url, bodyFor(id), 2000)).status, 200);
  for (const fault of ['reset', 'garbage', 'slow-body'] as const) {
    await admin.setFault(fault);
    assert.equal((await rawPost(sim.url, bodyFor(id), 5000)).status, 422, fault);
  }
  await admin.setFault('garbage');
  await admin.setFailure(true);
  try {
    const fresh = randomUUID();
    const res = await rawPost(sim.url, bodyFor(fresh), 5000);
    assert.equal(res.status, 500, 'failure wins over the fault');
    assert.equal(await stored(fresh), false);
  } finally {
    await admin.setFailure(false);
  }
  await admin.setDelay(200);
  const started = performance.now();
  const res = await rawPost(sim.url, bodyFor(randomUUID()), 5000);
  assert.equal(res.status, 200);
  assert.ok(performance.now() - started >= 195, 'the fault came before the delay');
});
