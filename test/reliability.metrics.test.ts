// GET /metrics: valid Prometheus text (every sample's family has # HELP and # TYPE before it, no
// series twice), counters that move by exactly what was done, histograms whose cumulative
// buckets never decrease and whose +Inf bucket equals the count.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { eventually, post, type Stack } from './support/stack.js';
import { familyOf, type Metrics, metricValue, parseMetrics, type Sample } from './support/reliability-metrics.js';
import { fresh, ledger, quiesce, sendPayments, startCustomStack } from './support/reliability-stack.js';

async function scrape(base: string): Promise<{ text: string; content_type: string; m: Metrics }> {
  const res = await request(base + '/metrics', { method: 'GET' });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200);
  return { text, content_type: String(res.headers['content-type'] ?? ''), m: parseMetrics(text) };
}

const seriesKey = (s: Sample): string =>
  s.name +
  '{' +
  Object.entries(s.labels)
    .filter(([k]) => k !== 'le')
    .sort()
    .map(([k, v]) => `${k}=${v}`)
    .join(',') +
  '}';

function checkHistograms(m: Metrics): number {
  let checked = 0;
  for (const [family, type] of m.type) {
    if (type !== 'histogram') continue;
    const buckets = m.samples.filter((s) => s.name === `${family}_bucket`);
    assert.ok(buckets.length > 0, `${family}: no buckets`);
    const groups = new Map<string, Sample[]>();
    for (const b of buckets) {
      assert.ok('le' in b.labels, `${family}: bucket without le`);
      const k = seriesKey(b).replace('_bucket', '');
      groups.set(k, [...(groups.get(k) ?? []), b]);
    }
    for (const [k, group] of groups) {
      const les = group.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      for (let i = 1; i < les.length; i++) assert.ok(les[i] > les[i - 1], `${k}: le not increasing`);
      assert.equal(les[les.length - 1], Infinity, `${k}: last bucket is not +Inf`);
      for (let i = 1; i < group.length; i++)
        assert.ok(group[i].value >= group[i - 1].value, `${k}: bucket le=${group[i].labels.le} < previous`);
      const labels = Object.fromEntries(Object.entries(group[0].labels).filter(([l]) => l !== 'le'));
      const count = metricValue(m, `${family}_count`, labels);
      const sum = metricValue(m, `${family}_sum`, labels);
      assert.equal(group[group.length - 1].value, count, `${k}: +Inf bucket != count`);
      assert.ok(sum >= 0 && Number.isFinite(sum), `${k}: sum ${sum}`);
      assert.ok(count === 0 || sum >= 0);
      checked++;
    }
  }
  return checked;
}

