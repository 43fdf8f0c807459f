// Command line of `npm run bench:capacity`, parsed and validated once.
export type TargetName = 'service' | 'baseline' | 'baseline-pays';

export interface CapacityOptions {
  rates: number[];
  step_s: number;
  warmup_s: number;
  targets: TargetName[];
  connections: number;
  timeout_ms: number;
  amount: number;
  settle_ms: number;
  limits: boolean;
  compose_file: string;
  port: number;
  default_port: number;
  fallback_port: number;
  out?: string;
  label: string;
}

const USAGE = `usage: node dist/native-bench/capacity/main.js [options]
  --rates <r1,r2,...>       arrival rates in payments/s, ascending (default 500,1000,2000,4000,6000,8000)
  --step-s <s>              seconds per step (default 20)
  --warmup-s <s>            first seconds of each step left out of every figure (default 5)
  --targets <t1,t2,...>     service, baseline (do-nothing), baseline-pays (default all three)
  --connections <n>         the generator's keep-alive connections (default 256)
  --timeout-ms <ms>         a request's timeout (default 1500)
  --amount <x>              payment amount (default 19.90)
  --settle-ms <ms>          how long the summary may take to match the processors after a step (default 5000)
  --port <p>                the service's port (default 9999)
  --default-port <p>        the default simulator's port (default 8001)
  --fallback-port <p>       the fallback simulator's port (default 8002)
  --no-limits               run without the compose file's CPU/memory limits
  --compose-file <path>     where the limits come from (default docker-compose.yml)
  --out <dir>               output directory (default bench-results/<UTC>-capacity-<label>)
  --label <name>            label in the output directory name and report
  --generators [--users n] [--duration-s s] [--rounds n] [--worker <loadgen-worker.js>]...
                            instead: the contest replica's load generators, Node (and other builds of
                            it) and C, against the do-nothing server, next to a minimal C client at
                            the same rate
`;

function num(name: string, v: string | undefined, min: number, max: number): number {
  const x = Number(v);
  if (v === undefined || !Number.isFinite(x) || x < min || x > max)
    throw new Error(`${name} must be a number in [${min}, ${max}], got ${v}`);
  return x;
}

export function parseCapacityOptions(argv: string[]): CapacityOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-limits' || a === '--help') {
      flags.add(a);
      continue;
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${USAGE}`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      values.set(a.slice(0, eq), a.slice(eq + 1));
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
    values.set(a, argv[++i]);
  }
  if (flags.has('--help')) throw new Error(USAGE);
  const known = [
    '--rates',
    '--step-s',
    '--warmup-s',
    '--targets',
    '--connections',
    '--timeout-ms',
    '--amount',
    '--settle-ms',
    '--port',
    '--default-port',
    '--fallback-port',
    '--compose-file',
    '--out',
    '--label',
  ];
  for (const k of values.keys()) if (!known.includes(k)) throw new Error(`unknown option ${k}\n${USAGE}`);
  const rates = (values.get('--rates') ?? '500,1000,2000,4000,6000,8000').split(',').map((r) => num('--rates', r, 1, 100_000));
  for (let i = 1; i < rates.length; i++) if (rates[i] <= rates[i - 1]) throw new Error('--rates must be ascending');
  const targets = (values.get('--targets') ?? 'service,baseline,baseline-pays').split(',') as TargetName[];
  for (const t of targets) if (!['service', 'baseline', 'baseline-pays'].includes(t)) throw new Error(`--targets: unknown target ${t}`);
  const step_s = Math.round(num('--step-s', values.get('--step-s') ?? '20', 2, 3600));
  const warmup_s = Math.round(num('--warmup-s', values.get('--warmup-s') ?? '5', 0, 3600));
  if (warmup_s >= step_s) throw new Error('--warmup-s must be shorter than --step-s');
  const port = (k: string, d: number): number => Math.round(num(k, values.get(k) ?? String(d), 0, 65535));
  return {
    rates,
    step_s,
    warmup_s,
    targets,
    connections: Math.round(num('--connections', values.get('--connections') ?? '256', 1, 20_000)),
    timeout_ms: num('--timeout-ms', values.get('--timeout-ms') ?? '1500', 1, 60_000),
    amount: num('--amount', values.get('--amount') ?? '19.9', 0.01, 1e9),
    settle_ms: num('--settle-ms', values.get('--settle-ms') ?? '5000', 0, 600_000),
    limits: !flags.has('--no-limits'),
    compose_file: values.get('--compose-file') ?? 'docker-compose.yml',
    port: port('--port', 9999),
    default_port: port('--default-port', 8001),
    fallback_port: port('--fallback-port', 8002),
    out: values.get('--out'),
    label: values.get('--label') ?? 'npm-start',
  };
}
