// Payment-processor simulator (the contest's processor API) on uWebSockets.js, plus fault modes for reliability tests.
// Order inside POST /payments: limiter -> body validation -> delay -> failure flag -> fault -> store.
//
// uWS, not node:http: the contest replica runs two of these on the same cores as the service it
// scores, and node:http spent ~125 µs of CPU per payment here against ~45 µs for uWS (a worker-like
// client at 600 payments/s, 128 keep-alive connections). That CPU is a harness artefact the
// do-nothing baseline never pays; the real processor (ASP.NET Kestrel) is closer to uWS's cost.

import uWS from 'uWebSockets.js';
import { Ledger, type StoredPayment } from './ledger.js';
import { ConcurrencyLimiter } from './limiter.js';
import { HealthWindow } from './health-window.js';
import { formatCents } from '../../src/money.js';
import { feeCents, roundToCents } from './money.js';

export type FaultMode = 'none' | 'hang' | 'reset' | 'garbage' | 'slow-body';
const fault_modes: readonly FaultMode[] = ['none', 'hang', 'reset', 'garbage', 'slow-body'];

export interface SimulatorOptions {
  port: number;
  host?: string;
  fee: number;
  token?: string;
  name?: string;
  /** Defaults follow the real processor; tests should leave them alone. */
  max_running?: number;
  max_queued?: number;
  health_window_ms?: number;
}

export interface SimulatorHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

const default_max_running = 800;
const default_max_queued = 500;
const default_health_window_ms = 5_000;
const health_max_held = 2;
const retry_after_s = '5';
const max_body_bytes = 16 * 1024;
const max_delay_ms = 10 * 60 * 1000;
const slow_body_total_ms = 3_000;
const slow_body_chunks = 10;
// uWS closes a keep-alive connection after 10 s idle (compiled in). Telling clients to drop it
// sooner (undici honours this, less its 1 s margin) means none sends on a socket being closed.
const keep_alive_hint = 'timeout=8';
const listen_exclusive_port = 1; // uWS.LIBUS_LISTEN_EXCLUSIVE_PORT, missing from its typings

const uuid_re = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso_re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

const ok_body = '{"message":"payment processed successfully"}';
const status_lines: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Entity',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
};

/** ISO-8601 date-time to epoch ms; a value without offset is UTC (as the processor's DateTime). */
function parseIsoMs(text: string): number | null {
  if (!iso_re.test(text)) return null;
  const has_zone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text.slice(10));
  const ms = Date.parse(has_zone ? text : text + 'Z');
  return Number.isFinite(ms) ? ms : null;
}

interface AnswerOptions {
  close?: boolean; // close the connection after the answer
  type?: string; // content-type of a non-empty body
  retry_after?: boolean; // the rate limits' Retry-After
}

/**
 * One request's answer. uWS invalidates a response once its client is gone, so every answer goes
 * through here: it is dropped after an abort, and corked, since most leave from a timer or a queue.
 */
class Exchange {
  aborted = false;
  answered = false;
  private on_abort: (() => void) | null = null;

  constructor(readonly res: uWS.HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
      this.on_abort?.();
    });
  }

  get open(): boolean {
    return !this.aborted && !this.answered;
  }

  onAbort(fn: () => void): void {
    this.on_abort = fn;
  }

  /** Takes the one answer this request gets; false when the client is gone or it was given. */
  claim(): boolean {
    if (!this.open) return false;
    this.answered = true;
    return true;
  }

  /** The status line and the headers every answer carries; inside cork(). */
  head(status: number): uWS.HttpResponse {
    return this.res.writeStatus(status_lines[status]).writeHeader('keep-alive', keep_alive_hint);
  }

  send(status: number, body: string, o: AnswerOptions = {}): void {
    if (!this.claim()) return;
    this.res.cork(() => {
      const res = this.head(status);
      if (o.retry_after) res.writeHeader('retry-after', retry_after_s);
      if (body.length > 0) res.writeHeader('content-type', o.type ?? 'application/json');
      if (status === 204) res.endWithoutBody(0, o.close);
      else res.end(body, o.close);
    });
  }

  /** 429 with Retry-After, as the processor's rate limits answer. */
  tooMany(text: string, close = false): void {
    this.send(429, text, { close, type: 'text/plain', retry_after: true });
  }

  /** Closes the connection with no answer at all. */
  drop(): void {
    if (this.claim()) this.res.close();
  }
}

