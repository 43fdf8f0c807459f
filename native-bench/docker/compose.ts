// docker-compose.yml brought up for real with `docker compose`: waited for as the contest waits
// (GET /payments-summary, retried), each container's cgroup found for the resource report, torn
// down with its volumes. An override file is added only where a run must differ from the file as
// submitted: another published port or processors network (tests), or the do-nothing server as
// the instances (the baseline).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { REPO_DIR, docker, refTimeout } from './docker.js';
import { containerCgroup, type ContainerCgroup } from './container-cgroup.js';
import { readComposeLimits } from '../topology/compose-file.js';
import type { CgroupLimits } from '../lib/cgroup.js';

export interface StackOptions {
  project: string; // compose project name (the file's own: rinha-node)
  file?: string; // the compose file; the repository's docker-compose.yml unless set (its directory is the project's)
  image: string; // RINHA_IMAGE: the service image, already built
  port?: number; // published port of the load balancer; 9999 (the file's) unless set
  network?: string; // the processors' network; 'payment-processor' (the file's) unless set
  baseline?: boolean; // the do-nothing server as api1 and api2, no Postgres
  ready_timeout_ms?: number;
  log?: (line: string) => void;
}

export interface StackContainer {
  service: string;
  id: string;
  pid: number;
  cgroup: ContainerCgroup;
  compose_limits: CgroupLimits;
}

export interface Stack {
  url: string;
  up_to_ready_s: number; // from `compose up` to the first 200 on GET /payments-summary
  containers: StackContainer[];
  compose(args: string[], timeout_ms?: number): Promise<string>;
  /** Per container, from start: memory limit hits, OOM kills, peak unreclaimable memory (sampled each
   *  second); and the CPU of Docker's userland proxy for the published port since ready. */
  memoryReport(): string[];
  stop(): Promise<void>;
}

const FILE = join(REPO_DIR, 'docker-compose.yml');
const BASELINE_SERVICE = `
    image: node:20-bookworm-slim
    working_dir: /repo
    command: ["node", "dist/native-bench/baseline/server.js", "--port", "8080"]
    environment:
      BASELINE_HOST: 0.0.0.0
    volumes:
      - ${JSON.stringify(`${join(REPO_DIR, 'dist')}:/repo/dist:ro`)}
      - ${JSON.stringify(`${join(REPO_DIR, 'node_modules')}:/repo/node_modules:ro`)}
      - ${JSON.stringify(`${join(REPO_DIR, 'package.json')}:/repo/package.json:ro`)}
    depends_on: !reset {}
`;

/** The override file's text, or undefined when the file as submitted is what runs. */
function overrideText(o: { port?: number; network?: string; baseline?: boolean }): string | undefined {
  const parts: string[] = [];
  const services: string[] = [];
  if (o.port !== undefined && o.port !== 9999) services.push(`  haproxy:\n    ports: !override\n      - "127.0.0.1:${o.port}:9999"\n`);
  if (o.baseline) services.push(`  api1:${BASELINE_SERVICE}`, `  api2:${BASELINE_SERVICE}`);
  if (services.length) parts.push(`services:\n${services.join('')}`);
  if (o.network && o.network !== 'payment-processor')
    parts.push(`networks:\n  payment-processor:\n    name: ${o.network}\n    external: true\n`);
  return parts.length ? parts.join('') : undefined;
}

/** Docker's userland proxy behind a published host port: a host process, outside every limit. */
function proxyPids(port: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('docker-proxy') && argv[argv.indexOf('-host-port') + 1] === String(port)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU seconds (user + system) of a process so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

async function waitReady(url: string, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/payments-summary`, { signal: refTimeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url}/payments-summary not answering 200 after ${timeout_ms} ms (${last})`);
}

