import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSummary } from '../src/store/summary.js';

test('the summary has the contest shape and parses back to the same numbers', () => {
  const text = renderSummary({ default: { count: 3, cents: 6015 }, fallback: { count: 0, cents: 0 } });
  assert.equal(text, '{"default":{"totalRequests":3,"totalAmount":60.15},"fallback":{"totalRequests":0,"totalAmount":0.00}}');
  assert.deepEqual(JSON.parse(text), { default: { totalRequests: 3, totalAmount: 60.15 }, fallback: { totalRequests: 0, totalAmount: 0 } });
});