type BodyError = 'too_large';

/** Reads the whole body (a client that vanishes first never calls back). */
function readBody(ex: Exchange, done: (error: BodyError | null, body: string) => void): void {
  let chunks: Buffer[] | null = [];
  let size = 0;
  ex.res.onData((chunk, is_last) => {
    if (chunks === null) return;
    size += chunk.byteLength;
    if (size > max_body_bytes) {
      chunks = null;
      done('too_large', '');
      return;
    }
    let body: string;
    if (is_last && chunks.length === 0) {
      body = Buffer.from(chunk).toString('utf8'); // the usual one-chunk body, decoded in place
    } else {
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this call
      if (!is_last) return;
      body = Buffer.concat(chunks).toString('utf8');
    }
    chunks = null;
    done(null, body);
  });
}

class Simulator {
  readonly ledger = new Ledger();
  readonly limiter: ConcurrencyLimiter;
  readonly health: HealthWindow;
  readonly timers = new Set<NodeJS.Timeout>();
  token: string;
  delay_ms = 0;
  failure = false;
  fault: FaultMode = 'none';
  closed = false;
  held_requests = 0;

  constructor(
    readonly fee: number,
    token: string,
    readonly name: string,
    opts: SimulatorOptions,
  ) {
    this.token = token;
    this.limiter = new ConcurrencyLimiter(opts.max_running ?? default_max_running, opts.max_queued ?? default_max_queued);
    this.health = new HealthWindow(opts.health_window_ms ?? default_health_window_ms, health_max_held);
  }

  /** setTimeout that close() can cancel. */
  later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  routes(app: uWS.TemplatedApp): void {
    app.post('/payments', (res) => this.postPayment(new Exchange(res)));
    app.get('/payments/service-health', (res) => this.serviceHealth(new Exchange(res)));
    app.get('/payments/:id', (res, req) => this.getPayment(req.getParameter(0), new Exchange(res)));
    app.any('/admin/*', (res, req) => {
      const ex = new Exchange(res);
      if (req.getHeader('x-rinha-token') !== this.token) return ex.send(401, '');
      this.admin(req.getMethod().toUpperCase(), req.getUrl(), req.getQuery() ?? '', ex);
    });
    app.any('/*', (res) => new Exchange(res).send(404, ''));
  }

  private postPayment(ex: Exchange): void {
    // The body is read on arrival, before the limiter: a client that vanishes while its request
    // waits in the queue then changes nothing (no slot can leak on a half-sent body).
    readBody(ex, (error, body) => {
      const admitted = this.limiter.acquire(() => {
        if (error) {
          this.limiter.release();
          return ex.send(413, '{"error":"body too large"}', { close: true });
        }
        const payment = parsePayment(body);
        if (payment === null) {
          this.limiter.release();
          return ex.send(400, '{"error":"invalid payment"}');
        }
        if (this.delay_ms > 0) this.later(() => this.finishPayment(payment, ex), this.delay_ms);
        else this.finishPayment(payment, ex);
      });
      if (!admitted) ex.tooMany('Too many requests', error !== null);
    });
  }

  /** After the delay: failure flag, fault mode, then the store. The client may be gone by now. */
  private finishPayment(payment: StoredPayment, ex: Exchange): void {
    this.limiter.release();
    if (this.failure) return ex.send(500, '');
    const fault = this.fault;
    if (fault === 'hang') return this.hold(ex);
    if (!this.ledger.insert(payment)) {
      return ex.send(422, '{"message":"Payment could not be processed. CorrelationId already exists: ' + payment.correlation_id + '"}');
    }
    if (fault === 'none') return ex.send(200, ok_body);
    if (fault === 'reset') return ex.drop();
    if (fault === 'garbage') return ex.send(200, '<html>definitely not json');
    this.dribble(ex, ok_body);
  }

