// Overload.
// 1. Ring full: with RING_SLOTS=16, BACKLOG_MAX_PER_WORKER=4, MAX_INFLIGHT_PER_WORKER=4 and both
//    processors failing (everything is held), the ring fills and further payments get 503 with a
//    JSON error at once; memory stays flat while refused traffic keeps coming; once the
//    processors are back every accepted payment is paid once.
// 2. 10x the contest's peak (~6000 req/s) for 30 s with autocannon (fresh uuid per request) on
//    one instance: peak RSS reported and asserted under RSS_LIMIT_MB; p99 of a light probe in
//    the 5 s after the burst reported next to the same probe before it.
import { readComposeLimits } from '../native-bench/topology/compose-file.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { eventually, type Stack } from './support/stack.js';
import { agrees, fresh, ledger, metricsOf, quiesce, sendPayments, startCustomStack } from './support/reliability-stack.js';
import { leaksInternals } from './support/reliability-http.js';
import { sumOf } from './support/reliability-metrics.js';
import { paymentLoad, rssSampler } from './support/reliability-load.js';

// The instance's memory limit in docker-compose.yml (deploy.resources.limits of api1): what
// "memory stays under the instance limit" means for the contest submission.
const RSS_LIMIT_MB = readComposeLimits(new URL('../../docker-compose.yml', import.meta.url).pathname).services.api1.memory_mb;
const BURST_S = 30;
const BURST_RATE = 6000;

describe('reliability: ring full', { timeout: 60_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startCustomStack({
      instances: 1,
      env: { RING_SLOTS: '16', BACKLOG_MAX_PER_WORKER: '4', MAX_INFLIGHT_PER_WORKER: '4', WORKER_THREADS: '1' },
    });
  });
  after(async () => {
    await Promise.all(stack?.sims.map((s) => s.admin.setFailure(false).catch(() => {})) ?? []);
    await stack?.stop();
  });

  it('answers 503 with a JSON error when full, stays flat in memory, pays everything accepted later', async (t) => {
    const base = stack.instances[0].url;
    await Promise.all(stack.sims.map((s) => s.admin.setFailure(true)));
    const r = await sendPayments([base], fresh(200), { concurrency: 8 });
    const refused_503 = r.refused.get(503) ?? 0;
    assert.ok(refused_503 > 0, `no 503 with 200 payments into 16 slots: ${JSON.stringify([...r.refused])}`);
    assert.equal(r.accepted.length + refused_503, 200, `other answers: ${JSON.stringify([...r.refused])}`);
    // Until the worker has seen the default fail, it may still send (and then take a few more
    // records from the ring). Once a 500 came back and nothing is in flight, the router holds
    // everything and the ring can only stay full: top it up again until it refuses.
    const settled = await eventually(
      async () => {
        const m = await metricsOf(base);
        return sumOf(m, 'rinha_processor_attempts_total', { outcome: 'failed' }) > 0 && sumOf(m, 'rinha_inflight') === 0;
      },
      20_000,
      100,
    );
    assert.ok(settled, 'attempts in flight settle while the processors fail');
    let topped_up = 0;
    let topped_503 = 0;
    for (let i = 0; i < 64 && topped_503 === 0; i++) {
      const x = await request(base + '/payments', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ correlationId: crypto.randomUUID(), amount: 19.9 }),
      });
      await x.body.dump();
      if (x.statusCode === 202) topped_up++;
      else if (x.statusCode === 503) topped_503++;
    }
    assert.equal(topped_503, 1, 'the ring is full again');
    // The 503 body.
    const one = await request(base + '/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ correlationId: crypto.randomUUID(), amount: 19.9 }),
    });
    const text = await one.body.text();
    assert.equal(one.statusCode, 503);
    assert.equal(typeof (JSON.parse(text) as { error?: unknown }).error, 'string');
    assert.equal(leaksInternals(text), null);
    const m = await metricsOf(base);
    assert.equal(sumOf(m, 'rinha_payments_rejected_total', { reason: 'ring_full' }), refused_503 + topped_503 + 1);
    // Refused traffic for a while: memory must not follow it.
    const pid = stack.instances[0].child.pid!;
    const rss = rssSampler(pid);
    const flood = await paymentLoad(base, { duration_s: 5, connections: 20 });
    const mem = rss.stop();
    t.diagnostic(
      `ring full: accepted ${r.accepted.length}/200 then 503 (+${topped_up} once in-flight attempts settled); flood of ${flood.sent} refused requests in 5 s (${flood.rate_per_s}/s, p99 ${flood.p99_ms} ms, ` +
        `statuses ${JSON.stringify(flood.statuses)}); RSS peak ${Math.round(mem.peak_kb / 1024)} MB, last ${Math.round(mem.last_kb / 1024)} MB`,
    );
    assert.equal(flood.ok_2xx, 0, 'payments accepted while the ring was full');
    assert.ok(mem.peak_kb / 1024 < RSS_LIMIT_MB, `RSS ${mem.peak_kb} kB`);
    // Back: all accepted are paid, once.
    await Promise.all(stack.sims.map((s) => s.admin.setFailure(false)));
    const done = await eventually(async () => {
      const l = await ledger(stack);
      return l.processors >= r.accepted.length + topped_up && agrees(l);
    }, 20_000);
    assert.ok(await quiesce([base]));
    const l = await ledger(stack);
    assert.ok(done, JSON.stringify(l));
    assert.equal(l.processors, r.accepted.length + topped_up);
  });
});

