// bench:contest --chaos: the plan is read and checked before anything starts, and its report
// names every figure the reconciliation found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readChaosPlan, renderChaos } from '../native-bench/contest/chaos.js';
import { parseOptions } from '../native-bench/contest/options.js';

test('a chaos plan is read from JSON, sorted by time; kill-instance defaults to instance 0', () => {
  const plan = readChaosPlan(
    '[{"at_s":30,"action":"crash-postgres"},{"at_s":10,"action":"kill-instance"},{"at_s":20,"action":"restart-postgres"}]',
  );
  assert.deepEqual(plan, [
    { at_s: 10, action: 'kill-instance', instance: 0 },
    { at_s: 20, action: 'restart-postgres' },
    { at_s: 30, action: 'crash-postgres' },
  ]);
});

test('a bad chaos plan is refused with the step and field named', () => {
  assert.throws(() => readChaosPlan('[]'), /non-empty JSON array/);
  assert.throws(() => readChaosPlan('not json'), /not a JSON file or JSON/);
  assert.throws(() => readChaosPlan('[{"at_s":-1,"action":"crash-postgres"}]'), /step 0: at_s/);
  assert.throws(() => readChaosPlan('[{"at_s":1,"action":"reboot"}]'), /step 0: action/);
  assert.throws(() => readChaosPlan('[{"at_s":1,"action":"kill-instance","instance":1.5}]'), /step 0: instance/);
  assert.throws(
    () => parseOptions(['--chaos', '[{"at_s":1,"action":"crash-postgres"}]', '--topology', 'none']),
    /--chaos needs --topology npm-start/,
  );
  assert.equal(parseOptions(['--chaos', '[{"at_s":1,"action":"crash-postgres"}]']).chaos?.length, 1);
});

test('the chaos report shows never paid, paid twice and the summary against the processors', () => {
  const text = renderChaos({
    durability: 'fast',
    accepted: 1000,
    never_paid: 9,
    paid_twice: 0,
    paid_not_accepted: 3,
    plan: [{ at_s: 10, action: 'kill-instance', instance: 0, t_s: 10.1, pid: 42, note: 'SIGKILL to pid 42' }],
    processors: { default: { count: 900, cents: 1_804_500 }, fallback: { count: 94, cents: 188_470 } },
    summary: { default: { count: 780, cents: 1_563_900 }, fallback: { count: 94, cents: 188_470 } },
    summary_minus_processors: { default: { count: -120, cents: -240_600 }, fallback: { count: 0, cents: 0 } },
    settled_after_ms: 90_000,
    never_paid_sample: ['a'],
    paid_twice_sample: [],
  });
  assert.match(text, /DURABILITY=fast/);
  assert.match(text, /\| 10\.1 \| kill-instance 0 \| SIGKILL to pid 42 \|/);
  assert.match(text, /accepted but never paid: 9\*\* \(e\.g\. a\)/);
  assert.match(text, /paid twice \(at both processors\): 0\*\*/);
  assert.match(text, /default -120 payments, -2406\.00; fallback \+0 payments, \+0\.00/);
});