export async function composeUp(o: StackOptions): Promise<Stack> {
  const log = o.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'rinha-compose-'));
  const override = overrideText(o);
  const file = resolve(o.file ?? FILE);
  const files = ['-f', file];
  if (override) {
    writeFileSync(join(dir, 'override.yml'), override);
    files.push('-f', join(dir, 'override.yml'));
  }
  const env = { ...process.env, RINHA_IMAGE: o.image };
  const compose = async (args: string[], timeout_ms = 180_000) =>
    (await docker(['compose', '-p', o.project, '--project-directory', dirname(file), ...files, ...args], { env, timeout_ms })).stdout;
  let sampler: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (sampler) clearInterval(sampler);
    try {
      await compose(['down', '-v', '--remove-orphans', '-t', '10'], 120_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const services = o.baseline ? ['haproxy', 'api1', 'api2'] : [];
    const t0 = Date.now();
    await compose(['up', '-d', '--no-build', ...services], 300_000);
    const url = `http://127.0.0.1:${o.port ?? 9999}`;
    await waitReady(url, o.ready_timeout_ms ?? 120_000);
    const up_to_ready_s = (Date.now() - t0) / 1000;
    const limits = readComposeLimits(file).services;
    const ids = (await compose(['ps', '-q'])).trim().split('\n').filter(Boolean);
    const containers: StackContainer[] = [];
    for (const id of ids) {
      const [service, pid] = (
        await docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Pid}}', id])
      ).stdout
        .trim()
        .split(' ');
      containers.push({ service, id, pid: Number(pid), cgroup: containerCgroup(service, Number(pid)), compose_limits: limits[service] });
    }
    containers.sort((a, b) => a.service.localeCompare(b.service));
    log(
      `up: ${containers.map((c) => c.service).join(', ')}; ${url}/payments-summary answered ${up_to_ready_s.toFixed(1)} s after compose up`,
    );
    const proxies = proxyPids(o.port ?? 9999).map((pid) => ({ pid, at_ready: cpuSeconds(pid) }));
    const anonPeak = new Map<string, number>();
    const sample = () => {
      for (const c of containers) anonPeak.set(c.service, Math.max(anonPeak.get(c.service) ?? 0, c.cgroup.memoryAnonBytes()));
    };
    sample();
    sampler = setInterval(sample, 1000);
    const memoryReport = () => {
      sample();
      return containers
        .map((c) => {
          const e = c.cgroup.memoryEvents();
          const mb = (b: number) => (b / 1048576).toFixed(1);
          return (
            `${c.service}: memory peak ${mb(c.cgroup.memoryPeakBytes())} MB of ${c.cgroup.limits.memory_mb} MB (page cache included), ` +
            `unreclaimable peak ${mb(anonPeak.get(c.service) ?? 0)} MB, limit hits ${e.limit_hits}, OOM kills ${e.oom_kills}`
          );
        })
        .concat(
          proxies.length === 0
            ? []
            : [
                `docker-proxy for port ${o.port ?? 9999} (host, outside the limits): ` +
                  `${proxies.reduce((sum, p) => sum + cpuSeconds(p.pid) - p.at_ready, 0).toFixed(2)} s CPU since ready`,
              ],
        );
    };
    return { url, up_to_ready_s, containers, compose, memoryReport, stop };
  } catch (err) {
    const logs = await compose(['logs', '--no-color', '--tail', '20']).catch(() => '');
    await stop().catch(() => {});
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/** Take a project down whatever state it is in (a Ctrl-C can land while it is coming up). */
export async function composeDown(project: string): Promise<void> {
  await docker(['compose', '-p', project, '--project-directory', REPO_DIR, '-f', FILE, 'down', '-v', '--remove-orphans', '-t', '10'], {
    env: { ...process.env, RINHA_IMAGE: 'unused' },
    timeout_ms: 120_000,
  });
}

/** Each container's cgroup limits against the compose file's; empty when all are equal. */
export function limitMismatches(containers: StackContainer[]): string[] {
  const out: string[] = [];
  for (const c of containers) {
    const want = c.compose_limits;
    if (!want) {
      out.push(`${c.service}: not in the compose file`);
      continue;
    }
    const got = c.cgroup.limits;
    if (Math.abs(got.cpus - want.cpus) > 1e-6 || Math.abs(got.memory_mb - want.memory_mb) > 1e-6) {
      out.push(`${c.service}: cgroup ${got.cpus} CPU / ${got.memory_mb} MB, compose ${want.cpus} CPU / ${want.memory_mb} MB`);
    }
  }
  return out;
}
