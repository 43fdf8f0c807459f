import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCents, renderSummary } from '../src/store/summary.js';

test('cents render with exactly two decimals', () => {
  assert.equal(formatCents(0), '0.00');
  assert.equal(formatCents(5), '0.05');
  assert.equal(formatCents(2005), '20.05');
  assert.equal(formatCents(181634955), '1816349.55');
  assert.equal(formatCents(9_007_199_254_740_991), '90071992547409.91');
  assert.throws(() => formatCents(-1));
  assert.throws(() => formatCents(1.5));
});

test('the summary has the contest shape and parses back to the same numbers', () => {
  const text = renderSummary({ default: { count: 3, cents: 6015 }, fallback: { count: 0, cents: 0 } });
  assert.equal(text, '{"default":{"totalRequests":3,"totalAmount":60.15},"fallback":{"totalRequests":0,"totalAmount":0.00}}');
  assert.deepEqual(JSON.parse(text), { default: { totalRequests: 3, totalAmount: 60.15 }, fallback: { totalRequests: 0, totalAmount: 0 } });
});
