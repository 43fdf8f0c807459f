// The Docker engine and images the docker topology needs: the engine and compose (installed and
// started on demand by ensure-docker.sh, whose dockerd alone is stopped again), the base images
// (pulled, or stood in by base-images.sh), and the service image built from the Dockerfile.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url)); // dist/native-bench/docker
export const REPO_DIR = resolve(here, '..', '..', '..'); // the repository (dist/..)
const SCRIPTS = join(REPO_DIR, 'native-bench', 'docker');

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command; rejects with its stderr's tail on a non-zero exit or after timeout_ms. */
function run(
  command: string,
  args: string[],
  opts: { timeout_ms?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: opts.timeout_ms ?? 120_000, env: opts.env ?? process.env, cwd: opts.cwd ?? REPO_DIR, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const tail = `${stderr}`.trim().split('\n').slice(-15).join('\n');
          reject(
            new Error(
              `${command} ${args.join(' ')}: ${err.killed ? `killed after ${opts.timeout_ms ?? 120_000} ms` : `exit ${err.code}`}\n${tail}`,
            ),
          );
        } else resolvePromise({ stdout: `${stdout}`, stderr: `${stderr}` });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function docker(args: string[], opts: { timeout_ms?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return run('docker', args, opts);
}

export interface Engine {
  /** The dockerd this call started (undefined: one already answered and is left running). */
  started_pid?: number;
  stop(): Promise<void>;
}

/** Docker and compose present (installed when missing, as root with apt-get) and a daemon answering. */
export async function ensureEngine(log: (line: string) => void = () => {}): Promise<Engine> {
  const out = await run('sh', [join(SCRIPTS, 'ensure-docker.sh'), 'up'], { timeout_ms: 15 * 60_000 });
  for (const line of out.stderr.trim().split('\n').filter(Boolean)) log(line);
  const m = /dockerd-started (\d+)/.exec(out.stdout);
  if (!m) return { stop: async () => {} };
  const pid = Number(m[1]);
  log(`started dockerd (pid ${pid}); it is stopped at the end`);
  let stopped = false;
  return {
    started_pid: pid,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run('sh', [join(SCRIPTS, 'ensure-docker.sh'), 'down', String(pid)], { timeout_ms: 60_000 });
    },
  };
}

/** Every base image the Dockerfile and compose file name: pulled, or a local stand-in built. */
export async function ensureBaseImages(log: (line: string) => void = () => {}): Promise<string[]> {
  const out = await run('sh', [join(SCRIPTS, 'base-images.sh'), REPO_DIR], { timeout_ms: 30 * 60_000 });
  const lines = out.stderr.trim().split('\n').filter(Boolean);
  for (const line of lines) log(line);
  return lines;
}

/** The service image from the Dockerfile; the classic builder, which needs nothing from a registry. */
export async function buildServiceImage(
  tag: string,
  log: (line: string) => void = () => {},
): Promise<{ build_s: number; size_mb: number }> {
  const t0 = Date.now();
  await docker(['build', '-q', '-t', tag, REPO_DIR], { timeout_ms: 20 * 60_000, env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  const size = Number((await docker(['image', 'inspect', '-f', '{{.Size}}', tag])).stdout.trim());
  const built = { build_s: (Date.now() - t0) / 1000, size_mb: Math.round(size / 1e5) / 10 };
  log(`built ${tag} in ${built.build_s.toFixed(1)} s (${built.size_mb} MB)`);
  return built;
}

/** A standing label set on everything the bench and tests create, so leftovers can be found. */
export const LABEL = 'org.rinha-node.bench';

/** An abort signal after ms whose timer keeps the process alive (AbortSignal.timeout's does not,
 *  so a script awaiting only a stalled request would exit). */
export function refTimeout(ms: number): AbortSignal {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(new Error(`timed out after ${ms} ms`)), ms);
  c.signal.addEventListener('abort', () => clearTimeout(t));
  return c.signal;
}
