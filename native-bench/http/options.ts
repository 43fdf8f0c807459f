// Command line of the HTTP bench.
export type Rate = number | 'max'; // requests/s for autocannon's overallRate, or saturation

export interface HttpBenchOptions {
  rates: Rate[];
  duration_s: number;
  warmup_s: number;
  connections: number;
  target: string; // '' = start our own stack
  pids: number[]; // --target only: the service's pids, for CPU accounting
  baseline: boolean; // also measure the do-nothing server
  baseline_only: boolean;
  cpu_prof: boolean;
  base_port: number; // 0 = ports chosen by the OS
  out: string; // '' = bench-results/<UTC>-http
}

const USAGE = `usage: node dist/native-bench/http/main.js [options]
  --rates 600,2000,10000,max   steps: autocannon overallRate in req/s, "max" = no rate (saturation)
  --duration <s>               seconds per step (default 10)
  --warmup <s>                 saturation warm-up per server before the steps (default 2, 0 = none)
  --connections <n>            keep-alive connections (default 100)
  --target <url>               an already running service instead of starting one
  --pids <p1,p2>               with --target: its pids, for CPU per request
  --no-baseline                skip the do-nothing baseline server
  --baseline-only              measure only the baseline (smoke runs)
  --cpu-prof                   run the service with node --cpu-prof (profiles land in <out>/cpu-prof)
  --base-port <p>              fixed ports p..p+3 instead of OS-chosen ones
  --out <dir>                  output directory (default bench-results/<UTC>-http)`;

function httpDefaults(): HttpBenchOptions {
  return {
    rates: [600, 2000, 10_000, 'max'],
    duration_s: 10,
    warmup_s: 2,
    connections: 100,
    target: '',
    pids: [],
    baseline: true,
    baseline_only: false,
    cpu_prof: false,
    base_port: 0,
    out: '',
  };
}

export function parseHttpArgs(argv: string[]): HttpBenchOptions {
  const o = httpDefaults();
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer in [${min}, ${max}], got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i];
    switch (flag) {
      case '--rates':
        o.rates = (value() ?? '')
          .split(',')
          .filter(Boolean)
          .map((x) => (x === 'max' ? 'max' : int('--rates', x, 1, 1_000_000)));
        if (o.rates.length === 0) throw new Error('--rates needs at least one step');
        break;
      case '--duration':
        o.duration_s = int('--duration', value(), 1, 3600);
        break;
      case '--warmup':
        o.warmup_s = int('--warmup', value(), 0, 600);
        break;
      case '--connections':
        o.connections = int('--connections', value(), 1, 10_000);
        break;
      case '--target': {
        const v = value();
        if (!v || !/^https?:\/\//.test(v)) throw new Error(`--target must be an http URL, got ${v}`);
        o.target = v.replace(/\/$/, '');
        break;
      }
      case '--pids':
        o.pids = (value() ?? '')
          .split(',')
          .filter(Boolean)
          .map((x) => int('--pids', x, 1, 2 ** 31));
        break;
      case '--no-baseline':
        o.baseline = false;
        break;
      case '--baseline-only':
        o.baseline_only = true;
        break;
      case '--cpu-prof':
        o.cpu_prof = true;
        break;
      case '--base-port':
        o.base_port = int('--base-port', value(), 1, 65_532);
        break;
      case '--out': {
        const v = value();
        if (!v) throw new Error('--out needs a directory');
        o.out = v;
        break;
      }
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return checkCombinations(o);
}

// Flags that make sense alone but not together.
function checkCombinations(o: HttpBenchOptions): HttpBenchOptions {
  if (o.baseline_only && (o.target || o.cpu_prof)) throw new Error('--baseline-only excludes --target and --cpu-prof');
  if (o.baseline_only) o.baseline = true;
  if (o.pids.length > 0 && !o.target) throw new Error('--pids only makes sense with --target');
  if (o.cpu_prof && o.target) throw new Error('--cpu-prof needs the bench to start the service (no --target)');
  return o;
}
