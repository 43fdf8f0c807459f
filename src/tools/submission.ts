// `npm run submission -- <id> [--image ref] [--name n] [--social url]... [--repo url] [--out dir]`
// Writes the contest submission folder participantes/<id>/: docker-compose.yml (published image,
// no build), haproxy.cfg, info.json, README.md. No source code, no logs.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLACEHOLDER_IMAGE = 'ghcr.io/OWNER/rinha-node:latest';
const PLACEHOLDER_REPO = 'https://github.com/OWNER/rinha-node';
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const IMAGE_PATTERN = /^[a-z0-9][a-z0-9._/:@-]{0,255}$/i;
const COMPOSE_IMAGE_REF = '${RINHA_IMAGE:-rinha-node:latest}';

export interface SubmissionOptions {
  id: string;
  image: string;
  name: string;
  social: string[];
  repo: string;
  out_dir: string; // parent of <id>/ (default: participantes)
  source_dir: string; // where docker-compose.yml and haproxy.cfg are read from
}

export interface SubmissionResult {
  dir: string;
  files: string[];
  warnings: string[];
}

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id.includes('..')) {
    throw new Error(`invalid submission id ${JSON.stringify(id)}: use 1-64 of [A-Za-z0-9_.-], starting with a letter or digit`);
  }
}

/** The repository's compose file with the local build replaced by the published image. */
export function submissionCompose(compose_text: string, image: string): string {
  if (!IMAGE_PATTERN.test(image)) throw new Error(`invalid image reference ${JSON.stringify(image)}`);
  if (!compose_text.includes(COMPOSE_IMAGE_REF)) throw new Error(`docker-compose.yml does not use ${COMPOSE_IMAGE_REF}`);
  const lines = compose_text.split('\n').filter((line) => !/^\s*build:\s*\S+\s*$/.test(line));
  const text = lines.join('\n').split(COMPOSE_IMAGE_REF).join(image);
  const header =
    image === PLACEHOLDER_IMAGE
      ? '# !!! PLACEHOLDER IMAGE: replace ghcr.io/OWNER/rinha-node:latest with the published image before submitting !!!\n'
      : '';
  return header + text;
}

export function infoJson(opts: SubmissionOptions): Record<string, unknown> {
  return {
    name: opts.name,
    social: opts.social,
    'source-code-repo': opts.repo,
    langs: ['node', 'typescript'],
    storages: ['postgresql'],
    messaging: [],
    'load-balancers': ['haproxy'],
    'other-technologies': ['uWebSockets.js', 'undici', 'worker_threads', 'SharedArrayBuffer'],
  };
}

function readme(opts: SubmissionOptions): string {
  return `# rinha-node — ${opts.name}

Rinha de Backend 2025 submission.

- Source: ${opts.repo}
- Image: \`${opts.image}\` (linux/amd64)
- Stack: haproxy (port 9999) → 2 × Node 20 instances (uWebSockets.js front thread, worker threads with
  undici calling the payment processors, lock-free SharedArrayBuffer queue between them) → PostgreSQL
  (confirmed payments written with COPY, summary by SQL aggregate).
- Resources: 1.5 CPU / 350 MB in total (see \`deploy.resources.limits\` in docker-compose.yml).

Run: start the payment processors' compose first (it creates the \`payment-processor\` network), then
\`docker compose up\` in this folder.
`;
}

export function writeSubmission(opts: SubmissionOptions): SubmissionResult {
  validateId(opts.id);
  const warnings: string[] = [];
  if (opts.image === PLACEHOLDER_IMAGE) warnings.push(`image is the placeholder ${PLACEHOLDER_IMAGE}: pass --image or set RINHA_IMAGE`);
  if (opts.repo === PLACEHOLDER_REPO) warnings.push(`source-code-repo is the placeholder ${PLACEHOLDER_REPO}: pass --repo`);
  const compose_text = readFileSync(join(opts.source_dir, 'docker-compose.yml'), 'utf8');
  const dir = resolve(opts.out_dir, opts.id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'docker-compose.yml'), submissionCompose(compose_text, opts.image));
  copyFileSync(join(opts.source_dir, 'haproxy.cfg'), join(dir, 'haproxy.cfg'));
  writeFileSync(join(dir, 'info.json'), JSON.stringify(infoJson(opts), null, 2) + '\n');
  writeFileSync(join(dir, 'README.md'), readme(opts));
  return { dir, files: ['docker-compose.yml', 'haproxy.cfg', 'info.json', 'README.md'], warnings };
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv, cwd: string): SubmissionOptions {
  const positional: string[] = [];
  const values: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [key, inline] = arg.slice(2).split('=', 2);
    if (!['image', 'name', 'social', 'repo', 'out', 'source'].includes(key)) throw new Error(`unknown option --${key}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    values[key] = [...(values[key] ?? []), value];
  }
  if (positional.length !== 1)
    throw new Error('usage: submission <id> [--image ref] [--name n] [--social url]... [--repo url] [--out dir]');
  const repo_root = fileURLToPath(new URL('../../../', import.meta.url)); // dist/src/tools -> repo
  return {
    id: positional[0],
    image: values.image?.at(-1) ?? (env.RINHA_IMAGE || PLACEHOLDER_IMAGE),
    name: values.name?.at(-1) ?? (env.RINHA_NAME || 'rinha-node'),
    social: values.social ?? (env.RINHA_SOCIAL ? env.RINHA_SOCIAL.split(',') : []),
    repo: values.repo?.at(-1) ?? (env.RINHA_REPO || PLACEHOLDER_REPO),
    out_dir: resolve(cwd, values.out?.at(-1) ?? 'participantes'),
    source_dir: resolve(cwd, values.source?.at(-1) ?? (existsSync(join(cwd, 'docker-compose.yml')) ? '.' : repo_root)),
  };
}

function main(): void {
  try {
    const result = writeSubmission(parseArgs(process.argv.slice(2), process.env, process.cwd()));
    for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
    process.stdout.write(`wrote ${result.dir}: ${result.files.join(', ')}\n`);
  } catch (err) {
    process.stderr.write(`submission: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
