// Processor faults, one after the other on both processors (the simulator's fault modes and 429s
// from a small limiter; the failure flag on the default only: both failing is the outage test).
// Both, because the router may send everything to the healthy one and the fault would never be
// met: while the fault lasts the service never
// counts what a processor does not hold; once it is lifted every accepted payment is paid exactly
// once (lag 0, no duplicate) and the service's summary equals the processors'.
//
// Settings: REQUEST_TIMEOUT_MS=500 (a hung request is given up quickly and retried on the same
// processor), HEALTH_INTERVAL_MS=5000 (the simulators' window), HOLD_BUDGET_MS=90000 (default),
// simulators with a limiter of 16 running + 16 queued (instead of 800 + 500) so 429 is reachable.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, type Stack } from './support/stack.js';
import {
  agrees,
  allPaidAndAgreed,
  fresh,
  ledger,
  metricsOf,
  quiesce,
  sendPayments,
  startCustomStack,
} from './support/reliability-stack.js';
import { sumOf } from './support/reliability-metrics.js';
import type { FaultMode } from '../native-bench/processor-sim/server.js';
import type { SimAdmin } from '../native-bench/processor-sim/client.js';

const PER_PHASE = 40;

describe('reliability: processor faults', { timeout: 120_000 }, () => {
  let stack: Stack;
  let bases: string[];
  const accepted = new Set<string>();

  before(async () => {
    stack = await startCustomStack({
      instances: 2,
      env: { REQUEST_TIMEOUT_MS: '500', HEALTH_INTERVAL_MS: '5000' },
      sim: { max_running: 16, max_queued: 16 },
    });
    bases = stack.instances.map((i) => i.url);
  });
  after(async () => {
    await stack?.stop();
  });

  const outcomes = async (outcome: string): Promise<number> => {
    let n = 0;
    for (const b of bases) n += sumOf(await metricsOf(b), 'rinha_processor_attempts_total', { outcome });
    return n;
  };
  const retries = async (): Promise<number> => {
    let n = 0;
    for (const b of bases) n += sumOf(await metricsOf(b), 'rinha_retries_total');
    return n;
  };

  // Never counted without being stored: per processor, service <= processor (service read first).
  const assertNoPhantoms = async (label: string): Promise<void> => {
    const l = await ledger(stack);
    assert.ok(
      l.default.service <= l.default.processor,
      `${label}: service counts ${l.default.service} on default, processor holds ${l.default.processor}`,
    );
    assert.ok(
      l.fallback.service <= l.fallback.processor,
      `${label}: service counts ${l.fallback.service} on fallback, processor holds ${l.fallback.processor}`,
    );
  };

  const phase = async (
    t: { diagnostic(s: string): void },
    label: string,
    opts: { apply(): Promise<unknown>; lift(): Promise<unknown>; evidence: string; ids?: number; concurrency?: number },
  ): Promise<void> => {
    const before_evidence = await outcomes(opts.evidence);
    const before_retries = await retries();
    await opts.apply();
    const r = await sendPayments(bases, fresh(opts.ids ?? PER_PHASE), { concurrency: opts.concurrency ?? 8 });
    for (const id of r.accepted) accepted.add(id);
    assert.equal(r.accepted.length, opts.ids ?? PER_PHASE, `${label}: refused ${JSON.stringify([...r.refused])}`);
    // The fault was really met (bounded wait), and meanwhile nothing is counted that is not stored.
    const met = await eventually(
      async () => {
        await assertNoPhantoms(label);
        return (await outcomes(opts.evidence)) > before_evidence;
      },
      15_000,
      200,
    );
    await assertNoPhantoms(label);
    const lifted_at = performance.now();
    await opts.lift();
    const complete = await allPaidAndAgreed(stack, accepted.size);
    const recovery_ms = Math.round(performance.now() - lifted_at);
    assert.ok(await quiesce(bases), `${label}: work still queued`);
    const l = await ledger(stack);
    const lag = accepted.size - l.processors;
    t.diagnostic(
      `${label}: accepted ${accepted.size} total, processors ${l.processors} (default ${l.default.processor}, fallback ${l.fallback.processor}), ` +
        `service ${l.service}, lag ${lag}, "${opts.evidence}" outcomes ${(await outcomes(opts.evidence)) - before_evidence}, ` +
        `retries ${(await retries()) - before_retries}, recovery after lift ${recovery_ms} ms`,
    );
    assert.ok(met, `${label}: no "${opts.evidence}" outcome seen: the fault was not exercised`);
    assert.ok(complete, `${label}: not every payment paid after the fault was lifted: ${JSON.stringify(l)}`);
    assert.equal(
      l.processors,
      accepted.size,
      `${label}: processors hold ${l.processors} payments for ${accepted.size} distinct accepted ids (lag ${lag})`,
    );
    assert.equal(l.processors_cents, accepted.size * 1990);
    assert.ok(agrees(l), `${label}: service disagrees with processors ${JSON.stringify(l)}`);
  };

  const both = (f: (admin: SimAdmin) => Promise<unknown>): Promise<unknown> => Promise.all(stack.sims.map((s) => f(s.admin)));
  const fault = (mode: FaultMode, evidence: string) => ({
    apply: () => both((a) => a.setFault(mode)),
    lift: () => both((a) => a.setFault('none')),
    evidence,
  });

  it('hang (no answer; request timeout 500 ms)', async (t) => {
    await phase(t, 'hang', fault('hang', 'unknown'));
  });

  it('reset (stored, then connection reset)', async (t) => {
    await phase(t, 'reset', fault('reset', 'unknown'));
  });

  it('garbage (200 with a body that is not JSON)', async (t) => {
    await phase(t, 'garbage', fault('garbage', 'ok'));
  });

  it('slow-body (200 headers, body dribbled over ~3 s)', async (t) => {
    await phase(t, 'slow-body', fault('slow-body', 'ok'));
  });

  it('failure flag (500, nothing stored)', async (t) => {
    await phase(t, 'failure', {
      apply: () => stack.sims[0].admin.setFailure(true),
      lift: () => stack.sims[0].admin.setFailure(false),
      evidence: 'failed',
    });
  });

  it('429 (limiter full: 16 running + 16 queued, 400 ms delay)', async (t) => {
    await phase(t, '429', {
      apply: () => both((a) => a.setDelay(400)),
      lift: () => both((a) => a.setDelay(0)),
      evidence: 'rate_limited',
      ids: 120,
      concurrency: 60,
    });
  });

  it('reset while slow (stored after a 300 ms delay, then reset)', async (t) => {
    await phase(t, 'reset+delay', {
      apply: () =>
        both(async (a) => {
          await a.setDelay(300);
          await a.setFault('reset');
        }),
      lift: () =>
        both(async (a) => {
          await a.setFault('none');
          await a.setDelay(0);
        }),
      evidence: 'unknown',
    });
  });
});
