import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amountToCents } from '../src/money.js';
import { seeded } from './support/seeded.js';
import { checkContentType, parsePayment, parseSummaryQuery, readCanonicalPayment, readPayment } from '../src/http/validate.js';

const ID = '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3';

test('a contest payment parses to integer cents', () => {
  assert.deepEqual(parsePayment(`{"correlationId":"${ID}","amount":20.05}`), { ok: true, correlation_id: ID, amount_cents: 2005 });
  assert.deepEqual(parsePayment(` { "amount" : 19.9 , "correlationId" : "${ID.toUpperCase()}" } `), {
    ok: true,
    correlation_id: ID,
    amount_cents: 1990,
  });
  assert.deepEqual(parsePayment(`{"correlationId":"${ID}","amount":1e2}`), { ok: true, correlation_id: ID, amount_cents: 10000 });
});

test('every cent from 0.01 to 100.00 converts exactly', () => {
  for (let c = 1; c <= 10000; c++) assert.equal(amountToCents(Number((c / 100).toFixed(2))), c);
});

const bad: Array<[string, string, RegExp]> = [
  ['empty', '', /empty/],
  ['not json', 'hello', /JSON/],
  ['array', '[]', /object/],
  ['trailing garbage', `{"correlationId":"${ID}","amount":1}x`, /JSON/],
  ['missing id', '{"amount":1}', /correlationId is required/],
  ['missing amount', `{"correlationId":"${ID}"}`, /amount is required/],
  ['extra field', `{"correlationId":"${ID}","amount":1,"x":1}`, /unknown field/],
  ['duplicate key', `{"correlationId":"${ID}","amount":1,"amount":2}`, /duplicate/],
  ['id not a string', '{"correlationId":1,"amount":1}', /UUID/],
  ['id not a uuid', '{"correlationId":"abc","amount":1}', /UUID/],
  ['amount string', `{"correlationId":"${ID}","amount":"1.00"}`, /number/],
  ['amount zero', `{"correlationId":"${ID}","amount":0}`, /greater than zero/],
  ['amount negative', `{"correlationId":"${ID}","amount":-1}`, /greater than zero/],
  ['amount 3 decimals', `{"correlationId":"${ID}","amount":1.001}`, /2 decimal/],
  ['amount huge', `{"correlationId":"${ID}","amount":1e300}`, /at most/],
  ['amount null', `{"correlationId":"${ID}","amount":null}`, /number/],
  ['amount NaN word', `{"correlationId":"${ID}","amount":NaN}`, /JSON/],
  ['amount nested', `{"correlationId":"${ID}","amount":{"v":1}}`, /number/],
  ['leading zero', `{"correlationId":"${ID}","amount":01}`, /JSON/],
  ['raw control char', `{"correlationId":"${ID}\n","amount":1}`, /JSON/],
];
for (const [name, body, message] of bad) {
  test(`refused: ${name}`, () => {
    const r = parsePayment(body);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.status, 400);
      assert.match(r.error, message);
    }
  });
}

test('content type: JSON or absent', () => {
  assert.equal(checkContentType(''), null);
  assert.equal(checkContentType('application/json'), null);
  assert.equal(checkContentType('Application/JSON; charset=utf-8'), null);
  assert.equal(checkContentType('text/plain')?.status, 415);
  assert.equal(checkContentType('application/x-www-form-urlencoded')?.status, 415);
});

test('summary query: optional inclusive ISO bounds', () => {
  assert.deepEqual(parseSummaryQuery(''), { ok: true, from_ms: null, to_ms: null });
  assert.deepEqual(parseSummaryQuery('from=2025-07-15T12:34:56.000Z&to=2025-07-15T12:35:56.789Z'), {
    ok: true,
    from_ms: Date.UTC(2025, 6, 15, 12, 34, 56),
    to_ms: Date.UTC(2025, 6, 15, 12, 35, 56, 789),
  });
  assert.deepEqual(parseSummaryQuery('from=2025-07-15T12:34:56Z'), { ok: true, from_ms: Date.UTC(2025, 6, 15, 12, 34, 56), to_ms: null });
  for (const q of [
    'from=yesterday',
    'to=2025-13-45T00:00:00Z',
    'from=2025-07-15',
    'from=2025-07-16T00:00:00Z&to=2025-07-15T00:00:00Z',
    'x=1',
    'from=2025-07-15T00:00:00Z&from=2025-07-15T00:00:00Z',
  ]) {
    const r = parseSummaryQuery(q);
    assert.equal(r.ok, false, q);
  }
});

