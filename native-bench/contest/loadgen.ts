// Main-thread side of the load generator: starts it (the C one, loadgen.c, in its own process, or
// the Node one in a worker thread), forwards its per-second ticks, and returns every request it
// made (start offset, duration, status) when the ramp is over.
import { Worker } from 'node:worker_threads';
import { runCLoad } from './loadgen-native.js';

export interface LoadConfig {
  target_url: string;
  duration_s: number;
  users: number;
  amount: number;
  timeout_ms: number;
  start_epoch_ms: number; // performance.timeOrigin + performance.now() at which t = 0
  record_ids?: boolean; // keep the correlationId of every accepted POST (chaos runs)
}

export interface LoadTick {
  type: 'tick';
  t: number; // seconds since start (end of the second)
  vus: number; // VUs running now
  target_vus: number; // VUs the ramp asks for now
  started: number; // POSTs started in this second
  ok: number; // accepted POSTs finished in this second
  fail: number;
  p99_ms: number; // nearest-rank p99 of this second's accepted POSTs (progress only)
  total: number;
  ok_durations_ms: Float64Array; // durations of this second's accepted POSTs
}

export interface LoadDone {
  type: 'done';
  count: number;
  start_ms: Float64Array; // request start, ms since t = 0
  dur_ms: Float64Array; // request duration, ms
  status: Int16Array; // HTTP status, 0 = timeout / error
  cpu_ms: number; // the generator's own CPU over the run (its thread, or the C generator's process)
  accepted_ids?: string[]; // with record_ids: the correlationIds answered 2xx
}

export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export function isAccepted(status: number): boolean {
  return status === 200 || status === 201 || status === 202 || status === 204;
}

export interface LoadRun {
  done: Promise<LoadDone>;
  stop(): Promise<void>;
  pid: number | null; // the C generator's process (null: the Node generator, a thread of this process)
}

// Which generator runs: the C one (the binary built by buildCGenerator) or the Node worker.
export type Generator = { kind: 'c'; binary: string } | { kind: 'node' };

export function runLoad(cfg: LoadConfig, onTick: (tick: LoadTick) => void, generator: Generator = { kind: 'node' }): LoadRun {
  if (generator.kind === 'c') return runCLoad(generator.binary, cfg, onTick);
  const worker = new Worker(new URL('./loadgen-worker.js', import.meta.url), { workerData: cfg });
  const done = new Promise<LoadDone>((resolve, reject) => {
    worker.on('message', (msg: LoadTick | LoadDone | { type: 'error'; message: string }) => {
      if (msg.type === 'tick') onTick(msg);
      else if (msg.type === 'done') {
        resolve(msg);
        void worker.terminate();
      } else reject(new Error(`loadgen worker: ${msg.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`loadgen worker exited (${code}) before finishing`)));
  });
  return {
    done,
    pid: null,
    stop: async () => {
      await worker.terminate();
    },
  };
}
