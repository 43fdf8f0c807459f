// The service end to end: two real instances, a real Postgres, the processor simulators over
// real HTTP. The service's summary must equal the processors' own records, per processor and
// per window, whatever the processors do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulator } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';
import pg from 'pg';
import { purgeTablesSql } from '../src/store/bus.js';
import { metricsOf } from './support/reliability-stack.js';
import { sumOf } from './support/reliability-metrics.js';
import { compare, eventually, get, payment, post, type Stack, startInstance, startStack, stopProcess, summary } from './support/stack.js';

let stack: Stack;

before(async () => {
  stack = await startStack({ instances: 2, env: { HOLD_BUDGET_MS: '4000' } });
});
after(async () => {
  await stack?.stop();
});

async function pay(n: number, amount = 19.9): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = crypto.randomUUID();
    const r = await post(stack.instances[i % stack.instances.length].url, '/payments', payment(id, amount));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.text, '');
    ids.push(id);
  }
  return ids;
}

async function settled(expected_total: number): Promise<Awaited<ReturnType<typeof compare>>> {
  let last = await compare(stack);
  await eventually(
    async () => {
      last = await compare(stack);
      const s = last.service;
      return (
        last.default + last.fallback === expected_total &&
        s.default.totalRequests === last.default &&
        s.fallback.totalRequests === last.fallback
      );
    },
    60_000,
    100,
  );
  return last;
}

function assertAgrees(c: Awaited<ReturnType<typeof compare>>): void {
  assert.equal(c.service.default.totalRequests, c.default);
  assert.equal(c.service.fallback.totalRequests, c.fallback);
  assert.equal(Math.round(c.service.default.totalAmount * 100), c.default_cents);
  assert.equal(Math.round(c.service.fallback.totalAmount * 100), c.fallback_cents);
}

let total = 0;

test('healthy processors: everything is paid, mostly on the default, and the summaries agree', async () => {
  await pay(200);
  total += 200;
  const c = await settled(total);
  assertAgrees(c);
  assert.equal(c.default + c.fallback, 200);
  // A starved machine can make an answer look overdue and send a few to the fallback.
  assert.ok(c.default > c.fallback, `default ${c.default} fallback ${c.fallback}`);
  assert.equal(c.default_cents + c.fallback_cents, 200 * 1990);
  // Both instances answer the same global summary.
  assert.deepEqual(await summary(stack.instances[1].url), c.service);
});

test('windows: the summary filters on the requestedAt sent, bounds inclusive', async () => {
  const now = new Date().toISOString();
  const from = new Date(Date.now() - 120_000).toISOString();
  for (const [f, t] of [
    [from, now],
    [undefined, now],
    [from, undefined],
    [now, now],
  ] as const) {
    const c = await compare(stack, f, t);
    assertAgrees(c);
  }
  const none = await compare(stack, '2000-01-01T00:00:00.000Z', '2000-01-02T00:00:00.000Z');
  assert.equal(none.service.default.totalRequests, 0);
});

