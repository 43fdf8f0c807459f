// Load generator, run in its own worker thread so audits and scoring never delay it.
// k6 "ramping-vus" replica: VUs ramp linearly 1 → users over duration_s; each VU is a closed loop on
// its own keep-alive connection: POST /payments (fresh uuid v4), then sleep 1 s. Timeout = failure.
// Lean like k6's own client: one raw socket per VU (lib/lean-http.ts); one timer, armed for the next
// VU to start or wake, and one for the oldest unanswered request's timeout; per request only the
// body and its request text are allocated.
import { parentPort, workerData } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LoadConfig, LoadTick, LoadDone } from './loadgen.js';
import { nameThisThread } from '../../src/runtime.js';
import { LeanHttp, epochClockMs, postRequest } from '../lib/lean-http.js';

const cfg = workerData as LoadConfig;
nameThisThread('loadgen'); // `top -H` and the scheduler trace (bench:sched) tell it from the bench's other threads
const port = parentPort!;
const SLEEP_MS = 1000; // the official script's sleep(1) after each POST
const capacity = cfg.users * (Math.ceil(cfg.duration_s) + 2); // ≤ 1 request per VU per second
const start_ms = new Float64Array(capacity);
const dur_ms = new Float64Array(capacity);
const status = new Int16Array(capacity); // 0 = timeout / connection error
let count = 0;
let active_vus = 0;

const clockMs = epochClockMs; // epoch-based: performance.now() origins differ per thread
const t0 = cfg.start_epoch_ms;
const end_at = t0 + cfg.duration_s * 1000;
const url = new URL(cfg.target_url);
const path = url.pathname.replace(/\/$/, '') + '/payments';
const amount = JSON.stringify(cfg.amount);

// Per VU: when its request was sent, how many it sent, and whether it has ended.
const sent_at = new Float64Array(cfg.users);
const iterations = new Int32Array(cfg.users);
const ended = new Uint8Array(cfg.users);
const pending_id: string[] = []; // with record_ids: each VU's request in flight
const accepted_ids: string[] = [];
// Sleeping VUs, in the order they wake (every sleep is as long, so the order they fell asleep).
const sleepers = new Int32Array(cfg.users);
const wake_at = new Float64Array(cfg.users);
let sleep_head = 0;
let sleep_len = 0;
let next_start = 0; // the next VU to start (VUs start in index order)

// Per-second window for the progress line.
const tick_durations = new Float64Array(cfg.users * 4);
let tick_n = 0;
let tick_ok = 0;
let tick_fail = 0;
let tick_started = 0;

const http = new LeanHttp({
  host: url.hostname,
  port: Number(url.port || 80),
  connections: cfg.users,
  timeout_ms: cfg.timeout_ms,
  onDone: (vu, code, end) => onAnswer(vu, code, end),
});

function startAtMs(vu: number): number {
  return t0 + (cfg.users > 1 ? (vu * cfg.duration_s * 1000) / (cfg.users - 1) : 0);
}

function sendPayment(vu: number): void {
  if (count >= capacity) {
    endVu(vu);
    return;
  }
  const id = randomUUID();
  if (cfg.record_ids) pending_id[vu] = id;
  const body = `{"correlationId":"${id}","amount":${amount}}`;
  sent_at[vu] = clockMs();
  iterations[vu]++;
  tick_started++;
  http.send(vu, postRequest(url.host, path, body));
}

function onAnswer(vu: number, code: number, end: number): void {
  const i = count++;
  const d = end - sent_at[vu];
  start_ms[i] = sent_at[vu] - t0;
  dur_ms[i] = d;
  status[i] = code;
  if (code === 200 || code === 201 || code === 202 || code === 204) {
    tick_ok++;
    if (cfg.record_ids) accepted_ids.push(pending_id[vu]);
    if (tick_n < tick_durations.length) tick_durations[tick_n++] = d;
  } else tick_fail++;
  // Bounded: at most one iteration per second until the end of the ramp.
  if (end >= end_at || iterations[vu] >= cfg.duration_s + 2) {
    endVu(vu);
    if (finished()) on_finished();
    return;
  }
  sleepers[(sleep_head + sleep_len) % cfg.users] = vu;
  wake_at[vu] = Math.min(end + SLEEP_MS, end_at);
  sleep_len++;
  armWake(wake_at[vu]); // sleeps end in the order they began: only an earlier start can be armed
}

