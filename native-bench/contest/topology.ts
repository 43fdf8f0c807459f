// What the bench starts around a run: the two processor simulators (always outside any limit),
// the service under test (per --topology), and the baseline server (under the same limits).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { parseConfig } from '../../src/config.js';
import { cgroupSupport, createCgroup, type Cgroup, type CgroupLimits } from '../lib/cgroup.js';
import { spawnChild, waitListening, type Child } from './children.js';
import { readComposeLimits } from '../topology/compose-file.js';
import type { ContestOptions } from './options.js';
import { startDockerBaseline, startDockerProcessors, startDockerService } from '../docker/contest.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/native-bench/contest
const distRoot = resolve(here, '..', '..'); // dist/
const SERVICE = parseConfig({}); // the service's defaults, which the paying baseline runs with
const DEFAULT_LIMITS: CgroupLimits = { cpus: 1.5, memory_mb: 350 };

export interface Processors {
  default_url: string;
  fallback_url: string;
  token: string;
  pids: number[];
  stop(): Promise<void>;
}

export async function startProcessors(o: ContestOptions): Promise<Processors> {
  if (o.processors === 'external') {
    return {
      default_url: o.default_admin_url!.replace(/\/$/, ''),
      fallback_url: o.fallback_admin_url!.replace(/\/$/, ''),
      token: o.processor_token,
      pids: [],
      stop: async () => {},
    };
  }
  if (o.topology === 'docker') return startDockerProcessors(o);
  const main = join(distRoot, 'native-bench', 'processor-sim', 'main.js');
  if (!existsSync(main)) throw new Error(`processor simulator not built: ${main} (run npx tsc -p .)`);
  const children: Child[] = [];
  try {
    const def = spawnChild('processor-default', process.execPath, [
      main,
      '--port',
      String(o.default_port),
      '--fee',
      String(o.fee_default),
      '--name',
      'default',
    ]);
    children.push(def);
    const fb = spawnChild('processor-fallback', process.execPath, [
      main,
      '--port',
      String(o.fallback_port),
      '--fee',
      String(o.fee_fallback),
      '--name',
      'fallback',
    ]);
    children.push(fb);
    const [d, f] = await Promise.all([waitListening(def), waitListening(fb)]);
    return {
      default_url: d.url,
      fallback_url: f.url,
      token: '123',
      pids: children.map((c) => c.pid),
      stop: async () => {
        await Promise.all(children.map((c) => c.stop()));
      },
    };
  } catch (err) {
    await Promise.all(children.map((c) => c.stop()));
    throw err;
  }
}

export interface LimitsPlan {
  applied: boolean;
  limits: CgroupLimits;
  source: string;
  note: string;
}

/** Limits for the service tree: the sum of docker-compose.yml's deploy.resources.limits. */
export function planLimits(o: ContestOptions): LimitsPlan {
  let limits = DEFAULT_LIMITS;
  let source = 'default 1.5 CPU / 350 MB (compose file missing)';
  if (existsSync(o.compose_file)) {
    try {
      const total = readComposeLimits(o.compose_file).total;
      if (total.cpus > 0 && total.memory_mb > 0) {
        limits = total;
        source = `sum of ${o.compose_file} deploy.resources.limits`;
      }
    } catch (err) {
      source = `default (could not read ${o.compose_file}: ${(err as Error).message})`;
    }
  }
  if (o.topology === 'docker') return { applied: false, limits, source, note: "Docker enforces docker-compose.yml's limits per container" };
  if (!o.limits) return { applied: false, limits, source, note: 'limits disabled with --no-limits' };
  const support = cgroupSupport();
  if (!support.ok) return { applied: false, limits, source, note: `cgroups unavailable, running UNLIMITED: ${support.reason}` };
  return { applied: true, limits, source, note: `cgroup ${support.kind}: ${limits.cpus} CPU / ${limits.memory_mb} MB` };
}

export interface Service {
  url: string;
  cgroups: Cgroup[];
  roots(): number[];
  description: string;
  stop(): Promise<void>;
}

function cgName(kind: string): string {
  return `${kind}-${process.pid}`;
}

/** Spawn `node <script> args` inside a fresh cgroup (or unlimited), destroying the group on stop. */
function spawnLimited(
  kind: string,
  plan: LimitsPlan,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: Child; cgroups: Cgroup[]; stop(): Promise<void> } {
  const cg = plan.applied ? createCgroup(cgName(kind), plan.limits) : undefined;
  const cmd = cg ? cg.wrap(process.execPath, [script, ...args]) : { command: process.execPath, args: [script, ...args] };
  const child = spawnChild(kind, cmd.command, cmd.args, env);
  return {
    child,
    cgroups: cg ? [cg] : [],
    stop: async () => {
      await child.stop(10_000);
      cg?.destroy();
    },
  };
}

