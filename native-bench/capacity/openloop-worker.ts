// Open-loop load at a constant arrival rate, in its own worker thread: request i is scheduled at
// t0 + i / rate, evenly spaced, whatever the server does; its latency is taken from that scheduled
// time, so a stalled server is not hidden by a client that waited for it. Requests go out on the
// first free connection of a fixed set (lib/lean-http.ts). Due requests are sent from one timer
// and after each answer (at high rates answers come more often than the timer). A request that
// found no free connection for timeout_ms is dropped, as k6 drops an iteration without a VU.
import { parentPort, workerData } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { nameThisThread } from '../../src/runtime.js';
import { LeanHttp, epochClockMs, postRequest } from '../lib/lean-http.js';
import type { OpenLoopConfig, OpenLoopDone, OpenLoopTick } from './openloop.js';

const cfg = workerData as OpenLoopConfig;
nameThisThread('capacity-load');
const port = parentPort!;
const clockMs = epochClockMs;
const total = Math.round(cfg.rate_per_s * cfg.duration_s);
const interval_ms = 1000 / cfg.rate_per_s;
const t0 = cfg.start_epoch_ms;
const url = new URL(cfg.target_url);
const path = url.pathname.replace(/\/$/, '') + '/payments';
const amount = JSON.stringify(cfg.amount);

const DROPPED = -1;
const NOT_ANSWERED = -2;

// Per request: latency from its scheduled time, how late it was sent, its status (0 = timeout or
// connection error, DROPPED = never sent).
const latency_ms = new Float32Array(total);
const late_ms = new Float32Array(total);
const status = new Int16Array(total).fill(NOT_ANSWERED);
const on_conn = new Int32Array(cfg.connections); // the request each busy connection carries
// Free connections, oldest first: every connection is used in turn, so none idles long enough for
// the server to close it (uWS closes an idle one after 10 s) just as a request goes out on it.
const free = new Int32Array(cfg.connections);
let free_head = 0;
let free_n = 0;
const pushFree = (conn: number): void => {
  free[(free_head + free_n) % cfg.connections] = conn;
  free_n++;
};
const takeFree = (): number => {
  const conn = free[free_head];
  free_head = (free_head + 1) % cfg.connections;
  free_n--;
  return conn;
};
let next = 0;
let answered = 0;
let accepted = 0;
let refused = 0;
let dropped = 0;
let waited_for_connection = 0; // requests sent late because every connection was busy

const http = new LeanHttp({
  host: url.hostname,
  port: Number(url.port || 80),
  connections: cfg.connections,
  timeout_ms: cfg.timeout_ms,
  onDone: (conn, code, end) => onAnswer(conn, code, end),
});
// One timer, armed for the next due request (never sooner than libuv's 1 ms).
let timer_armed = false;
let timer: NodeJS.Timeout | undefined;
const onTimer = (): void => {
  timer_armed = false;
  pump();
};

const scheduledAt = (i: number): number => t0 + i * interval_ms;

function pump(): void {
  const now = clockMs();
  while (next < total && scheduledAt(next) <= now) {
    const i = next;
    if (now - scheduledAt(i) > cfg.timeout_ms) {
      status[i] = DROPPED;
      dropped++;
      answered++;
      next++;
      continue;
    }
    if (free_n === 0) {
      waited_for_connection++;
      break;
    }
    const conn = takeFree();
    next++;
    on_conn[conn] = i;
    late_ms[i] = now - scheduledAt(i);
    http.send(conn, postRequest(url.host, path, `{"correlationId":"${randomUUID()}","amount":${amount}}`));
  }
  if (next < total && !timer_armed) {
    timer_armed = true;
    timer = setTimeout(onTimer, Math.max(1, Math.ceil(scheduledAt(next) - now)));
  }
}

function onAnswer(conn: number, code: number, end: number): void {
  const i = on_conn[conn];
  latency_ms[i] = end - scheduledAt(i);
  status[i] = code;
  answered++;
  if (code >= 200 && code < 300) accepted++;
  else refused++;
  pushFree(conn);
  if (answered === total) finish();
  else pump();
}

// This thread's CPU so far, ns (/proc/thread-self/schedstat: on-CPU ns, wait ns, slices).
function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) || 0;
  } catch {
    return 0;
  }
}

let ticker: NodeJS.Timeout | undefined;
let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  clearInterval(ticker);
  http.close();
  const done: OpenLoopDone = { type: 'done', total, latency_ms, late_ms, status, dropped, waited_for_connection, cpu_ns: threadCpuNs() };
  port.postMessage(done, [latency_ms.buffer as ArrayBuffer, late_ms.buffer as ArrayBuffer, status.buffer as ArrayBuffer]);
}

async function main(): Promise<void> {
  for (let c = 0; c < cfg.connections; c++) pushFree(c);
  await Promise.all(Array.from({ length: cfg.connections }, (_, c) => http.connect(c))); // warm, before t0
  port.postMessage({ type: 'connected' });
  await new Promise((r) => setTimeout(r, Math.max(0, t0 - clockMs())));
  let second = 0;
  ticker = setInterval(() => {
    const tick: OpenLoopTick = { type: 'tick', t: ++second, sent: next, accepted, refused, dropped, cpu_ns: threadCpuNs() };
    port.postMessage(tick);
  }, 1000);
  if (total === 0) finish();
  else pump();
}

main().catch((err) => {
  port.postMessage({ type: 'error', message: String(err?.stack ?? err) });
});
