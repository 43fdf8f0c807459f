// CPU time of processes from /proc/<pid>/stat (utime + stime, every thread of the process).
// Resolution is one clock tick (10 ms at CLK_TCK 100): fine for steps of seconds.
import { readFileSync } from 'node:fs';
import { clockTickMs, parseStatTicks } from '../lib/threads.js';

// CPU ms used so far by one pid, or null when it is gone / not readable (not Linux).
export function cpuMs(pid: number): number | null {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) * clockTickMs();
  } catch {
    return null;
  }
}

// Sum over pids; null if any is unreadable (a partial sum would under-report).
export function totalCpuMs(pids: number[]): number | null {
  let sum = 0;
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms === null) return null;
    sum += ms;
  }
  return sum;
}
