// What a load generator itself adds: the contest replica's VU generators, Node (and any other build
// of it given with --worker) and C (contest/loadgen.c), against the do-nothing server, next to a
// minimal C client (minimal-client.c, compiled with the system's cc) at the same mean rate, in
// alternating rounds. Per run: POST p50/p99/p99.9 and the generator's CPU per request (its thread,
// or its process for the C ones).
// usage: npm run bench:capacity -- --generators [--users 300] [--duration-s 30] [--rounds 2] [--worker <loadgen-worker.js>]...
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { spawnChild, waitListening } from '../contest/children.js';
import { runLoad, type LoadConfig, type LoadDone } from '../contest/loadgen.js';
import { buildCGenerator } from '../contest/loadgen-native.js';
import { compileC } from '../lib/cc.js';
import { latencyStats } from '../contest/stats.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/native-bench/capacity
const SOURCE = join(here, '..', '..', '..', 'native-bench', 'capacity', 'minimal-client.c');

interface Row {
  generator: string;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  p999: number;
  cpu_us_per_request: number;
}

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
}

// CPU ns of this process's threads named `loadgen` (/proc/self/task/*/schedstat).
function loadgenCpuNs(): number {
  let ns = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'loadgen') continue;
      ns += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* ended */
    }
  }
  return ns;
}

function vuConfig(url: string, users: number, duration_s: number): LoadConfig {
  return {
    target_url: url,
    duration_s,
    users,
    amount: 19.9,
    timeout_ms: 1500,
    start_epoch_ms: performance.timeOrigin + performance.now() + 300,
  };
}

async function runVus(worker_path: string, url: string, users: number, duration_s: number): Promise<Row> {
  const w = new Worker(worker_path, { workerData: vuConfig(url, users, duration_s) });
  let cpu = 0;
  const sampler = setInterval(() => {
    cpu = Math.max(cpu, loadgenCpuNs());
  }, 200);
  const done = await new Promise<LoadDone>((resolve, reject) => {
    w.on('message', (m: { type: string }) => {
      if (m.type === 'done') resolve(m as LoadDone);
      else if (m.type === 'error') reject(new Error(JSON.stringify(m)));
    });
    w.on('error', reject);
  });
  cpu = Math.max(cpu, loadgenCpuNs());
  clearInterval(sampler);
  await w.terminate();
  return rowOf(worker_path, done, cpu);
}

function rowOf(generator: string, done: LoadDone, cpu_ns: number): Row {
  const ok: number[] = [];
  for (let i = 0; i < done.count; i++) if (done.status[i] >= 200 && done.status[i] < 300) ok.push(done.dur_ms[i]);
  const s = latencyStats(ok);
  return {
    generator,
    requests: done.count,
    errors: done.count - ok.length,
    p50: s.p50,
    p99: s.p99,
    p999: s.p999,
    cpu_us_per_request: Math.round((cpu_ns / 1000 / Math.max(1, done.count)) * 10) / 10,
  };
}

// The contest replica's C generator: its CPU is its own process's.
async function runCVus(binary: string, url: string, users: number, duration_s: number): Promise<Row> {
  const load = runLoad(vuConfig(url, users, duration_s), () => {}, { kind: 'c', binary });
  const done = await load.done;
  await load.stop();
  return rowOf('contest replica, C (loadgen.c)', done, done.cpu_ms * 1e6);
}

function runMinimal(bin: string, url: string, rate: number, duration_s: number): Row {
  const u = new URL(url);
  const out = JSON.parse(execFileSync(bin, [u.hostname, u.port, String(rate), String(duration_s)], { encoding: 'utf8' })) as Omit<
    Row,
    'generator'
  >;
  return { generator: 'minimal C client', ...out };
}

export async function compareGenerators(argv: string[]): Promise<void> {
  const users = Number(arg(argv, '--users', '300'));
  const duration_s = Number(arg(argv, '--duration-s', '30'));
  const rounds = Number(arg(argv, '--rounds', '2'));
  if (!(users >= 2 && duration_s >= 2 && rounds >= 1)) throw new Error('--users ≥ 2, --duration-s ≥ 2, --rounds ≥ 1');
  const workers = [join(here, '..', 'contest', 'loadgen-worker.js')];
  argv.forEach((a, i) => {
    if (a === '--worker') workers.push(argv[i + 1]);
  });
  const minimal = compileC(SOURCE, join(here, 'minimal-client'));
  if ('error' in minimal) throw new Error(`the minimal client could not be built: ${minimal.error}`);
  const bin = minimal.binary;
  const built = buildCGenerator();
  if ('error' in built) throw new Error(`the C generator could not be built: ${built.error}`);
  const server = spawnChild('baseline', process.execPath, [join(here, '..', 'baseline', 'server.js'), '--port', '0']);
  try {
    const { url } = await waitListening(server);
    // The VUs ramp 1 → users over the run, one POST a second each: (users + 1) / 2 a second on average.
    const mean_rate = Math.round((users + 1) / 2);
    const rows: Row[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const w of workers) rows.push(await runVus(w, url, users, duration_s));
      rows.push(await runCVus(built.binary, url, users, duration_s));
      rows.push(runMinimal(bin, url, mean_rate, duration_s));
      for (const row of rows.slice(-workers.length - 2)) process.stderr.write(`round ${r + 1}: ${JSON.stringify(row)}\n`);
    }
    process.stdout.write(JSON.stringify({ users, duration_s, mean_rate, rows }) + '\n');
  } finally {
    await server.stop();
  }
}
