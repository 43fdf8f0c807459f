// `npm start`: the whole local stack. N instances sharing one port (uWS sets SO_REUSEPORT on
// Linux, so the kernel spreads connections without a proxy), an embedded Postgres when
// DATABASE_URL is unset, and the two processor simulators (native-bench, run as child
// processes) when the processor URLs are unset. Ctrl-C or SIGTERM stops all of it.
// Every child holds a pipe from the launcher as stdin (src/lifeline.ts): if the launcher dies
// without stopping them (SIGKILL, OOM), each one notices the pipe close and stops by itself,
// and the embedded Postgres removes its data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConfigError, LOCAL_STACK_ENV, parseConfig } from './config.js';
import { LIFELINE_ARG } from './lifeline.js';
import { createLogger } from './log.js';
import { INSTANCE_ENV } from './runtime.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..'); // dist/src → repo root
const MAIN = join(here, 'main.js');
const EMBEDDED_PG = join(here, 'store', 'embedded.js');
const SIM = join(ROOT, 'dist', 'native-bench', 'processor-sim', 'main.js');
const RESTART_DELAY_MS = 1_000;
const STOP_TIMEOUT_MS = 20_000;
const SIM_OFFSETS = { default: 0, fallback: 1 } as const;
// The launcher's end of each child's lifeline: never written, never closed while it lives.
const CHILD_STDIO: ['pipe', 'pipe', 'inherit'] = ['pipe', 'pipe', 'inherit'];

function spawnChild(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // detached: Ctrl-C reaches the launcher only; it stops the rest in order.
  const child = spawn(process.execPath, [...args, LIFELINE_ARG], { env, stdio: CHILD_STDIO, detached: true });
  child.stdin!.on('error', () => {}); // the child is gone: its end closed
  return child;
}
const SIM_FEES = { default: 0.07, fallback: 0.1 } as const;

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig();
  } catch (err) {
    process.stderr.write(`cannot start: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger(config.log_level, { component: 'launcher' });
  const children = new Set<ChildProcess>(); // instances: stopped (drained) before the rest
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;

  const stopAll = async (code: number): Promise<never> => {
    stopping = true;
    await Promise.all([...children].map((c) => stopChild(c)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => log.warn('cleanup failed', { err: String(err) }));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    // Postgres.
    let database_url = config.database_url;
    if (database_url === '') {
      const child = spawnChild([EMBEDDED_PG]);
      cleanups.push(() => stopChild(child));
      database_url = await firstJsonLine(child, (m) => (m.event === 'listening' ? String(m.url) : null), false);
      log.info('embedded postgres started', { url: database_url.replace(':postgres@', ':***@') });
    }

    // Processors.
    let urls = { default: config.processor_url_default, fallback: config.processor_url_fallback };
    if (urls.default === '' || urls.fallback === '') {
      const started = await Promise.all(
        (['default', 'fallback'] as const).map(async (name) => {
          const port = config.simulator_port_base === 0 ? 0 : config.simulator_port_base + SIM_OFFSETS[name];
          const child = spawnChild([SIM, '--port', String(port), '--fee', String(SIM_FEES[name]), '--name', name]);
          cleanups.push(() => stopChild(child));
          const url = await firstJsonLine(child, (m) => (m.event === 'listening' ? String(m.url) : null));
          return [name, url] as const;
        }),
      );
      urls = Object.fromEntries(started) as typeof urls;
      log.info('processor simulators started', urls);
    }

    // Instances.
    const env = {
      ...LOCAL_STACK_ENV,
      ...process.env,
      ...INSTANCE_ENV,
      DATABASE_URL: database_url,
      PAYMENT_PROCESSOR_URL_DEFAULT: urls.default,
      PAYMENT_PROCESSOR_URL_FALLBACK: urls.fallback,
    };
    const startInstance = (index: number): Promise<void> => {
      const child = spawnChild([MAIN], { ...env, INSTANCE_INDEX: String(index) });
      children.add(child);
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (stopping) return;
        log.error('instance exited; restarting', { index, code, signal });
        setTimeout(() => {
          if (!stopping) startInstance(index).catch((err) => log.error('restart failed', { index, err: String(err) }));
        }, RESTART_DELAY_MS);
      });
      return firstJsonLine(child, (m) => (m.msg === 'listening' ? 'ok' : null)).then(() => undefined);
    };
    await Promise.all(Array.from({ length: config.instances }, (_, i) => startInstance(i)));
    const where = config.listen_socket ? `unix:${config.listen_socket}` : `http://127.0.0.1:${config.port}`;
    const metrics =
      config.metrics_port === 0
        ? 'per instance: off (METRICS_PORT=0)'
        : Array.from({ length: config.instances }, (_, i) => `http://127.0.0.1:${config.metrics_port + i}/metrics`).join('  ');
    process.stdout.write(
      `\nrinha-node is up: ${config.instances} instance(s) on ${where} (durability ${config.durability})\n` +
        `  processors: default ${urls.default}  fallback ${urls.fallback}\n` +
        `  postgres:   ${database_url.replace(/:[^:@/]*@/, ':***@')}\n` +
        `  metrics:    ${where}/metrics (any instance)   ${metrics}\n` +
        `  try: curl -s ${where}/payments-summary   stop: Ctrl-C\n\n`,
    );
  } catch (err) {
    log.error('start failed', { err: String((err as Error)?.message ?? err) });
    await stopAll(1);
  }
}

// Forwards a child's stdout and resolves with the first JSON line `pick` accepts.
function firstJsonLine(child: ChildProcess, pick: (m: Record<string, unknown>) => string | null, forward = true): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (forward) process.stdout.write(line + '\n');
      if (done) return;
      try {
        const value = pick(JSON.parse(line) as Record<string, unknown>);
        if (value !== null) {
          done = true;
          resolve(value);
        }
      } catch {
        // not JSON: just forwarded
      }
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`child exited (code ${code}) before it was ready`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

void main();
