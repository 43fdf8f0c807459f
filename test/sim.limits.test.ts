// The simulator's limits: 800 running + 500 queued then 429 on POST /payments, and the shared
// 5 s service-health window (1 answered, 2 held, the rest 429).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Pool, request } from 'undici';
import { startSimulator } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function paymentBody(): string {
  return JSON.stringify({ correlationId: randomUUID(), amount: 1, requestedAt: new Date().toISOString() });
}

test('beyond 800 running + 500 queued, POST /payments gets 429 with Retry-After: 5', async () => {
  const sim = await startSimulator({ port: 0, fee: 0.05 });
  const admin = new SimAdmin(sim.url);
  const total = 1400;
  const pool = new Pool(sim.url, { connections: total, pipelining: 1 });
  try {
    // Long enough that nobody finishes while the burst arrives; close() ends the held ones.
    await admin.setDelay(60_000);
    const statuses: number[] = [];
    const retry_after: string[] = [];
    const pending = Array.from({ length: total }, () =>
      pool
        .request({ path: '/payments', method: 'POST', body: paymentBody(), headers: { 'content-type': 'application/json' } })
        .then(async (res) => {
          statuses.push(res.statusCode);
          retry_after.push(String(res.headers['retry-after']));
          await res.body.text();
        })
        .catch(() => undefined),
    );
    let stats = await admin.stats();
    for (let i = 0; i < 300 && stats.running + stats.queued + stats.rejected429 < total; i += 1) {
      await sleep(50);
      stats = await admin.stats();
    }
    assert.equal(stats.running, 800);
    assert.equal(stats.queued, 500);
    assert.equal(stats.rejected429, total - 1300);
    for (let i = 0; i < 100 && statuses.length < total - 1300; i += 1) await sleep(20);
    assert.equal(statuses.length, total - 1300, 'only the refused ones are answered before the delay');
    assert.ok(statuses.every((s) => s === 429));
    assert.ok(retry_after.every((r) => r === '5'));
    await sim.close();
    await Promise.all(pending);
    assert.equal(statuses.length, total - 1300);
  } finally {
    await sim.close();
    await pool.destroy();
  }
});

test('queued requests run in FIFO order as slots free up (small limits)', async () => {
  const sim = await startSimulator({ port: 0, fee: 0.05, max_running: 2, max_queued: 2 });
  const admin = new SimAdmin(sim.url);
  const pool = new Pool(sim.url, { connections: 5, pipelining: 1 });
  try {
    await admin.setDelay(200);
    const order: Array<[number, number]> = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 5; i += 1) {
      sends.push(
        pool.request({ path: '/payments', method: 'POST', body: paymentBody() }).then(async (res) => {
          await res.body.text();
          order.push([i, res.statusCode]);
        }),
      );
      // Let each request reach the server before the next, so arrival order is i.
      for (let k = 0; k < 100; k += 1) {
        const s = await admin.stats();
        if (s.running + s.queued + s.rejected429 > i) break;
        await sleep(5);
      }
    }
    await Promise.all(sends);
    assert.deepEqual(order[0], [4, 429], 'the one beyond running + queued is refused at once');
    // 0 and 1 run first (same delay, so their relative order is up to the sockets), then 2 and 3.
    assert.deepEqual(
      order
        .slice(1, 3)
        .map(([i, s]) => [i, s])
        .sort(),
      [
        [0, 200],
        [1, 200],
      ],
    );
    assert.deepEqual(
      order
        .slice(3, 5)
        .map(([i, s]) => [i, s])
        .sort(),
      [
        [2, 200],
        [3, 200],
      ],
    );
    const summary = await admin.summary();
    assert.equal(summary.totalRequests, 4);
  } finally {
    await sim.close();
    await pool.destroy();
  }
});

test('service-health: one shared window, first answered at once, 2 held, more -> 429', async () => {
  const sim = await startSimulator({ port: 0, fee: 0.05 });
  const admin = new SimAdmin(sim.url);
  const pool = new Pool(sim.url, { connections: 4 });
  const held_abort = new AbortController();
  try {
    await admin.setDelay(250);
    await admin.setFailure(true);
    const events: string[] = [];
    const call = (label: string, signal?: AbortSignal) =>
      pool.request({ path: '/payments/service-health', method: 'GET', signal }).then(async (res) => {
        const text = await res.body.text();
        events.push(label + ':' + res.statusCode);
        return { status: res.statusCode, text, retry_after: res.headers['retry-after'] };
      });
    const first = await call('first');
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(first.text), { failing: true, minResponseTime: 250 });
    const second = call('second');
    const third = call('third', held_abort.signal).catch(() => null);
    // Both are held before the fourth arrives (they are queued in arrival order).
    let stats = await admin.stats();
    for (let i = 0; i < 100 && stats.health_held < 2; i += 1) {
      await sleep(10);
      stats = await admin.stats();
    }
    assert.equal(stats.health_held, 2);
    const fourth = await call('fourth');
    assert.equal(fourth.status, 429);
    assert.equal(fourth.retry_after, '5');
    const held = await second; // answered in the next window (at most 5 s)
    assert.equal(held.status, 200);
    assert.deepEqual(events.slice(0, 3), ['first:200', 'fourth:429', 'second:200']);
    assert.deepEqual(JSON.parse(held.text), { failing: true, minResponseTime: 250 }, 'answers the state at release time');
    held_abort.abort(); // the third would take one more window: not worth 5 s of test time
    await third;
  } finally {
    await sim.close();
    await pool.destroy();
  }
});

test('admin and health are not behind the payments limiter', async () => {
  const sim = await startSimulator({ port: 0, fee: 0.05, max_running: 1, max_queued: 0 });
  const admin = new SimAdmin(sim.url);
  try {
    await admin.setDelay(60_000);
    const blocked = request(sim.url + '/payments', { method: 'POST', body: paymentBody() }).catch(() => null);
    for (let i = 0; i < 100 && (await admin.stats()).running < 1; i += 1) await sleep(10);
    const refused = await request(sim.url + '/payments/' + randomUUID());
    await refused.body.text();
    assert.equal(refused.statusCode, 429, 'GET /payments/{id} shares the limiter');
    const health = await request(sim.url + '/payments/service-health');
    await health.body.text();
    assert.equal(health.statusCode, 200);
    assert.equal((await admin.summary()).totalRequests, 0);
    await sim.close();
    await blocked;
  } finally {
    await sim.close();
  }
});
