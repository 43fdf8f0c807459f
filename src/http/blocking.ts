// Summary and purge answered without leaving the request handler: the front posts the query to
// the answer thread (answer-thread.ts, its own Postgres connection) and waits for the result with
// Atomics.wait, at most a bound. uWebSockets.js v20.30 closes a connection when it parses a
// request while an earlier answer on it is pending; an answer sent inside the handler is never
// pending, so every request pipelined behind it is answered, in order (docs/HTTP.md). The price:
// the front thread, which takes the payments, stops for that round trip.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { C_BLOCKED_TIMEOUTS, type Counters, G_BLOCKED_MAX_US, H_BLOCKED_PURGE, H_BLOCKED_SUMMARY } from '../counters.js';

// The result slot both threads share: [done seq, status, body length] then the body's bytes.
// The thread writes the body, then stores the seq (Atomics: the body is visible once it is).
export const SLOT_DONE = 0;
export const SLOT_STATUS = 1;
export const SLOT_LENGTH = 2;
const CONTROL_WORDS = 4;
export const BODY_AT = CONTROL_WORDS * 4;
export const BODY_MAX_BYTES = 4096; // a summary is ~100 bytes, an error message a line
export const STATUS_OK = 0;
export const STATUS_FAILED = 1;

export type AnswerKind = 'summary' | 'purge';

// What the front posts; the thread skips a request whose front stopped waiting (deadline passed).
export interface AnswerRequest {
  seq: number;
  kind: AnswerKind;
  from_ms: number | null;
  to_ms: number | null;
  deadline_ms: number; // epoch ms
}

export interface AnswerThreadData {
  sab: SharedArrayBuffer;
  database_url: string;
  connect_timeout_ms: number;
  query_timeout_ms: number;
}

export type BlockingOutcome = { ok: true; body: string } | { ok: false; timed_out: boolean; error: string };

// What the front needs to answer summary and purge inside the handler.
export interface BlockingAnswers {
  summary(from_ms: number | null, to_ms: number | null): BlockingOutcome;
  purge(): BlockingOutcome;
}

interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const THREAD_YOUNG_GEN_MB = 2;
const THREAD_OLD_GEN_MB = 24;

export class AnswerThread implements BlockingAnswers {
  private seq = 0;
  private alive = true;
  private readonly control: Int32Array;
  private readonly body: Uint8Array;
  private readonly decoder = new TextDecoder();

  static start(config: Config, counters: Counters, log: Log): AnswerThread {
    const sab = new SharedArrayBuffer(BODY_AT + BODY_MAX_BYTES);
    const data: AnswerThreadData = {
      sab,
      database_url: config.database_url,
      connect_timeout_ms: config.connect_timeout_ms,
      query_timeout_ms: Math.max(config.summary_wait_max_ms, config.purge_wait_max_ms),
    };
    const worker = new Worker(new URL('./answer-thread.js', import.meta.url), {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GEN_MB, maxOldGenerationSizeMb: THREAD_OLD_GEN_MB },
    });
    return new AnswerThread(worker, sab, config, counters, log);
  }

  private constructor(
    private readonly worker: Worker,
    sab: SharedArrayBuffer,
    private readonly config: Config,
    private readonly counters: Counters,
    private readonly log: Log,
  ) {
    this.control = new Int32Array(sab, 0, CONTROL_WORDS);
    this.body = new Uint8Array(sab, BODY_AT, BODY_MAX_BYTES);
    worker.unref(); // it never keeps the process alive; the instance's shutdown ends it
    worker.on('error', (err) => log.error('answer thread error', { err: String(err) }));
    worker.on('exit', (code) => {
      if (this.alive) log.error('answer thread exited; summary and purge now answer 503', { code });
      this.alive = false;
    });
  }

  summary(from_ms: number | null, to_ms: number | null): BlockingOutcome {
    return this.ask('summary', from_ms, to_ms, this.config.summary_wait_max_ms);
  }

  purge(): BlockingOutcome {
    return this.ask('purge', null, null, this.config.purge_wait_max_ms);
  }

  async close(): Promise<void> {
    this.alive = false;
    await this.worker.terminate();
  }

  private ask(kind: AnswerKind, from_ms: number | null, to_ms: number | null, wait_max_ms: number): BlockingOutcome {
    if (!this.alive) return { ok: false, timed_out: false, error: 'answer thread stopped' };
    this.seq = (this.seq + 1) | 0 || 1; // never 0: the slot starts at 0
    const seq = this.seq;
    const started = performance.now();
    const request: AnswerRequest = { seq, kind, from_ms, to_ms, deadline_ms: Date.now() + wait_max_ms };
    this.worker.postMessage(request);
    const done = this.waitFor(seq, started + wait_max_ms);
    const blocked_ms = performance.now() - started;
    this.record(kind, blocked_ms, done);
    if (!done) return { ok: false, timed_out: true, error: `no answer within ${wait_max_ms} ms` };
    const length = Atomics.load(this.control, SLOT_LENGTH);
    assert(length >= 0 && length <= BODY_MAX_BYTES, 'the answer fits its slot');
    const text = this.decoder.decode(this.body.slice(0, length));
    return Atomics.load(this.control, SLOT_STATUS) === STATUS_OK ? { ok: true, body: text } : { ok: false, timed_out: false, error: text };
  }

  // Waits until the thread marks `seq` done or the deadline passes. A late answer to an earlier
  // request (one the front stopped waiting for) wakes it too; it goes back to waiting.
  private waitFor(seq: number, deadline: number): boolean {
    for (;;) {
      const done = Atomics.load(this.control, SLOT_DONE);
      if (done === seq) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.control, SLOT_DONE, done, left);
    }
  }

  private record(kind: AnswerKind, blocked_ms: number, done: boolean): void {
    this.counters.observe(kind === 'summary' ? H_BLOCKED_SUMMARY : H_BLOCKED_PURGE, blocked_ms);
    const us = Math.round(blocked_ms * 1000);
    if (us > this.counters.get(G_BLOCKED_MAX_US)) this.counters.set(G_BLOCKED_MAX_US, us);
    if (!done) this.counters.add(C_BLOCKED_TIMEOUTS);
    this.log.debug('blocking answer', { answer: kind, blocked_ms: Math.round(blocked_ms * 1000) / 1000, done });
  }
}
