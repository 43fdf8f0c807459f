// Main-thread side of the open-loop generator (openloop-worker.ts): starts it for one step,
// forwards its per-second ticks, and returns every request's latency, lateness and status.
import { Worker } from 'node:worker_threads';

export interface OpenLoopConfig {
  target_url: string;
  rate_per_s: number;
  duration_s: number;
  connections: number;
  timeout_ms: number;
  amount: number;
  start_epoch_ms: number; // t = 0, epoch ms (performance.timeOrigin + performance.now())
}

export interface OpenLoopTick {
  type: 'tick';
  t: number; // seconds since t = 0
  sent: number; // requests sent or dropped so far
  accepted: number; // 2xx so far
  refused: number; // other statuses, timeouts and connection errors so far
  dropped: number; // never sent: no connection was free for timeout_ms
  cpu_ns: number; // the generator thread's CPU so far
}

export interface OpenLoopDone {
  type: 'done';
  total: number;
  latency_ms: Float32Array; // from the scheduled time to the answer
  late_ms: Float32Array; // from the scheduled time to the send
  status: Int16Array; // HTTP status; 0 timeout / connection error; -1 dropped
  dropped: number;
  waited_for_connection: number;
  cpu_ns: number;
}

export interface OpenLoop {
  connected: Promise<void>;
  done: Promise<OpenLoopDone>;
  stop(): Promise<void>;
}

export function runOpenLoop(cfg: OpenLoopConfig, onTick: (tick: OpenLoopTick) => void): OpenLoop {
  const worker = new Worker(new URL('./openloop-worker.js', import.meta.url), { workerData: cfg });
  let connected!: () => void;
  const connectedP = new Promise<void>((r) => {
    connected = r;
  });
  const done = new Promise<OpenLoopDone>((resolve, reject) => {
    worker.on('message', (msg: OpenLoopTick | OpenLoopDone | { type: 'connected' } | { type: 'error'; message: string }) => {
      if (msg.type === 'tick') onTick(msg);
      else if (msg.type === 'connected') connected();
      else if (msg.type === 'done') {
        resolve(msg);
        void worker.terminate();
      } else reject(new Error(`open-loop generator: ${msg.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`open-loop generator exited (${code}) before finishing`)));
  });
  done.catch(() => connected());
  return {
    connected: connectedP,
    done,
    stop: async () => {
      await worker.terminate();
    },
  };
}
