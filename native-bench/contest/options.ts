// Command line of `npm run bench:contest`, parsed and validated once.
import {
  FINAL_SCHEDULE,
  FINAL_DURATION_S,
  PREVIEW_SCHEDULE,
  PREVIEW_DURATION_S,
  scaleSchedule,
  readScheduleFile,
  type Phase,
} from './schedule.js';
import { FINAL_AUDIT, PREVIEW_AUDIT, type AuditWindow } from './run.js';
import { readChaosPlan, type ChaosStep } from './chaos.js';

type Topology = 'npm-start' | 'none' | 'compose' | 'docker';

export interface ContestOptions {
  preview: boolean;
  duration_s: number;
  users: number;
  amount: number;
  fee_default: number;
  fee_fallback: number;
  timeout_ms: number;
  schedule: Phase[];
  schedule_note: string;
  audit: AuditWindow;
  teardown_window_s: number;
  target: string;
  topology: Topology;
  processors: 'start' | 'external';
  default_port: number;
  fallback_port: number;
  default_admin_url?: string;
  fallback_admin_url?: string;
  processor_token: string;
  baseline: boolean;
  baseline_both: boolean; // a baseline run before the service too, to see the machine's drift
  baseline_pays: boolean; // one more run: the minimal paying backend (baseline + sends to the processor)
  baseline_duration_s: number;
  limits: boolean;
  out?: string;
  label: string;
  participant: string;
  compose_file: string;
  drain_ms: number;
  chaos?: ChaosStep[]; // faults during the service's run, then a reconciliation (chaos.ts)
  generator: 'c' | 'node'; // the load generator asked for (c falls back to node without a C compiler)
}

const USAGE = `usage: node dist/native-bench/contest/main.js [options]
  --duration <s>            load duration (final: 300, preview: 60); the schedule is scaled to it
  --users <n>               max virtual users (final: 603, preview: 550)
  --amount <x>              payment amount (final: 20.05, preview: 19.90)
  --fee-default <r>         default processor fee (final: 0.07, preview: 0.05)
  --fee-fallback <r>        fallback processor fee (final: 0.10, preview: 0.15)
  --preview                 the older 60 s development test
  --schedule <file.json>    custom processor schedule [{at_s, default:{delay_ms,failure}, fallback:{...}}]
  --topology <t>            npm-start (default) | none | compose | docker (the image and compose
                            file run by Docker; processors as containers; needs root or Docker)
  --target <url>            backend URL (topology none; default http://127.0.0.1:9999)
  --processors <p>          start (default) | external (then --default-admin-url/--fallback-admin-url)
  --default-port <p>        port for the default simulator (default 8001)
  --fallback-port <p>       port for the fallback simulator (default 8002)
  --processor-token <t>     current admin token of external processors (default 123)
  --no-baseline             skip the do-nothing baseline run
  --baseline-both           run the baseline before the service as well as after it; the p99
                            ratio is then taken against the mean of the two baselines' p99
  --baseline-pays           one more run after the baseline: the same server, with a worker thread
                            sending each payment once to the default processor through the
                            service's ring and client, to see what paying alone costs
  --baseline-duration <s>   baseline run duration (default = --duration)
  --no-limits               run without cgroup CPU/memory limits
  --compose-file <path>     where the limits come from (default docker-compose.yml); topologies
                            compose and docker run this file (and the haproxy.cfg it mounts)
  --out <dir>               output directory (default bench-results/<UTC>-<label>)
  --label <name>            label in the output directory name and report
  --generator <g>           c (default: loadgen.c, compiled with the system's cc; the Node one when
                            it cannot be) | node (the Node generator in a worker thread)
  --drain-ms <ms>           wait after teardown before the extra 'lag after drain' check (default 5000)
  --chaos <plan>            faults during the service's run (topology npm-start), from a JSON file or
                            inline JSON: [{"at_s":20,"action":"kill-instance","instance":0},
                            {"at_s":35,"action":"restart-postgres"},{"at_s":50,"action":"crash-postgres"}];
                            then every accepted payment is looked up at the processors (chaos.md)
`;

function num(name: string, v: string | undefined, min: number, max: number): number {
  const x = Number(v);
  if (v === undefined || !Number.isFinite(x) || x < min || x > max)
    throw new Error(`${name} must be a number in [${min}, ${max}], got ${v}`);
  return x;
}

// Options that take a value (`--x v` or `--x=v`).
const VALUE_OPTIONS = [
  '--duration',
  '--users',
  '--amount',
  '--fee-default',
  '--fee-fallback',
  '--schedule',
  '--topology',
  '--target',
  '--processors',
  '--default-port',
  '--fallback-port',
  '--default-admin-url',
  '--fallback-admin-url',
  '--processor-token',
  '--baseline-duration',
  '--out',
  '--label',
  '--compose-file',
  '--participant',
  '--timeout-ms',
  '--drain-ms',
  '--chaos',
  '--generator',
];