/** The do-nothing server; with `pay_url`, the minimal paying one (a worker thread sends each payment once to it). */
export async function startBaselineServer(plan: LimitsPlan, pay_url?: string): Promise<Service> {
  const script = join(distRoot, 'native-bench', 'baseline', 'server.js');
  const s = spawnLimited(
    pay_url ? 'baseline-pays' : 'baseline',
    plan,
    script,
    ['--port', '0', ...(pay_url ? ['--pay', pay_url] : [])],
    process.env,
  );
  try {
    const l = await waitListening(s.child);
    const what = pay_url
      ? `paying baseline: uWS server whose worker thread sends each payment once to the default processor (the service's ring and client, ${SERVICE.worker_poll_ms} ms tick, nice ${SERVICE.worker_nice}; no database, no retry)`
      : 'baseline uWS server';
    return {
      url: l.url,
      cgroups: s.cgroups,
      roots: () => [s.child.pid],
      description: `${what} (${plan.applied ? plan.note : 'unlimited'})`,
      stop: s.stop,
    };
  } catch (err) {
    await s.stop();
    throw err;
  }
}

export async function startService(o: ContestOptions, procs: Processors, plan: LimitsPlan): Promise<Service> {
  if (o.topology === 'none') {
    return {
      url: o.target.replace(/\/$/, ''),
      cgroups: [],
      roots: () => [],
      description: `external backend at ${o.target} (limits not controlled by the bench)`,
      stop: async () => {},
    };
  }
  if (o.topology === 'npm-start') {
    const script = join(distRoot, 'src', 'cluster.js');
    if (!existsSync(script))
      throw new Error(`topology npm-start: ${script} does not exist yet (build the service, or use --topology none)`);
    const port = new URL(o.target).port || '9999';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: port,
      PAYMENT_PROCESSOR_URL_DEFAULT: procs.default_url,
      PAYMENT_PROCESSOR_URL_FALLBACK: procs.fallback_url,
      PURGE_ENABLED: 'true',
    };
    delete env.DATABASE_URL; // the launcher then starts an embedded Postgres in its own tree
    const s = spawnLimited('service', plan, script, [], env);
    return {
      url: `http://127.0.0.1:${port}`,
      cgroups: s.cgroups,
      roots: () => [s.child.pid],
      description: `npm start (node dist/src/cluster.js, embedded Postgres) in one cgroup: ${plan.note}`,
      stop: s.stop,
    };
  }
  if (o.topology === 'docker') return dockerService(await startDockerService(o.compose_file));
  const t = await startCompose(o, procs);
  return {
    url: t.url.replace(/\/$/, ''),
    cgroups: t.cgroups,
    roots: () => t.cgroups.flatMap((c) => c.pids()),
    description: `native compose replica (${t.cgroups.map((c) => `${c.name}: ${c.limits.cpus} CPU/${c.limits.memory_mb} MB`).join(', ')}${o.limits ? '' : ', limits off'})`,
    stop: t.stop,
  };
}

type ComposeStarter = (x: {
  processorDefaultUrl: string;
  processorFallbackUrl: string;
  port: number;
  limits?: boolean;
  postgres?: boolean;
  composePath?: string;
  instanceCommand?: { command: string; args: string[] };
  log?: (line: string) => void;
}) => Promise<{ url: string; cgroups: Cgroup[]; stop(): Promise<void> }>;

/** The native replica of docker-compose.yml (native-bench/topology/native.ts), loaded lazily. */
async function startCompose(o: ContestOptions, procs: Processors, instance?: { command: string; args: string[] }) {
  const modPath = '../topology/native.js'; // not a literal import: the module is someone else's and may be missing
  let mod: { startComposeTopology?: ComposeStarter };
  try {
    mod = await import(modPath);
  } catch (err) {
    throw new Error(`topology compose: native-bench/topology/native.ts is not available (${(err as Error).message})`);
  }
  if (typeof mod.startComposeTopology !== 'function') throw new Error('topology compose: native.js does not export startComposeTopology');
  return mod.startComposeTopology({
    processorDefaultUrl: procs.default_url,
    processorFallbackUrl: procs.fallback_url,
    port: Number(new URL(o.target).port || 9999),
    limits: o.limits,
    composePath: o.compose_file,
    log: (line) => process.stderr.write(`[compose] ${line}\n`),
    ...(instance ? { instanceCommand: instance, postgres: false } : {}),
  });
}

/** Compose topology baseline: the same haproxy + per-service cgroups, with the do-nothing server as both instances. */
export async function startComposeBaseline(o: ContestOptions, procs: Processors): Promise<Service> {
  if (o.topology === 'docker') return dockerService(await startDockerBaseline(o.compose_file));
  const script = join(distRoot, 'native-bench', 'baseline', 'server.js');
  const t = await startCompose(o, procs, { command: process.execPath, args: [script] });
  return {
    url: t.url.replace(/\/$/, ''),
    cgroups: t.cgroups,
    roots: () => t.cgroups.flatMap((c) => c.pids()),
    description: 'baseline uWS server as both instances behind the native compose replica (same haproxy and cgroups, no Postgres)',
    stop: t.stop,
  };
}

function dockerService(d: Awaited<ReturnType<typeof startDockerService>>): Service {
  const cgroups = d.stack.containers.map((c) => c.cgroup);
  return { url: d.url, cgroups, roots: () => cgroups.flatMap((c) => c.pids()), description: d.description, stop: d.stop };
}
