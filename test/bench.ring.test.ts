// The SAB ring under real threads: exactly-once delivery through thousands of wraparounds with
// several producers and consumers, and "full means refused, never overwritten". Plus a smoke run
// of the ring bench CLI so it cannot rot.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ring } from '../src/queue/ring.js';
import { CONTROL_WORDS, C_ABORT, C_GO, decodeStressRecord, stressRecord } from '../native-bench/ring/stress-records.js';
import { produce, type ConsumerResult, type ProducerResult, type StressWorkerData } from '../native-bench/ring/stress-worker.js';

const STRESS_WORKER = new URL('../native-bench/ring/stress-worker.js', import.meta.url);
const RING_MAIN = fileURLToPath(new URL('../native-bench/ring/main.js', import.meta.url));
const workers = new Set<Worker>();
const children = new Set<ChildProcess>();

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all([...workers].map((w) => w.terminate()));
});

test('a full ring refuses the push, calls no fill, and keeps every record intact', () => {
  const ring = Ring.create(64);
  for (let seq = 0; seq < 64; seq++) assert.equal(ring.push(stressRecord(0, seq)), true);
  assert.equal(ring.size(), 64);
  assert.equal(ring.push(stressRecord(1, 999)), false);
  let fills = 0;
  assert.equal(
    ring.pushWith(() => {
      fills++;
    }),
    false,
  );
  assert.equal(fills, 0);
  for (let seq = 0; seq < 64; seq++) {
    const r = ring.pop();
    assert.ok(r !== null);
    assert.deepEqual(decodeStressRecord(r), { producer: 0, seq });
  }
  assert.equal(ring.pop(), null);
  // After a full lap the same slots take new records.
  assert.equal(ring.push(stressRecord(2, 7)), true);
  assert.deepEqual(decodeStressRecord(ring.pop()!), { producer: 2, seq: 7 });
});

// White-box: moves a fresh ring's positions to `start` (a multiple of the slot count) so a run
// crosses the Int32 overflow of the enqueue/dequeue counters. Mirrors ring.ts's layout: a
// 256-byte header (enqueue at word 0, dequeue at word 16), then slots of 8 seq bytes + a record.
const HEADER_BYTES = 256;
function seedPositions(ring: Ring, start: number): void {
  const slot_bytes = (ring.sab.byteLength - HEADER_BYTES) / ring.slots;
  assert.equal(start % ring.slots, 0);
  assert.equal(ring.size(), 0);
  const header = new Int32Array(ring.sab, 0, HEADER_BYTES / 4);
  const seq = new Int32Array(ring.sab, HEADER_BYTES);
  Atomics.store(header, 0, start | 0);
  Atomics.store(header, 16, start | 0);
  for (let i = 0; i < ring.slots; i++) Atomics.store(seq, i * (slot_bytes / 4), (start + i) | 0);
}
const NEAR_INT32_WRAP = 2 ** 31 - 64 * 1024;

test('positions keep working across the Int32 overflow of the counters', () => {
  const ring = Ring.create(64);
  seedPositions(ring, NEAR_INT32_WRAP);
  let next_pop = 0;
  for (let seq = 0; seq < 64 * 3000; seq++) {
    // 3000 laps, the counters wrap after 1024
    assert.equal(ring.push(stressRecord(3, seq)), true);
    if (seq % 3 === 2) {
      // keep the ring partly filled
      for (let k = 0; k < 3; k++) assert.deepEqual(decodeStressRecord(ring.pop()!), { producer: 3, seq: next_pop++ });
    }
  }
  assert.equal(ring.pop(), null);
  assert.ok(Atomics.load(new Int32Array(ring.sab), 0) < 0, 'the enqueue counter did wrap');
});

async function startWorker(data: StressWorkerData): Promise<{ worker: Worker; result: Promise<ProducerResult | ConsumerResult> }> {
  const worker = new Worker(STRESS_WORKER, { workerData: data });
  workers.add(worker);
  const errored = once(worker, 'error').then(([e]) => {
    throw e;
  });
  const messages: Array<(m: unknown) => void> = [];
  worker.on('message', (m) => messages.shift()?.(m));
  const next = () => Promise.race([new Promise<unknown>((r) => messages.push(r)), errored]);
  const ready = next();
  const result = next() as Promise<ProducerResult | ConsumerResult>;
  await ready;
  return { worker, result };
}

