// Bad input against one real instance: every case gets a 4xx (with a JSON {"error"} body when
// there is a body) or a closed connection, never a 2xx, never internals; and afterwards nothing
// was accepted, nothing reached a processor, nothing is counted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { get, type Stack, startStack, summary } from './support/stack.js';
import { assertCleanClientError, leaksInternals, rawPost, rawRequest } from './support/reliability-http.js';
import { metricValue, parseMetrics } from './support/reliability-metrics.js';

const ID = '7d3c0b4e-5f6a-4b1c-9d2e-3f4a5b6c7d8e';
const ok = (amount: string, id = `"${ID}"`): string => `{"correlationId":${id},"amount":${amount}}`;
const withId = (id: string): string => `{"correlationId":${JSON.stringify(id)},"amount":19.9}`;
const withIdRaw = (idJsonText: string): string => `{"correlationId":"${idJsonText}","amount":19.9}`;

interface Reply {
  status: number;
  text: string;
  headers?: Record<string, string>;
  closed?: boolean;
}
interface Case {
  name: string;
  send(stack: Stack, port: number): Promise<Reply>;
  status?: number; // exact status expected; otherwise any 4xx
  may_close?: boolean; // a closed connection without an answer is acceptable too
}

async function postBody(
  base: string,
  body: string | Buffer,
  content_type: string | null = 'application/json',
  path = '/payments',
): Promise<Reply> {
  const headers: Record<string, string> = content_type === null ? {} : { 'content-type': content_type };
  const res = await request(base + path, { method: 'POST', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

async function call(base: string, method: string, path: string): Promise<Reply> {
  const res = await request(base + path, { method: method as 'GET' });
  return { status: res.statusCode, text: await res.body.text() };
}

const body = (b: string | Buffer, status = 400): Omit<Case, 'name'> => ({ send: (s) => postBody(s.instances[0].url, b), status });
const raw = (req: Buffer, status?: number, may_close = false): Omit<Case, 'name'> => ({
  send: async (_s, port) => {
    const r = await rawRequest(port, req);
    return { status: r.status, text: r.body, headers: r.headers, closed: r.closed };
  },
  status,
  may_close,
});
const summaryQuery = (q: string, status = 400): Omit<Case, 'name'> => ({
  send: (s) => get(s.instances[0].url, '/payments-summary' + q),
  status,
});

function chunked(parts: string[]): Buffer {
  const head = 'POST /payments HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';
  return Buffer.from(head + parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n');
}

const CASES: Array<Case> = (
  [
    // Not JSON / not an object
    ['not JSON', body('hello')],
    ['empty body', body('')],
    ['JSON null', body('null')],
    ['JSON array of a payment', body(`[${ok('19.9')}]`)],
    ['JSON string', body('"hello"')],
    ['single quotes', body(`{'correlationId':'${ID}','amount':19.9}`)],
    ['unterminated object', body(`{"correlationId":"${ID}","amount":19.9`)],
    ['trailing garbage', body(`${ok('19.9')}x`)],
    ['two objects', body(`${ok('19.9')}${ok('19.9')}`)],
    ['trailing comma', body(`{"correlationId":"${ID}","amount":19.9,}`)],
    ['byte order mark', body(`\ufeff${ok('19.9')}`)],
    ['raw control char in string', body(`{"correlationId":"${ID.slice(0, 35)}\u0001","amount":19.9}`)],
    [
      'invalid UTF-8 bytes in the id',
      body(Buffer.concat([Buffer.from('{"correlationId":"'), Buffer.from([0xff, 0xfe]), Buffer.from(ID.slice(2) + '","amount":19.9}')])),
    ],
    // Missing / extra fields, wrong types
    ['empty object', body('{}')],
    ['missing amount', body(`{"correlationId":"${ID}"}`)],
    ['missing correlationId', body('{"amount":19.9}')],
    ['extra field', body(`{"correlationId":"${ID}","amount":19.9,"requestedAt":"2025-01-01T00:00:00.000Z"}`)],
    ['key in another case', body(`{"CorrelationId":"${ID}","amount":19.9}`)],
    ['key with a zero-width space', body(`{"correlationId\u200b":"${ID}","amount":19.9}`)],
    ['correlationId is a number', body(ok('19.9', '123'))],
    ['correlationId is null', body(ok('19.9', 'null'))],
    ['correlationId is an object', body(ok('19.9', `{"id":"${ID}"}`))],
    ['amount is a string', body(ok('"19.90"'))],
    ['amount is null', body(ok('null'))],
    ['amount is true', body(ok('true'))],
    ['amount is an array', body(ok('[19.9]'))],
    ['amount is an object', body(ok('{"value":19.9}'))],
    // Not a UUID
    ['id not a UUID', body(withId('abc'))],
    ['id without dashes', body(withId(ID.replaceAll('-', '')))],
    ['id in braces', body(withId(`{${ID}}`))],
    ['id one char too long', body(withId(ID + 'a'))],
    ['id with a space', body(withId(` ${ID.slice(1)}`))],
    ['id with non-hex letters', body(withId('g' + ID.slice(1)))],
    ['id with fullwidth digit', body(withId('\uff17' + ID.slice(1)))],
    ['id with Arabic-Indic digit', body(withId('\u0667' + ID.slice(1)))],
    ['id with Cyrillic a', body(withId(ID.slice(0, 35) + '\u0430'))],
    ['id with zero-width space (same length)', body(withId('\u200b' + ID.slice(1)))],
    ['id with zero-width joiner inserted', body(withId(ID.slice(0, 8) + '\u200d' + ID.slice(8)))],
    ['id with escaped newline', body(withIdRaw(ID.slice(0, 35) + '\\n'))],
    ['id with escaped NUL', body(withIdRaw(ID.slice(0, 35) + '\\u0000'))],
    ['id with lone surrogate escape', body(withIdRaw(ID.slice(0, 35) + '\\ud800'))],
    ['id with invalid escape', body(withIdRaw(ID.slice(0, 34) + '\\x'))],
    // Amounts
    ['amount zero', body(ok('0'))],
    ['amount negative zero', body(ok('-0'))],
    ['amount negative', body(ok('-19.9'))],
    ['amount 3 decimals', body(ok('19.901'))],
    ['amount below a cent', body(ok('0.001'))],
    ['amount exponent below a cent', body(ok('1e-3'))],
    ['amount exponent overflow', body(ok('1e400'))],
    ['amount huge', body(ok('1e300'))],
    ['amount over the limit', body(ok('1000000000.01'))],
    ['amount beyond safe integer', body(ok('9007199254740993'))],
    ['amount NaN literal', body(ok('NaN'))],
    ['amount Infinity literal', body(ok('Infinity'))],
    ['amount -Infinity literal', body(ok('-Infinity'))],
    ['amount "NaN" string', body(ok('"NaN"'))],
    ['amount leading zero', body(ok('019.9'))],
    ['amount leading dot', body(ok('.5'))],
    ['amount leading plus', body(ok('+19.9'))],
    ['amount hex', body(ok('0x10'))],
    ['amount trailing dot', body(ok('19.'))],
    ['amount fullwidth digits string', body(ok('"\uff11\uff19.\uff19"'))],
    // Duplicate keys (JSON.parse would keep the last one silently)
    ['duplicate correlationId', body(`{"correlationId":"${ID}","correlationId":"${ID}","amount":19.9}`)],
    ['duplicate amount', body(`{"correlationId":"${ID}","amount":19.9,"amount":19.9}`)],
    ['duplicate key via escape', body(`{"correlationId":"${ID}","amount":19.9,"\\u0061mount":1}`)],
    // Content type and size
    ['content-type text/plain', { send: (s) => postBody(s.instances[0].url, ok('19.9'), 'text/plain'), status: 415 }],
    ['content-type form', { send: (s) => postBody(s.instances[0].url, ok('19.9'), 'application/x-www-form-urlencoded'), status: 415 }],
    ['content-type json-ish', { send: (s) => postBody(s.instances[0].url, ok('19.9'), 'application/jsonp'), status: 415 }],
    [
      'body over the limit (content-length)',
      raw(rawPost('/payments', `{"correlationId":"${ID}","amount":19.9,"pad":"${'x'.repeat(4000)}"}`), 413, true),
    ],
    [
      'body over the limit (content-length lies small)',
      raw(
        rawPost('/payments', `{"correlationId":"${ID}","amount":19.9,"pad":"${'x'.repeat(4000)}"}`, { 'content-length': '50' }),
        undefined,
        true,
      ),
    ],
    [
      'body over the limit (chunked)',
      raw(chunked([`{"correlationId":"${ID}",`, `"pad":"${'x'.repeat(2000)}",`, '"amount":19.9}']), 413, true),
    ],
    ['chunked bad body', raw(chunked(['{"correlationId":', '"nope","amount":1}']), 400, true)],
    // Length headers in dispute, a valid payment in each: refused (400) by the service, or closed by uWS
    ['two content-length headers', raw(rawPost('/payments', ok('19.9'), { 'Content-Length': '5' }), 400)],
    ['content-length with transfer-encoding', raw(rawPost('/payments', ok('19.9'), { 'transfer-encoding': 'chunked' }), undefined, true)],
    ['negative content-length', raw(rawPost('/payments', ok('19.9'), { 'content-length': '-1' }), undefined, true)],
    // Header floods: a valid payment that must not be accepted
    [
      'many headers',
      raw(
        rawPost('/payments', ok('19.9'), Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-flood-${i}`, 'v']))),
        undefined,
        true,
      ),
    ],
    ['huge header', raw(rawPost('/payments', ok('19.9'), { 'x-huge': 'v'.repeat(128 * 1024) }), undefined, true)],
    // Routes and methods
    ['unknown route', { send: (s) => call(s.instances[0].url, 'GET', '/nope'), status: 404 }],
    ['unknown route POST', { send: (s) => postBody(s.instances[0].url, ok('19.9'), 'application/json', '/payments/x'), status: 404 }],
    ['path traversal', { send: (s) => call(s.instances[0].url, 'GET', '/../../etc/passwd'), status: 404 }],
    ['GET /payments', { send: (s) => call(s.instances[0].url, 'GET', '/payments'), status: 405 }],
    ['PUT /payments', { send: (s) => call(s.instances[0].url, 'PUT', '/payments'), status: 405 }],
    ['DELETE /payments-summary', { send: (s) => call(s.instances[0].url, 'DELETE', '/payments-summary'), status: 405 }],
    ['GET /purge-payments', { send: (s) => call(s.instances[0].url, 'GET', '/purge-payments'), status: 405 }],
    // Summary queries
    ['summary from not a date', summaryQuery('?from=yesterday')],
    ['summary to impossible month', summaryQuery('?to=2025-13-01T00:00:00.000Z')],
    ['summary from epoch number', summaryQuery('?from=1752000000000')],
    ['summary from date only', summaryQuery('?from=2025-07-15')],
    ['summary from after to', summaryQuery('?from=2025-07-15T12:00:00.000Z&to=2025-07-15T11:00:00.000Z')],
    ['summary unknown param', summaryQuery('?from=2025-07-15T12:00:00.000Z&limit=10')],
    ['summary from twice', summaryQuery('?from=2025-07-15T12:00:00.000Z&from=2025-07-15T13:00:00.000Z')],
    ['summary SQL in from', summaryQuery(`?from=${encodeURIComponent("2025-07-15T12:00:00.000Z' OR '1'='1")}`)],
  ] as Array<[string, Omit<Case, 'name'>]>
).map(([name, c]) => ({ name, ...c }));

describe('reliability: bad input', { timeout: 60_000 }, () => {
  let stack: Stack;
  let port: number;
  before(async () => {
    stack = await startStack({ instances: 1, env: { LOG_LEVEL: 'info' } }); // stack.ts waits for the info-level 'listening' line
    port = stack.instances[0].port;
  });
  after(async () => {
    await stack?.stop();
  });

  it(`has at least 40 cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 40);
  });

  for (const c of CASES) {
    it(c.name, async (t) => {
      const r = await c.send(stack, port);
      t.diagnostic(`status ${r.status}${r.closed ? ' (connection closed)' : ''}`);
      if (r.status === 0) {
        assert.ok(c.may_close, `${c.name}: connection closed without an answer`);
        return;
      }
      assert.ok(!(r.status >= 200 && r.status < 300), `${c.name}: accepted with ${r.status}`);
      assertCleanClientError(r, c.name, c.status);
    });
  }

  it('a slow sender does not hang the server: others are served meanwhile', async () => {
    const req = rawPost('/payments', withId('not-a-uuid'));
    const pieces = Array.from({ length: Math.ceil(req.length / 4) }, (_, i) => req.subarray(i * 4, i * 4 + 4));
    // ~30 pieces 100 ms apart: 3 s for one request
    const slow = rawRequest(port, req, { pieces, every_ms: 100, timeout_ms: 20_000 });
    let served = 0;
    for (let i = 0; i < 10; i++) {
      const r = await get(stack.instances[0].url, '/health');
      assert.equal(r.status, 200, r.text);
      served++;
      await new Promise((res) => setTimeout(res, 100));
    }
    const s = await slow;
    assert.equal(served, 10);
    if (s.status !== 0) assertCleanClientError({ status: s.status, text: s.body }, 'slow sender', 400);
  });

  it('a half-sent body (client stops sending) does not block other requests', async () => {
    const req = rawPost('/payments', ok('19.9'));
    const half = req.subarray(0, req.length - 5);
    const stalled = rawRequest(port, half, { timeout_ms: 1_000 });
    const r = await get(stack.instances[0].url, '/health');
    assert.equal(r.status, 200);
    const s = await stalled;
    assert.ok(!(s.status >= 200 && s.status < 300), 'a truncated payment was accepted');
  });

  it('after all: nothing accepted, nothing at a processor, nothing counted; health still ok', async () => {
    const base = stack.instances[0].url;
    const metrics = parseMetrics((await get(base, '/metrics')).text);
    assert.equal(metricValue(metrics, 'rinha_payments_accepted_total'), 0);
    const rejected = metrics.samples.filter((s) => s.name === 'rinha_payments_rejected_total').reduce((a, s) => a + s.value, 0);
    assert.ok(rejected >= 40, `rejections counted: ${rejected}`);
    const s = await summary(base);
    assert.deepEqual(s, { default: { totalRequests: 0, totalAmount: 0 }, fallback: { totalRequests: 0, totalAmount: 0 } });
    for (const sim of stack.sims) {
      const p = await sim.admin.summary();
      assert.equal(p.totalRequests, 0);
      assert.equal(p.totalAmount, 0);
    }
    const h = await get(base, '/health');
    assert.equal(h.status, 200);
    assert.equal(leaksInternals(h.text), null);
  });
});
