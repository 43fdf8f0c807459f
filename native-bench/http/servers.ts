// The processes the HTTP bench measures: the do-nothing baseline and, unless --target, a stack of
// embedded Postgres + two processor simulators + one service instance. Each is a child process
// (its own core time, its own /proc/<pid>/stat), stopped in reverse order.
import { freePort } from '../../src/net.js';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnComponent, type Component } from '../topology/processes.js';

const DIST = fileURLToPath(new URL('../../', import.meta.url)); // dist/
const START_TIMEOUT_MS = 60_000;

export interface Server {
  name: string;
  url: string;
  pids: number[];
}

export interface Servers {
  service: Server | null;
  baseline: Server | null;
  cpu_prof_dir: string | null;
  stop(): Promise<void>;
}

// Spawns `node <args>` and resolves once a stdout JSON line satisfies `pick`.
async function startNode(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  pick: (m: Record<string, unknown>) => boolean,
): Promise<{ component: Component; line: Record<string, unknown> }> {
  let found: ((m: Record<string, unknown>) => void) | null = null;
  const prefix = `[${name}] `;
  const component = spawnComponent(name, process.execPath, args, {
    env,
    log: (tagged) => {
      const line = tagged.startsWith(prefix) ? tagged.slice(prefix.length) : tagged;
      if (found === null || !line.startsWith('{')) return;
      try {
        const m = JSON.parse(line) as Record<string, unknown>;
        if (pick(m)) found(m);
      } catch {
        /* not JSON */
      }
    },
  });
  const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after ${START_TIMEOUT_MS} ms:\n${component.tail()}`)),
      START_TIMEOUT_MS,
    );
    const poll = setInterval(() => {
      if (component.exited()) {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready:\n${component.tail()}`));
      }
    }, 100);
    found = (m) => {
      found = null;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(m);
    };
  }).catch(async (e: unknown) => {
    await component.stop('SIGKILL', 1000);
    throw e;
  });
  return { component, line };
}

const port = (base: number, offset: number) => (base > 0 ? base + offset : 0);

export async function startServers(opts: {
  service: boolean;
  baseline: boolean;
  base_port: number;
  cpu_prof_dir: string | null;
}): Promise<Servers> {
  const started: Component[] = []; // in start order; stopped in reverse
  const stop = async () => {
    for (const c of started.reverse()) await c.stop('SIGTERM', 20_000);
  };
  try {
    let baseline: Server | null = null;
    if (opts.baseline) {
      const b = await startNode(
        'baseline',
        [`${DIST}native-bench/baseline/server.js`, '--port', String(port(opts.base_port, 1))],
        process.env,
        (m) => m.event === 'listening',
      );
      started.push(b.component);
      baseline = { name: 'baseline', url: String(b.line.url), pids: [b.component.pid] };
    }
    let service: Server | null = null;
    if (opts.service) {
      const pg = await startNode('postgres', [`${DIST}src/store/embedded.js`], process.env, (m) => m.event === 'listening');
      started.push(pg.component);
      const sims: string[] = [];
      for (const [i, fee] of [
        ['default', '0.05'],
        ['fallback', '0.15'],
      ].entries()) {
        const sim = await startNode(
          `sim-${fee[0]}`,
          [`${DIST}native-bench/processor-sim/main.js`, '--port', String(port(opts.base_port, 2 + i)), '--fee', fee[1], '--name', fee[0]],
          process.env,
          (m) => m.event === 'listening',
        );
        started.push(sim.component);
        sims.push(String(sim.line.url));
      }
      const service_port = opts.base_port > 0 ? opts.base_port : await freePort();
      const node_flags = opts.cpu_prof_dir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpu_prof_dir] : [];
      if (opts.cpu_prof_dir) mkdirSync(opts.cpu_prof_dir, { recursive: true });
      const env = {
        ...process.env,
        DATABASE_URL: String(pg.line.url),
        PAYMENT_PROCESSOR_URL_DEFAULT: sims[0],
        PAYMENT_PROCESSOR_URL_FALLBACK: sims[1],
        PORT: String(service_port),
        LOG_LEVEL: 'info', // the 'listening' line is info; nothing logs on the payment path
      };
      const svc = await startNode('service', [...node_flags, `${DIST}src/main.js`], env, (m) => m.msg === 'listening');
      started.push(svc.component);
      service = { name: 'service', url: `http://127.0.0.1:${service_port}`, pids: [svc.component.pid] };
    }
    return { service, baseline, cpu_prof_dir: opts.cpu_prof_dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
