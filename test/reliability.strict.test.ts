// DURABILITY=strict: a 202 leaves only once the payment's claim is committed durably (logged
// tables, synchronous commit, fsync on), so neither a Postgres crash nor a killed instance loses
// an acknowledged payment, and none is paid twice. Real Postgres (embedded, restarted and
// crashed by signals), real simulators, real instances.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import pg from 'pg';
import { request } from 'undici';
import { createInterface } from 'node:readline';
import { freePort } from '../src/net.js';
import {
  EMBEDDED_PG,
  MAIN,
  compare,
  eventually,
  type Instance,
  payment,
  type Sim,
  startInstance,
  startSims,
  stopProcess,
} from './support/stack.js';
import { INSTANCE_ENV } from '../src/runtime.js';

interface EmbeddedPg {
  url: string;
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
}

async function startEmbedded(durability: 'fast' | 'strict'): Promise<EmbeddedPg> {
  const child = spawn(process.execPath, [EMBEDDED_PG], {
    env: { ...process.env, DURABILITY: durability },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON
    }
  });
  const up = await eventually(async () => lines.some((x) => x.event === 'listening') || child.exitCode !== null, 60_000, 50);
  assert.ok(up && child.exitCode === null, 'embedded postgres started');
  return { url: String(lines.find((x) => x.event === 'listening')!.url), child, lines };
}

// SIGUSR1: clean restart, SIGUSR2: crash (immediate shutdown) and restart; resolves when it is back.
async function restartPostgres(db: EmbeddedPg, kind: 'clean' | 'crash'): Promise<void> {
  const before = db.lines.filter((l) => l.event === 'restarted').length;
  db.child.kill(kind === 'clean' ? 'SIGUSR1' : 'SIGUSR2');
  assert.ok(
    await eventually(async () => db.lines.filter((l) => l.event === 'restarted').length > before, 30_000, 50),
    `postgres ${kind} restart`,
  );
}

async function lookup(sim: Sim, id: string): Promise<boolean> {
  const res = await request(`${sim.url}/payments/${id}`);
  await res.body.text();
  if (res.statusCode !== 200 && res.statusCode !== 404) throw new Error(`GET /payments/${id} -> ${res.statusCode}`);
  return res.statusCode === 200;
}

// Senders that keep `concurrency` payments in flight, spread over the instances, until stopped;
// the ids answered 202 are kept.
function load(instances: () => Instance[], concurrency: number): { accepted: string[]; other: Map<number, number>; stop(): Promise<void> } {
  const accepted: string[] = [];
  const other = new Map<number, number>();
  let running = true;
  let n = 0;
  const sender = async (): Promise<void> => {
    while (running) {
      const live = instances();
      const id = crypto.randomUUID();
      try {
        const res = await request(`${live[n++ % live.length].url}/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: payment(id),
        });
        await res.body.text();
        if (res.statusCode === 202) accepted.push(id);
        else other.set(res.statusCode, (other.get(res.statusCode) ?? 0) + 1);
      } catch {
        other.set(0, (other.get(0) ?? 0) + 1); // connection refused or reset: not accepted
      }
    }
  };
  const senders = Array.from({ length: concurrency }, () => sender());
  return {
    accepted,
    other,
    stop: async () => {
      running = false;
      await Promise.all(senders);
    },
  };
}

// Every acknowledged id is at exactly one processor, and the service's summary equals theirs.
async function checkNothingLost(sims: [Sim, Sim], instance: Instance, accepted: string[]): Promise<string> {
  const stack = { sims, instances: [instance] } as unknown as Parameters<typeof compare>[0];
  const settled = await eventually(
    async () => {
      const c = await compare(stack);
      return (
        c.default + c.fallback >= accepted.length &&
        c.service.default.totalRequests === c.default &&
        c.service.fallback.totalRequests === c.fallback
      );
    },
    60_000,
    200,
  );
  const c = await compare(stack);
  assert.ok(settled, `processors ${c.default}+${c.fallback} for ${accepted.length} acknowledged; summary ${JSON.stringify(c.service)}`);
  let never = 0;
  let twice = 0;
  for (const id of accepted) {
    const [d, f] = await Promise.all(sims.map((s) => lookup(s, id)));
    if (!d && !f) never++;
    if (d && f) twice++;
  }
  assert.equal(never, 0, 'acknowledged and never paid');
  assert.equal(twice, 0, 'paid at both processors');
  assert.equal(c.service.default.totalRequests, c.default);
  assert.equal(c.service.fallback.totalRequests, c.fallback);
  assert.equal(Math.round(c.service.default.totalAmount * 100), c.default_cents);
  assert.equal(Math.round(c.service.fallback.totalAmount * 100), c.fallback_cents);
  return `${accepted.length} acknowledged, at the processors ${c.default} + ${c.fallback}, 0 never paid, 0 paid twice, summary equal`;
}

let db: EmbeddedPg;
let sims: [Sim, Sim];
let env: Record<string, string>;

before(async () => {
  [db, sims] = await Promise.all([startEmbedded('strict'), startSims()]);
  env = {
    DURABILITY: 'strict',
    DATABASE_URL: db.url,
    PAYMENT_PROCESSOR_URL_DEFAULT: sims[0].url,
    PAYMENT_PROCESSOR_URL_FALLBACK: sims[1].url,
    LOG_LEVEL: 'error',
    PG_CONNECT_INTERVAL_MS: '200',
    RECLAIM_GRACE_MS: '1000',
    RECLAIM_INTERVAL_MS: '300',
  };
});
after(async () => {
  await Promise.all(sims?.map((s) => s.close()) ?? []);
  if (db) await stopProcess(db.child);
});

async function purgeAll(instance: Instance): Promise<void> {
  const res = await request(`${instance.url}/purge-payments`, { method: 'POST' });
  await res.body.text();
  assert.equal(res.statusCode, 200);
  await Promise.all(sims.map((s) => s.admin.purge()));
}

test('strict: every 202 finds its claim committed, in logged tables', async () => {
  const instance = await startInstance(env);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    for (let i = 0; i < 40; i++) {
      const id = crypto.randomUUID();
      const res = await request(`${instance.url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payment(id),
      });
      await res.body.text();
      assert.equal(res.statusCode, 202);
      const r = await client.query('SELECT 1 FROM payment_claims WHERE correlation_id = $1', [id]);
      assert.equal(r.rowCount, 1, `claim of a payment answered 202 (${i})`);
    }
    const persistence = await client.query<{ relname: string; relpersistence: string }>(
      "SELECT relname, relpersistence FROM pg_class WHERE relname IN ('payments', 'payment_claims', 'instances') ORDER BY relname",
    );
    assert.deepEqual(
      persistence.rows.map((r) => `${r.relname}:${r.relpersistence}`),
      ['instances:p', 'payment_claims:p', 'payments:p'],
    );
    const settings = await client.query<{ fsync: string }>("SELECT current_setting('fsync') AS fsync");
    assert.equal(settings.rows[0].fsync, 'on');
  } finally {
    await client.end();
    await instance.stop();
  }
});