for (const consumers of [2, 4]) {
  test(`2 producers (main + worker), ${consumers} consumers, 64 slots: every record exactly once`, { timeout: 35_000 }, async () => {
    const SLOTS = 64;
    const PER_PRODUCER = 250_000;
    const PRODUCERS = 2;
    const deadline_ms = Date.now() + 30_000;
    const ring = Ring.create(SLOTS);
    if (consumers === 4) seedPositions(ring, NEAR_INT32_WRAP); // this run also crosses the overflow
    const controlSab = new SharedArrayBuffer(CONTROL_WORDS * 4);
    const control = new Int32Array(controlSab);
    const seenSab = new SharedArrayBuffer(PRODUCERS * PER_PRODUCER * 4);
    const base = { ring: ring.sab, control: controlSab, seen: seenSab, producers: PRODUCERS, per_producer: PER_PRODUCER, deadline_ms };

    const started = await Promise.all([
      ...Array.from({ length: consumers }, () => startWorker({ ...base, role: 'consumer' })),
      startWorker({ ...base, role: 'producer', producer: 1 }),
    ]);

    // Main fills the ring before anyone consumes: the next push must be refused.
    for (let seq = 0; seq < SLOTS; seq++) assert.equal(ring.push(stressRecord(0, seq)), true);
    assert.equal(ring.push(stressRecord(0, SLOTS)), false);
    Atomics.store(control, C_GO, 1);
    Atomics.notify(control, C_GO);
    const mine = produce(ring, control, 0, SLOTS, PER_PRODUCER, deadline_ms);
    if (mine.timed_out) Atomics.store(control, C_ABORT, 1);

    const results = await Promise.all(started.map((s) => s.result));
    await Promise.all(started.map((s) => s.worker.terminate()));
    const producers = [mine, ...results.filter((r): r is ProducerResult => r.role === 'producer')];
    const cons = results.filter((r): r is ConsumerResult => r.role === 'consumer');

    for (const p of producers) assert.equal(p.timed_out, false, 'producer gave up before its deadline');
    for (const c of cons) assert.equal(c.timed_out, false, 'consumer gave up before its deadline');
    assert.equal(mine.pushed + SLOTS, PER_PRODUCER);
    assert.equal(producers[1].pushed, PER_PRODUCER);
    assert.ok(producers.reduce((n, p) => n + p.full_returns, 0) > 0, 'the ring was full at least once');
    assert.equal(
      cons.reduce((n, c) => n + c.bad_payload, 0),
      0,
      'torn or overwritten records',
    );
    assert.equal(
      cons.reduce((n, c) => n + c.out_of_range, 0),
      0,
    );
    assert.equal(
      cons.reduce((n, c) => n + c.out_of_order, 0),
      0,
      'a consumer saw one producer out of order',
    );
    assert.equal(
      cons.reduce((n, c) => n + c.popped, 0),
      PRODUCERS * PER_PRODUCER,
    );

    const seen = new Int32Array(seenSab);
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < seen.length; i++) {
      if (seen[i] === 0) lost++;
      else if (seen[i] > 1) duplicated++;
    }
    assert.equal(lost, 0, 'records lost');
    assert.equal(duplicated, 0, 'records delivered twice');
    assert.equal(ring.size(), 0);
    assert.equal(ring.pop(), null);
  });
}

test('the ring bench CLI runs every transport, mode and consumer count and writes JSON + Markdown', { timeout: 35_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ring-bench-'));
  try {
    const child = spawn(
      process.execPath,
      [RING_MAIN, '--records', '3000', '--paced-records', '200', '--rate', '2000', '--slots', '256', '--out', dir, '--timeout-ms', '20000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += String(d)));
    child.stderr!.resume();
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /\| ring-async \| burst \| 1 \|/);
    const report = JSON.parse(readFileSync(join(dir, 'ring.json'), 'utf8')) as {
      rows: Array<{
        transport: string;
        mode: string;
        consumers: number;
        records: number;
        timed_out: boolean;
        ops_per_s: number;
        latency_us: { count: number };
      }>;
    };
    assert.equal(report.rows.length, 3 * 2 * 2);
    for (const row of report.rows) {
      assert.equal(row.timed_out, false);
      assert.equal(row.records, row.mode === 'burst' ? 3000 : 200);
      assert.equal(row.latency_us.count, row.records);
      assert.ok(row.ops_per_s > 0);
    }
    assert.match(readFileSync(join(dir, 'ring.md'), 'utf8'), /\| port \| paced \| 2 \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ring bench CLI rejects a bad option with exit 2', async () => {
  const child = spawn(process.execPath, [RING_MAIN, '--slots', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(stderr, /power of two/);
});