describe(`reliability: ${BURST_RATE} req/s for ${BURST_S} s`, { timeout: 90_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startCustomStack({ instances: 1 });
  });
  after(async () => {
    await stack?.stop();
  });

  it('RSS stays under the limit; p99 before/after reported', async (t) => {
    const base = stack.instances[0].url;
    const pid = stack.instances[0].child.pid!;
    const probe = () => paymentLoad(base, { duration_s: 5, rate_per_s: 200, connections: 10 });
    const idle_kb = rssSampler(pid).stop().last_kb;
    const before_burst = await probe();
    const rss = rssSampler(pid);
    const burst = await paymentLoad(base, { duration_s: BURST_S, rate_per_s: BURST_RATE, connections: 200 });
    const during = rss.stop();
    const rss_after = rssSampler(pid);
    const after_burst = await probe();
    const after_mem = rss_after.stop();
    const m = await metricsOf(base);
    const ring_full = sumOf(m, 'rinha_payments_rejected_total', { reason: 'ring_full' });
    const backlog = sumOf(m, 'rinha_ring_depth') + sumOf(m, 'rinha_backlog');
    t.diagnostic(
      `burst: ${burst.sent} requests in ${BURST_S} s (${burst.rate_per_s}/s achieved of ${BURST_RATE} asked), 2xx ${burst.ok_2xx}, non-2xx ${burst.non_2xx} ` +
        `(ring full ${ring_full}), errors ${burst.errors}, timeouts ${burst.timeouts}; p50 ${burst.p50_ms} ms, p99 ${burst.p99_ms} ms, max ${burst.max_ms} ms`,
    );
    t.diagnostic(
      `RSS: idle ${Math.round(idle_kb / 1024)} MB, peak during burst ${Math.round(during.peak_kb / 1024)} MB, peak in the 5 s after ${Math.round(after_mem.peak_kb / 1024)} MB; ` +
        `backlog right after the probe ${backlog}`,
    );
    t.diagnostic(
      `probe 200 req/s: p50/p99 before ${before_burst.p50_ms}/${before_burst.p99_ms} ms, in the 5 s after the burst ${after_burst.p50_ms}/${after_burst.p99_ms} ms ` +
        `(non-2xx ${after_burst.non_2xx})`,
    );
    assert.ok(burst.sent > 0);
    assert.ok(
      Math.max(during.peak_kb, after_mem.peak_kb) / 1024 < RSS_LIMIT_MB,
      `RSS peak ${Math.max(during.peak_kb, after_mem.peak_kb)} kB over ${RSS_LIMIT_MB} MB`,
    );
  });
});
