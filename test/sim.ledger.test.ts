// The simulator's ledger and money functions, against brute force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seeded } from './support/seeded.js';
import { Ledger } from '../native-bench/processor-sim/ledger.js';
import { feeCents, roundToCents } from '../native-bench/processor-sim/money.js';

test('range totals match a brute-force scan, with out-of-order and equal timestamps', () => {
  const ledger = new Ledger();
  const all: Array<{ ms: number; cents: number }> = [];
  const { int: rand, seed } = seeded();
  for (let i = 0; i < 5000; i += 1) {
    // Mostly increasing time with jitter back into the past, many equal ms.
    const ms = 1_750_000_000_000 + i * 3 - rand(50);
    const cents = 1 + rand(10_000);
    assert.equal(ledger.insert({ correlation_id: 'id' + i, amount_cents: cents, requested_at_text: '', requested_at_ms: ms }), true);
    all.push({ ms, cents });
    if (i % 500 === 0) {
      const from = 1_750_000_000_000 + rand(i * 3 + 1);
      const to = from + rand(2000);
      const expected = all.filter((p) => p.ms >= from && p.ms <= to);
      const got = ledger.totals(from, to);
      assert.equal(got.count, expected.length, `[${from}, ${to}] (seed ${seed})`);
      assert.equal(
        got.amount_cents,
        expected.reduce((a, p) => a + p.cents, 0),
        `[${from}, ${to}] (seed ${seed})`,
      );
    }
  }
  assert.equal(ledger.insert({ correlation_id: 'id7', amount_cents: 1, requested_at_text: '', requested_at_ms: 0 }), false);
  assert.equal(ledger.totals(null, 5).count, 5000);
  assert.equal(ledger.totals(5, null).count, 5000);
  ledger.clear();
  assert.deepEqual(ledger.totals(null, null), { count: 0, amount_cents: 0 });
});

test('the simulator rounds amounts to cents half away from zero and fees to whole cents', () => {
  assert.equal(roundToCents(20.05), 2005);
  assert.equal(roundToCents(19.9), 1990);
  assert.equal(roundToCents(1.005), 101);
  assert.equal(roundToCents(0.125), 13);
  assert.equal(roundToCents(-0.125), -13);
  assert.equal(roundToCents(7), 700);
  assert.equal(roundToCents(1e-7), 0);
  assert.equal(feeCents(2005, 0.07), 140); // 140.35
  assert.equal(feeCents(150, 0.1), 15);
  assert.equal(feeCents(2005 * 90_600, 0.07), 12_715_710); // 90.6 k payments of 20.05 at 7 %
});
