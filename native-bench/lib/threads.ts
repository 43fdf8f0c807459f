// CPU time per thread, from /proc/<pid>/task/<tid>/{stat,comm}, grouped by what the thread does:
// an instance's front (its main thread), its payment workers (named rinha-worker-N by the
// service), the rest of its threads (V8's platform threads: GC and compilation; libuv's pool),
// Postgres, the launcher. Tells where a payment's CPU goes without a profiler attached.
// Resolution is one clock tick (10 ms at CLK_TCK 100): meant for runs of tens of seconds.
// Also the time each thread spent runnable but waiting for a CPU (/proc/.../schedstat, in ns):
// a request's thread that waits for a CPU is latency the request sees.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ThreadSample {
  key: string;
  group: string;
  ticks: number;
  wait_ns: number;
  slices: number;
}

// utime + stime (fields 14 and 15) of a stat line; the command name may hold spaces and ')'.
export function parseStatTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`unparsable stat line: ${stat.slice(0, 80)}`);
  return ticks;
}

// Which part of the stack a thread is. `cmdline` is the process's, `comm` the thread's own name.
export function threadGroup(cmdline: string, comm: string, is_main: boolean): string {
  if (/\bpostgres\b/.test(cmdline) || comm === 'postgres') return 'postgres';
  if (/\/src\/main\.js\b/.test(cmdline)) {
    if (is_main) return 'instance front (main thread)';
    if (comm.startsWith('rinha-worker')) return 'instance payment workers';
    return 'instance V8/libuv threads';
  }
  if (/\/src\/cluster\.js\b/.test(cmdline)) return 'launcher';
  if (/\/baseline\/server\.js\b/.test(cmdline)) return is_main ? 'baseline server (main thread)' : 'baseline server, other threads';
  if (/\/processor-sim\/main\.js\b/.test(cmdline)) return 'processor simulators';
  if (/\/(contest|capacity)\/main\.js\b/.test(cmdline)) return 'load generator (the bench)';
  if (/\/contest\/loadgen-c\b/.test(cmdline)) return 'load generator (C process)';
  if (/\bhaproxy\b/.test(cmdline) || comm === 'haproxy') return 'load balancer (haproxy)';
  return 'other';
}

// /proc/<pid>/task/<tid>/schedstat: ns on a CPU, ns runnable and waiting for one, times run.
export function parseSchedstat(text: string): { cpu_ns: number; wait_ns: number; slices: number } {
  const [cpu, wait, slices] = text.trim().split(' ').map(Number);
  if (!Number.isFinite(cpu) || !Number.isFinite(wait) || !Number.isFinite(slices))
    throw new Error(`unparsable schedstat: ${text.slice(0, 80)}`);
  return { cpu_ns: cpu, wait_ns: wait, slices };
}

let tick_ms = 0;
export function clockTickMs(): number {
  if (tick_ms === 0) {
    let hz = 100;
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      /* keep 100 */
    }
    tick_ms = 1000 / hz;
  }
  return tick_ms;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// Every thread of `pids` now. Processes or threads that are gone are skipped.
export function sampleThreads(pids: number[]): ThreadSample[] {
  const out: ThreadSample[] = [];
  for (const pid of pids) {
    const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ');
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const stat = read(`/proc/${pid}/task/${tid}/stat`);
      if (stat === undefined) continue;
      const comm = (read(`/proc/${pid}/task/${tid}/comm`) ?? '').trim();
      const sched = read(`/proc/${pid}/task/${tid}/schedstat`);
      const { wait_ns, slices } = sched === undefined ? { wait_ns: 0, slices: 0 } : parseSchedstat(sched);
      out.push({
        key: `${pid}/${tid}`,
        group: threadGroup(cmdline, comm, String(pid) === tid),
        ticks: parseStatTicks(stat),
        wait_ns,
        slices,
      });
    }
  }
  return out;
}

