import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { INSTANCE_ENV } from '../src/runtime.js';

test('the Dockerfile starts instances with the same runtime settings as npm start', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').replace(/\\\n/g, ' ');
  for (const [name, value] of Object.entries(INSTANCE_ENV)) {
    const m = new RegExp(`${name}=("([^"]*)"|(\\S+))`).exec(dockerfile);
    assert.ok(m, `${name} is set in the Dockerfile`);
    assert.equal(m[2] ?? m[3], value, name);
  }
});
