// `npm run submission -- <id>` writes a contest folder: compose with the published image, the LB config,
// a complete info.json, a README — and nothing else (no source code).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCompose, serviceEnvironment } from '../native-bench/topology/compose-file.js';

const repo_dir = fileURLToPath(new URL('../../', import.meta.url));
const tool = join(repo_dir, 'dist/src/tools/submission.js');
const out_dir = mkdtempSync(join(tmpdir(), 'deploy-submission-'));
after(() => rmSync(out_dir, { recursive: true, force: true }));

function run(args: string[]) {
  return spawnSync(process.execPath, [tool, ...args, '--out', out_dir], {
    cwd: repo_dir,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, RINHA_IMAGE: '' },
  });
}

test('writes compose, haproxy.cfg, info.json and README with the published image', () => {
  const image = 'ghcr.io/example/rinha-node:1.2.3';
  const result = run([
    'team-1',
    '--image',
    image,
    '--name',
    'Team One',
    '--social',
    'https://x.com/one',
    '--repo',
    'https://github.com/example/rinha-node',
  ]);
  assert.equal(result.status, 0, result.stderr);
  const dir = join(out_dir, 'team-1');
  assert.deepEqual(readdirSync(dir).sort(), ['README.md', 'docker-compose.yml', 'haproxy.cfg', 'info.json']);

  const info = JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8'));
  for (const key of ['name', 'social', 'source-code-repo', 'langs', 'storages', 'messaging', 'load-balancers', 'other-technologies']) {
    assert.ok(key in info, `info.json has ${key}`);
  }
  assert.equal(info.name, 'Team One');
  assert.deepEqual(info.social, ['https://x.com/one']);
  assert.equal(info['source-code-repo'], 'https://github.com/example/rinha-node');
  assert.ok(info['load-balancers'].includes('haproxy'));

  const compose_text = readFileSync(join(dir, 'docker-compose.yml'), 'utf8');
  const compose = parseCompose(compose_text);
  assert.doesNotMatch(compose_text, /^\s*build:/m);
  assert.doesNotMatch(compose_text, /RINHA_IMAGE/);
  const instances = Object.entries(compose.services ?? {}).filter(([, svc]) => svc.image === image);
  assert.ok(instances.length >= 2, 'both instances use the published image');
  assert.equal(serviceEnvironment(compose.services!.haproxy).LB_BIND, ':9999');
  // Every bind mount resolves inside the submission folder.
  for (const svc of Object.values(compose.services ?? {})) {
    for (const volume of svc.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0] : '';
      if (source.startsWith('.')) assert.ok(existsSync(join(dir, source)), `${source} is in the folder`);
    }
  }
  assert.equal(readFileSync(join(dir, 'haproxy.cfg'), 'utf8'), readFileSync(join(repo_dir, 'haproxy.cfg'), 'utf8'));
});

test('without --image the placeholder is used and clearly flagged', () => {
  const result = run(['team-2']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /placeholder/);
  const compose_text = readFileSync(join(out_dir, 'team-2', 'docker-compose.yml'), 'utf8');
  assert.match(compose_text.split('\n')[0], /PLACEHOLDER IMAGE/);
});

test('unsafe ids are refused and nothing is written', () => {
  for (const id of ['../escape', 'a/b', '.hidden', '']) {
    const result = run([id]);
    assert.equal(result.status, 2, `id ${JSON.stringify(id)}: ${result.stdout}${result.stderr}`);
  }
  assert.deepEqual(
    readdirSync(out_dir).sort(),
    ['team-1', 'team-2'].filter((d) => existsSync(join(out_dir, d))),
  );
  assert.ok(!existsSync(join(out_dir, '..', 'escape')));
});
