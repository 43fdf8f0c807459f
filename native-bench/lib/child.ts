// What the benches do with every child process they start: keep its last output lines for error
// messages, and stop it with a signal, then SIGKILL once a grace period is over.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

// Keeps the last `max_lines` lines of the child's stdout and stderr; `onLine` sees each one.
export function lineTail(
  proc: ChildProcess,
  max_lines: number,
  onLine?: (line: string) => void,
): { keep(line: string): void; text(): string } {
  const lines: string[] = [];
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > max_lines) lines.shift();
    onLine?.(line);
  };
  createInterface({ input: proc.stdout! }).on('line', keep);
  createInterface({ input: proc.stderr! }).on('line', keep);
  return { keep, text: () => lines.join('\n') };
}

// Sends `signal` (none: let it exit by itself), SIGKILL after `grace_ms`, and resolves once the
// child has exited (`exited` resolves on its exit).
export async function stopChild(proc: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals | null, grace_ms: number): Promise<void> {
  if (signal !== null) killQuietly(proc, signal);
  const timer = setTimeout(() => killQuietly(proc, 'SIGKILL'), grace_ms);
  await exited;
  clearTimeout(timer);
}

function killQuietly(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    proc.kill(signal);
  } catch {
    /* already gone */
  }
}