// The front's byte-level fast path against the general parser: whatever it accepts, the general
// path accepts with the same id and cents; what it refuses (-1) goes to the general path.
const fast = (body: string) => {
  const id = new Uint8Array(16);
  const cents = readCanonicalPayment(Buffer.from(body), id);
  return { cents, id: Buffer.from(id).toString('hex') };
};
const general = (body: string) => {
  const id = new Uint8Array(16);
  const r = readPayment(body, id);
  return r.ok ? { cents: r.amount_cents, id: Buffer.from(id).toString('hex') } : null;
};

test('fast path: bodies as load generators send them are read from bytes, in either order', () => {
  const id_hex = ID.replaceAll('-', '');
  assert.deepEqual(fast(`{"correlationId":"${ID}","amount":19.9}`), { cents: 1990, id: id_hex });
  assert.deepEqual(fast(`{"amount":20.05,"correlationId":"${ID.toUpperCase()}"}`), { cents: 2005, id: id_hex });
  assert.deepEqual(fast(`{"correlationId":"${ID}","amount":7}`), { cents: 700, id: id_hex });
  assert.deepEqual(fast(`{"correlationId":"${ID}","amount":0.01}`), { cents: 1, id: id_hex });
  assert.deepEqual(fast(`{"correlationId":"${ID}","amount":999999999.99}`), { cents: 99999999999, id: id_hex });
  // Every JSON.stringify'd payment with a 2-decimal amount takes the fast path.
  const rand = seeded();
  for (let i = 0; i < 2000; i++) {
    const amount = Math.round(rand.next() * 10 ** (1 + (i % 9))) / 100 || 0.01;
    const body = JSON.stringify(i % 2 ? { correlationId: rand.uuid(), amount } : { amount, correlationId: rand.uuid() });
    const f = fast(body);
    assert.ok(f.cents > 0, `fast path not taken for ${body}`);
    assert.deepEqual(f, general(body), body);
  }
});

test('fast path: anything else is left to the general path, and nothing it accepts differs from it', () => {
  const refused = [
    `{ "correlationId":"${ID}","amount":1}`,
    `{"correlationId":"${ID}","amount":1 }`,
    `{"correlationId":"${ID}","amount":1}\n`,
    `{"correlationId":"${ID}","amount":0}`,
    `{"correlationId":"${ID}","amount":0.00}`,
    `{"correlationId":"${ID}","amount":-1}`,
    `{"correlationId":"${ID}","amount":1e2}`,
    `{"correlationId":"${ID}","amount":1.001}`,
    `{"correlationId":"${ID}","amount":01}`,
    `{"correlationId":"${ID}","amount":1.}`,
    `{"correlationId":"${ID}","amount":.5}`,
    `{"correlationId":"${ID}","amount":1234567890}`,
    `{"correlationId":"${ID}","amount":1,"x":1}`,
    `{"correlationId":"${ID}","amount":1,"amount":2}`,
    `{"correlationId":"${ID}"}`,
    `{"correlationId":"${ID.slice(1)}","amount":1}`,
    `{"correlationId":"${ID}x","amount":1}`,
    `{"amount":1}`,
    '',
    '{',
    '{}',
  ];
  for (const body of refused) assert.equal(fast(body).cents, -1, body);
  // Mutations of a canonical body: a byte changed, dropped or doubled anywhere.
  const base = `{"correlationId":"${ID}","amount":123.45}`;
  const alphabet = '0123456789abcdefABCDEF-.,:"{} eE+x\\';
  let agreed = 0;
  for (let i = 0; i < 20000; i++) {
    const at = i % base.length;
    const c = alphabet[(i * 7919) % alphabet.length];
    const body =
      i % 3 === 0
        ? base.slice(0, at) + c + base.slice(at + 1)
        : i % 3 === 1
          ? base.slice(0, at) + base.slice(at + 1)
          : base.slice(0, at) + base[at] + base.slice(at);
    const f = fast(body);
    if (f.cents === -1) continue;
    assert.deepEqual(f, general(body), body);
    agreed++;
  }
  assert.ok(agreed > 100, `only ${agreed} mutated bodies took the fast path`);
});