// One timer for every start and wake-up, armed for the earliest.
let wake_timer: NodeJS.Timeout | null = null;
let wake_timer_at = Infinity;
let on_finished: () => void = () => {};
function armWake(at_ms: number): void {
  if (wake_timer !== null && wake_timer_at <= at_ms) return;
  if (wake_timer !== null) clearTimeout(wake_timer);
  wake_timer_at = at_ms;
  wake_timer = setTimeout(onWake, Math.max(1, Math.ceil(at_ms - clockMs())));
}

function onWake(): void {
  wake_timer = null;
  wake_timer_at = Infinity;
  wake();
  const next = Math.min(
    next_start < cfg.users ? startAtMs(next_start) : Infinity,
    sleep_len > 0 ? wake_at[sleepers[sleep_head]] : Infinity,
  );
  if (next !== Infinity) armWake(next);
  if (finished()) on_finished();
}

function endVu(vu: number): void {
  if (ended[vu] === 1) return;
  ended[vu] = 1;
  active_vus--;
}

// Starts the VUs whose time has come and wakes the sleepers whose second is over.
function wake(): void {
  const now = clockMs();
  while (next_start < cfg.users && startAtMs(next_start) <= now) {
    const vu = next_start++;
    if (now >= end_at) {
      ended[vu] = 1;
      continue;
    }
    active_vus++;
    sendPayment(vu);
  }
  while (sleep_len > 0 && wake_at[sleepers[sleep_head]] <= now) {
    const vu = sleepers[sleep_head];
    sleep_head = (sleep_head + 1) % cfg.users;
    sleep_len--;
    if (clockMs() < end_at) sendPayment(vu);
    else endVu(vu);
  }
}

function vusAt(t_s: number): number {
  if (t_s >= cfg.duration_s) return 0;
  return cfg.users > 1 ? Math.min(cfg.users, 1 + Math.floor(((cfg.users - 1) * t_s) / cfg.duration_s)) : 1;
}

function sendTick(second: number): void {
  const durations = tick_durations.slice(0, tick_n).sort();
  const p99 = durations.length ? durations[Math.floor(0.99 * (durations.length - 1))] : 0;
  const msg: LoadTick = {
    type: 'tick',
    t: second,
    vus: active_vus,
    target_vus: vusAt(second),
    started: tick_started,
    ok: tick_ok,
    fail: tick_fail,
    p99_ms: p99,
    total: count,
    ok_durations_ms: durations,
  };
  port.postMessage(msg, [msg.ok_durations_ms.buffer as ArrayBuffer]);
  tick_n = 0;
  tick_ok = 0;
  tick_fail = 0;
  tick_started = 0;
}

// This thread's CPU time so far, ns (/proc/thread-self/schedstat: on-CPU ns, wait ns, slices).
function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) || 0;
  } catch {
    return 0;
  }
}

function finished(): boolean {
  return next_start >= cfg.users && active_vus === 0;
}

async function main(): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.max(0, t0 - clockMs())));
  const cpu_at_start = threadCpuNs();
  let second = 0;
  const ticker = setInterval(() => sendTick(++second), 1000);
  await new Promise<void>((resolve) => {
    on_finished = resolve;
    onWake();
  });
  if (wake_timer !== null) clearTimeout(wake_timer);
  clearInterval(ticker);
  http.close();
  const done: LoadDone = {
    type: 'done',
    count,
    start_ms: start_ms.slice(0, count),
    dur_ms: dur_ms.slice(0, count),
    status: status.slice(0, count),
    cpu_ms: (threadCpuNs() - cpu_at_start) / 1e6,
    ...(cfg.record_ids ? { accepted_ids } : {}),
  };
  port.postMessage(done, [done.start_ms.buffer as ArrayBuffer, done.dur_ms.buffer as ArrayBuffer, done.status.buffer as ArrayBuffer]);
}

main().catch((err) => {
  port.postMessage({ type: 'error', message: String(err?.stack ?? err) });
});