// Splits the command line into value options and bare flags; nothing is interpreted yet.
function splitArgs(argv: string[]): { values: Map<string, string>; seen: Set<string> } {
  const flags = new Set(['--preview', '--no-baseline', '--baseline-both', '--baseline-pays', '--no-limits', '--help']);
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${USAGE}`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      values.set(a.slice(0, eq), a.slice(eq + 1));
      continue;
    }
    if (flags.has(a)) {
      seen.add(a);
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
    values.set(a, argv[++i]);
  }
  return { values, seen };
}

// A --schedule file as given, or the published schedule scaled to the run's duration.
function chooseSchedule(
  values: Map<string, string>,
  preview: boolean,
  base_s: number,
  duration_s: number,
): { schedule: Phase[]; schedule_note: string } {
  if (values.has('--schedule')) {
    return {
      schedule: readScheduleFile(values.get('--schedule')!),
      schedule_note: `custom schedule from ${values.get('--schedule')} (not scaled)`,
    };
  }
  const base = preview ? PREVIEW_SCHEDULE : FINAL_SCHEDULE;
  const schedule = scaleSchedule(base, base_s, duration_s);
  const schedule_note =
    duration_s === base_s
      ? `${preview ? 'preview' : 'final'} test schedule as published`
      : `${preview ? 'preview' : 'final'} test schedule scaled from ${base_s} s to ${duration_s} s (a phase every ${((schedule[2]?.at_s ?? 0) - (schedule[1]?.at_s ?? 0)).toFixed(2)} s, first at ${schedule[0]?.at_s} s); the VU ramp is scaled too`;
  return { schedule, schedule_note };
}

export function parseOptions(argv: string[]): ContestOptions {
  const { values, seen } = splitArgs(argv);
  if (seen.has('--help')) throw new Error(USAGE);
  for (const k of values.keys()) if (!VALUE_OPTIONS.includes(k)) throw new Error(`unknown option ${k}\n${USAGE}`);

  const preview = seen.has('--preview');
  const base_s = preview ? PREVIEW_DURATION_S : FINAL_DURATION_S;
  const duration_s = values.has('--duration') ? num('--duration', values.get('--duration'), 2, 3600) : base_s;
  const users = values.has('--users') ? Math.round(num('--users', values.get('--users'), 1, 20_000)) : preview ? 550 : 603;
  const topology = (values.get('--topology') ?? 'npm-start') as Topology;
  if (!['npm-start', 'none', 'compose', 'docker'].includes(topology))
    throw new Error(`--topology must be npm-start | none | compose | docker`);
  const processors = (values.get('--processors') ?? 'start') as 'start' | 'external';
  if (!['start', 'external'].includes(processors)) throw new Error('--processors must be start | external');
  if (processors === 'external' && (!values.get('--default-admin-url') || !values.get('--fallback-admin-url'))) {
    throw new Error('--processors external needs --default-admin-url and --fallback-admin-url');
  }

  const { schedule, schedule_note } = chooseSchedule(values, preview, base_s, duration_s);
  const chaos = values.has('--chaos') ? readChaosPlan(values.get('--chaos')!) : undefined;
  if (chaos !== undefined && topology !== 'npm-start')
    throw new Error('--chaos needs --topology npm-start (its launcher restarts a killed instance)');
  const generator = (values.get('--generator') ?? 'c') as 'c' | 'node';
  if (!['c', 'node'].includes(generator)) throw new Error('--generator must be c | node');
  const baseline_duration_s = values.has('--baseline-duration')
    ? num('--baseline-duration', values.get('--baseline-duration'), 2, 3600)
    : duration_s;
  return {
    preview,
    duration_s,
    users,
    amount: values.has('--amount') ? num('--amount', values.get('--amount'), 0.01, 1e9) : preview ? 19.9 : 20.05,
    fee_default: values.has('--fee-default') ? num('--fee-default', values.get('--fee-default'), 0, 1) : preview ? 0.05 : 0.07,
    fee_fallback: values.has('--fee-fallback') ? num('--fee-fallback', values.get('--fee-fallback'), 0, 1) : preview ? 0.15 : 0.1,
    timeout_ms: values.has('--timeout-ms') ? num('--timeout-ms', values.get('--timeout-ms'), 1, 60_000) : 1500,
    schedule,
    schedule_note,
    audit: preview ? PREVIEW_AUDIT : FINAL_AUDIT,
    teardown_window_s: preview ? 70 : 360,
    target: values.get('--target') ?? 'http://127.0.0.1:9999',
    topology,
    processors,
    default_port: values.has('--default-port') ? Math.round(num('--default-port', values.get('--default-port'), 0, 65535)) : 8001,
    fallback_port: values.has('--fallback-port') ? Math.round(num('--fallback-port', values.get('--fallback-port'), 0, 65535)) : 8002,
    default_admin_url: values.get('--default-admin-url'),
    fallback_admin_url: values.get('--fallback-admin-url'),
    processor_token: values.get('--processor-token') ?? '123',
    baseline: !seen.has('--no-baseline'),
    baseline_both: !seen.has('--no-baseline') && seen.has('--baseline-both'),
    baseline_pays: !seen.has('--no-baseline') && seen.has('--baseline-pays'),
    baseline_duration_s,
    limits: !seen.has('--no-limits'),
    out: values.get('--out'),
    label: values.get('--label') ?? topology,
    participant: values.get('--participant') ?? 'rinha-node',
    compose_file: values.get('--compose-file') ?? 'docker-compose.yml',
    drain_ms: values.has('--drain-ms') ? num('--drain-ms', values.get('--drain-ms'), 0, 600_000) : 5000,
    ...(chaos !== undefined ? { chaos } : {}),
    generator,
  };
}
