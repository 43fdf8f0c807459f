// `npm run stack:compose [-- --port 9999 --default-url URL --fallback-url URL --transport tcp|unix --no-limits]`
// Runs the docker-compose topology natively (Postgres + haproxy + 2 instances, compose limits via
// cgroups). Without processor URLs it also starts the two processor simulators (8001: 7 %, 8002: 10 %).
// Ctrl-C / SIGTERM stops everything and prints CPU time and peak memory per component.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startComposeTopology, type Topology } from './native.js';
import { spawnComponent, type Component } from './processes.js';

const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const SIM_START_TIMEOUT_MS = 20_000;

interface Args {
  port: number;
  default_url?: string;
  fallback_url?: string;
  transport: 'tcp' | 'unix';
  limits: boolean;
}

function usage(message: string): never {
  process.stderr.write(
    `stack:compose: ${message}\nusage: main.js [--port 9999] [--default-url URL --fallback-url URL] [--transport tcp|unix] [--no-limits]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { port: 9999, transport: 'tcp', limits: true };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i] ?? usage(`${key} needs a value`);
    switch (key) {
      case '--port':
        args.port = Number(value());
        break;
      case '--default-url':
        args.default_url = value();
        break;
      case '--fallback-url':
        args.fallback_url = value();
        break;
      case '--transport': {
        const t = value();
        if (t !== 'tcp' && t !== 'unix') usage('--transport is tcp or unix');
        args.transport = t;
        break;
      }
      case '--no-limits':
        args.limits = false;
        break;
      default:
        usage(`unknown argument ${argv[i]}`);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) usage('--port must be 1..65535');
  if ((args.default_url === undefined) !== (args.fallback_url === undefined))
    usage('give both --default-url and --fallback-url, or neither');
  return args;
}

/** Starts one processor simulator and resolves its URL from its {"event":"listening"} line. */
async function startSimulator(name: string, port: number, fee: number): Promise<{ component: Component; url: string }> {
  let resolveUrl!: (url: string) => void;
  const url_promise = new Promise<string>((resolve) => {
    resolveUrl = resolve;
  });
  const component = spawnComponent(
    name,
    process.execPath,
    [join(REPO_DIR, 'dist/native-bench/processor-sim/main.js'), '--port', String(port), '--fee', String(fee), '--name', name],
    {
      env: process.env,
      log: (line) => {
        const text = line.slice(line.indexOf('] ') + 2);
        try {
          const msg = JSON.parse(text);
          if (msg.event === 'listening') resolveUrl(msg.url ?? `http://127.0.0.1:${msg.port}`);
        } catch {
          /* plain log line */
        }
      },
    },
  );
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`${name} not listening after ${SIM_START_TIMEOUT_MS} ms\n${component.tail()}`)),
      SIM_START_TIMEOUT_MS,
    ).unref(),
  );
  const exited = new Promise<never>((_, reject) =>
    component.proc.once('exit', (code) => reject(new Error(`${name} exited (${code})\n${component.tail()}`))),
  );
  return { component, url: await Promise.race([url_promise, timeout, exited]) };
}

function report(topology: Topology, started_ms: number): string {
  const wall_s = (Date.now() - started_ms) / 1000;
  const lines = [`resources over ${wall_s.toFixed(1)} s (cgroup accounting):`];
  for (const group of topology.cgroups) {
    const cpu_s = group.cpuUsageNs() / 1e9;
    const th = group.throttling();
    lines.push(
      `  ${group.name.padEnd(32)} limit ${group.limits.cpus} cpu / ${group.limits.memory_mb} MB   used ${cpu_s.toFixed(2)} cpu-s (avg ${(cpu_s / wall_s).toFixed(3)} cpu)   peak ${(group.memoryPeakBytes() / 1048576).toFixed(1)} MB   quota met in ${th.throttled_periods} of ${th.periods} periods (${th.throttled_ms.toFixed(0)} ms stalled)`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sims: Component[] = [];
  let topology: Topology | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (topology) process.stdout.write(report(topology, started_ms) + '\n');
    await topology?.stop();
    await Promise.all(sims.map((s) => s.stop('SIGTERM', 5_000)));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  const started_ms = Date.now();
  try {
    let default_url = args.default_url;
    let fallback_url = args.fallback_url;
    if (!default_url || !fallback_url) {
      const [d, f] = await Promise.all([startSimulator('processor-default', 8001, 0.07), startSimulator('processor-fallback', 8002, 0.1)]);
      sims.push(d.component, f.component);
      default_url = d.url;
      fallback_url = f.url;
    }
    topology = await startComposeTopology({
      processorDefaultUrl: default_url,
      processorFallbackUrl: fallback_url,
      port: args.port,
      limits: args.limits,
      transport: args.transport,
      log: (line) => {
        if (!/^\[postgres\].*LOG:/.test(line)) process.stderr.write(line + '\n');
      },
    });
    process.stdout.write(`${JSON.stringify({ event: 'listening', port: args.port, url: topology.url })}\n`);
    process.stdout.write(
      [
        `stack:compose up in ${Date.now() - started_ms} ms (transport ${args.transport}, limits ${args.limits ? 'compose' : 'off'})`,
        ...Object.entries(topology.addresses).map(([name, addr]) => `  ${name.padEnd(10)} ${addr}`),
        `  processors default ${default_url}  fallback ${fallback_url}`,
        'Ctrl-C to stop.',
      ].join('\n') + '\n',
    );
    for (const c of [...topology.components, ...sims]) {
      c.proc.once('exit', (code) => {
        if (!stopping) {
          process.stderr.write(`${c.name} exited (${code}); stopping\n`);
          void stopAll(1);
        }
      });
    }
  } catch (err) {
    process.stderr.write(`stack:compose: ${(err as Error).message}\n`);
    await Promise.all(sims.map((s) => s.stop('SIGTERM', 5_000)));
    process.exit(1);
  }
}

void main();
