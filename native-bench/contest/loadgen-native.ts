// The C load generator (loadgen.c) behind runLoad: compiled once next to this module with the
// system's cc, spawned for a run, its per-second lines turned into LoadTicks and its records file
// into the LoadDone the Node generator would send, so nothing downstream tells them apart.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC } from '../lib/cc.js';
import type { LoadConfig, LoadDone, LoadRun, LoadTick } from './loadgen.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/native-bench/contest
const SOURCE = join(here, '..', '..', '..', 'native-bench', 'contest', 'loadgen.c');
const BINARY = join(here, 'loadgen-c');
const STDERR_KEPT_BYTES = 4096;

// The generator's binary, compiled when missing or older than its source; or why it cannot be.
export function buildCGenerator(): { binary: string } | { error: string } {
  return compileC(SOURCE, BINARY);
}

// "T t vus target started ok fail total n d1 … dn" → a LoadTick (durations sorted by the generator).
function parseTick(line: string): LoadTick {
  const f = line.split(' ');
  const n = Number(f[8]);
  const ok_durations_ms = new Float64Array(n);
  for (let i = 0; i < n; i++) ok_durations_ms[i] = Number(f[9 + i]);
  return {
    type: 'tick',
    t: Number(f[1]),
    vus: Number(f[2]),
    target_vus: Number(f[3]),
    started: Number(f[4]),
    ok: Number(f[5]),
    fail: Number(f[6]),
    total: Number(f[7]),
    p99_ms: n > 0 ? ok_durations_ms[Math.floor(0.99 * (n - 1))] : 0,
    ok_durations_ms,
  };
}

// The records file: count f64 starts, count f64 durations, count i16 statuses.
function readRecords(file: string, count: number, cpu_ms: number, ids_file: string | null): LoadDone {
  const buf = readFileSync(file);
  if (buf.length !== count * 18) throw new Error(`loadgen-c: ${file} holds ${buf.length} bytes for ${count} records`);
  const copy = (from: number, bytes: number) => buf.buffer.slice(buf.byteOffset + from, buf.byteOffset + from + bytes);
  const done: LoadDone = {
    type: 'done',
    count,
    start_ms: new Float64Array(copy(0, count * 8)),
    dur_ms: new Float64Array(copy(count * 8, count * 8)),
    status: new Int16Array(copy(count * 16, count * 2)),
    cpu_ms,
  };
  if (ids_file !== null) done.accepted_ids = readFileSync(ids_file, 'latin1').split('\n').filter(Boolean);
  return done;
}

// t = 0 on the monotonic clock the C side reads (process.hrtime and performance.now share it).
function monotonicNs(epoch_ms: number): bigint {
  return process.hrtime.bigint() + BigInt(Math.round((epoch_ms - (performance.timeOrigin + performance.now())) * 1e6));
}

export function runCLoad(binary: string, cfg: LoadConfig, onTick: (tick: LoadTick) => void): LoadRun {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-c-'));
  const records = join(dir, 'records.bin');
  const ids = cfg.record_ids ? join(dir, 'ids.txt') : null;
  const url = new URL(cfg.target_url);
  const path = `${url.pathname.replace(/\/$/, '')}/payments`;
  const args = [url.hostname.replace(/^\[|\]$/g, ''), url.port || '80', url.host, path, String(cfg.users), String(cfg.duration_s)];
  args.push(String(cfg.timeout_ms), JSON.stringify(cfg.amount), String(monotonicNs(cfg.start_epoch_ms)), records, ...(ids ? [ids] : []));
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-STDERR_KEPT_BYTES);
  });
  let partial = '';
  let summary: { count: number; cpu_ms: number } | null = null;
  child.stdout.on('data', (b: Buffer) => {
    const lines = (partial + b.toString('latin1')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('T ')) onTick(parseTick(line));
      else if (line.startsWith('D ')) summary = { count: Number(line.split(' ')[1]), cpu_ms: Number(line.split(' ')[2]) };
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const done = new Promise<LoadDone>((resolve, reject) => {
    child.on('error', reject);
    void exited.then((code) => {
      try {
        if (code !== 0 || summary === null) throw new Error(`loadgen-c exited (${code}) before finishing: ${stderr.trim()}`);
        resolve(readRecords(records, summary.count, summary.cpu_ms, ids));
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
  return {
    done,
    pid: child.pid ?? null,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
