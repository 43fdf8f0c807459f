import { test } from 'node:test';
import assert from 'node:assert/strict';
import { k6Percentile, round2, p99Bonus, score, officialResult } from '../native-bench/contest/score.js';
import { Decimal } from '../native-bench/contest/decimal.js';

const cents = (x: number) => Math.round(x * 100) / 100;

test('re-run #1: gross 1,816,349.55, fees 149,788.54, p99 2.55 ms scores 1,949,876.38', () => {
  const s = score({ gross: 1816349.55, fees: 149788.54, p99_raw_ms: 2.55, inconsistencies: 0 });
  assert.equal(s.p99_ms, 2.55);
  assert.equal(s.bonus, 0.17);
  assert.equal(s.fine, 0);
  assert.equal(s.net_before_bonus, 1666561.01);
  assert.equal(s.score, 1949876.3817);
  assert.equal(cents(s.score), 1949876.38);
});

test('official #1: gross 737,198.40, fees 61,248.94, p99 2.54 ms scores 790,860.87', () => {
  const s = score({ gross: 737198.4, fees: 61248.94, p99_raw_ms: 2.54, inconsistencies: 0 });
  assert.equal(s.bonus, 0.17);
  assert.equal(s.net_before_bonus, 675949.46);
  assert.equal(cents(s.score), 790860.87);
});

test('inconsistency fine and a slow p99 (no bonus, never negative)', () => {
  const s = score({ gross: 1000, fees: 70, p99_raw_ms: 25.004, inconsistencies: 3 });
  assert.equal(s.p99_ms, 25);
  assert.equal(s.bonus, 0);
  assert.equal(s.fine, 0.35);
  assert.equal(s.score, 604.5); // 930 · (1 − 0.35)
});

test('p99 is rounded half-up to 2 decimals before the bonus', () => {
  assert.equal(round2(2.545), 2.55); // big.js works on the decimal text "2.545"
  assert.equal(round2(2.544999), 2.54);
  assert.equal(round2(1.005), 1.01); // Math.round(1.005*100)/100 would give 1.00
  assert.equal(p99Bonus(2.55), 0.17); // (11 − 2.55)·0.02 = 0.16899999999999998 in floats → 0.17
  assert.equal(p99Bonus(1), 0.2);
  assert.equal(p99Bonus(0.5), 0.21);
  assert.equal(p99Bonus(11), 0);
  assert.equal(p99Bonus(40), 0);
  const fast = score({ gross: 100, fees: 7, p99_raw_ms: 2.545, inconsistencies: 0 });
  assert.equal(fast.p99_ms, 2.55);
});

test('k6 percentile interpolates linearly between closest ranks, i = p·(n−1)', () => {
  assert.equal(k6Percentile([], 0.99), 0);
  assert.equal(k6Percentile([7], 0.99), 7);
  // n = 5, p = 0.5 → i = 2 exactly → the middle value (unsorted input is sorted first)
  assert.equal(k6Percentile([5, 1, 4, 2, 3], 0.5), 3);
  // n = 2, p = 0.99 → i = 0.99 → 1 + (2 − 1)·0.99
  assert.equal(k6Percentile([2, 1], 0.99), 1.99);
  // n = 101 values 0..100, p99 → i = 99 exactly
  assert.equal(
    k6Percentile(
      Array.from({ length: 101 }, (_, i) => i),
      0.99,
    ),
    99,
  );
  // n = 100 values 1..100, p99 → i = 98.01 → 99 + 1·0.01 (float math as k6 does it)
  const v = k6Percentile(
    Array.from({ length: 100 }, (_, i) => i + 1),
    0.99,
  );
  assert.ok(Math.abs(v - 99.01) < 1e-9);
  // n = 11: 10 fast + 1 slow, p99 → i = 9.9 → 1 + (100 − 1)·0.9
  const w = k6Percentile([...Array(10).fill(1), 100], 0.99);
  assert.ok(Math.abs(w - 90.1) < 1e-9);
});

test('official result: keys, fees from feePerTransaction × totalAmount, lag', () => {
  const r = officialResult({
    participant: 'x',
    max_requests: 603,
    success_count: 100,
    failure_count: 2,
    inconsistencies: 0,
    p99_raw_ms: 1.234,
    default: { totalAmount: 1203, totalRequests: 60, totalFee: 84.21, feePerTransaction: 0.07 },
    fallback: { totalAmount: 802, totalRequests: 40, totalFee: 80.2, feePerTransaction: 0.1 },
  });
  assert.deepEqual(Object.keys(r), [
    'timestamp',
    'participante',
    'total_liquido',
    'total_bruto',
    'total_taxas',
    'descricao',
    'p99',
    'multa',
    'caixa_dois',
    'lag',
    'pagamentos_solicitados',
    'pagamentos_realizados_default',
    'pagamentos_realizados_fallback',
  ]);
  assert.equal(r.total_bruto, 2005);
  assert.equal(r.pagamentos_realizados_default.total_taxas, 84.21);
  assert.equal(r.total_taxas, 164.41);
  assert.equal(r.p99.valor, '1.23ms');
  assert.equal(r.p99.bonus, '20%');
  assert.equal(r.lag.lag, 0);
  assert.equal(r.caixa_dois.detectado, false);
  assert.equal(r.total_liquido, 2208.708); // 1840.59 · 1.2
});

test('Decimal mirrors big.js: exact products, half-up rounding, exponent input', () => {
  assert.equal(Decimal.of(0.1).plus(0.2).toNumber(), 0.3);
  assert.equal(Decimal.of(1666561.01).times(0.17).toString(), '283315.3717');
  assert.equal(Decimal.of(-1.005).round(2).toString(), '-1.01');
  assert.equal(Decimal.of(1e-7).times(1e7).toNumber(), 1);
  assert.equal(Decimal.of(2.5).round(0).toNumber(), 3);
});
