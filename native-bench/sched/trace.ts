// A scheduler trace, replayed: who ran on each CPU and when, and every wait of a runnable thread
// for a CPU (from its wake-up, or from being preempted, to its next switch-in). The input is
// `perf script -F pid,tid,cpu,time,event,trace` over `perf sched record`'s events (sched_switch,
// sched_waking, sched_stat_runtime, sched_migrate_task). Pure: it reads lines, it runs nothing.
type SchedEvent =
  | { kind: 'switch'; t_us: number; cpu: number; prev: number; prev_comm: string; prev_runnable: boolean; next: number; next_comm: string }
  | { kind: 'waking'; t_us: number; cpu: number; current: number; tid: number; comm: string }
  | { kind: 'runtime'; t_us: number; cpu: number; current: number; pid: number; runtime_ns: number }
  | { kind: 'migrate'; t_us: number; cpu: number; tid: number }
  | { kind: 'other'; t_us: number; cpu: number; current: number };

const LINE = /^\s*(-?\d+)\/(-?\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s+sched:(\w+):\s*(.*)$/;
const SWITCH = /^prev_comm=(.*) prev_pid=(\d+) prev_prio=-?\d+ prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+) next_prio=-?\d+$/;
const WAKING = /^comm=(.*) pid=(\d+) prio=-?\d+ target_cpu=\d+$/;
const RUNTIME = /^comm=.* pid=(\d+) runtime=(\d+) \[ns\]/;
const MIGRATE = /^comm=.* pid=(\d+) prio=-?\d+ orig_cpu=\d+ dest_cpu=\d+$/;

export interface Parsed {
  event: SchedEvent;
  pid: number;
} // pid: the process of the event's current thread

// One line of perf script; null for anything else (headers, other events, truncated lines).
export function parseLine(line: string): Parsed | null {
  const m = LINE.exec(line);
  if (m === null) return null;
  const pid = Number(m[1]);
  const current = Number(m[2]);
  const cpu = Number(m[3]);
  const [sec, frac] = m[4].split('.');
  const t_us = Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6)); // exact: perf prints µs
  const body = m[6];
  switch (m[5]) {
    case 'sched_switch': {
      const s = SWITCH.exec(body);
      if (s === null) return null;
      // R (or R+) when it left: preempted, still runnable.
      return {
        pid,
        event: {
          kind: 'switch',
          t_us,
          cpu,
          prev: Number(s[2]),
          prev_comm: s[1],
          prev_runnable: s[3].startsWith('R'),
          next: Number(s[5]),
          next_comm: s[4],
        },
      };
    }
    case 'sched_waking': {
      const w = WAKING.exec(body);
      return w === null ? null : { pid, event: { kind: 'waking', t_us, cpu, current, tid: Number(w[2]), comm: w[1] } };
    }
    case 'sched_stat_runtime': {
      const r = RUNTIME.exec(body);
      return r === null ? null : { pid, event: { kind: 'runtime', t_us, cpu, current, pid: Number(r[1]), runtime_ns: Number(r[2]) } };
    }
    case 'sched_migrate_task': {
      const g = MIGRATE.exec(body);
      return g === null ? null : { pid, event: { kind: 'migrate', t_us, cpu, tid: Number(g[1]) } };
    }
    default:
      return { pid, event: { kind: 'other', t_us, cpu, current } };
  }
}

export interface Interval {
  tid: number;
  from_us: number;
  to_us: number;
} // tid 0: the CPU idled
export const UNTRACED = -1; // an interval's tid when the trace lost who ran (see add())
export interface Wait {
  tid: number;
  from_us: number;
  to_us: number;
  cause: 'wake' | 'preempted';
  cpu: number; // where it finally ran
  migrated: boolean; // moved to another CPU while it waited
}

// Replays events in time order. Threads' names and processes are collected on the way.
export class Replay {
  readonly intervals: Interval[][] = [];
  readonly waits: Wait[] = [];
  readonly comm = new Map<number, string>();
  readonly pidOf = new Map<number, number>();
  private readonly running: number[] = [];
  private readonly since: number[] = [];
  private readonly runnable = new Map<number, { t_us: number; cause: Wait['cause']; migrated: boolean }>();

