// Admin API of the processor simulator: token, summary bounds, purge, configuration answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { startSimulator, type SimulatorHandle } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';

let sim: SimulatorHandle;
let admin: SimAdmin;

before(async () => {
  sim = await startSimulator({ port: 0, fee: 0.07, token: 'secret', name: 'default' });
  admin = new SimAdmin(sim.url, 'secret');
});
after(async () => {
  await sim.close();
});

async function pay(requestedAt: string, amount = 20.05): Promise<void> {
  const res = await request(sim.url + '/payments', {
    method: 'POST',
    body: JSON.stringify({ correlationId: randomUUID(), amount, requestedAt }),
  });
  await res.body.text();
  assert.equal(res.statusCode, 200);
}

async function raw(method: 'GET' | 'PUT' | 'POST', path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['x-rinha-token'] = token;
  const res = await request(sim.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.statusCode, text: await res.body.text() };
}

test('admin endpoints answer 401 without the token or with a wrong one, and change nothing', async () => {
  await pay('2025-07-01T00:00:00.000Z');
  const calls: Array<['GET' | 'PUT' | 'POST', string, unknown]> = [
    ['GET', '/admin/payments-summary', undefined],
    ['PUT', '/admin/configurations/token', { token: 'x' }],
    ['PUT', '/admin/configurations/delay', { delay: 10 }],
    ['PUT', '/admin/configurations/failure', { failure: true }],
    ['PUT', '/admin/configurations/fault', { fault: 'hang' }],
    ['POST', '/admin/purge-payments', undefined],
    ['GET', '/admin/stats', undefined],
  ];
  for (const [method, path, body] of calls) {
    assert.equal((await raw(method, path, undefined, body)).status, 401, method + ' ' + path + ' without token');
    assert.equal((await raw(method, path, '123', body)).status, 401, method + ' ' + path + ' wrong token');
  }
  const stats = await admin.stats();
  assert.ok(stats.stored >= 1, 'purge went through without a token');
  const health = JSON.parse((await raw('GET', '/payments/service-health')).text);
  assert.deepEqual(health, { failing: false, minResponseTime: 0 });
});

test('summary: fields, fee from cents, inclusive bounds, and no filter when a bound is missing', async () => {
  await admin.purge();
  assert.deepEqual(await admin.summary(), { totalAmount: 0, totalRequests: 0, totalFee: 0, feePerTransaction: 0.07 });
  const t = ['2025-07-01T12:00:00.000Z', '2025-07-01T12:00:00.001Z', '2025-07-01T12:00:05.500Z', '2025-07-01T12:00:10.000Z'];
  // Out of order on purpose: the ledger keeps them sorted.
  for (const at of [t[2], t[0], t[3], t[1]]) await pay(at);
  const all = await admin.summary();
  assert.deepEqual(all, { totalAmount: 80.2, totalRequests: 4, totalFee: 5.61, feePerTransaction: 0.07 }); // 80.20 * 0.07 = 5.614
  assert.equal((await admin.summary(t[0], t[3])).totalRequests, 4, 'both bounds inclusive');
  assert.equal((await admin.summary(t[1], t[2])).totalRequests, 2);
  assert.equal((await admin.summary(t[0], t[0])).totalRequests, 1, 'from == to hits the exact ms');
  assert.equal((await admin.summary('2025-07-01T12:00:00.002Z', '2025-07-01T12:00:05.499Z')).totalRequests, 0);
  assert.equal((await admin.summary(t[3], t[0])).totalRequests, 0, 'from after to');
  assert.equal((await admin.summary(t[3])).totalRequests, 4, 'missing to = no filter at all');
  assert.equal((await admin.summary(undefined, t[0])).totalRequests, 4, 'missing from = no filter at all');
  const bad = await raw('GET', '/admin/payments-summary?from=garbage&to=' + t[0], 'secret');
  assert.equal(bad.status, 400);
});

test('summary renders money with 2 decimals', async () => {
  await admin.purge();
  await pay('2025-07-01T00:00:00.000Z', 19.9);
  await pay('2025-07-01T00:00:00.000Z', 0.2);
  const text = (await raw('GET', '/admin/payments-summary', 'secret')).text;
  assert.equal(text, '{"totalAmount":20.10,"totalRequests":2,"totalFee":1.41,"feePerTransaction":0.07}');
});

test('purge empties the store', async () => {
  await pay('2025-07-01T00:00:00.000Z');
  assert.ok((await admin.summary()).totalRequests > 0);
  const res = await admin.purge();
  assert.equal(typeof res.message, 'string');
  assert.equal((await admin.summary()).totalRequests, 0);
});

test('token change: 204, the old token stops working, the new one works', async () => {
  const res = await raw('PUT', '/admin/configurations/token', 'secret', { token: 'other' });
  assert.equal(res.status, 204);
  assert.equal((await raw('GET', '/admin/payments-summary', 'secret')).status, 401);
  assert.equal((await raw('GET', '/admin/payments-summary', 'other')).status, 200);
  admin.token = 'other';
  await admin.setToken('secret');
  assert.equal((await raw('GET', '/admin/payments-summary', 'secret')).status, 200);
});

test('configuration answers {config, was, is} and rejects bad values with 400', async () => {
  assert.deepEqual(await admin.setDelay(120), { config: 'delay', was: 0, is: 120 });
  assert.deepEqual(await admin.setDelay(0), { config: 'delay', was: 120, is: 0 });
  assert.deepEqual(await admin.setFailure(true), { config: 'failure', was: false, is: true });
  assert.deepEqual(await admin.setFailure(false), { config: 'failure', was: true, is: false });
  assert.deepEqual(await admin.setFault('garbage'), { config: 'fault', was: 'none', is: 'garbage' });
  assert.deepEqual(await admin.setFault('none'), { config: 'fault', was: 'garbage', is: 'none' });
  const bad: Array<[string, unknown]> = [
    ['delay', { delay: -1 }],
    ['delay', { delay: 'slow' }],
    ['delay', { delay: 1.5 }],
    ['failure', { failure: 'yes' }],
    ['fault', { fault: 'explode' }],
    ['token', { token: 42 }],
  ];
  for (const [key, body] of bad) {
    assert.equal((await raw('PUT', '/admin/configurations/' + key, 'secret', body)).status, 400, key + ' ' + JSON.stringify(body));
  }
  assert.equal((await raw('PUT', '/admin/configurations/delay', 'secret', '{oops')).status, 400);
});
