// How an instance's Node process is started, in one place: the launcher uses it, and the
// Dockerfile carries the same values (a test keeps them equal). Measured with native-bench:
// a 1 MB semi-space, one V8 platform thread, one malloc arena and one libuv thread take the
// instance from ~120 MB to ~100 MB RSS under the contest's peak, with no latency cost seen.
import { writeFileSync } from 'node:fs';

export const INSTANCE_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: '--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1',
  MALLOC_ARENA_MAX: '1',
  UV_THREADPOOL_SIZE: '1',
});

// V8 flags an instance sets on itself at start-up (process-wide, so its worker threads get them
// too; NODE_OPTIONS does not accept them). undici parses HTTP with llhttp compiled to WebAssembly,
// and V8's optimizing tier compiling it at the first payment was a ~26 MB RSS spike: measured peak
// 112 MB → 86 MB per instance. The baseline tier parses a processor's short answer fast enough.
export const INSTANCE_V8_FLAGS: readonly string[] = Object.freeze(['--liftoff-only']);

const THREAD_NAME_MAX_CHARS = 15; // Linux's TASK_COMM_LEN less its NUL

// Names the calling thread (Linux) so `top -H`, `perf` and native-bench's per-thread CPU can tell
// a payment worker from V8's own threads. Elsewhere it does nothing.
export function nameThisThread(name: string): boolean {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, THREAD_NAME_MAX_CHARS));
    return true;
  } catch {
    return false;
  }
}