describe('reliability: /metrics', { timeout: 60_000 }, () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startCustomStack({ instances: 1, env: { RING_SLOTS: '1024' } });
    base = stack.instances[0].url;
  });
  after(async () => {
    await stack?.stop();
  });

  it('is Prometheus text: HELP and TYPE before every family, no series twice, content type', async () => {
    const { text, content_type, m } = await scrape(base);
    assert.match(content_type, /^text\/plain/);
    assert.match(content_type, /version=0\.0\.4/);
    assert.ok(m.samples.length > 20);
    const seen = new Set<string>();
    const lines = text.split('\n');
    for (const s of m.samples) {
      const family = familyOf(m, s.name);
      assert.ok(family !== undefined, `sample ${s.name} has no # TYPE`);
      assert.ok(m.help.has(family!), `family ${family} has no # HELP`);
      const key = s.name + JSON.stringify(Object.entries(s.labels).sort());
      assert.ok(!seen.has(key), `series twice: ${key}`);
      seen.add(key);
      if (m.type.get(family!) === 'counter') assert.ok(s.value >= 0 && Number.isInteger(s.value), `${s.name} = ${s.value}`);
    }
    // TYPE comes before the first sample of its family.
    for (const [family] of m.type) {
      const typeAt = lines.findIndex((l) => l.startsWith(`# TYPE ${family} `));
      const firstSample = lines.findIndex(
        (l) => !l.startsWith('#') && (l.startsWith(family + ' ') || l.startsWith(family + '{') || l.startsWith(family + '_')),
      );
      if (firstSample >= 0) assert.ok(typeAt < firstSample, `${family}: TYPE after samples`);
    }
    assert.equal(metricValue(m, 'rinha_ring_slots'), 1024);
    // Both thread kinds observe their GC pauses (a count is there even before the first pause).
    for (const thread of ['front', 'workers']) assert.ok(Number.isInteger(metricValue(m, 'rinha_gc_pause_ms_count', { thread })), thread);
    assert.ok(checkHistograms(m) >= 8);
  });

  it('counters move by exactly what was done', async () => {
    const m0 = (await scrape(base)).m;
    const v = (m: Metrics, name: string, labels: Record<string, string> = {}): number => metricValue(m, name, labels);
    const N = 25;
    const ids = fresh(N);
    const sent = await sendPayments([base], ids, { concurrency: 5 });
    assert.equal(sent.accepted.length, N);
    // Rejections of each kind.
    const invalid = 3;
    for (let i = 0; i < invalid; i++) assert.equal((await post(base, '/payments', '{"nope":1}')).status, 400);
    assert.equal((await post(base, '/payments', JSON.stringify({ correlationId: ids[0], amount: 1, pad: 'x'.repeat(2000) }))).status, 413);
    assert.equal((await post(base, '/payments', '{}', { 'content-type': 'text/plain' })).status, 415);
    const nowhere = await request(base + '/nowhere', { method: 'GET' });
    await nowhere.body.dump();
    assert.equal(nowhere.statusCode, 404);
    assert.ok(await quiesce([base]));
    assert.ok(await eventually(async () => (await ledger(stack)).service === N, 10_000));
    const m1 = (await scrape(base)).m;
    const d = (name: string, labels: Record<string, string> = {}): number => v(m1, name, labels) - v(m0, name, labels);
    assert.equal(d('rinha_payments_accepted_total'), N);
    assert.equal(d('rinha_payments_rejected_total', { reason: 'invalid' }), invalid);
    assert.equal(d('rinha_payments_rejected_total', { reason: 'too_large' }), 1);
    assert.equal(d('rinha_payments_rejected_total', { reason: 'unsupported_media_type' }), 1);
    assert.equal(d('rinha_payments_rejected_total', { reason: 'not_found' }), 1);
    assert.equal(d('rinha_payments_rejected_total', { reason: 'ring_full' }), 0);
    const ok =
      d('rinha_processor_attempts_total', { processor: 'default', outcome: 'ok' }) +
      d('rinha_processor_attempts_total', { processor: 'fallback', outcome: 'ok' });
    assert.equal(ok, N, 'one successful attempt per payment');
    assert.equal(
      d('rinha_router_decisions_total', { decision: 'default' }) + d('rinha_router_decisions_total', { decision: 'fallback' }),
      N,
    );
    assert.equal(d('rinha_writer_rows_total'), N);
    assert.ok(d('rinha_writer_batches_total') >= 1 && d('rinha_writer_batches_total') <= N);
    const latency =
      d('rinha_processor_latency_ms_count', { processor: 'default' }) + d('rinha_processor_latency_ms_count', { processor: 'fallback' });
    assert.equal(latency, N, 'one latency observation per answered attempt');
    assert.equal(d('rinha_queue_wait_ms_count'), N);
    assert.equal(d('rinha_visibility_lag_ms_count'), N);
    for (const g of ['rinha_backlog', 'rinha_held', 'rinha_writer_pending', 'rinha_ring_depth']) assert.equal(v(m1, g), 0, g);
    assert.equal(v(m1, 'rinha_workers_alive'), 1);
    assert.equal(v(m1, 'rinha_db_ready'), 1);
    // Counters never go down between scrapes.
    for (const s of m0.samples) {
      if (m0.type.get(familyOf(m0, s.name) ?? '') !== 'counter') continue;
      assert.ok(v(m1, s.name, s.labels) >= s.value, `${s.name} went down`);
    }
    assert.ok(checkHistograms(m1) >= 8);
  });
});
