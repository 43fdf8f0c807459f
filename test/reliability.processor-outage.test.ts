// Both processors down for 60 s while a steady trickle of payments arrives, then back: every
// accepted payment is paid once (lag 0), and the service's summary equals the processors'.
// Settings: HEALTH_INTERVAL_MS=5000 (the simulators' window), HOLD_BUDGET_MS=90000 (default: the
// outage is shorter, so payments are held, not forced anywhere), REQUEST_TIMEOUT_MS=1000.
// Its own file: the outage alone takes 60 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stack } from './support/stack.js';
import { agrees, allPaidAndAgreed, ledger, metricsOf, quiesce, startReliabilityStack, trickle } from './support/reliability-stack.js';
import { sumOf } from './support/reliability-metrics.js';

const OUTAGE_MS = 60_000;

describe('reliability: both processors down for 60 s', { timeout: 110_000 }, () => {
  let stack: Stack;
  let bases: string[];

  before(async () => {
    stack = await startReliabilityStack({
      instances: 2,
      env: { REQUEST_TIMEOUT_MS: '1000', HEALTH_INTERVAL_MS: '5000', HOLD_BUDGET_MS: '90000' },
    });
    bases = stack.instances.map((i) => i.url);
  });
  after(async () => {
    // Lift the outage first so the instances can drain quickly when the test failed midway.
    await Promise.all(stack?.sims.map((s) => s.admin.setFailure(false).catch(() => {})) ?? []);
    for (const i of stack?.instances ?? []) {
      const errors = i.log.filter((l) => /"level":"(warn|error)"/.test(l));
      if (errors.length > 0) process.stdout.write(`# instance ${i.port} warnings: ${errors.slice(-5).join(' | ')}\n`);
    }
    await stack?.stop();
  });

  it('holds through the outage, pays everything once when they are back', async (t) => {
    await Promise.all(stack.sims.map((s) => s.admin.setFailure(true)));
    // 4 payments every 250 ms across both instances: 16/s, ~960 during the outage.
    const load = trickle(bases, { every_ms: 250, per_tick: 4, max_ticks: Math.ceil(OUTAGE_MS / 250) + 4 });
    const started = Date.now();
    let max_held = 0;
    let phantom = '';
    // Bounded: one check per second for the length of the outage.
    for (let i = 0; i < OUTAGE_MS / 1000 && Date.now() - started < OUTAGE_MS; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const l = await ledger(stack);
      if (l.service > l.processors) phantom = JSON.stringify(l);
      let held = 0;
      for (const b of bases) {
        const m = await metricsOf(b);
        held += sumOf(m, 'rinha_backlog') + sumOf(m, 'rinha_ring_depth');
      }
      max_held = Math.max(max_held, held);
    }
    const sent = await load.stop();
    const during = await ledger(stack);
    const lifted_at = performance.now();
    await Promise.all(stack.sims.map((s) => s.admin.setFailure(false)));
    const accepted = new Set(sent.accepted);
    const complete = await allPaidAndAgreed(stack, accepted.size);
    const recovery_ms = Math.round(performance.now() - lifted_at);
    assert.ok(await quiesce(bases), 'work still queued after recovery');
    const l = await ledger(stack);
    let retries = 0;
    for (const b of bases) retries += sumOf(await metricsOf(b), 'rinha_retries_total');
    t.diagnostic(
      `outage ${OUTAGE_MS / 1000} s: accepted ${accepted.size}, refused ${JSON.stringify([...sent.refused])}, held at most ${max_held}, ` +
        `stored during outage ${during.processors}, after: processors ${l.processors} (default ${l.default.processor}, fallback ${l.fallback.processor}), ` +
        `service ${l.service}, lag ${accepted.size - l.processors}, retries ${retries}, all paid ${recovery_ms} ms after the processors came back`,
    );
    assert.equal(phantom, '', `service counted more than the processors hold during the outage: ${phantom}`);
    assert.equal(during.processors, 0, 'a failing processor stored something');
    assert.equal(sent.refused.size, 0, `payments refused during the outage: ${JSON.stringify([...sent.refused])}`);
    assert.ok(complete, `not all paid after the outage: ${JSON.stringify(l)}`);
    assert.equal(l.processors, accepted.size, 'lag or double payment');
    assert.equal(l.processors_cents, accepted.size * 1990);
    assert.ok(agrees(l), `service disagrees with processors: ${JSON.stringify(l)}`);
  });
});