  private last_us = 0;

  add({ event: e, pid }: Parsed): void {
    const cpu = e.cpu;
    this.last_us = Math.max(this.last_us, e.t_us);
    while (this.intervals.length <= cpu) {
      this.intervals.push([]);
      this.running.push(0);
      this.since.push(e.t_us);
    }
    if (e.kind !== 'switch' && e.kind !== 'migrate' && e.current > 0 && pid > 0) this.pidOf.set(e.current, pid);
    // Events raised in some tasks' context never reach the trace (seen on a 2-vCPU KVM guest,
    // perf 6.1, Linux 6.18: CPU 1's idle task, another program's threads). A thread found running
    // where the CPU was believed idle was switched in at its first sched_stat_runtime minus the
    // runtime it reports, since the kernel counts that runtime from the switch-in.
    if (e.kind === 'runtime' && this.running[cpu] === 0 && e.current > 0 && e.current === e.pid) {
      this.switchIn(cpu, e.current, e.t_us - e.runtime_ns / 1000);
    }
    switch (e.kind) {
      case 'switch':
        this.comm.set(e.prev, e.prev_comm);
        this.comm.set(e.next, e.next_comm);
        // A prev other than what the replay believed ran: that one's switch-out was not traced,
        // so who had the CPU since is not known.
        this.close(cpu, e.t_us, this.running[cpu] === e.prev ? e.prev : UNTRACED);
        if (e.prev !== 0 && e.prev_runnable) this.runnable.set(e.prev, { t_us: e.t_us, cause: 'preempted', migrated: false });
        this.switchIn(cpu, e.next, e.t_us);
        break;
      case 'waking':
        this.comm.set(e.tid, e.comm);
        if (!this.running.includes(e.tid) && !this.runnable.has(e.tid))
          this.runnable.set(e.tid, { t_us: e.t_us, cause: 'wake', migrated: false });
        break;
      case 'migrate': {
        const r = this.runnable.get(e.tid);
        if (r !== undefined) r.migrated = true;
        break;
      }
      default:
        break;
    }
  }

  // Closes what still runs on each CPU at the last event: call once, after the last line.
  end(): void {
    for (let cpu = 0; cpu < this.intervals.length; cpu++) {
      this.close(cpu, this.last_us, this.running[cpu]);
      this.since[cpu] = this.last_us;
    }
  }

  private close(cpu: number, t_us: number, tid: number): void {
    if (t_us > this.since[cpu]) this.intervals[cpu].push({ tid, from_us: this.since[cpu], to_us: t_us });
  }

  private switchIn(cpu: number, tid: number, t_us: number): void {
    if (this.running[cpu] === 0 && tid !== 0) this.close(cpu, t_us, 0);
    this.running[cpu] = tid;
    this.since[cpu] = t_us;
    if (tid === 0) return;
    const r = this.runnable.get(tid);
    if (r !== undefined) {
      this.waits.push({ tid, from_us: r.t_us, to_us: Math.max(r.t_us, t_us), cause: r.cause, cpu, migrated: r.migrated });
      this.runnable.delete(tid);
    }
  }

  // CPU time by key within [from, to) on each CPU, or on `only_cpu`.
  heldBy(from_us: number, to_us: number, key: (tid: number) => string, only_cpu?: number): Map<string, number> {
    const out = new Map<string, number>();
    for (let cpu = 0; cpu < this.intervals.length; cpu++) {
      if (only_cpu !== undefined && cpu !== only_cpu) continue;
      const iv = this.intervals[cpu];
      let lo = 0;
      let hi = iv.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (iv[mid].to_us <= from_us) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < iv.length && iv[i].from_us < to_us; i++) {
        const overlap = Math.min(to_us, iv[i].to_us) - Math.max(from_us, iv[i].from_us);
        if (overlap > 0) {
          const k = key(iv[i].tid);
          out.set(k, (out.get(k) ?? 0) + overlap);
        }
      }
    }
    return out;
  }
}
