// Load generator, run in its own worker thread so audits and scoring never delay its timers.
// k6 "ramping-vus" replica: VUs ramp linearly 1 → users over duration_s; each VU is a closed loop on
// its own keep-alive connection: POST /payments (fresh uuid v4), then sleep 1 s. Timeout = failure.
import { parentPort, workerData } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { Client } from 'undici';
import type { LoadConfig, LoadTick, LoadDone } from './loadgen.js';
import { nameThisThread } from '../../src/runtime.js';

const cfg = workerData as LoadConfig;
nameThisThread('loadgen'); // `top -H` and the scheduler trace (bench:sched) tell it from the bench's other threads
const port = parentPort!;
const capacity = cfg.users * (Math.ceil(cfg.duration_s) + 2);  // ≤ 1 request per VU per second
const start_ms = new Float64Array(capacity);
const dur_ms = new Float64Array(capacity);
const status = new Int16Array(capacity);  // 0 = timeout / connection error
let count = 0;
let active_vus = 0;

// Epoch-based high resolution clock shared with the main thread (performance.now() origins differ per thread).
const clockMs = () => performance.timeOrigin + performance.now();
const t0 = cfg.start_epoch_ms;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

const url = new URL(cfg.target_url);
const path = url.pathname.replace(/\/$/, '') + '/payments';
const headers = { 'content-type': 'application/json' };

// Per-second window for the progress line.
let tick_durations: number[] = [];
let tick_ok = 0;
let tick_fail = 0;
let tick_started = 0;

async function onePayment(client: Client): Promise<void> {
  if (count >= capacity) return;
  const body = `{"correlationId":"${randomUUID()}","amount":${JSON.stringify(cfg.amount)}}`;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), cfg.timeout_ms);
  const begin = clockMs();
  tick_started++;
  let code = 0;
  try {
    const res = await client.request({ method: 'POST', path, headers, body, signal: ac.signal });
    await res.body.dump();
    code = res.statusCode;
  } catch {
    code = 0;  // timeout (abort) or connection error: a failed payment, as in k6
  } finally {
    clearTimeout(timer);
  }
  const end = clockMs();
  const i = count++;
  start_ms[i] = begin - t0;
  dur_ms[i] = end - begin;
  status[i] = code;
  const accepted = code === 200 || code === 201 || code === 202 || code === 204;
  if (accepted) { tick_ok++; tick_durations.push(end - begin); } else tick_fail++;
}

async function virtualUser(index: number): Promise<void> {
  const start_at_s = cfg.users > 1 ? (index * cfg.duration_s) / (cfg.users - 1) : 0;
  await sleep(t0 + start_at_s * 1000 - clockMs());
  const end_at = t0 + cfg.duration_s * 1000;
  if (clockMs() >= end_at) return;
  const client = new Client(url.origin, { pipelining: 1, keepAliveTimeout: 60_000, connect: { timeout: cfg.timeout_ms } });
  active_vus++;
  try {
    // Bounded: at most one iteration per second until the end of the ramp.
    for (let n = 0; n < cfg.duration_s + 2 && clockMs() < end_at; n++) {
      await onePayment(client);
      const left = end_at - clockMs();
      await sleep(Math.min(1000, left));
    }
  } finally {
    active_vus--;
    await client.close().catch(() => client.destroy());
  }
}

function vusAt(t_s: number): number {
  if (t_s >= cfg.duration_s) return 0;
  return cfg.users > 1 ? Math.min(cfg.users, 1 + Math.floor(((cfg.users - 1) * t_s) / cfg.duration_s)) : 1;
}

function startTicks(): NodeJS.Timeout {
  let second = 0;
  const timer = setInterval(() => {
    second++;
    tick_durations.sort((a, b) => a - b);
    const p99 = tick_durations.length ? tick_durations[Math.floor(0.99 * (tick_durations.length - 1))] : 0;
    const msg: LoadTick = {
      type: 'tick', t: second, vus: active_vus, target_vus: vusAt(second),
      started: tick_started, ok: tick_ok, fail: tick_fail, p99_ms: p99, total: count,
      ok_durations_ms: Float64Array.from(tick_durations),
    };
    port.postMessage(msg, [msg.ok_durations_ms.buffer as ArrayBuffer]);
    tick_durations = []; tick_ok = 0; tick_fail = 0; tick_started = 0;
  }, 1000);
  return timer;
}

async function main(): Promise<void> {
  await sleep(t0 - clockMs());
  const ticker = startTicks();
  const vus: Promise<void>[] = [];
  for (let i = 0; i < cfg.users; i++) vus.push(virtualUser(i));
  await Promise.all(vus);
  clearInterval(ticker);
  const done: LoadDone = {
    type: 'done', count,
    start_ms: start_ms.slice(0, count), dur_ms: dur_ms.slice(0, count), status: status.slice(0, count),
  };
  port.postMessage(done, [done.start_ms.buffer as ArrayBuffer, done.dur_ms.buffer as ArrayBuffer, done.status.buffer as ArrayBuffer]);
}

main().catch((err) => { port.postMessage({ type: 'error', message: String(err?.stack ?? err) }); });
