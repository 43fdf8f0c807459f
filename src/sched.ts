// A thread's scheduler slice (Linux ≥ 6.12, EEVDF). Under EEVDF a nice value sets a thread's
// share of the CPU, not how soon others get the CPU back: a running task is protected until the end
// of its slice (0.7-3 ms by default), so a front thread or a client waking behind a nice-10 worker
// or a Postgres backend waits out that slice. A waking task whose slice is shorter than the running
// one's cancels that protection (PREEMPT_SHORT). So the background threads get a long slice: the
// front, the load balancer and the clients, all on the default slice, preempt them when they wake.
// Their share (weight) is unchanged, and no privilege is needed.
//
// Node has no system-call interface, so the call is made by perl (perl-base is part of every
// Debian and Ubuntu image, the service's image included): sched_getattr, then sched_setattr with
// only sched_runtime changed, so the policy and nice are kept. A slice is inherited by fork().
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';

export const SLICE_MIN_US = 100; // the kernel's bounds for a custom slice
export const SLICE_MAX_US = 100_000;

// [sched_setattr, sched_getattr] by architecture.
const SYSCALLS: Partial<Record<string, [number, number]>> = { x64: [314, 315], arm64: [274, 275] };

// struct sched_attr, version 0 (48 bytes): size, policy, flags, nice, priority, runtime, deadline, period.
const SET_SLICE_PL = `
my ($set, $get, $tid, $ns) = map { $_ + 0 } @ARGV;
my $attr = "\\0" x 48;
syscall($get, $tid, $attr, 48, 0) == 0 or die "sched_getattr: $!\\n";
my @f = unpack("LLQlLQQQ", $attr);
$f[1] == 0 || $f[1] == 3 or die "policy $f[1] is not SCHED_OTHER or SCHED_BATCH\\n";
@f[0, 2, 5] = (48, 0, $ns);
syscall($set, $tid, pack("LLQlLQQQ", @f), 0) == 0 or die "sched_setattr: $!\\n";
`;

export type SliceResult = { ok: true } | { ok: false; reason: string };

// The slice the kernel holds for a thread, in ns; null where /proc does not show it (older kernels).
export function readSliceNs(pid: number, tid: number = pid): number | null {
  try {
    const m = /^se\.slice\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// The kernel's id of the calling thread (the pid for a main thread); null off Linux.
export function threadId(): number | null {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()); // "<pid>/task/<tid>"
  } catch {
    return null;
  }
}

// Sets the slice of thread `tid` (of this process or another of the same user) and checks it.
// Never rejects.
export async function setThreadSlice(tid: number, slice_us: number): Promise<SliceResult> {
  if (!Number.isInteger(slice_us) || slice_us < SLICE_MIN_US || slice_us > SLICE_MAX_US) {
    return { ok: false, reason: `slice must be ${SLICE_MIN_US}-${SLICE_MAX_US} µs, got ${slice_us}` };
  }
  const calls = SYSCALLS[process.arch];
  if (process.platform !== 'linux' || calls === undefined) return { ok: false, reason: `not supported on ${process.platform}/${process.arch}` };
  if (!existsSync(`/proc/${tid}/task/${tid}/sched`)) return { ok: false, reason: `no thread ${tid}` };
  if (readSliceNs(tid) === null) return { ok: false, reason: 'this kernel has no per-task slice (EEVDF custom slices need Linux 6.12)' };
  const failed = await new Promise<string | null>((resolve) => {
    const args = ['-e', SET_SLICE_PL, String(calls[0]), String(calls[1]), String(tid), String(slice_us * 1000)];
    execFile('perl', args, { timeout: 5_000 }, (err, _stdout, stderr) => {
      resolve(err === null ? null : String(stderr).trim() || err.message);
    });
  });
  if (failed !== null) return { ok: false, reason: failed };
  const now = readSliceNs(tid);
  return now === slice_us * 1000 ? { ok: true } : { ok: false, reason: `the kernel kept ${now} ns` };
}
