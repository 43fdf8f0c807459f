// The ring micro-benchmark: SAB ring vs MessagePort.postMessage between the main thread
// (producer) and 1..n worker-thread consumers, in burst (throughput) and paced (latency) mode.
// CLI: node dist/native-bench/ring/main.js [--records 1000000] [--paced-records 30000]
//   [--rate 10000] [--consumers 1,2] [--transports ring-async,ring-sync,port]
//   [--modes burst,paced] [--slots 65536] [--out <dir>] [--timeout-ms 120000]
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { availableParallelism } from 'node:os';
import { runScenario, type Mode, type ScenarioResult } from './scenario.js';
import type { Transport } from './bench-worker.js';
import { utcStamp } from './stats.js';

export interface RingBenchOptions {
  records: number;
  paced_records: number;
  rate_per_s: number;
  consumers: number[];
  transports: Transport[];
  modes: Mode[];
  slots: number;
  out: string;
  timeout_ms: number;
}

const USAGE =
  'usage: ring bench [--records N] [--paced-records N] [--rate R] [--consumers 1,2] [--transports ring-async,ring-sync,port] [--modes burst,paced] [--slots S] [--out DIR] [--timeout-ms MS]';
const TRANSPORTS: Transport[] = ['ring-async', 'ring-sync', 'port'];
const MODES: Mode[] = ['burst', 'paced'];

export function parseRingArgs(argv: string[]): RingBenchOptions {
  const o: RingBenchOptions = {
    records: 1_000_000,
    paced_records: 30_000,
    rate_per_s: 10_000,
    consumers: [1, 2],
    transports: TRANSPORTS,
    modes: MODES,
    slots: 1 << 16,
    out: '',
    timeout_ms: 120_000,
  };
  const positiveInt = (name: string, v: string | undefined, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be an integer in [1, ${max}], got ${v}`);
    return n;
  };
  const list = <T extends string>(name: string, v: string | undefined, allowed: readonly T[]) => {
    const items = (v ?? '').split(',').filter(Boolean) as T[];
    if (items.length === 0 || items.some((x) => !allowed.includes(x)))
      throw new Error(`${name} must be a list of ${allowed.join('|')}, got ${v}`);
    return items;
  };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--records':
        o.records = positiveInt('--records', v, 1e8);
        break;
      case '--paced-records':
        o.paced_records = positiveInt('--paced-records', v, 1e8);
        break;
      case '--rate':
        o.rate_per_s = positiveInt('--rate', v, 1e7);
        break;
      case '--consumers':
        o.consumers = (v ?? '').split(',').map((x) => positiveInt('--consumers', x, 16));
        break;
      case '--transports':
        o.transports = list('--transports', v, TRANSPORTS);
        break;
      case '--modes':
        o.modes = list('--modes', v, MODES);
        break;
      case '--slots':
        o.slots = positiveInt('--slots', v, 1 << 24);
        break;
      case '--out':
        if (!v) throw new Error('--out needs a directory');
        o.out = v;
        break;
      case '--timeout-ms':
        o.timeout_ms = positiveInt('--timeout-ms', v, 3_600_000);
        break;
      default:
        throw new Error(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  if ((o.slots & (o.slots - 1)) !== 0 || o.slots < 2) throw new Error(`--slots must be a power of two >= 2, got ${o.slots}`);
  return o;
}

export function markdownTable(rows: ScenarioResult[]): string {
  const head =
    '| transport | mode | consumers | records | rate (target/s) | seconds | ops/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | full waits | producer ns/record | ok |';
  const sep = '|' + '---|'.repeat(15);
  const lines = rows.map(
    (r) =>
      `| ${r.transport} | ${r.mode} | ${r.consumers} | ${r.records} | ${r.target_rate_per_s ?? '-'} | ${r.seconds} | ${r.ops_per_s} | ${r.latency_us.p50} | ${r.latency_us.p90} | ${r.latency_us.p99} | ${r.latency_us.p999} | ${r.latency_us.max} | ${r.producer_blocked} | ${r.producer_ns_per_record} | ${r.timed_out ? 'TIMEOUT' : 'yes'} |`,
  );
  return [head, sep, ...lines].join('\n') + '\n';
}

export async function runRingBench(o: RingBenchOptions): Promise<{ dir: string; rows: ScenarioResult[] }> {
  const rows: ScenarioResult[] = [];
  for (const mode of o.modes) {
    for (const consumers of o.consumers) {
      for (const transport of o.transports) {
        const records = mode === 'burst' ? o.records : o.paced_records;
        const row = await runScenario({
          transport,
          mode,
          consumers,
          records,
          slots: o.slots,
          rate_per_s: o.rate_per_s,
          timeout_ms: o.timeout_ms,
        });
        rows.push(row);
        process.stderr.write(`ring bench: ${transport} ${mode} x${consumers}: ${row.ops_per_s} ops/s, p99 ${row.latency_us.p99} µs\n`);
      }
    }
  }
  const dir = resolve(o.out || join('bench-results', `${utcStamp()}-ring`));
  mkdirSync(dir, { recursive: true });
  const meta = {
    node: process.version,
    cpus: availableParallelism(),
    argv: process.argv.slice(2),
    options: o,
    clock: 'performance.timeOrigin + performance.now() in both threads',
  };
  writeFileSync(join(dir, 'ring.json'), JSON.stringify({ ...meta, rows }, null, 2) + '\n');
  const md = `# Ring bench\n\n\`node dist/native-bench/ring/main.js ${meta.argv.join(' ')}\` — Node ${meta.node}, ${meta.cpus} CPUs. Latency = producer timestamp → consumer receive. Burst latency is mostly queueing; read paced rows for latency.\n\n${markdownTable(rows)}`;
  writeFileSync(join(dir, 'ring.md'), md);
  return { dir, rows };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let options: RingBenchOptions;
  try {
    options = parseRingArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ring bench: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const { dir, rows } = await runRingBench(options);
  process.stdout.write(markdownTable(rows));
  process.stdout.write(`written: ${dir}\n`);
  process.exitCode = rows.some((r) => r.timed_out) ? 1 : 0;
}
