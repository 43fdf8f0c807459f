// Linux cgroups for running a process tree under CPU / memory limits, the way
// docker-compose `deploy.resources.limits` would. Prefers cgroup v1 (cpu, cpuacct,
// memory hierarchies); falls back to a pure v2 unified mount. New groups are
// nested under the cgroup this process already lives in, so any limits the host
// put on us keep applying to the children.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';

// cpu_shares: the weight against other groups when the CPUs are contended (compose `cpu_shares`,
// Docker's default 1024), independent of the quota.
export interface CgroupLimits {
  cpus: number;
  memory_mb: number;
  cpu_shares?: number;
}

/** runc's conversion of cpu_shares (2..262144) to cgroup v2 cpu.weight (1..10000), integer division. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262_142);
}

export interface Cgroup {
  readonly name: string;
  readonly limits: CgroupLimits;
  /** Directories of this group, one per hierarchy (for reports). */
  readonly dirs: string[];
  /** Command that joins the group first, then execs the real command, so all children start inside. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Move an already-running process into the group. */
  addPid(pid: number): void;
  pids(): number[];
  cpuUsageNs(): number;
  /** CFS bandwidth: periods seen, periods in which the group hit its quota, total time stalled. */
  throttling(): Throttling;
  memoryUsageBytes(): number;
  memoryPeakBytes(): number;
  /** Times the group hit its memory limit (v1 memory.failcnt, v2 memory.events max) and OOM kills. */
  memoryEvents?(): MemoryEvents;
  destroy(): void;
}

interface MemoryEvents {
  limit_hits: number;
  oom_kills: number;
}

