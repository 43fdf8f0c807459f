import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, requireInstanceConfig } from '../src/config.js';

test('defaults are the documented ones', () => {
  const c = parseConfig({});
  assert.equal(c.port, 9999);
  assert.equal(c.instances, 2);
  assert.equal(c.fee_default, 0.07);
  assert.equal(c.fee_fallback, 0.1);
  assert.equal(c.purge_enabled, false);
  assert.equal(c.ring_slots & (c.ring_slots - 1), 0);
});

test('an invalid value stops start-up naming the variable', () => {
  const cases: Record<string, string> = {
    PORT: '99999',
    RING_SLOTS: '1000',
    MAX_INFLIGHT_PER_WORKER: 'lots',
    FEE_DEFAULT: '7',
    PURGE_ENABLED: 'maybe',
    DATABASE_URL: 'mysql://x',
    PAYMENT_PROCESSOR_URL_DEFAULT: 'not a url',
    LOG_LEVEL: 'loud',
    REQUEST_TIMEOUT_MS: '1.5',
    SUMMARY_ANSWER: 'sometimes',
    SUMMARY_WAIT_MAX_MS: '0',
  };
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(
      () => parseConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      name,
    );
  }
});

test('an instance needs its database and processors', () => {
  assert.throws(
    () => requireInstanceConfig(parseConfig({})),
    /DATABASE_URL, PAYMENT_PROCESSOR_URL_DEFAULT, PAYMENT_PROCESSOR_URL_FALLBACK/,
  );
  const c = parseConfig({
    DATABASE_URL: 'postgres://u:p@h/db',
    PAYMENT_PROCESSOR_URL_DEFAULT: 'http://a:8080/',
    PAYMENT_PROCESSOR_URL_FALLBACK: 'http://b:8080',
  });
  requireInstanceConfig(c);
  assert.equal(c.processor_url_default, 'http://a:8080');
});

test('every variable the config reads has a row in the README configuration table', () => {
  const read = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8');
  const source = read('../../src/config.ts');
  const names = new Set(
    [...source.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g), ...source.matchAll(/env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]),
  );
  assert.ok(names.has('PORT') && names.has('LOG_LEVEL') && names.size > 30, `found ${[...names].join(' ')}`);
  // A row's first cell names one variable or a pair; `PREFIX_DEFAULT` / `_FALLBACK` is short for
  // PREFIX_DEFAULT and PREFIX_FALLBACK (a short name replaces as many parts at the end).
  const documented = new Set<string>();
  for (const row of read('../../README.md')
    .split('\n')
    .filter((l) => l.startsWith('| `'))) {
    let last = '';
    for (const [, name] of row.split('|')[1].matchAll(/`([A-Z_][A-Z0-9_]*)`/g)) {
      if (!name.startsWith('_')) {
        last = name;
        documented.add(name);
      } else
        documented.add(
          last
            .split('_')
            .slice(0, -name.split('_').length + 1)
            .join('_') + name,
        );
    }
  }
  assert.deepEqual(
    [...names].filter((n) => !documented.has(n)),
    [],
    'variables with no README row',
  );
});

test("every default in the README's configuration table is the code's", () => {
  const defaults = parseConfig({}) as unknown as Record<string, unknown>;
  // Variables whose Config field is not their lower-cased name.
  const FIELD: Record<string, string> = {
    PAYMENT_PROCESSOR_URL_DEFAULT: 'processor_url_default',
    PAYMENT_PROCESSOR_URL_FALLBACK: 'processor_url_fallback',
  };
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  let checked = 0;
  for (const row of readme.split('\n').filter((l) => l.startsWith('| `'))) {
    const cells = row.split('|').map((c) => c.trim());
    let last = '';
    const names = [...cells[1].matchAll(/`([A-Z_][A-Z0-9_]*)`/g)].map(([, n]) => {
      last = n.startsWith('_')
        ? last
            .split('_')
            .slice(0, -n.split('_').length + 1)
            .join('_') + n
        : n;
      return last;
    });
    const values = cells[2].split(' / ');
    for (const [i, name] of names.entries()) {
      const field = FIELD[name] ?? name.toLowerCase();
      if (!(field in defaults)) continue;
      const want = defaults[field];
      const text = values[i] ?? values[0];
      const documented = text === '–' ? '' : typeof want === 'number' ? Number(text) : typeof want === 'boolean' ? text === 'true' : text;
      assert.deepEqual(documented, want, `${name}: README says ${JSON.stringify(text)}, the code ${JSON.stringify(want)}`);
      checked++;
    }
  }
  assert.ok(checked > 30, `checked ${checked} defaults`);
});
