// The answer thread: runs the summary and purge queries the front waits for (blocking.ts) on its
// own Postgres connection, and writes each result into the shared slot. One request at a time;
// one whose front stopped waiting is skipped. A connection that failed or timed out is dropped
// and the next request opens a fresh one.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { purgeEverywhere } from '../store/bus.js';
import { querySummary, renderSummary } from '../store/summary.js';
import {
  type AnswerRequest,
  type AnswerThreadData,
  BODY_AT,
  BODY_MAX_BYTES,
  SLOT_DONE,
  SLOT_LENGTH,
  SLOT_STATUS,
  STATUS_FAILED,
  STATUS_OK,
} from './blocking.js';

const data = workerData as AnswerThreadData;
const control = new Int32Array(data.sab, 0, BODY_AT / 4);
const body = new Uint8Array(data.sab, BODY_AT, BODY_MAX_BYTES);
const encoder = new TextEncoder();

let client: pg.Client | null = null;
let opening: Promise<pg.Client> | null = null;

function connection(): Promise<pg.Client> {
  if (client !== null) return Promise.resolve(client);
  opening ??= open().finally(() => (opening = null));
  return opening;
}

async function open(): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: data.database_url,
    application_name: 'rinha-answers',
    connectionTimeoutMillis: data.connect_timeout_ms,
    query_timeout: data.query_timeout_ms,
  });
  c.on('error', () => drop(c));
  await c.connect();
  client = c;
  return c;
}

// After an error the connection's state is unknown (a query may still run on it): not reused.
function drop(c: pg.Client | null): void {
  if (c === null) return;
  if (client === c) client = null;
  c.removeAllListeners('error');
  c.on('error', () => {});
  c.end().catch(() => {});
}

async function purge(c: pg.Client): Promise<string> {
  const fence_ms = await purgeEverywhere(c);
  // Answer once the clock has passed the fence: a payment accepted after the answer is after it.
  while (Date.now() <= fence_ms) await new Promise((r) => setTimeout(r, 1));
  return '{"message":"purged"}';
}

async function run(r: AnswerRequest): Promise<void> {
  let status = STATUS_OK;
  let text: string;
  try {
    const c = await connection();
    try {
      text = r.kind === 'summary' ? renderSummary(await querySummary(c, r.from_ms, r.to_ms)) : await purge(c);
    } catch (err) {
      drop(c);
      throw err;
    }
  } catch (err) {
    status = STATUS_FAILED;
    text = err instanceof Error ? err.message : String(err);
  }
  publish(r.seq, status, text);
}

function publish(seq: number, status: number, text: string): void {
  const { written } = encoder.encodeInto(text, body); // a failure message may be cut at the slot's end
  Atomics.store(control, SLOT_STATUS, status);
  Atomics.store(control, SLOT_LENGTH, written);
  Atomics.store(control, SLOT_DONE, seq);
  Atomics.notify(control, SLOT_DONE);
}

// The front posts one request and waits for it; only the newest can still have a waiter.
let latest: AnswerRequest | null = null;
let busy = false;

async function serve(): Promise<void> {
  busy = true;
  while (latest !== null) {
    const r: AnswerRequest = latest;
    latest = null;
    if (Date.now() > r.deadline_ms) continue; // answered 503 already: a purge must not run late
    await run(r);
  }
  busy = false;
}

parentPort?.on('message', (r: AnswerRequest) => {
  latest = r;
  if (!busy) void serve();
});

// Open the connection and plan the summary before the first request waits for them.
connection()
  .then((c) => querySummary(c, 0, 0))
  .catch(() => drop(client));
