// The README's figures that the repository also states in code or config agree with them: the
// compose file's CPU and memory split, and the ring's slot size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readComposeLimits } from '../native-bench/topology/compose-file.js';
import { RECORD_BYTES } from '../src/queue/record.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const COMPOSE = new URL('../../docker-compose.yml', import.meta.url).pathname;

// Rows `| \`service\` | cpus | memory MB |` of the README's packaging table.
function readmeSplit(): Map<string, { cpus: number; memory_mb: number }> {
  const rows = new Map<string, { cpus: number; memory_mb: number }>();
  for (const m of README.matchAll(/^\| `([a-z0-9-]+)` \| ([0-9.]+) \| ([0-9.]+) MB \|$/gm)) {
    rows.set(m[1], { cpus: Number(m[2]), memory_mb: Number(m[3]) });
  }
  return rows;
}

test("the README's CPU and memory split is docker-compose.yml's, service for service", () => {
  const limits = readComposeLimits(COMPOSE);
  const split = readmeSplit();
  assert.deepEqual([...split.keys()].sort(), Object.keys(limits.services).sort(), 'one README row per limited service');
  for (const [name, l] of Object.entries(limits.services))
    assert.deepEqual(split.get(name), { cpus: l.cpus, memory_mb: l.memory_mb }, name);
  assert.ok(
    README.includes(`${limits.total.cpus} CPU and ${limits.total.memory_mb} MB`),
    `the README states the total, ${limits.total.cpus} CPU and ${limits.total.memory_mb} MB`,
  );
});

test("the README's ring slot size is the record's plus its sequence word", () => {
  const SEQ_BYTES = 8;
  assert.match(README, new RegExp(`fixed ${RECORD_BYTES + SEQ_BYTES}-byte slots\\s+\\(a ${RECORD_BYTES}-byte record`));
});
