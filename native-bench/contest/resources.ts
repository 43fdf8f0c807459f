// Resource sampling while a run is going: each cgroup's CPU, CFS throttling second by second and
// memory peak against its limit, and the peak RSS (VmHWM) of every process in the watched process
// trees, from /proc. The native compose replica (per-service cgroups made here) and the Docker run
// (the containers' own cgroups, read from the host) go through the same sampler, so their figures
// carry the same names and compare line by line.
import { readFileSync, readdirSync } from 'node:fs';
import type { Cgroup, Throttling } from '../lib/cgroup.js';
import {
  type CpuTimes,
  type MachineLoad,
  ThreadCpu,
  type ThreadGroupTotals,
  machineLoad,
  readCpuTimes,
  sampleThreads,
} from '../lib/threads.js';

export interface ProcessPeak {
  pid: number;
  command: string;
  vm_hwm_mb: number;
  vm_rss_mb: number;
}
// Per cgroup (one per compose service): CPU, the periods in which it met its CFS quota (total,
// per second on average, the worst second, how many seconds had any) and its memory peak against
// its limit. `per_second` holds the 1-s series (cores used, throttled periods, ms stalled).
interface CgroupPeak {
  name: string;
  limits: { cpus: number; memory_mb: number };
  cpu_seconds: number;
  cpu_avg_cores: number;
  cpu_max_cores_1s: number;
  memory_peak_mb: number;
  memory_peak_pct_of_limit: number | null;
  memory_limit_hits: number | null;
  oom_kills: number | null;
  periods: number;
  throttled_periods: number;
  throttled_ms: number;
  throttled_periods_per_s: number;
  throttled_periods_max_1s: number;
  throttled_ms_max_1s: number;
  seconds_throttled: number;
  seconds: number;
  per_second: { cores: number[]; throttled_periods: number[]; throttled_ms: number[] };
}
// threads: the service's; harness_threads: the bench's own load generator and the processor
// simulators, which share the machine with it.
export interface ResourcePeaks {
  cgroups: CgroupPeak[];
  processes: ProcessPeak[];
  max_process_hwm_mb: number;
  threads: ThreadGroupTotals[];
  harness_threads: ThreadGroupTotals[];
  machine_load: MachineLoad | null;
}

function readStatus(pid: number): { name: string; hwm_kb: number; rss_kb: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => {
      const m = new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(text);
      return m ? m[1] : '';
    };
    return {
      name: field('Name'),
      hwm_kb: Number(field('VmHWM')) || 0,
      rss_kb: Number(field('VmRSS')) || 0,
      ppid: Number(field('PPid')) || 0,
    };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 160);
  } catch {
    return '';
  }
}

