// Security: purge is off unless PURGE_ENABLED=true; error bodies never carry stack traces, file
// paths or driver messages (also when Postgres is down); SQL-looking input is refused with 400
// and changes nothing; the production dependencies have no known high/critical advisory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { DIST, eventually, get, type Instance, post, type Stack, startInstance, summary } from './support/stack.js';
import { assertCleanClientError, leaksInternals } from './support/reliability-http.js';
import { ledger, quiesce, sendPayments, startCustomStack } from './support/reliability-stack.js';
import { join } from 'node:path';

const ROOT = join(DIST, '..');

describe('reliability: security', { timeout: 60_000 }, () => {
  let stack: Stack;
  let base: string;
  const extra: Instance[] = [];

  before(async () => {
    stack = await startCustomStack({ instances: 1 });
    base = stack.instances[0].url;
    const r = await sendPayments([base], [crypto.randomUUID(), crypto.randomUUID()]);
    assert.equal(r.accepted.length, 2);
    assert.ok(await quiesce([base]));
    assert.ok(await eventually(async () => (await ledger(stack)).service === 2, 10_000));
  });
  after(async () => {
    await Promise.all(extra.map((i) => i.stop()));
    await stack?.stop();
  });

  for (const [label, value] of [
    ['unset', ''],
    ['false', 'false'],
    ['0', '0'],
  ] as const) {
    it(`purge is refused (403 JSON) when PURGE_ENABLED is ${label}, and nothing is purged`, async () => {
      const inst = await startInstance({ ...stack.env, PURGE_ENABLED: value });
      extra.push(inst);
      const r = await post(inst.url, '/purge-payments', '');
      assertCleanClientError(r, `purge with PURGE_ENABLED=${label}`, 403);
      const s = await summary(inst.url);
      assert.equal(s.default.totalRequests + s.fallback.totalRequests, 2, 'a refused purge removed payments');
    });
  }

  it('purge works when PURGE_ENABLED=true (the test instances)', async () => {
    const inst = await startInstance({ ...stack.env, PURGE_ENABLED: 'true' });
    extra.push(inst);
    // Checked on a separate throwaway count: purge, then the summary is zero everywhere.
    const r = await post(inst.url, '/purge-payments', '');
    assert.equal(r.status, 200, r.text);
    assert.ok(await eventually(async () => (await ledger(stack)).service === 0, 5_000));
    await Promise.all(stack.sims.map((x) => x.admin.purge())); // the processors keep their own records
    // Restore the two payments the other cases count on.
    await sendPayments([base], [crypto.randomUUID(), crypto.randomUUID()]);
    assert.ok(await eventually(async () => (await ledger(stack)).service === 2, 10_000));
  });

  const INJECTIONS = [
    "?from=2025-01-01T00:00:00.000Z'; DROP TABLE payments;--",
    "?from=2025-01-01T00:00:00.000Z' OR '1'='1",
    '?to=2025-01-01T00:00:00.000Z) UNION SELECT 1,2,3--',
    '?from=0; TRUNCATE payments',
    '?from=2025-01-01T00:00:00.000Z%27%3B%20DELETE%20FROM%20payments%3B--',
    "?from'; DROP TABLE payments;--=2025-01-01T00:00:00.000Z",
    '?from=2025-01-01T00:00:00.000Z&to=now()',
    "?to=2025-01-01T00:00:00.000Z'::timestamptz--",
    '?from=%00',
    '?from=-9223372036854775808',
  ];
  for (const q of INJECTIONS) {
    it(`SQL in the summary query is refused: ${q}`, async () => {
      const res = await request(base + '/payments-summary' + q.replaceAll(' ', '%20'), { method: 'GET' });
      const r = { status: res.statusCode, text: await res.body.text() };
      assertCleanClientError(r, q, 400);
    });
  }

  it('SQL in a payment body is refused', async () => {
    for (const id of ["'; DROP TABLE payments;--", "00000000-0000-0000-0000-000000000000' OR '1'='1"]) {
      const r = await post(base, '/payments', JSON.stringify({ correlationId: id, amount: 19.9 }));
      assertCleanClientError(r, id, 400);
    }
  });

  it('after the injections: the table is intact and nothing changed', async () => {
    const l = await ledger(stack);
    assert.equal(l.service, 2);
    assert.equal(l.processors, 2);
  });

  it('errors reveal no internals while Postgres is down (503 JSON)', async () => {
    await stack.pg.stop();
    const s = await eventually(async () => (await get(base, '/payments-summary')).status === 503, 10_000);
    assert.ok(s, 'summary did not report the database as unavailable');
    for (const [method, path] of [
      ['GET', '/payments-summary'],
      ['POST', '/purge-payments'],
    ] as const) {
      const res = await request(base + path, { method, body: method === 'POST' ? '' : undefined });
      const text = await res.body.text();
      assert.equal(res.statusCode, 503, `${method} ${path}: ${text}`);
      const body = JSON.parse(text) as { error?: unknown };
      assert.equal(typeof body.error, 'string');
      assert.equal(leaksInternals(text), null, `${method} ${path} leaks: ${text}`);
    }
    const h = await get(base, '/health');
    assert.equal(h.status, 503);
    assert.equal(leaksInternals(h.text), null, h.text);
  });

  it('npm audit --omit=dev --audit-level=high exits 0', (t) => {
    const r = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 45_000 });
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    let report: { vulnerabilities?: Record<string, { severity: string }>; message?: string; statusCode?: number } = {};
    try {
      report = JSON.parse(r.stdout) as typeof report;
    } catch {
      // not JSON: decided below
    }
    // Registry unreachable, or its audit endpoint missing (a mirror that answers 404/405 to the
    // bulk advisory POST): no verdict is possible, say so instead of passing or failing.
    const unreachable =
      /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|audit endpoint returned an error/.test(out);
    if (r.status !== 0 && report.vulnerabilities === undefined && (unreachable || r.error !== undefined)) {
      t.skip(`registry audit unavailable: ${(report.message ?? r.error?.message ?? out.trim().split('\n').pop() ?? '').slice(0, 160)}`);
      return;
    }
    const high = Object.entries(report.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical');
    assert.equal(r.status, 0, `npm audit found high/critical advisories: ${high.map(([k, v]) => `${k} (${v.severity})`).join(', ')}`);
  });
});
