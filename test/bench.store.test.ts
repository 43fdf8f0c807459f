// The store bench (native-bench/store): one short run against a real Postgres that prints every
// statement's line with a cost (its CPU reading, parseSchedstat, is tested in bench.threads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DIST } from './support/stack.js';

test('a short run prints the round trip and each statement, each with a positive cost', { timeout: 120_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    join(DIST, 'native-bench', 'store', 'main.js'),
    '--batches',
    '30',
    '--rounds',
    '1',
  ]);
  const lines = stdout.split('\n').filter((l) => /^\| (SELECT|claim|COPY)/.test(l));
  assert.deepEqual(
    lines.map((l) => l.split('|')[1].trim()),
    ['SELECT 1 (the round trip)', 'claim, 1 ids', 'claim, 8 ids', 'claim, 32 ids', 'COPY, 1 rows', 'COPY, 4 rows', 'COPY, 32 rows'],
  );
  for (const l of lines) {
    const backend_us = Number(l.split('|')[2]);
    assert.ok(backend_us > 0, l);
  }
});