/** One counter of a "key value" file (cpu.stat, memory.stat, memory.events, memory.oom_control); 0 if absent. */
function statField(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export interface Throttling {
  periods: number;
  throttled_periods: number;
  throttled_ms: number;
}

/** Parse cpu.stat (v1: nr_periods/nr_throttled/throttled_time ns; v2: ..._usec). */
export function parseThrottling(text: string): Throttling {
  const get = (k: string) => statField(text, k);
  const ms = /^throttled_usec /m.test(text) ? get('throttled_usec') / 1000 : get('throttled_time') / 1e6;
  return { periods: get('nr_periods'), throttled_periods: get('nr_throttled'), throttled_ms: ms };
}

const GROUP_ROOT = 'rinha-bench';
const CFS_PERIOD_US = 100_000;

interface V1Mounts {
  cpu: string;
  cpuacct: string;
  memory: string;
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function tryRead(path: string): string | undefined {
  try {
    return readText(path);
  } catch {
    return undefined;
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Mount point of each cgroup v1 controller, from /proc/self/mounts. */
function v1MountPoints(): Partial<V1Mounts> {
  const out: Partial<V1Mounts> = {};
  const mounts = tryRead('/proc/self/mounts') ?? '';
  for (const line of mounts.split('\n')) {
    const [, dir, type, opts] = line.split(' ');
    if (type !== 'cgroup' || !dir || !opts) continue;
    const options = opts.split(',');
    for (const c of ['cpu', 'cpuacct', 'memory'] as const) {
      if (options.includes(c) && out[c] === undefined) out[c] = dir;
    }
  }
  return out;
}

function v2MountPoint(): string | undefined {
  const mounts = tryRead('/proc/self/mounts') ?? '';
  for (const line of mounts.split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type === 'cgroup2' && dir && existsSync(join(dir, 'cgroup.controllers'))) {
      const controllers = (tryRead(join(dir, 'cgroup.controllers')) ?? '').split(/\s+/);
      if (controllers.includes('cpu') && controllers.includes('memory')) return dir;
    }
  }
  return undefined;
}

/** Our own cgroup path inside a v1 hierarchy ("/" if unknown), or the v2 path for key "". */
function selfCgroupPath(controller: string): string {
  const text = tryRead('/proc/self/cgroup') ?? '';
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const controllers = m[2].split(',');
    if (controller === '' ? m[1] === '0' && m[2] === '' : controllers.includes(controller)) return m[3] || '/';
  }
  return '/';
}

/** Parent directory for our groups in one hierarchy: our own cgroup if visible, else the mount root. */
function parentDir(mount: string, controller: string): string {
  const own = join(mount, selfCgroupPath(controller));
  return existsSync(own) ? own : mount;
}

type Mode = { kind: 'v1'; mounts: V1Mounts } | { kind: 'v2'; mount: string };

function detect(): { mode?: Mode; reason?: string } {
  if (process.platform !== 'linux') return { reason: `platform ${process.platform} has no cgroups` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { reason: 'not running as root' };
  const v1 = v1MountPoints();
  if (v1.cpu && v1.cpuacct && v1.memory) {
    const mounts = v1 as V1Mounts;
    const dirs = [parentDir(mounts.cpu, 'cpu'), parentDir(mounts.cpuacct, 'cpuacct'), parentDir(mounts.memory, 'memory')];
    const notWritable = dirs.filter((d) => !isWritable(d));
    if (notWritable.length > 0) return { reason: `cgroup v1 dirs not writable: ${notWritable.join(', ')}` };
    if (!existsSync(join(mounts.cpu, 'cpu.cfs_quota_us'))) return { reason: 'cgroup v1 cpu controller has no CFS quota' };
    return { mode: { kind: 'v1', mounts } };
  }
  const v2 = v2MountPoint();
  if (v2) {
    const dir = parentDir(v2, '');
    if (!isWritable(dir)) return { reason: `cgroup v2 dir not writable: ${dir}` };
    return { mode: { kind: 'v2', mount: v2 } };
  }
  return { reason: 'no cgroup v1 cpu+cpuacct+memory hierarchies and no cgroup v2 mount with cpu+memory controllers' };
}

export function cgroupSupport(): { ok: boolean; reason?: string; kind?: 'v1' | 'v2' } {
  const d = detect();
  return d.mode ? { ok: true, kind: d.mode.kind } : { ok: false, reason: d.reason };
}

function safeName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new Error(`cgroup name must be [A-Za-z0-9._-]{1,64}: ${JSON.stringify(name)}`);
  return name;
}

function readPids(dir: string): number[] {
  const text = tryRead(join(dir, 'cgroup.procs')) ?? '';
  return text
    .split('\n')
    .filter((s) => s.trim() !== '')
    .map(Number);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Join `dirs` (each dir's cgroup.procs) then exec the command. */
function wrapWith(dirs: string[], command: string, args: string[]) {
  const joins = dirs.map((d) => `echo $$ > ${shellQuote(join(d, 'cgroup.procs'))}`).join(' && ');
  return { command: '/bin/sh', args: ['-c', `${joins} && exec "$@"`, 'rinha-cgroup', command, ...args] };
}

/** Empty a group: move leftovers to the parent, kill them, then remove the directory. */
function removeDir(dir: string, parent: string): void {
  if (!existsSync(dir)) return;
  for (let attempt = 0; attempt < 5; attempt++) {
    for (const pid of readPids(dir)) {
      try {
        writeFileSync(join(parent, 'cgroup.procs'), String(pid));
      } catch {
        /* already gone */
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch {
      /* busy: retry after moving again */
    }
  }
}

function createV1(name: string, limits: CgroupLimits, mounts: V1Mounts): Cgroup {
  const parents = {
    cpu: join(parentDir(mounts.cpu, 'cpu'), GROUP_ROOT),
    cpuacct: join(parentDir(mounts.cpuacct, 'cpuacct'), GROUP_ROOT),
    memory: join(parentDir(mounts.memory, 'memory'), GROUP_ROOT),
  };
  const dirs = { cpu: join(parents.cpu, name), cpuacct: join(parents.cpuacct, name), memory: join(parents.memory, name) };
  const unique = [...new Set([dirs.cpu, dirs.cpuacct, dirs.memory])]; // cpu,cpuacct may share a mount
  for (const d of unique) {
    removeDir(d, join(d, '..')); // leftover from a crashed run
    mkdirSync(d, { recursive: true });
  }
  const period = Number((tryRead(join(dirs.cpu, 'cpu.cfs_period_us')) ?? `${CFS_PERIOD_US}`).trim()) || CFS_PERIOD_US;
  writeFileSync(join(dirs.cpu, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(limits.cpus * period))));
  if (limits.cpu_shares !== undefined) writeFileSync(join(dirs.cpu, 'cpu.shares'), String(limits.cpu_shares));
  const bytes = String(Math.round(limits.memory_mb * 1024 * 1024));
  // limit before memsw: memsw must stay >= limit, and it starts unlimited.
  writeFileSync(join(dirs.memory, 'memory.limit_in_bytes'), bytes);
  const memsw = join(dirs.memory, 'memory.memsw.limit_in_bytes');
  if (existsSync(memsw)) {
    try {
      writeFileSync(memsw, bytes);
    } catch {
      /* swap accounting off */
    }
  }

  return {
    name,
    limits,
    dirs: unique,
    wrap: (command, args) => wrapWith(unique, command, args),
    addPid(pid) {
      for (const d of unique) writeFileSync(join(d, 'cgroup.procs'), String(pid));
    },
    pids: () => readPids(dirs.memory),
    cpuUsageNs: () => Number((tryRead(join(dirs.cpuacct, 'cpuacct.usage')) ?? '0').trim()),
    throttling: () => parseThrottling(tryRead(join(dirs.cpu, 'cpu.stat')) ?? ''),
    memoryUsageBytes: () => Number((tryRead(join(dirs.memory, 'memory.usage_in_bytes')) ?? '0').trim()),
    memoryPeakBytes: () => Number((tryRead(join(dirs.memory, 'memory.max_usage_in_bytes')) ?? '0').trim()),
    memoryEvents: () => ({
      limit_hits: Number((tryRead(join(dirs.memory, 'memory.failcnt')) ?? '0').trim()),
      oom_kills: statField(tryRead(join(dirs.memory, 'memory.oom_control')) ?? '', 'oom_kill'),
    }),
    destroy() {
      for (const d of unique) removeDir(d, join(d, '..'));
    },
  };
}

function createV2(name: string, limits: CgroupLimits, mount: string): Cgroup {
  const parent = join(parentDir(mount, ''), GROUP_ROOT);
  const dir = join(parent, name);
  removeDir(dir, parent);
  mkdirSync(dir, { recursive: true });
  // Controllers must be enabled in every ancestor's subtree_control; best effort.
  for (const p of [join(parent, '..'), parent]) {
    try {
      writeFileSync(join(p, 'cgroup.subtree_control'), '+cpu +memory');
    } catch {
      /* may already be on */
    }
  }
  writeFileSync(join(dir, 'cpu.max'), `${Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US))} ${CFS_PERIOD_US}`);
  if (limits.cpu_shares !== undefined) writeFileSync(join(dir, 'cpu.weight'), String(sharesToWeight(limits.cpu_shares)));
  const bytes = String(Math.round(limits.memory_mb * 1024 * 1024));
  writeFileSync(join(dir, 'memory.max'), bytes);
  try {
    writeFileSync(join(dir, 'memory.swap.max'), '0');
  } catch {
    /* no swap controller */
  }
  let peakSeen = 0; // memory.peak only exists on kernels >= 5.19
  const usage = () => Number((tryRead(join(dir, 'memory.current')) ?? '0').trim());
  return {
    name,
    limits,
    dirs: [dir],
    wrap: (command, args) => wrapWith([dir], command, args),
    addPid(pid) {
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    },
    pids: () => readPids(dir),
    cpuUsageNs() {
      const m = /usage_usec (\d+)/.exec(tryRead(join(dir, 'cpu.stat')) ?? '');
      return m ? Number(m[1]) * 1000 : 0;
    },
    throttling: () => parseThrottling(tryRead(join(dir, 'cpu.stat')) ?? ''),
    memoryUsageBytes: usage,
    memoryPeakBytes() {
      const peak = tryRead(join(dir, 'memory.peak'));
      peakSeen = Math.max(peakSeen, peak !== undefined ? Number(peak.trim()) : usage());
      return peakSeen;
    },
    memoryEvents() {
      const e = tryRead(join(dir, 'memory.events')) ?? '';
      return { limit_hits: statField(e, 'max'), oom_kills: statField(e, 'oom_kill') };
    },
    destroy() {
      removeDir(dir, parent);
    },
  };
}

/** Create (or recreate) the group `rinha-bench/<name>` with the given limits. Throws if unsupported. */
export function createCgroup(name: string, limits: CgroupLimits): Cgroup {
  safeName(name);
  if (!(limits.cpus > 0) || !(limits.memory_mb > 0)) throw new Error(`bad cgroup limits ${JSON.stringify(limits)}`);
  const d = detect();
  if (!d.mode) throw new Error(`cgroups unavailable: ${d.reason}`);
  return d.mode.kind === 'v1' ? createV1(name, limits, d.mode.mounts) : createV2(name, limits, d.mode.mount);
}