  /** hang: never answer; the connection stays open until the client gives up or close() runs. */
  private hold(ex: Exchange): void {
    if (!ex.open) return;
    this.held_requests += 1;
    ex.onAbort(() => {
      this.held_requests -= 1;
    });
  }

  /** slow-body: 200 and the first piece at once, the rest in slow_body_chunks pieces over ~slow_body_total_ms. */
  private dribble(ex: Exchange, body: string): void {
    if (!ex.claim()) return;
    const bytes = Buffer.from(body);
    const step = Math.ceil(bytes.length / slow_body_chunks);
    const interval_ms = Math.floor(slow_body_total_ms / slow_body_chunks);
    let offset = 0;
    const piece = (): void => {
      if (ex.aborted) return;
      const first = offset === 0;
      const chunk = bytes.subarray(offset, offset + step);
      offset += chunk.length;
      ex.res.cork(() => {
        if (first) ex.head(200).writeHeader('content-type', 'application/json');
        ex.res.tryEnd(chunk, bytes.length); // Content-Length is the whole body's
      });
      if (offset < bytes.length) this.later(piece, interval_ms);
    };
    piece();
  }

  private serviceHealth(ex: Exchange): void {
    const decision = this.health.request(() => {
      ex.send(200, '{"failing":' + this.failure + ',"minResponseTime":' + this.delay_ms + '}');
    });
    if (decision === 'rejected') ex.tooMany('Calm down. Try again later.');
  }

  private getPayment(raw_id: string, ex: Exchange): void {
    // A GET body is ignored; the lookup is synchronous, so the slot is never held.
    const admitted = this.limiter.acquire(() => {
      this.limiter.release();
      const id = decodeUriComponentSafe(raw_id);
      if (id === null || !uuid_re.test(id)) return ex.send(400, '{"error":"invalid id"}');
      const p = this.ledger.get(id.toLowerCase());
      if (!p) return ex.send(404, '');
      ex.send(200, paymentJson(p));
    });
    if (!admitted) ex.tooMany('Too many requests');
  }

  private admin(method: string, path: string, query: string, ex: Exchange): void {
    if (method === 'GET' && path === '/admin/payments-summary') return this.summary(query, ex);
    if (method === 'GET' && path === '/admin/stats') return ex.send(200, JSON.stringify(this.stats()));
    if (method === 'POST' && path === '/admin/purge-payments') {
      this.ledger.clear();
      return ex.send(200, '{"message":"All payments purged."}');
    }
    if (method === 'PUT' && path.startsWith('/admin/configurations/')) {
      return readBody(ex, (error, body) => {
        if (error) return ex.send(413, '{"error":"' + error + '"}', { close: true });
        const parsed = parseJsonObject(body);
        if (parsed === null) return ex.send(400, '{"error":"invalid json"}');
        this.configure(path.slice('/admin/configurations/'.length), parsed, ex);
      });
    }
    ex.send(404, '');
  }

