// Durable intake: an instance killed with SIGKILL loses nothing it had accepted; another
// instance reclaims its unsettled payments, finds out at the processors what was paid, and pays
// the rest. Nothing is paid twice; the summaries agree.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { compare, eventually, payment, post, type Stack, startInstance, startStack } from './support/stack.js';

let stack: Stack;

before(async () => {
  stack = await startStack({ instances: 1, env: { RECLAIM_GRACE_MS: '1000', RECLAIM_INTERVAL_MS: '300', REQUEST_TIMEOUT_MS: '800' } });
});
after(async () => {
  await stack?.stop();
});

test('SIGKILL with payments in flight and held: every accepted payment is paid exactly once', async () => {
  const victim = await startInstance(stack.env);
  // The default hangs: attempts are in flight (outcome unknown) when the victim dies; the
  // fallback fails: nothing else can take them.
  await stack.sims[0].admin.setFault('hang');
  await stack.sims[1].admin.setFailure(true);
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const id = crypto.randomUUID();
    assert.equal((await post(victim.url, '/payments', payment(id))).status, 202);
    ids.push(id);
  }
  // The victim has taken them from its ring and written its intake: 60 claims.
  const claimed = await eventually(async () => (await claimCount(stack.pg.url, ids)) === 60, 10_000, 20);
  assert.ok(claimed, 'the victim claimed the 60 payments');
  victim.child.kill('SIGKILL');
  await new Promise((r) => victim.child.once('exit', r));
  // Some may have reached the default before the kill: stored there but never confirmed.
  await stack.sims[0].admin.setFault('none');
  await stack.sims[1].admin.setFailure(false);

  const all = await eventually(
    async () => {
      const c = await compare(stack);
      return c.default + c.fallback === 60 && c.service.default.totalRequests + c.service.fallback.totalRequests === 60;
    },
    60_000,
    200,
  );
  const c = await compare(stack);
  assert.ok(all, `paid ${c.default + c.fallback} of 60, counted ${c.service.default.totalRequests + c.service.fallback.totalRequests}`);
  assert.equal(c.service.default.totalRequests, c.default);
  assert.equal(c.service.fallback.totalRequests, c.fallback);
  // Exactly once: every claim is settled (nothing left to reclaim and send again), and the
  // processors still hold 60.
  assert.equal(await unsettledCount(stack.pg.url), 0);
  const later = await compare(stack);
  assert.equal(later.default + later.fallback, 60);
});

async function query(url: string, sql: string, values: unknown[] = []): Promise<number> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return Number((await db.query<{ n: string }>(sql, values)).rows[0].n);
  } finally {
    await db.end();
  }
}

function claimCount(url: string, ids: string[]): Promise<number> {
  return query(url, 'SELECT count(*) AS n FROM payment_claims WHERE correlation_id = ANY($1::uuid[])', [ids]);
}

// Claims with no payments row: payments accepted and not yet settled.
function unsettledCount(url: string): Promise<number> {
  return query(
    url,
    'SELECT count(*) AS n FROM payment_claims c WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.correlation_id = c.correlation_id)',
  );
}
