// Real processes for integration tests: an embedded Postgres (or DATABASE_URL when set), two
// processor simulators and N service instances, each on its own free port.
import { freePort } from '../../src/net.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startSimulator } from '../../native-bench/processor-sim/server.js';
import { SimAdmin } from '../../native-bench/processor-sim/client.js';
import { INSTANCE_ENV } from '../../src/runtime.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DIST = join(here, '..', '..'); // dist/
export const MAIN = join(DIST, 'src', 'main.js');
export const EMBEDDED_PG = join(DIST, 'src', 'store', 'embedded.js');

// Resolves with the first stdout JSON line that `pick` accepts; other lines are kept in `log`.
export function waitForLine(
  child: ChildProcess,
  pick: (m: Record<string, unknown>) => boolean,
  log: string[] = [],
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let done = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.push(line);
      if (done) return;
      try {
        const m = JSON.parse(line) as Record<string, unknown>;
        if (pick(m)) {
          done = true;
          resolve(m);
        }
      } catch {
        // not JSON
      }
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`process exited (code ${code}) before it was ready: ${log.slice(-5).join('\n')}`));
    });
  });
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeout_ms = 20_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), timeout_ms);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill(signal);
  });
}

export interface Postgres {
  url: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<Postgres> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const child = spawn(process.execPath, [EMBEDDED_PG], { stdio: ['ignore', 'pipe', 'inherit'] });
  const m = await waitForLine(child, (x) => x.event === 'listening');
  return { url: String(m.url), stop: async () => void (await stopProcess(child)) };
}

export interface Sim {
  url: string;
  admin: SimAdmin;
  close(): Promise<void>;
}

export async function startSims(): Promise<[Sim, Sim]> {
  const [d, f] = await Promise.all([
    startSimulator({ port: 0, fee: 0.07, name: 'default' }),
    startSimulator({ port: 0, fee: 0.1, name: 'fallback' }),
  ]);
  return [
    { url: d.url, admin: new SimAdmin(d.url), close: () => d.close() },
    { url: f.url, admin: new SimAdmin(f.url), close: () => f.close() },
  ];
}

export interface Instance {
  url: string;
  port: number;
  child: ChildProcess;
  log: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const log: string[] = [];
  const child = spawn(process.execPath, [MAIN], {
    // Started as npm start and the image start them (src/runtime.ts).
    // No metrics port of their own unless a test asks: many instances run on this host at once.
    env: {
      ...process.env,
      ...INSTANCE_ENV,
      PURGE_ENABLED: 'true',
      HEALTH_INTERVAL_MS: '5000',
      METRICS_PORT: '0',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stderr! }).on('line', (l) => log.push(l));
  await waitForLine(child, (m) => m.msg === 'listening', log);
  return { url: `http://127.0.0.1:${port}`, port, child, log, stop: (signal) => stopProcess(child, signal) };
}

export interface Stack {
  pg: Postgres;
  sims: [Sim, Sim];
  instances: Instance[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

// The whole stack. Instances share one database; extra env overrides the service's settings.
export async function startStack(opts: { instances?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  const [pg, sims] = await Promise.all([startPostgres(), startSims()]);
  const env = {
    DATABASE_URL: pg.url,
    PAYMENT_PROCESSOR_URL_DEFAULT: sims[0].url,
    PAYMENT_PROCESSOR_URL_FALLBACK: sims[1].url,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < (opts.instances ?? 2); i++) instances.push(await startInstance(env));
    // One clean start: the purge clears what a previous test left in a shared DATABASE_URL.
    await post(instances[0].url, '/purge-payments', '');
  } catch (err) {
    await stopParts(instances, sims, pg); // a failed start leaves nothing running to hang the test file
    throw err;
  }
  return { pg, sims, instances, env, stop: () => stopParts(instances, sims, pg) };
}

// Instances first (they drain into the processors and Postgres), then the rest.
export async function stopParts(instances: Instance[], sims: Sim[], pg: Postgres): Promise<void> {
  await Promise.all(instances.map((i) => i.stop()));
  await Promise.all(sims.map((s) => s.close()));
  await pg.stop();
}

export async function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; text: string }> {
  const res = await request(base + path, { method: 'POST', headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

export async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const res = await request(base + path, { method: 'GET' });
  return { status: res.statusCode, text: await res.body.text() };
}

export interface Summary {
  default: { totalRequests: number; totalAmount: number };
  fallback: { totalRequests: number; totalAmount: number };
}

export async function summary(base: string, from?: string, to?: string): Promise<Summary> {
  const q = new URLSearchParams();
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  const r = await get(base, '/payments-summary' + (q.size > 0 ? `?${q}` : ''));
  if (r.status !== 200) throw new Error(`summary ${r.status} ${r.text}`);
  return JSON.parse(r.text) as Summary;
}

export function payment(id: string = crypto.randomUUID(), amount = 19.9): string {
  return JSON.stringify({ correlationId: id, amount });
}

// Polls `check` until it returns true or the deadline passes (a bound on waiting, not a
// performance assertion). Returns whether it became true.
export async function eventually(check: () => Promise<boolean>, timeout_ms = 30_000, every_ms = 100): Promise<boolean> {
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, every_ms));
  }
  return check();
}

// The processors' own view vs the service's, per processor, for one window.
export async function compare(
  stack: Stack,
  from?: string,
  to?: string,
): Promise<{ service: Summary; default: number; fallback: number; default_cents: number; fallback_cents: number }> {
  const [service, d, f] = await Promise.all([
    summary(stack.instances[0].url, from, to),
    stack.sims[0].admin.summary(from, to),
    stack.sims[1].admin.summary(from, to),
  ]);
  return {
    service,
    default: d.totalRequests,
    fallback: f.totalRequests,
    default_cents: Math.round(d.totalAmount * 100),
    fallback_cents: Math.round(f.totalAmount * 100),
  };
}
