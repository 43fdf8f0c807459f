// Load-balancer comparison: haproxy vs nginx (and none) in front of two do-nothing uWS backends
// (echo-backend.ts), over TCP or unix sockets, at fixed request rates with ~600 keep-alive clients
// (the contest's shape). Reports p50/p99 latency (float ms)
// and CPU per request for the LB and the backends (cgroup accounting). The load is generated here
// (not autocannon: its rate limiter fires every connection at once each second, and its histogram
// keeps whole milliseconds only).
// CLI: node dist/native-bench/topology/lb-bench.js [--rates 600,2000] [--duration-s 15] [--connections 600]
//        [--variants haproxy-tcp,haproxy-unix,nginx-tcp,nginx-unix,direct] [--lb-limits] [--base-port 18260]
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroupSupport, createCgroup, type Cgroup } from '../lib/cgroup.js';
import { readComposeLimits } from './compose-file.js';
import { freePort } from '../../src/net.js';
import { httpStatus } from './native.js';
import { spawnComponent, type Component } from './processes.js';
import { steadyLoad as load } from './steady-load.js';

const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const WARMUP_S = 3;

type Variant = 'haproxy-tcp' | 'haproxy-unix' | 'nginx-tcp' | 'nginx-unix' | 'direct';
interface Args {
  rates: number[];
  duration_s: number;
  connections: number;
  variants: Variant[];
  lb_limits: boolean;
  base_port: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    rates: [600, 2000],
    duration_s: 15,
    connections: 600,
    variants: ['haproxy-tcp', 'haproxy-unix', 'nginx-tcp', 'nginx-unix', 'direct'],
    lb_limits: false,
    base_port: 18260,
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    if (key === '--rates') args.rates = value().split(',').map(Number);
    else if (key === '--duration-s') args.duration_s = Number(value());
    else if (key === '--connections') args.connections = Number(value());
    else if (key === '--variants') args.variants = value().split(',') as Variant[];
    else if (key === '--lb-limits') args.lb_limits = true;
    else if (key === '--base-port') args.base_port = Number(value());
    else throw new Error(`unknown argument ${key}`);
  }
  return args;
}

