import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AMOUNT_MAX_CENTS, amountToCents, formatCents } from '../src/money.js';

test('cents render with exactly two decimals, sign kept', () => {
  assert.equal(formatCents(0), '0.00');
  assert.equal(formatCents(5), '0.05');
  assert.equal(formatCents(2005), '20.05');
  assert.equal(formatCents(4010), '40.10');
  assert.equal(formatCents(181634955), '1816349.55');
  assert.equal(formatCents(9_007_199_254_740_991), '90071992547409.91');
  assert.equal(formatCents(-105), '-1.05');
  assert.throws(() => formatCents(1.5));
  assert.throws(() => formatCents(2 ** 53));
});

test('an amount becomes cents only when it is positive, whole cents and at most the maximum', () => {
  assert.equal(amountToCents(0.01), 1);
  assert.equal(amountToCents(19.9), 1990);
  assert.equal(amountToCents(AMOUNT_MAX_CENTS / 100), AMOUNT_MAX_CENTS);
  assert.match(String(amountToCents(0)), /greater than zero/);
  assert.match(String(amountToCents(-1)), /greater than zero/);
  assert.match(String(amountToCents(1.005)), /2 decimal places/);
  assert.match(String(amountToCents(0.001)), /2 decimal places/);
  assert.match(String(amountToCents(AMOUNT_MAX_CENTS / 100 + 0.01)), /at most/);
  assert.match(String(amountToCents(Number.NaN)), /finite/);
});

test('formatting the cents of an amount gives back the amount', () => {
  for (let cents = 1; cents <= 100_000; cents += 7) {
    const c = amountToCents(Number(formatCents(cents)));
    assert.equal(c, cents);
  }
});
