// Durable intake: an instance killed with SIGKILL loses nothing it had accepted; another
// instance reclaims its unsettled payments, finds out at the processors what was paid, and pays
// the rest. Nothing is paid twice; the summaries agree.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
  // Let the victim take them from its ring and write its intake (a group commit, ms).
  await new Promise((r) => setTimeout(r, 500));
  victim.child.kill('SIGKILL');
  await new Promise((r) => victim.child.once('exit', r));
  // Some may have reached the default before the kill: stored there but never confirmed.
  await stack.sims[0].admin.setFault('none');
  await stack.sims[1].admin.setFailure(false);

  const all = await eventually(async () => {
    const c = await compare(stack);
    return c.default + c.fallback === 60 && c.service.default.totalRequests + c.service.fallback.totalRequests === 60;
  }, 60_000, 200);
  const c = await compare(stack);
  assert.ok(all, `paid ${c.default + c.fallback} of 60, counted ${c.service.default.totalRequests + c.service.fallback.totalRequests}`);
  assert.equal(c.service.default.totalRequests, c.default);
  assert.equal(c.service.fallback.totalRequests, c.fallback);
  // exactly once: the processors hold 60 distinct ids, and nothing more arrives
  await new Promise((r) => setTimeout(r, 1500));
  const later = await compare(stack);
  assert.equal(later.default + later.fallback, 60);
});
