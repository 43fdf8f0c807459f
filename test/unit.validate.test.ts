import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amountToCents, checkContentType, parsePayment, parseSummaryQuery } from '../src/http/validate.js';

const ID = '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3';

test('a contest payment parses to integer cents', () => {
  assert.deepEqual(parsePayment(`{"correlationId":"${ID}","amount":20.05}`), { ok: true, correlation_id: ID, amount_cents: 2005 });
  assert.deepEqual(parsePayment(` { "amount" : 19.9 , "correlationId" : "${ID.toUpperCase()}" } `), { ok: true, correlation_id: ID, amount_cents: 1990 });
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
  assert.deepEqual(parseSummaryQuery('from=2025-07-15T12:34:56.000Z&to=2025-07-15T12:35:56.789Z'),
    { ok: true, from_ms: Date.UTC(2025, 6, 15, 12, 34, 56), to_ms: Date.UTC(2025, 6, 15, 12, 35, 56, 789) });
  assert.deepEqual(parseSummaryQuery('from=2025-07-15T12:34:56Z'), { ok: true, from_ms: Date.UTC(2025, 6, 15, 12, 34, 56), to_ms: null });
  for (const q of ['from=yesterday', 'to=2025-13-45T00:00:00Z', 'from=2025-07-15', 'from=2025-07-16T00:00:00Z&to=2025-07-15T00:00:00Z', 'x=1', 'from=2025-07-15T00:00:00Z&from=2025-07-15T00:00:00Z']) {
    const r = parseSummaryQuery(q);
    assert.equal(r.ok, false, q);
  }
});