test('strict refuses a Postgres with fsync off', async () => {
  const fast = await startEmbedded('fast');
  try {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...INSTANCE_ENV, ...env, DATABASE_URL: fast.url, PORT: String(await freePort()), METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout!.resume();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.notEqual(code, 0);
    assert.match(err, /DURABILITY=strict needs Postgres with fsync=on/);
  } finally {
    await stopProcess(fast.child);
  }
});

test('strict, Postgres crashed and restarted cleanly under load: every acknowledged payment paid once, summary exact', async (t) => {
  const instances = [await startInstance(env), await startInstance(env)];
  try {
    await purgeAll(instances[0]);
    const l = load(() => instances, 8);
    const reach = (n: number) => eventually(async () => l.accepted.length >= n, 60_000, 20);
    assert.ok(await reach(150));
    await restartPostgres(db, 'crash');
    assert.ok(await reach(l.accepted.length + 150));
    await restartPostgres(db, 'clean');
    assert.ok(await reach(l.accepted.length + 150));
    await l.stop();
    t.diagnostic(
      `postgres crash + clean restart: ${await checkNothingLost(sims, instances[0], l.accepted)}; not accepted: ${JSON.stringify(Object.fromEntries(l.other))}`,
    );
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
  }
});

test('strict, an instance killed with SIGKILL under load: every acknowledged payment paid once, summary exact', async (t) => {
  const survivor = await startInstance(env);
  const victim = await startInstance(env);
  const live = [survivor, victim];
  try {
    await purgeAll(survivor);
    // The default is slow, so the victim dies with payments claimed and not yet paid.
    await sims[0].admin.setDelay(300);
    const l = load(() => live, 8);
    assert.ok(await eventually(async () => l.accepted.length >= 300, 60_000, 20));
    victim.child.kill('SIGKILL');
    live.splice(1, 1);
    await new Promise((r) => victim.child.once('exit', r));
    assert.ok(await eventually(async () => l.accepted.length >= 450, 60_000, 20));
    await l.stop();
    await sims[0].admin.setDelay(0);
    t.diagnostic(
      `instance SIGKILL: ${await checkNothingLost(sims, survivor, l.accepted)}; not accepted: ${JSON.stringify(Object.fromEntries(l.other))}`,
    );
  } finally {
    await sims[0].admin.setDelay(0);
    await survivor.stop();
  }
});
