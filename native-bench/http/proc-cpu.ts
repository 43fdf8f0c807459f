// CPU time of processes from /proc/<pid>/stat (utime + stime, every thread of the process).
// Resolution is one clock tick (10 ms at CLK_TCK 100): fine for steps of seconds.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let tick_ms = 0;
function tickMs(): number {
  if (tick_ms === 0) {
    let hz = 100;
    try { hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { /* keep 100 */ }
    tick_ms = 1000 / hz;
  }
  return tick_ms;
}

// CPU ms used so far by one pid, or null when it is gone / not readable (not Linux).
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14 overall
    const stime = Number(fields[12]); // field 15 overall
    return (utime + stime) * tickMs();
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