test('a slow default (2 s): the fallback takes some payments, summaries agree', async () => {
  await stack.sims[0].admin.setDelay(2000);
  try {
    // A steady trickle, as in the contest: the first ones reach the default before anything
    // says it slowed down; the router moves the rest.
    for (let i = 0; i < 30; i++) {
      await pay(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    total += 30;
    const c = await settled(total);
    assertAgrees(c);
    assert.ok(c.fallback > 0, 'the fallback took the payments the slow default could not finish in time');
  } finally {
    await stack.sims[0].admin.setDelay(0);
  }
});

test('a failing default: each payment is stored by the fallback or held until the default is back; nothing lost, nothing counted unstored', async () => {
  await stack.sims[0].admin.setFailure(true);
  const stored = async (): Promise<number> => {
    const c = await compare(stack);
    return c.default + c.fallback;
  };
  const stored_before = await stored();
  await pay(40);
  total += 40;
  const accounted = await eventually(async () => (await stored()) - stored_before + (await held()) === 40, 10_000, 50);
  assert.ok(accounted, 'each of the 40 is stored or held');
  await stack.sims[0].admin.setFailure(false);
  const c = await settled(total);
  assertAgrees(c);
});

test('both processors failing: nothing is paid or counted until one recovers', async () => {
  await Promise.all(stack.sims.map((s) => s.admin.setFailure(true)));
  const before_c = await compare(stack);
  const base = await held();
  await pay(20);
  total += 20;
  assert.ok(await eventually(async () => (await held()) === base + 20, 10_000, 50), 'the 20 payments are held');
  const during = await compare(stack);
  assert.equal(during.default + during.fallback, before_c.default + before_c.fallback, 'a failing processor stores nothing');
  assertAgrees(during);
  await Promise.all(stack.sims.map((s) => s.admin.setFailure(false)));
  assertAgrees(await settled(total));
});

test('a duplicate correlationId is paid and counted once', async () => {
  const id = crypto.randomUUID();
  const bodies = [0, 1, 0, 1].map((i) => post(stack.instances[i].url, '/payments', payment(id)));
  for (const r of await Promise.all(bodies)) assert.equal(r.status, 202);
  total += 1;
  const c = await settled(total);
  assertAgrees(c);
  // and nothing else can arrive later: no instance holds anything
  assert.ok(await eventually(async () => (await held()) === 0, 10_000, 50), 'nothing left queued');
  assertAgrees(await settled(total));
});

test('a purge empties the summary; payments after it are counted again', async () => {
  const r = await post(stack.instances[1].url, '/purge-payments', '');
  assert.equal(r.status, 200);
  await Promise.all(stack.sims.map((s) => s.admin.purge()));
  const c = await compare(stack);
  assert.deepEqual(c.service, { default: { totalRequests: 0, totalAmount: 0 }, fallback: { totalRequests: 0, totalAmount: 0 } });
  total = 0;
  await pay(10);
  total += 10;
  assertAgrees(await settled(total));
});

// Purges each instance has applied, read from /metrics.
async function purgesApplied(): Promise<number[]> {
  return Promise.all(stack.instances.map(async (i) => sumOf(await metricsOf(i.url), 'rinha_purges_total')));
}

// Payments both instances hold (processors failing), read from /metrics.
async function held(): Promise<number> {
  let n = 0;
  for (const i of stack.instances) {
    const m = await metricsOf(i.url);
    n += sumOf(m, 'rinha_backlog') + sumOf(m, 'rinha_ring_depth');
  }
  return n;
}

test('a purge drops the work queued before it, and keeps what an instance accepted after it even when it hears the purge late', async () => {
  await Promise.all(stack.sims.map((s) => s.admin.setFailure(true))); // everything accepted stays queued
  const base = await held();
  await pay(6);
  assert.ok(await eventually(async () => (await held()) === base + 6, 10_000, 50), 'the 6 payments are queued');
  const r = await post(stack.instances[1].url, '/purge-payments', '');
  assert.equal(r.status, 200);
  assert.ok(await eventually(async () => (await held()) === 0, 10_000, 50), 'a purge empties the queues of both instances');
  await Promise.all(stack.sims.map((s) => s.admin.purge()));
  total = 0;

  // A purge asked for before these payments were accepted, heard by the instances only now.
  const fence_ms = Date.now();
  while (Date.now() <= fence_ms) await new Promise((r) => setTimeout(r, 1));
  await pay(6);
  total += 6;
  assert.ok(await eventually(async () => (await held()) === 6, 10_000, 50));
  const purges_before = await purgesApplied();
  const db = new pg.Client({ connectionString: stack.pg.url });
  await db.connect();
  try {
    await db.query('SELECT pg_notify($1, $2)', ['rinha_purge', String(fence_ms)]);
  } finally {
    await db.end();
  }
  const applied = await eventually(async () => (await purgesApplied()).every((n, i) => n > purges_before[i]), 10_000, 50);
  assert.ok(applied, 'both instances applied the late purge');
  assert.equal(await held(), 6, 'what was accepted after the fence is still queued');
  await Promise.all(stack.sims.map((s) => s.admin.setFailure(false)));
  const c = await settled(total);
  assert.equal(c.default + c.fallback, 6, 'exactly the 6 accepted after the fence were paid');
  assertAgrees(c);
});

test('after a purge, a payment accepted before it and confirmed after it is not counted, even by an instance that has not heard the purge', async () => {
  await Promise.all(stack.sims.map((s) => s.admin.setFailure(true))); // what is accepted now is held
  const old = await pay(6);
  const db = new pg.Client({ connectionString: stack.pg.url });
  await db.connect();
  const count = async (sql: string, values: unknown[] = []): Promise<number> =>
    Number((await db.query<{ n: string }>(sql, values)).rows[0].n);
  try {
    // Claimed, so held by the dispatchers (an unclaimed one would meet the fence and be dropped).
    const claimed = (): Promise<number> => count('SELECT count(*) AS n FROM payment_claims WHERE correlation_id = ANY($1::uuid[])', [old]);
    assert.ok(await eventually(async () => (await claimed()) === 6, 10_000, 50), 'the 6 payments are claimed and held');
    // The tables' half of a purge without its NOTIFY: for the instances, it has not arrived yet.
    const fence_ms = Date.now();
    await db.query(`BEGIN; ${purgeTablesSql(fence_ms)}; COMMIT`);
    while (Date.now() <= fence_ms) await new Promise((r) => setTimeout(r, 1));
    await Promise.all(stack.sims.map((s) => s.admin.purge()));
    await pay(4); // accepted after the purge
    await Promise.all(stack.sims.map((s) => s.admin.setFailure(false)));
    // Not having heard the purge, the instances pay all 10 and store them.
    const c = await eventually(
      async () => {
        const x = await compare(stack);
        return x.default + x.fallback === 10 && (await held()) === 0;
      },
      60_000,
      100,
    );
    assert.ok(c, 'the processors were paid all 10');
    const stored = await eventually(async () => (await count('SELECT count(*) AS n FROM payments')) === 10, 10_000, 50);
    assert.ok(stored, 'all 10 confirmations were written, the 6 stale ones after the purge');
  } finally {
    await db.end();
  }
  const s = await summary(stack.instances[0].url);
  assert.equal(s.default.totalRequests + s.fallback.totalRequests, 4, 'only the 4 accepted after the purge are counted');

  // A whole purge, heard by both instances, brings the two sides back together for what follows.
  assert.equal((await post(stack.instances[0].url, '/purge-payments', '')).status, 200);
  await Promise.all(stack.sims.map((s) => s.admin.purge()));
  total = 0;
  assertAgrees(await settled(total));
});

test('metrics and health', async () => {
  const h = await get(stack.instances[0].url, '/health');
  assert.equal(h.status, 200);
  assert.deepEqual(JSON.parse(h.text), { status: 'ok', db: true, workers: 1 });
  const m = await get(stack.instances[0].url, '/metrics');
  assert.equal(m.status, 200);
  const accepted = Number(/^rinha_payments_accepted_total (\d+)$/m.exec(m.text)?.[1]);
  assert.ok(accepted > 0);
  assert.match(m.text, /^rinha_processor_attempts_total\{processor="default",outcome="ok"\} [1-9]\d*$/m);
});

test('a processor answering 429: retried until stored, summaries agree', async () => {
  // A separate instance pointed at a tiny simulator that refuses most concurrent requests.
  const tiny = await startSimulator({ port: 0, fee: 0.07, name: 'tiny', max_running: 2, max_queued: 0 });
  const admin = new SimAdmin(tiny.url);
  await admin.setDelay(50);
  const instance = await startInstance({ ...stack.env, PAYMENT_PROCESSOR_URL_DEFAULT: tiny.url, PAYMENT_PROCESSOR_URL_FALLBACK: tiny.url });
  try {
    const base = await summary(instance.url); // the shared table holds the earlier tests' payments
    const ids = new Set<string>();
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        const id = crypto.randomUUID();
        ids.add(id);
        assert.equal((await post(instance.url, '/payments', payment(id))).status, 202);
      }),
    );
    const done = await eventually(async () => (await admin.summary()).totalRequests === 40, 60_000, 200);
    assert.ok(done, 'every payment was eventually stored');
    const m = await get(instance.url, '/metrics');
    assert.match(m.text, /outcome="rate_limited"\} [1-9]/, 'the simulator did answer 429');
    const s = await summary(instance.url);
    const st = await admin.summary();
    // Both of this instance's URLs are the tiny simulator.
    const counted = (x: typeof s): number => x.default.totalRequests + x.fallback.totalRequests;
    assert.equal(counted(s) - counted(base), st.totalRequests);
  } finally {
    assert.equal(await stopProcess(instance.child), 0, 'SIGTERM drains and exits 0');
    await tiny.close();
  }
});
