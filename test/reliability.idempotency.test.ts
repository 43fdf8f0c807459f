// The same correlationId sent more than once - to one instance, to two, 20 times at once across
// both - is paid once (processors' totals), counted once (the service's summary), and every other
// copy shows in /metrics as a dropped duplicate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stack } from './support/stack.js';
import { metricValue } from './support/reliability-metrics.js';
import { agrees, ledger, metricsOf, quiesce, sendPayments, startReliabilityStack } from './support/reliability-stack.js';

describe('reliability: idempotency', { timeout: 60_000 }, () => {
  let stack: Stack;
  let bases: string[];
  let expected = 0; // distinct ids sent so far

  before(async () => {
    stack = await startReliabilityStack({ instances: 2 });
    bases = stack.instances.map((i) => i.url);
  });
  after(async () => {
    await stack?.stop();
  });

  const settleAndCheck = async (t: { diagnostic(s: string): void }, label: string): Promise<void> => {
    assert.ok(await quiesce(bases), `${label}: instances never emptied their queues`);
    const l = await ledger(stack);
    t.diagnostic(
      `${label}: distinct ids ${expected}, processors hold ${l.processors} (default ${l.default.processor}, fallback ${l.fallback.processor}), service counts ${l.service} (default ${l.default.service}, fallback ${l.fallback.service})`,
    );
    assert.equal(l.processors, expected, `${label}: paid ${l.processors} for ${expected} distinct ids`);
    assert.equal(l.service, expected, `${label}: counted ${l.service} for ${expected} distinct ids`);
    assert.equal(l.processors_cents, expected * 1990);
    assert.ok(agrees(l), `${label}: service disagrees with processors ${JSON.stringify(l)}`);
    // Every instance gives the same global answer.
    for (const b of bases) assert.equal((await ledger(stack, b)).service, expected);
    // Every copy accepted after the first of its id was dropped as a duplicate (none as purged).
    let accepted = 0;
    let duplicates = 0;
    for (const b of bases) {
      const m = await metricsOf(b);
      accepted += metricValue(m, 'rinha_payments_accepted_total');
      duplicates += metricValue(m, 'rinha_duplicates_dropped_total');
    }
    assert.equal(duplicates, accepted - expected, `${label}: ${accepted} accepted for ${expected} distinct ids`);
  };

  it('twice to one instance, one after the other', async (t) => {
    const id = crypto.randomUUID();
    const r = await sendPayments([bases[0]], [id, id], { concurrency: 1 });
    assert.equal(r.accepted.length + [...r.refused.values()].reduce((a, b) => a + b, 0), 2);
    assert.ok(r.accepted.length >= 1, 'the first one must be accepted');
    expected += 1;
    await settleAndCheck(t, 'one instance');
  });

  it('once to each instance', async () => {
    const id = crypto.randomUUID();
    await sendPayments([bases[0]], [id], { concurrency: 1 });
    await sendPayments([bases[1]], [id], { concurrency: 1 });
    expected += 1;
  });

  it('… is paid and counted once', async (t) => {
    await settleAndCheck(t, 'two instances');
  });

  it('20 times concurrently across both instances', async (t) => {
    const id = crypto.randomUUID();
    const r = await sendPayments(
      bases,
      Array.from({ length: 20 }, () => id),
      { concurrency: 20 },
    );
    t.diagnostic(`accepted ${r.accepted.length} of 20 copies`);
    assert.ok(r.accepted.length >= 1);
    expected += 1;
    await settleAndCheck(t, '20x concurrent');
  });

  it('50 ids, each sent 4 times interleaved across both instances', async (t) => {
    const ids = Array.from({ length: 50 }, () => crypto.randomUUID());
    const copies = [...ids, ...ids, ...ids, ...ids];
    await sendPayments(bases, copies, { concurrency: 40 });
    expected += ids.length;
    await settleAndCheck(t, '50 ids x4');
  });
});
