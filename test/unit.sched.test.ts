// The scheduler slice (src/sched.ts), set on a real process and read back from /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readSliceNs, setThreadSlice, threadId } from '../src/sched.js';

// Custom slices are EEVDF's (Linux >= 6.12); /proc shows se.slice there and nowhere else.
const unsupported = readSliceNs(process.pid) === null && 'this kernel shows no se.slice (Linux < 6.12 or not Linux)';

function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19 overall
}

async function withSleeper(nice: number, body: (pid: number) => Promise<void>): Promise<void> {
  const child = spawn('nice', ['-n', String(nice), 'sleep', '30'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'); i++) {
      await new Promise((r) => setTimeout(r, 20)); // nice exec()s sleep in the same pid
    }
    await body(pid);
  } finally {
    child.kill('SIGKILL');
  }
}

test('setThreadSlice sets the slice of another process and keeps its nice', { skip: unsupported }, async () => {
  await withSleeper(3, async (pid) => {
    const before = readSliceNs(pid);
    assert.notEqual(before, 250_000);
    assert.deepEqual(await setThreadSlice(pid, 250), { ok: true });
    assert.equal(readSliceNs(pid), 250_000);
    assert.equal(niceOf(pid), 3); // read-modify-write: only the slice changed
    assert.deepEqual(await setThreadSlice(pid, 20_000), { ok: true });
    assert.equal(readSliceNs(pid), 20_000_000);
  });
});

test('setThreadSlice refuses what the kernel would and changes nothing', { skip: unsupported }, async () => {
  await withSleeper(0, async (pid) => {
    const before = readSliceNs(pid);
    for (const bad of [99, 100_001, 0, 150.5]) {
      const r = await setThreadSlice(pid, bad);
      assert.equal(r.ok, false, String(bad));
      assert.match(r.ok ? '' : r.reason, /slice must be 100-100000 µs/);
    }
    assert.equal(readSliceNs(pid), before);
  });
  const gone = await setThreadSlice(2 ** 22 + 1, 100); // above pid_max's ceiling: never a thread
  assert.deepEqual(gone, { ok: false, reason: `no thread ${2 ** 22 + 1}` });
});

test('threadId is the pid on the main thread', { skip: unsupported }, () => {
  assert.equal(threadId(), process.pid);
});
