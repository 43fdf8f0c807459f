// A contest run under a scheduler trace: where the threads a request waits on waited for a CPU,
// and what ran instead. Wraps `npm run bench:contest` in `perf sched record` (root, or
// perf_event_paranoid ≤ -1), notes which process each pid was while the run lasts, then replays
// the trace (trace.ts) and writes <out>/sched.md (waits.ts).
//   node dist/native-bench/sched/main.js [--long-ms 1] [--keep-trace] [contest options...]
//   node dist/native-bench/sched/main.js --analyze <out dir> [--long-ms 1]   (needs --keep-trace)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { threadGroup } from '../lib/threads.js';
import { parseLine, Replay, UNTRACED } from './trace.js';
import { analyze, IDLE, LOADGEN, renderMarkdown } from './waits.js';

const PROC_SAMPLE_MS = 500;
const KERNEL_THREAD =
  /^(kworker|ksoftirqd|rcu_|migration|kcompactd|kdamond|khungtaskd|kthreadd|cpuhp|watchdog|kswapd|jbd2|hwrng|idle_inject)/;

function takeArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

function takeFlag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

// pid → command line of every process seen while the run lasts.
function startProcessSampler(): { stop(): Map<number, string> } {
  const seen = new Map<number, string>();
  const sample = (): void => {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d) || seen.has(Number(d))) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
        if (cmd !== '') seen.set(Number(d), cmd);
      } catch {
        // gone already
      }
    }
  };
  sample();
  const timer = setInterval(sample, PROC_SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return seen;
    },
  };
}

export function groupOfFor(replay: Replay, processes: Map<number, string>): (tid: number) => string {
  const cache = new Map<number, string>();
  return (tid) => {
    let g = cache.get(tid);
    if (g !== undefined) return g;
    const comm = replay.comm.get(tid) ?? '';
    const pid = replay.pidOf.get(tid);
    const cmdline = pid === undefined ? undefined : processes.get(pid);
    if (tid === 0) g = IDLE;
    else if (tid === UNTRACED) g = 'untraced';
    else if (cmdline === undefined) g = KERNEL_THREAD.test(comm) ? 'kernel threads' : 'other processes';
    else {
      g = threadGroup(cmdline, comm, pid === tid);
      if (g === 'load generator (the bench)' && comm === 'loadgen') g = LOADGEN;
      if (g === 'other') g = 'other processes';
    }
    cache.set(tid, g);
    return g;
  };
}

async function replayTrace(data: string): Promise<Replay> {
  const perf = spawn('perf', ['script', '-i', data, '-F', 'pid,tid,cpu,time,event,trace'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const replay = new Replay();
  for await (const line of createInterface({ input: perf.stdout })) {
    const p = parseLine(line);
    if (p !== null) replay.add(p);
  }
  replay.end();
  return replay;
}

async function report(out: string, long_us: number): Promise<void> {
  const processes = new Map<number, string>(
    Object.entries(JSON.parse(readFileSync(join(out, 'processes.json'), 'utf8')) as Record<string, string>).map(([k, v]) => [Number(k), v]),
  );
  const replay = await replayTrace(join(out, 'sched.data'));
  const runs = analyze(replay, groupOfFor(replay, processes), long_us);
  if (runs.length === 0) throw new Error('no run found in the trace: no front thread of the service or of the baseline ran');
  const md = renderMarkdown(runs, long_us);
  writeFileSync(join(out, 'sched.md'), md + '\n');
  process.stdout.write(md + '\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const long_ms = Number(takeArg(args, '--long-ms') ?? 1);
  if (!(long_ms > 0)) throw new Error('--long-ms must be a positive number');
  const analyzeDir = takeArg(args, '--analyze');
  if (analyzeDir !== undefined) return report(analyzeDir, long_ms * 1000);
  const keep = takeFlag(args, '--keep-trace');
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
  let out = takeArg(args, '--out');
  if (out === undefined) out = join('bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}-sched`);
  mkdirSync(out, { recursive: true });
  const data = join(out, 'sched.data');
  const contest = fileURLToPath(new URL('../contest/main.js', import.meta.url));
  const sampler = startProcessSampler();
  const code = await new Promise<number>((resolve) => {
    const child = spawn('perf', ['sched', 'record', '-o', data, '--', process.execPath, contest, '--out', out!, ...args], {
      stdio: 'inherit',
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  writeFileSync(join(out, 'processes.json'), JSON.stringify(Object.fromEntries(sampler.stop())));
  if (!existsSync(data))
    throw new Error(`perf sched record wrote nothing (exit ${code}): run as root, or set kernel.perf_event_paranoid to -1`);
  await report(out, long_ms * 1000);
  if (!keep) rmSync(data);
  if (code !== 0) process.exitCode = code;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`sched: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
