// The Dockerfile builds a contest-legal image: linux/amd64, Node 20 on glibc (bookworm), multi-stage,
// compiled JavaScript only in the runtime stage, non-root, an init process for signals, no directive
// that makes a builder fetch anything from a registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readComposeDocument } from '../native-bench/topology/compose-file.js';

const repo_dir = fileURLToPath(new URL('../../', import.meta.url));

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: args, name: match?.[2], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `instruction before FROM: ${line}`);
      stages[stages.length - 1].instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfile = readFileSync(join(repo_dir, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages[stages.length - 1];
const runtimeArgs = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

test('multi-stage, every stage on linux/amd64 node:20-bookworm-slim', () => {
  assert.ok(stages.length >= 2, `stages: ${stages.length}`);
  for (const stage of stages) assert.match(stage.from, /^--platform=linux\/amd64\s+node:20-bookworm-slim(\s|$)/i);
});

test('the build stage compiles with npm ci + tsc; dependencies are installed without dev ones', () => {
  const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).join('\n');
  assert.match(runs, /npm ci(?! --omit)/);
  assert.match(runs, /tsc -p/);
  assert.match(runs, /npm (ci|prune) [^\n]*--omit=dev/);
});

test('the runtime stage holds compiled dist/ and production node_modules only', () => {
  const copies = runtimeArgs('COPY');
  assert.ok(
    copies.some((c) => /--from=\S+ .*\/app\/dist\/src \.\/dist\/src/.test(c)),
    copies.join('\n'),
  );
  assert.ok(copies.some((c) => /node_modules/.test(c)));
  // From the build context, the runtime stage takes package metadata only (never src/test/native-bench).
  for (const copy of copies.filter((c) => !c.includes('--from='))) {
    const sources = copy
      .split(/\s+/)
      .filter((p) => !p.startsWith('--'))
      .slice(0, -1);
    for (const source of sources) assert.ok(['package.json', 'package-lock.json'].includes(source), `runtime copies ${source}`);
  }
  for (const copy of copies.filter((c) => c.includes('--from='))) {
    assert.match(copy, /\/app\/(node_modules|dist\/src) /, `runtime copies from a stage: ${copy}`);
  }
});

test('no parser directive: a `# syntax=` line makes BuildKit pull its frontend from a registry', () => {
  const directives = dockerfile.split('\n').filter((l) => /^#\s*syntax\s*=/i.test(l.trim()));
  assert.deepEqual(directives, []);
});

test('non-root user, an init for signals, production env, the instance entry point', () => {
  const users = runtimeArgs('USER');
  assert.ok(users.length > 0, 'runtime stage sets USER');
  assert.ok(!['root', '0'].includes(users[users.length - 1]), `last USER is ${users[users.length - 1]}`);
  // The init is compose's (`init: true`: docker-init as PID 1) unless the image brings its own.
  const own_init = /tini|dumb-init/.test(runtimeArgs('ENTRYPOINT').join(' '));
  const built = Object.entries(readComposeDocument(join(repo_dir, 'docker-compose.yml')).services ?? {}).filter(
    ([, s]) => s.build !== undefined,
  );
  assert.ok(built.length >= 2, `services built from this Dockerfile: ${built.length}`);
  for (const [name, service] of built)
    assert.ok(own_init || service.init === true, `${name}: no init (neither init: true nor one in the image)`);
  assert.ok(runtimeArgs('ENV').some((e) => /NODE_ENV=production/.test(e)));
  assert.deepEqual(JSON.parse(runtimeArgs('CMD').at(-1) ?? 'null'), ['node', 'dist/src/main.js']);
});

test('files the build copies exist, and .dockerignore keeps the context small', () => {
  for (const stage of stages) {
    for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) assert.ok(existsSync(join(repo_dir, source)), `COPY source ${source} exists`);
    }
  }
  const ignored = readFileSync(join(repo_dir, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const entry of ['node_modules', 'dist', '.git', 'test', 'native-bench'])
    assert.ok(ignored.includes(entry), `.dockerignore has ${entry}`);
});
