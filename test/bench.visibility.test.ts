// The visibility bench's histogram arithmetic: parse /metrics text, merge two instances, take the
// part after a warm-up snapshot, and read quantiles and shares off bucket bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeHistograms, over, parseHistogram, quantile, share, subtract } from '../native-bench/visibility/histogram.js';

const metrics = (b1: number, b20: number, b50: number, inf: number): string =>
  [
    '# TYPE rinha_visibility_lag_ms histogram',
    `rinha_visibility_lag_ms_bucket{le="1"} ${b1}`,
    `rinha_visibility_lag_ms_bucket{le="20"} ${b20}`,
    `rinha_visibility_lag_ms_bucket{le="50"} ${b50}`,
    `rinha_visibility_lag_ms_bucket{le="+Inf"} ${inf}`,
    `rinha_visibility_lag_ms_count ${inf}`,
    'rinha_writer_flush_ms_bucket{le="1"} 7',
  ].join('\n');

test('parse and merge two instances', () => {
  assert.deepEqual(parseHistogram(metrics(1, 2, 3, 4), 'rinha_visibility_lag_ms'), { le: [1, 20, 50, Infinity], cumulative: [1, 2, 3, 4] });
  const m = mergeHistograms([metrics(10, 90, 99, 100), metrics(50, 100, 100, 100)], 'rinha_visibility_lag_ms');
  assert.deepEqual(m, { le: [1, 20, 50, Infinity], cumulative: [60, 190, 199, 200] });
  assert.equal(quantile(m, 0.5), 20);
  assert.equal(quantile(m, 0.99), 50);
  assert.equal(over(m, 20), 10);
  assert.equal(share(m, 20), 0.95);
});

test('after warm-up: the late rows of the first snapshot drop out', () => {
  const warm = mergeHistograms([metrics(0, 50, 90, 100)], 'rinha_visibility_lag_ms'); // 50 late rows at start
  const end = mergeHistograms([metrics(900, 10_048, 10_090, 10_100)], 'rinha_visibility_lag_ms');
  const steady = subtract(end, warm);
  assert.deepEqual(steady.cumulative, [900, 9_998, 10_000, 10_000]);
  assert.equal(over(steady, 20), 2);
  assert.equal(quantile(steady, 0.99), 20);
  assert.equal(quantile(end, 0.999), 50);
  assert.throws(() => over(steady, 30), /no 30 ms bucket/);
});