/** All descendants of `roots` (inclusive), from one scan of /proc. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return roots;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = readStatus(Number(e));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [...roots];
  while (stack.length > 0 && out.length < 10_000) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

export class ResourceSampler {
  private readonly procs = new Map<number, ProcessPeak>();
  private readonly cg = new Map<string, GroupState>();
  private readonly threads = new ThreadCpu();
  private readonly harness_threads = new ThreadCpu();
  private readonly cpu_at_start: CpuTimes | null = readCpuTimes();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cgroups: Cgroup[],
    private readonly roots: () => number[],
    private readonly harness: () => number[] = () => [],
  ) {
    const now = Date.now();
    for (const c of cgroups) {
      const ns = c.cpuUsageNs();
      const th = c.throttling();
      this.cg.set(c.name, {
        cg: c,
        start_throttle: th,
        last_throttle: th,
        start_ns: ns,
        last_ns: ns,
        last_ms: now,
        max_cores: 0,
        first_ms: now,
        series: { cores: [], throttled_periods: [], throttled_ms: [] },
      });
    }
  }

  sample(): void {
    const now = Date.now();
    for (const s of this.cg.values()) {
      const ns = s.cg.cpuUsageNs();
      const dt = now - s.last_ms;
      if (dt >= 500) {
        const th = s.cg.throttling();
        const cores = (ns - s.last_ns) / 1e6 / dt;
        s.max_cores = Math.max(s.max_cores, cores);
        s.series.cores.push(round3(cores));
        s.series.throttled_periods.push(th.throttled_periods - s.last_throttle.throttled_periods);
        s.series.throttled_ms.push(round3(th.throttled_ms - s.last_throttle.throttled_ms));
        s.last_ns = ns;
        s.last_ms = now;
        s.last_throttle = th;
      }
    }
    const pids = new Set<number>(processTree(this.roots()));
    for (const c of this.cgroups) for (const pid of c.pids()) pids.add(pid);
    this.threads.add(sampleThreads([...pids]));
    this.harness_threads.add(sampleThreads(this.harness().filter((pid) => !pids.has(pid))));
    for (const pid of pids) {
      const st = readStatus(pid);
      if (!st || st.hwm_kb === 0) continue; // kernel thread or gone
      const prev = this.procs.get(pid);
      const hwm = st.hwm_kb / 1024;
      if (!prev) this.procs.set(pid, { pid, command: commandLine(pid) || st.name, vm_hwm_mb: hwm, vm_rss_mb: st.rss_kb / 1024 });
      else {
        prev.vm_hwm_mb = Math.max(prev.vm_hwm_mb, hwm);
        prev.vm_rss_mb = st.rss_kb / 1024;
      }
    }
  }

  start(every_ms = 1000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), every_ms);
  }

  stop(): ResourcePeaks {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const now = Date.now();
    const cgroups = [...this.cg.values()].map((s) => cgroupPeak(s, now));
    const processes = [...this.procs.values()]
      .map((p) => ({ ...p, vm_hwm_mb: round3(p.vm_hwm_mb), vm_rss_mb: round3(p.vm_rss_mb) }))
      .sort((a, b) => b.vm_hwm_mb - a.vm_hwm_mb);
    return {
      cgroups,
      processes,
      max_process_hwm_mb: processes.length ? processes[0].vm_hwm_mb : 0,
      threads: this.threads.totals(),
      harness_threads: this.harness_threads.totals(),
      machine_load: loadSince(this.cpu_at_start),
    };
  }
}

interface GroupState {
  cg: Cgroup;
  start_throttle: Throttling;
  last_throttle: Throttling;
  start_ns: number;
  last_ns: number;
  last_ms: number;
  max_cores: number;
  first_ms: number;
  series: CgroupPeak['per_second'];
}

function cgroupPeak(s: GroupState, now: number): CgroupPeak {
  const cpu_s = (s.cg.cpuUsageNs() - s.start_ns) / 1e9;
  const th = s.cg.throttling();
  const elapsed_s = Math.max(0.001, (now - s.first_ms) / 1000);
  const throttled_periods = th.throttled_periods - s.start_throttle.throttled_periods;
  const peak_mb = s.cg.memoryPeakBytes() / 1048576;
  const events = s.cg.memoryEvents?.();
  return {
    name: s.cg.name,
    limits: s.cg.limits,
    cpu_seconds: round3(cpu_s),
    cpu_avg_cores: round3(cpu_s / elapsed_s),
    cpu_max_cores_1s: round3(s.max_cores),
    memory_peak_mb: round3(peak_mb),
    memory_peak_pct_of_limit: s.cg.limits.memory_mb > 0 ? round3((100 * peak_mb) / s.cg.limits.memory_mb) : null,
    memory_limit_hits: events?.limit_hits ?? null,
    oom_kills: events?.oom_kills ?? null,
    periods: th.periods - s.start_throttle.periods,
    throttled_periods,
    throttled_ms: round3(th.throttled_ms - s.start_throttle.throttled_ms),
    throttled_periods_per_s: round3(throttled_periods / elapsed_s),
    throttled_periods_max_1s: Math.max(0, ...s.series.throttled_periods),
    throttled_ms_max_1s: round3(Math.max(0, ...s.series.throttled_ms)),
    seconds_throttled: s.series.throttled_periods.filter((n) => n > 0).length,
    seconds: s.series.throttled_periods.length,
    per_second: s.series,
  };
}

function loadSince(start: CpuTimes | null): MachineLoad | null {
  const now = readCpuTimes();
  return start && now ? machineLoad(start, now) : null;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
