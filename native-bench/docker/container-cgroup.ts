// A running container's cgroup, read from the host (cgroup v1 or v2): the limits Docker actually
// set, CPU time, CFS throttling and peak memory. Found through /proc/<pid>/cgroup of the container's
// first process, so it works with either of Docker's cgroup drivers (cgroupfs, systemd).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseThrottling, type Cgroup, type CgroupLimits } from '../lib/cgroup.js';

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** cgroup mount point per v1 controller ("" key: the v2 mount), from /proc/self/mounts. */
function mounts(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (tryRead('/proc/self/mounts') ?? '').split('\n')) {
    const [, dir, type, opts] = line.split(' ');
    if (type === 'cgroup2' && !out.has('')) out.set('', dir);
    if (type !== 'cgroup' || !opts) continue;
    for (const o of opts.split(',')) if (['cpu', 'cpuacct', 'memory'].includes(o) && !out.has(o)) out.set(o, dir);
  }
  return out;
}

/** The directory of `pid`'s cgroup for one v1 controller, or its v2 directory (controller ""). */
function cgroupDir(pid: number, controller: string): string | undefined {
  const mount = mounts().get(controller);
  if (!mount) return undefined;
  for (const line of (tryRead(`/proc/${pid}/cgroup`) ?? '').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const match = controller === '' ? m[1] === '0' && m[2] === '' : m[2].split(',').includes(controller);
    if (match) {
      const dir = join(mount, m[3]);
      return existsSync(dir) ? dir : undefined;
    }
  }
  return undefined;
}

const num = (text: string | undefined) => Number((text ?? '').trim());
const UNLIMITED = 2 ** 60; // v1 reports "no limit" as a huge page-aligned number

export interface ContainerCgroup extends Cgroup {
  version: 'v1' | 'v2';
  /** Unreclaimable memory now (anonymous + shared memory, no page cache), bytes. */
  memoryAnonBytes(): number;
  /** Times the group hit its memory limit (v1 memory.failcnt, v2 memory.events max), and OOM kills. */
  memoryEvents(): { limit_hits: number; oom_kills: number };
}

function readOnly(): never {
  throw new Error("a container's cgroup is Docker's: read it, do not change it");
}

function limitsV1(cpu: string, memory: string): CgroupLimits {
  const quota = num(tryRead(join(cpu, 'cpu.cfs_quota_us')));
  const period = num(tryRead(join(cpu, 'cpu.cfs_period_us'))) || 100_000;
  const mem = num(tryRead(join(memory, 'memory.limit_in_bytes')));
  return { cpus: quota > 0 ? quota / period : 0, memory_mb: mem > 0 && mem < UNLIMITED ? mem / 1048576 : 0 };
}

function limitsV2(dir: string): CgroupLimits {
  const [quota, period] = (tryRead(join(dir, 'cpu.max')) ?? 'max 100000').trim().split(/\s+/);
  const mem = (tryRead(join(dir, 'memory.max')) ?? 'max').trim();
  return { cpus: quota === 'max' ? 0 : Number(quota) / Number(period), memory_mb: mem === 'max' ? 0 : Number(mem) / 1048576 };
}

function statField(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The cgroup of the container whose first process is `pid` (docker inspect .State.Pid), named `name`. */
export function containerCgroup(name: string, pid: number): ContainerCgroup {
  const cpu = cgroupDir(pid, 'cpu');
  const cpuacct = cgroupDir(pid, 'cpuacct');
  const memory = cgroupDir(pid, 'memory');
  const pidsOf = (dir: string) =>
    (tryRead(join(dir, 'cgroup.procs')) ?? '')
      .split('\n')
      .filter((s) => s.trim() !== '')
      .map(Number);
  if (cpu && cpuacct && memory) {
    return {
      name,
      version: 'v1',
      limits: limitsV1(cpu, memory),
      dirs: [...new Set([cpu, cpuacct, memory])],
      wrap: readOnly,
      addPid: readOnly,
      destroy: () => {},
      pids: () => pidsOf(memory),
      cpuUsageNs: () => num(tryRead(join(cpuacct, 'cpuacct.usage'))),
      throttling: () => parseThrottling(tryRead(join(cpu, 'cpu.stat')) ?? ''),
      memoryUsageBytes: () => num(tryRead(join(memory, 'memory.usage_in_bytes'))),
      memoryPeakBytes: () => num(tryRead(join(memory, 'memory.max_usage_in_bytes'))),
      memoryAnonBytes() {
        const s = tryRead(join(memory, 'memory.stat')) ?? '';
        return statField(s, 'rss') + statField(s, 'shmem');
      },
      memoryEvents() {
        const oom = statField(tryRead(join(memory, 'memory.oom_control')) ?? '', 'oom_kill');
        return { limit_hits: num(tryRead(join(memory, 'memory.failcnt'))), oom_kills: oom };
      },
    };
  }
  const dir = cgroupDir(pid, '');
  if (!dir) throw new Error(`no cgroup found for ${name} (pid ${pid})`);
  let peakSeen = 0; // memory.peak exists from Linux 5.19
  const current = () => num(tryRead(join(dir, 'memory.current')));
  return {
    name,
    version: 'v2',
    limits: limitsV2(dir),
    dirs: [dir],
    wrap: readOnly,
    addPid: readOnly,
    destroy: () => {},
    pids: () => pidsOf(dir),
    cpuUsageNs: () => statField(tryRead(join(dir, 'cpu.stat')) ?? '', 'usage_usec') * 1000,
    throttling: () => parseThrottling(tryRead(join(dir, 'cpu.stat')) ?? ''),
    memoryUsageBytes: current,
    memoryPeakBytes() {
      const peak = tryRead(join(dir, 'memory.peak'));
      peakSeen = Math.max(peakSeen, peak !== undefined ? num(peak) : current());
      return peakSeen;
    },
    memoryAnonBytes() {
      const s = tryRead(join(dir, 'memory.stat')) ?? '';
      return statField(s, 'anon') + statField(s, 'shmem');
    },
    memoryEvents() {
      const e = tryRead(join(dir, 'memory.events')) ?? '';
      return { limit_hits: statField(e, 'max'), oom_kills: statField(e, 'oom_kill') };
    },
  };
}