// Accumulates CPU per group between the first sample and the last. A thread first seen later
// counts from zero (it started meanwhile); a thread that ended keeps what it had at its last sample.
// A thread stays in the group it was first seen in: a process caught exiting has no cmdline left.
export class ThreadCpu {
  private readonly start = new Map<string, ThreadSample>();
  private readonly last = new Map<string, ThreadSample>();
  private started = false;

  add(samples: ThreadSample[]): void {
    for (const s of samples) {
      if (!this.started) this.start.set(s.key, s);
      else if (!this.start.has(s.key)) this.start.set(s.key, { ...s, ticks: 0, wait_ns: 0, slices: 0 });
      const group = this.start.get(s.key)!.group;
      this.last.set(s.key, s.group === group ? s : { ...s, group });
    }
    this.started = true;
  }

  // Per group, largest CPU first: CPU seconds, and how long its threads waited for a CPU
  // (total, and on average each time one was scheduled).
  totals(tick_ms = clockTickMs()): ThreadGroupTotals[] {
    const by = new Map<string, { cpu_s: number; threads: number; wait_ns: number; slices: number }>();
    for (const [key, s] of this.last) {
      const g = by.get(s.group) ?? { cpu_s: 0, threads: 0, wait_ns: 0, slices: 0 };
      const from = this.start.get(key);
      g.cpu_s += ((s.ticks - (from?.ticks ?? 0)) * tick_ms) / 1000;
      g.wait_ns += s.wait_ns - (from?.wait_ns ?? 0);
      g.slices += s.slices - (from?.slices ?? 0);
      g.threads++;
      by.set(s.group, g);
    }
    return [...by]
      .map(([group, g]) => ({
        group,
        cpu_s: Math.round(g.cpu_s * 100) / 100,
        threads: g.threads,
        wait_s: Math.round(g.wait_ns / 1e7) / 100,
        slices: g.slices,
        wait_per_slice_us: g.slices > 0 ? Math.round(g.wait_ns / g.slices / 100) / 10 : 0,
      }))
      .sort((a, b) => b.cpu_s - a.cpu_s);
  }
}

export interface ThreadGroupTotals {
  group: string;
  cpu_s: number;
  threads: number;
  wait_s: number;
  slices: number;
  wait_per_slice_us: number;
}

export interface CpuTimes {
  total: number;
  idle: number;
  steal: number;
}
export interface MachineLoad {
  busy_pct: number;
  steal_pct: number;
}

// The machine-wide line of /proc/stat (ticks): user nice system idle iowait irq softirq steal ...
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no cpu line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: v.reduce((a, b) => a + b, 0), idle: v[3] + v[4], steal: v[7] };
}

export function readCpuTimes(): CpuTimes | null {
  const text = read('/proc/stat');
  return text === undefined ? null : parseProcStat(text);
}

// How busy the whole machine was between two readings (everything on it, not only the service:
// the load generator and the processors too), and how much the hypervisor took (steal).
export function machineLoad(a: CpuTimes, b: CpuTimes): MachineLoad {
  const total = b.total - a.total;
  if (total <= 0) return { busy_pct: 0, steal_pct: 0 };
  const pct = (x: number) => Math.round((x / total) * 1000) / 10;
  return { busy_pct: pct(total - (b.idle - a.idle) - (b.steal - a.steal)), steal_pct: pct(b.steal - a.steal) };
}

// Of the CPU time the machine's vCPUs wanted, the share the hypervisor ran someone else instead:
// steal ÷ (busy + steal). Raw steal grows with the guest's busy time; the share does not, but it
// still moves with how the guest uses the CPUs (a lightly loaded guest that wakes often loses a
// larger share of its little demand: the do-nothing run loses more than the service's at the
// same request rate). Compare a stretch with the same stretch of runs of the same kind. null
// when the machine wanted nothing.
export function stolenSharePct(busy: number, steal: number): number | null {
  return busy + steal > 0 ? Math.round((1000 * steal) / (busy + steal)) / 10 : null;
}