  private configure(key: string, body: Record<string, unknown>, ex: Exchange): void {
    if (key === 'token') {
      if (typeof body.token !== 'string' || body.token.length === 0) return ex.send(400, '{"error":"token must be a non-empty string"}');
      this.token = body.token;
      return ex.send(204, '');
    }
    if (key === 'delay') {
      const delay = body.delay;
      if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > max_delay_ms) {
        return ex.send(400, '{"error":"delay must be an integer of ms in [0, ' + max_delay_ms + ']"}');
      }
      const was = this.delay_ms;
      this.delay_ms = delay;
      return ex.send(200, JSON.stringify({ config: 'delay', was, is: delay }));
    }
    if (key === 'failure') {
      if (typeof body.failure !== 'boolean') return ex.send(400, '{"error":"failure must be a boolean"}');
      const was = this.failure;
      this.failure = body.failure;
      return ex.send(200, JSON.stringify({ config: 'failure', was, is: body.failure }));
    }
    if (key === 'fault') {
      const fault = body.fault;
      if (typeof fault !== 'string' || !(fault_modes as readonly string[]).includes(fault)) {
        return ex.send(400, JSON.stringify({ error: 'fault must be one of ' + fault_modes.join(', ') }));
      }
      const was = this.fault;
      this.fault = fault as FaultMode;
      return ex.send(200, JSON.stringify({ config: 'fault', was, is: fault }));
    }
    ex.send(404, '');
  }

  private summary(query: string, ex: Exchange): void {
    const params = new URLSearchParams(query);
    const from_text = params.get('from');
    const to_text = params.get('to');
    const from_ms = from_text ? parseIsoMs(from_text) : null;
    const to_ms = to_text ? parseIsoMs(to_text) : null;
    if ((from_text && from_ms === null) || (to_text && to_ms === null)) return ex.send(400, '{"error":"invalid from/to"}');
    const totals = this.ledger.totals(from_ms, to_ms);
    ex.send(
      200,
      '{"totalAmount":' +
        formatCents(totals.amount_cents) +
        ',"totalRequests":' +
        totals.count +
        ',"totalFee":' +
        formatCents(feeCents(totals.amount_cents, this.fee)) +
        ',"feePerTransaction":' +
        this.fee +
        '}',
    );
  }

  stats(): Record<string, unknown> {
    return {
      name: this.name,
      stored: this.ledger.size,
      running: this.limiter.runningCount,
      queued: this.limiter.queuedCount,
      rejected429: this.limiter.rejected_total,
      held: this.held_requests,
      health_held: this.health.heldCount,
      delay: this.delay_ms,
      failure: this.failure,
      fault: this.fault,
    };
  }

  shutdown(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.limiter.dropWaiting();
    this.health.close();
  }
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    return value as Record<string, unknown>;
  } catch {
    return null;
  }
}

function parsePayment(text: string): StoredPayment | null {
  const body = parseJsonObject(text);
  if (body === null) return null;
  const { correlationId, amount, requestedAt } = body;
  if (typeof correlationId !== 'string' || !uuid_re.test(correlationId)) return null;
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return null;
  if (typeof requestedAt !== 'string') return null;
  const requested_at_ms = parseIsoMs(requestedAt);
  if (requested_at_ms === null) return null;
  return {
    correlation_id: correlationId.toLowerCase(),
    amount_cents: roundToCents(amount),
    requested_at_text: requestedAt,
    requested_at_ms,
  };
}

function paymentJson(p: StoredPayment): string {
  return (
    '{"correlationId":"' +
    p.correlation_id +
    '","amount":' +
    formatCents(p.amount_cents) +
    ',"requestedAt":' +
    JSON.stringify(p.requested_at_text) +
    '}'
  );
}

function decodeUriComponentSafe(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

export async function startSimulator(options: SimulatorOptions): Promise<SimulatorHandle> {
  const { port, fee } = options;
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('port must be an integer in [0, 65535]');
  if (!Number.isFinite(fee) || fee < 0 || fee > 1) throw new RangeError('fee must be a rate in [0, 1]');
  const sim = new Simulator(fee, options.token ?? '123', options.name ?? 'default', options);

  const app = uWS.App();
  sim.routes(app);
  // Exclusive: uWS listens with SO_REUSEPORT otherwise, and a busy port must be an error here.
  const listen_socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    const listen = app.listen as unknown as (h: string, p: number, o: number, cb: (s: uWS.us_listen_socket | false) => void) => void;
    listen.call(app, host, port, listen_exclusive_port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error('could not listen on ' + host + ':' + port + ' (in use?)'));
    });
  });
  const bound_port = uWS.us_socket_local_port(listen_socket);
  const url_host = host.includes(':') ? '[' + host + ']' : host === '0.0.0.0' ? '127.0.0.1' : host;

  let closing: Promise<void> | null = null;
  return {
    url: 'http://' + url_host + ':' + bound_port,
    port: bound_port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        sim.shutdown();
        // Closes the listen socket and every connection (held answers end there), at once.
        (app as unknown as { close(): void }).close();
        setImmediate(resolve);
      });
      return closing;
    },
  };
}