function nginxConfig(dir: string, port: number, servers: string[]): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream api {
${servers.map((s) => `    server ${s};`).join('\n')}
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

interface Stack {
  lb?: Component;
  backends: Component[];
  groups: { lb?: Cgroup; backends?: Cgroup };
  url: string;
  stop(): Promise<void>;
}

async function waitOk(target: { port: number } | { socketPath: string }, path: string, who: Component[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (who.some((c) => c.exited())) throw new Error(`exited: ${who.map((c) => c.tail()).join('\n')}`);
    if ((await httpStatus(target, path)) === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timeout waiting for ${JSON.stringify(target)}${path}: ${who.map((c) => c.tail()).join('\n')}`);
}

// haproxy or nginx on 127.0.0.1:port in front of the two backends at addrs.
function spawnBalancer(variant: Variant, dir: string, port: number, unix: boolean, addrs: string[], cgroup: Cgroup | undefined): Component {
  if (variant.startsWith('haproxy')) {
    return spawnComponent(
      'haproxy',
      '/usr/sbin/haproxy',
      ['-f', process.env.LB_BENCH_HAPROXY_CFG ?? join(REPO_DIR, 'haproxy.cfg'), '-db'],
      {
        env: {
          ...process.env,
          LB_BIND: `127.0.0.1:${port}`,
          API1_ADDR: unix ? `unix@${addrs[0]}` : addrs[0],
          API2_ADDR: unix ? `unix@${addrs[1]}` : addrs[1],
        },
        cgroup,
        log: (line) => process.stderr.write(line + '\n'),
      },
    );
  }
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxConfig(
      dir,
      port,
      addrs.map((a) => (unix ? `unix:${a}` : a)),
    ),
  );
  return spawnComponent('nginx', '/usr/sbin/nginx', ['-c', conf, '-p', dir], {
    env: process.env,
    cgroup,
    log: (line) => process.stderr.write(line + '\n'),
  });
}

async function startStack(variant: Variant, dir: string, port: number, lb_limits: boolean): Promise<Stack> {
  const supported = cgroupSupport().ok;
  const tag = `lbb-${process.pid}-${variant}`;
  const accounting = { cpus: cpus().length, memory_mb: 4096 };
  const groups: Stack['groups'] = {};
  if (supported) {
    groups.backends = createCgroup(`${tag}-backends`, accounting);
    groups.lb = createCgroup(
      `${tag}-lb`,
      lb_limits ? readComposeLimits(join(REPO_DIR, 'docker-compose.yml')).services.haproxy : accounting,
    );
  }
  const unix = variant.endsWith('unix');
  const backends: Component[] = [];
  let lb: Component | undefined;
  const stop = async () => {
    await lb?.stop('SIGTERM', 3000);
    await Promise.all(backends.map((b) => b.stop('SIGTERM', 3000)));
    groups.lb?.destroy();
    groups.backends?.destroy();
  };
  try {
    const addrs: string[] = [];
    const targets: Array<{ port: number } | { socketPath: string }> = [];
    for (const name of ['api1', 'api2']) {
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (unix) {
        env.LISTEN_SOCKET = join(dir, `${name}.sock`);
        addrs.push(env.LISTEN_SOCKET);
        targets.push({ socketPath: env.LISTEN_SOCKET });
      } else {
        const p = await freePort();
        env.PORT = String(p);
        addrs.push(`127.0.0.1:${p}`);
        targets.push({ port: p });
      }
      backends.push(
        spawnComponent(name, process.execPath, [join(REPO_DIR, 'dist/native-bench/topology/echo-backend.js')], {
          env,
          cgroup: groups.backends,
          log: (line) => {
            if (!line.includes('"listening"')) process.stderr.write(line + '\n');
          },
        }),
      );
    }
    for (const t of targets) await waitOk(t, '/health', backends);
    // haproxy and nginx bind with SO_REUSEPORT: a leftover listener would silently take half the load.
    if ((await httpStatus({ port }, '/health')) !== 0) throw new Error(`port ${port} is already in use`);
    let url: string;
    if (variant === 'direct') {
      url = unix ? '' : `http://${addrs[0]}`; // one backend, no LB: the floor
    } else {
      lb = spawnBalancer(variant, dir, port, unix, addrs, groups.lb);
      url = `http://127.0.0.1:${port}`;
      await waitOk({ port }, '/payments-summary', [lb]);
    }
    return { lb, backends, groups, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Sample {
  variant: Variant;
  rate: number;
  requests: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  lb_cpu_us_per_req: number | null;
  backends_cpu_us_per_req: number | null;
  lb_peak_mb: number | null;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!cgroupSupport().ok) process.stderr.write(`lb-bench: no cgroups (${cgroupSupport().reason}); CPU per request not measured\n`);
  const samples: Sample[] = [];
  let port = args.base_port;
  for (const variant of args.variants) {
    if (variant === ('direct-unix' as Variant)) continue;
    const dir = mkdtempSync(join(tmpdir(), 'lb-bench-'));
    chmodSync(dir, 0o755); // nginx workers run as nobody and must reach the sockets
    for (const sub of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
    const stack = await startStack(variant, dir, port++, args.lb_limits);
    try {
      for (const rate of args.rates) {
        await load(stack.url, rate, WARMUP_S, args.connections, false);
        const lb0 = stack.groups.lb?.cpuUsageNs() ?? 0;
        const be0 = stack.groups.backends?.cpuUsageNs() ?? 0;
        const { latencies, errors } = await load(stack.url, rate, args.duration_s, args.connections, true);
        const lb_ns = (stack.groups.lb?.cpuUsageNs() ?? 0) - lb0;
        const be_ns = (stack.groups.backends?.cpuUsageNs() ?? 0) - be0;
        const n = latencies.length;
        const sample: Sample = {
          variant,
          rate,
          requests: n,
          errors,
          p50_ms: percentile(latencies, 50),
          p99_ms: percentile(latencies, 99),
          max_ms: latencies[n - 1] ?? NaN,
          lb_cpu_us_per_req: stack.groups.lb && variant !== 'direct' ? lb_ns / 1000 / Math.max(1, n) : null,
          backends_cpu_us_per_req: stack.groups.backends ? be_ns / 1000 / Math.max(1, n) : null,
          lb_peak_mb: stack.groups.lb && variant !== 'direct' ? stack.groups.lb.memoryPeakBytes() / 1048576 : null,
        };
        samples.push(sample);
        const f = (x: number | null, d = 3) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
        process.stdout.write(
          `${variant.padEnd(13)} ${String(rate).padStart(5)} req/s  n=${n} err=${errors}  p50 ${f(sample.p50_ms)} ms  p99 ${f(sample.p99_ms)} ms  max ${f(sample.max_ms, 1)} ms  LB ${f(sample.lb_cpu_us_per_req, 1)} us/req  backends ${f(sample.backends_cpu_us_per_req, 1)} us/req  LB peak ${f(sample.lb_peak_mb, 1)} MB\n`,
        );
      }
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  process.stdout.write(JSON.stringify({ args, samples }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`lb-bench: ${(err as Error).stack}\n`);
  process.exit(1);
});
