// The GC pause histogram: a real collection of this thread lands in its slot, and /metrics
// prints it per thread kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Counters, GC_BUCKETS, H_GC_FRONT, renderMetrics, trackGc } from '../src/counters.js';

// A collection on demand without starting node with --expose-gc.
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const nextMacrotask = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

test('a collection of the observed thread is counted in its slot, with its duration', async () => {
  const c = Counters.create();
  const observer = trackGc(c, 1);
  try {
    const gc = gcFunction();
    gc();
    gc();
    // Entries reach the observer on a later turn of the event loop.
    for (let i = 0; i < 100 && c.histogram(H_GC_FRONT + 1).count < 2; i++) await nextMacrotask();
  } finally {
    observer.disconnect();
  }
  const workers = c.histogram(H_GC_FRONT + 1);
  assert.ok(workers.count >= 2, `two full collections observed, got ${workers.count}`);
  assert.equal(
    workers.buckets.reduce((a, b) => a + b, 0),
    workers.count,
  );
  assert.ok(workers.sum > 0, 'a collection takes time');
  assert.equal(c.histogram(H_GC_FRONT).count, 0, 'nothing in the front slot');
});

test('/metrics prints the GC pauses per thread kind, cumulative, in ms buckets', () => {
  const c = Counters.create();
  c.observe(H_GC_FRONT, 0.3); // a scavenge
  c.observe(H_GC_FRONT, 7.5); // a full collection
  c.observe(H_GC_FRONT + 1, 0.1);
  const text = renderMetrics(c, { ring_depth: 0, ring_slots: 8, ring_wakeups: 0 });
  assert.equal(text.split('\n').filter((l) => l === '# TYPE rinha_gc_pause_ms histogram').length, 1);
  assert.match(text, /^rinha_gc_pause_ms_bucket\{thread="front",le="0.25"\} 0$/m);
  assert.match(text, /^rinha_gc_pause_ms_bucket\{thread="front",le="0.5"\} 1$/m);
  assert.match(text, /^rinha_gc_pause_ms_bucket\{thread="front",le="5"\} 1$/m);
  assert.match(text, /^rinha_gc_pause_ms_bucket\{thread="front",le="10"\} 2$/m);
  assert.match(text, /^rinha_gc_pause_ms_count\{thread="front"\} 2$/m);
  assert.match(text, /^rinha_gc_pause_ms_sum\{thread="front"\} 7.8$/m);
  assert.match(text, /^rinha_gc_pause_ms_bucket\{thread="workers",le="0.25"\} 1$/m);
  assert.equal(GC_BUCKETS[0] < 1, true, 'scavenges are resolved below 1 ms');
});
