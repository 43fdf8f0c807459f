// Resource sampling while a run is going: each cgroup's CPU and memory peak, and the peak RSS
// (VmHWM) of every process in the watched process trees, from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import type { Cgroup, Throttling } from '../lib/cgroup.js';
import { type CpuTimes, type MachineLoad, ThreadCpu, type ThreadGroupTotals, machineLoad, readCpuTimes, sampleThreads } from '../lib/threads.js';

export interface ProcessPeak { pid: number; command: string; vm_hwm_mb: number; vm_rss_mb: number }
interface CgroupPeak { name: string; limits: { cpus: number; memory_mb: number }; cpu_seconds: number; cpu_avg_cores: number; cpu_max_cores_1s: number; memory_peak_mb: number; throttled_periods: number; periods: number; throttled_ms: number }
// threads: the service's; harness_threads: the bench's own load generator and the processor
// simulators, which share the machine with it.
export interface ResourcePeaks { cgroups: CgroupPeak[]; processes: ProcessPeak[]; max_process_hwm_mb: number; threads: ThreadGroupTotals[]; harness_threads: ThreadGroupTotals[]; machine_load: MachineLoad | null }

function readStatus(pid: number): { name: string; hwm_kb: number; rss_kb: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => { const m = new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(text); return m ? m[1] : ''; };
    return { name: field('Name'), hwm_kb: Number(field('VmHWM')) || 0, rss_kb: Number(field('VmRSS')) || 0, ppid: Number(field('PPid')) || 0 };
  } catch { return undefined; }
}

function commandLine(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 160); } catch { return ''; }
}

/** All descendants of `roots` (inclusive), from one scan of /proc. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return roots; }
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
  private readonly cg = new Map<string, { cg: Cgroup; start_throttle: Throttling; start_ns: number; last_ns: number; last_ms: number; max_cores: number; first_ms: number }>();
  private readonly threads = new ThreadCpu();
  private readonly harness_threads = new ThreadCpu();
  private readonly cpu_at_start: CpuTimes | null = readCpuTimes();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly cgroups: Cgroup[], private readonly roots: () => number[], private readonly harness: () => number[] = () => []) {
    const now = Date.now();
    for (const c of cgroups) {
      const ns = c.cpuUsageNs();
      this.cg.set(c.name, { cg: c, start_throttle: c.throttling(), start_ns: ns, last_ns: ns, last_ms: now, max_cores: 0, first_ms: now });
    }
  }

  sample(): void {
    const now = Date.now();
    for (const s of this.cg.values()) {
      const ns = s.cg.cpuUsageNs();
      const dt = now - s.last_ms;
      if (dt >= 500) {
        s.max_cores = Math.max(s.max_cores, (ns - s.last_ns) / 1e6 / dt);
        s.last_ns = ns; s.last_ms = now;
      }
    }
    const pids = new Set<number>(processTree(this.roots()));
    for (const c of this.cgroups) for (const pid of c.pids()) pids.add(pid);
    this.threads.add(sampleThreads([...pids]));
    this.harness_threads.add(sampleThreads(this.harness().filter((pid) => !pids.has(pid))));
    for (const pid of pids) {
      const st = readStatus(pid);
      if (!st || st.hwm_kb === 0) continue;  // kernel thread or gone
      const prev = this.procs.get(pid);
      const hwm = st.hwm_kb / 1024;
      if (!prev) this.procs.set(pid, { pid, command: commandLine(pid) || st.name, vm_hwm_mb: hwm, vm_rss_mb: st.rss_kb / 1024 });
      else { prev.vm_hwm_mb = Math.max(prev.vm_hwm_mb, hwm); prev.vm_rss_mb = st.rss_kb / 1024; }
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
    const cgroups = [...this.cg.values()].map((s) => {
      const cpu_s = (s.cg.cpuUsageNs() - s.start_ns) / 1e9;
      const th = s.cg.throttling();
      return {
        name: s.cg.name, limits: s.cg.limits, cpu_seconds: round3(cpu_s),
        cpu_avg_cores: round3(cpu_s / Math.max(0.001, (now - s.first_ms) / 1000)),
        cpu_max_cores_1s: round3(s.max_cores), memory_peak_mb: round3(s.cg.memoryPeakBytes() / 1048576),
        periods: th.periods - s.start_throttle.periods, throttled_periods: th.throttled_periods - s.start_throttle.throttled_periods,
        throttled_ms: round3(th.throttled_ms - s.start_throttle.throttled_ms),
      };
    });
    const processes = [...this.procs.values()].map((p) => ({ ...p, vm_hwm_mb: round3(p.vm_hwm_mb), vm_rss_mb: round3(p.vm_rss_mb) }))
      .sort((a, b) => b.vm_hwm_mb - a.vm_hwm_mb);
    return { cgroups, processes, max_process_hwm_mb: processes.length ? processes[0].vm_hwm_mb : 0, threads: this.threads.totals(), harness_threads: this.harness_threads.totals(), machine_load: loadSince(this.cpu_at_start) };
  }
}

function loadSince(start: CpuTimes | null): MachineLoad | null {
  const now = readCpuTimes();
  return start && now ? machineLoad(start, now) : null;
}

function round3(x: number): number { return Math.round(x * 1000) / 1000; }
