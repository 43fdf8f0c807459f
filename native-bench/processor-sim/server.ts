// Payment-processor simulator (SPEC.md §2) on node:http, plus fault modes for reliability tests.
// Order inside POST /payments: limiter -> body validation -> delay -> failure flag -> fault -> store.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Ledger, type StoredPayment } from './ledger.js';
import { ConcurrencyLimiter } from './limiter.js';
import { HealthWindow } from './health-window.js';
import { amountToCents, centsToJson, feeCents } from './money.js';

export type FaultMode = 'none' | 'hang' | 'reset' | 'garbage' | 'slow-body';
export const fault_modes: readonly FaultMode[] = ['none', 'hang', 'reset', 'garbage', 'slow-body'];

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

const uuid_re = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso_re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

const json_headers = { 'content-type': 'application/json' };
const ok_body = '{"message":"payment processed successfully"}';

/** ISO-8601 date-time to epoch ms; a value without offset is UTC (as the processor's DateTime). */
export function parseIsoMs(text: string): number | null {
  if (!iso_re.test(text)) return null;
  const has_zone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text.slice(10));
  const ms = Date.parse(has_zone ? text : text + 'Z');
  return Number.isFinite(ms) ? ms : null;
}

class Simulator {
  readonly ledger = new Ledger();
  readonly limiter: ConcurrencyLimiter;
  readonly health: HealthWindow;
  readonly sockets = new Set<Socket>();
  readonly timers = new Set<NodeJS.Timeout>();
  token: string;
  delay_ms = 0;
  failure = false;
  fault: FaultMode = 'none';
  closed = false;
  held_requests = 0;

  constructor(readonly fee: number, token: string, readonly name: string, opts: SimulatorOptions) {
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

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';

    if (path === '/payments' && method === 'POST') return this.post_payment(req, res);
    if (path === '/payments/service-health' && method === 'GET') return this.service_health(req, res);
    if (path.startsWith('/payments/') && method === 'GET') return this.get_payment(path.slice(10), req, res);
    if (path.startsWith('/admin/')) {
      if (req.headers['x-rinha-token'] !== this.token) return drain_then(req, () => send(res, 401, ''));
      const query = q < 0 ? '' : url.slice(q + 1);
      return this.admin(method, path, query, req, res);
    }
    drain_then(req, () => send(res, 404, ''));
  }

  private post_payment(req: http.IncomingMessage, res: http.ServerResponse): void {
    // The body is read on arrival, before the limiter: a client that vanishes while its request
    // waits in the queue then changes nothing (no slot can leak on a half-sent body).
    read_body(req, (error, body) => {
      if (error === 'aborted') return; // client gone before sending its body: nothing to do
      const admitted = this.limiter.acquire(() => {
        if (error) {
          this.limiter.release();
          return send(res, 413, '{"error":"body too large"}', true);
        }
        const payment = parse_payment(body);
        if (payment === null) {
          this.limiter.release();
          return send(res, 400, '{"error":"invalid payment"}');
        }
        if (this.delay_ms > 0) this.later(() => this.finish_payment(payment, res), this.delay_ms);
        else this.finish_payment(payment, res);
      });
      if (!admitted) {
        res.writeHead(429, { 'retry-after': retry_after_s, 'content-type': 'text/plain', ...(error ? { connection: 'close' } : {}) });
        res.end('Too many requests');
      }
    });
  }

  /** After the delay: failure flag, fault mode, then the store. The client may be gone by now. */
  private finish_payment(payment: StoredPayment, res: http.ServerResponse): void {
    this.limiter.release();
    if (this.failure) return send(res, 500, '');
    const fault = this.fault;
    if (fault === 'hang') return this.hold(res);
    if (!this.ledger.insert(payment)) {
      return send(res, 422, '{"message":"Payment could not be processed. CorrelationId already exists: ' + payment.correlation_id + '"}');
    }
    if (fault === 'none') return send(res, 200, ok_body);
    if (fault === 'reset') return reset_socket(res);
    if (fault === 'garbage') {
      res.writeHead(200, json_headers);
      res.end('<html>definitely not json');
      return;
    }
    this.dribble(res, ok_body);
  }

  /** hang: never answer; the socket stays open until the client gives up or close() runs. */
  private hold(res: http.ServerResponse): void {
    this.held_requests += 1;
    res.on('close', () => {
      this.held_requests -= 1;
    });
  }

  /** slow-body: 200 headers at once, the body in slow_body_chunks pieces over ~slow_body_total_ms. */
  private dribble(res: http.ServerResponse, body: string): void {
    const bytes = Buffer.from(body);
    res.writeHead(200, { ...json_headers, 'content-length': String(bytes.length) });
    const step = Math.ceil(bytes.length / slow_body_chunks);
    const interval_ms = Math.floor(slow_body_total_ms / slow_body_chunks);
    let offset = 0;
    const tick = (): void => {
      if (res.destroyed) return;
      const end = Math.min(bytes.length, offset + step);
      const chunk = bytes.subarray(offset, end);
      offset = end;
      if (offset >= bytes.length) res.end(chunk);
      else {
        res.write(chunk);
        this.later(tick, interval_ms);
      }
    };
    this.later(tick, interval_ms);
  }

  private service_health(req: http.IncomingMessage, res: http.ServerResponse): void {
    drain_then(req, () => {
      const decision = this.health.request(() => {
        send(res, 200, '{"failing":' + this.failure + ',"minResponseTime":' + this.delay_ms + '}');
      });
      if (decision === 'rejected') {
        res.writeHead(429, { 'retry-after': retry_after_s, 'content-type': 'text/plain' });
        res.end('Calm down. Try again later.');
      }
    });
  }

  private get_payment(raw_id: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume(); // a GET body is ignored; the lookup is synchronous, so the slot is never held
    const admitted = this.limiter.acquire(() => {
      this.limiter.release();
      const id = decodeURIComponent_safe(raw_id);
      if (id === null || !uuid_re.test(id)) return send(res, 400, '{"error":"invalid id"}');
      const p = this.ledger.get(id.toLowerCase());
      if (!p) return send(res, 404, '');
      send(res, 200, payment_json(p));
    });
    if (!admitted) {
      res.writeHead(429, { 'retry-after': retry_after_s, 'content-type': 'text/plain' });
      res.end('Too many requests');
    }
  }

  private admin(method: string, path: string, query: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (method === 'GET' && path === '/admin/payments-summary') return drain_then(req, () => this.summary(query, res));
    if (method === 'GET' && path === '/admin/stats') return drain_then(req, () => send(res, 200, JSON.stringify(this.stats())));
    if (method === 'POST' && path === '/admin/purge-payments') {
      return drain_then(req, () => {
        this.ledger.clear();
        send(res, 200, '{"message":"All payments purged."}');
      });
    }
    if (method === 'PUT' && path.startsWith('/admin/configurations/')) {
      return read_body(req, (error, body) => {
        if (error) return send(res, error === 'too_large' ? 413 : 400, '{"error":"' + error + '"}', true);
        const parsed = parse_json_object(body);
        if (parsed === null) return send(res, 400, '{"error":"invalid json"}');
        this.configure(path.slice('/admin/configurations/'.length), parsed, res);
      });
    }
    drain_then(req, () => send(res, 404, ''));
  }

  private configure(key: string, body: Record<string, unknown>, res: http.ServerResponse): void {
    if (key === 'token') {
      if (typeof body.token !== 'string' || body.token.length === 0) return send(res, 400, '{"error":"token must be a non-empty string"}');
      this.token = body.token;
      res.writeHead(204);
      res.end();
      return;
    }
    if (key === 'delay') {
      const delay = body.delay;
      if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > max_delay_ms) {
        return send(res, 400, '{"error":"delay must be an integer of ms in [0, ' + max_delay_ms + ']"}');
      }
      const was = this.delay_ms;
      this.delay_ms = delay;
      return send(res, 200, JSON.stringify({ config: 'delay', was, is: delay }));
    }
    if (key === 'failure') {
      if (typeof body.failure !== 'boolean') return send(res, 400, '{"error":"failure must be a boolean"}');
      const was = this.failure;
      this.failure = body.failure;
      return send(res, 200, JSON.stringify({ config: 'failure', was, is: body.failure }));
    }
    if (key === 'fault') {
      const fault = body.fault;
      if (typeof fault !== 'string' || !(fault_modes as readonly string[]).includes(fault)) {
        return send(res, 400, JSON.stringify({ error: 'fault must be one of ' + fault_modes.join(', ') }));
      }
      const was = this.fault;
      this.fault = fault as FaultMode;
      return send(res, 200, JSON.stringify({ config: 'fault', was, is: fault }));
    }
    send(res, 404, '');
  }

  private summary(query: string, res: http.ServerResponse): void {
    const params = new URLSearchParams(query);
    const from_text = params.get('from');
    const to_text = params.get('to');
    const from_ms = from_text ? parseIsoMs(from_text) : null;
    const to_ms = to_text ? parseIsoMs(to_text) : null;
    if ((from_text && from_ms === null) || (to_text && to_ms === null)) return send(res, 400, '{"error":"invalid from/to"}');
    const totals = this.ledger.totals(from_ms, to_ms);
    send(
      res,
      200,
      '{"totalAmount":' + centsToJson(totals.amount_cents) +
        ',"totalRequests":' + totals.count +
        ',"totalFee":' + centsToJson(feeCents(totals.amount_cents, this.fee)) +
        ',"feePerTransaction":' + this.fee + '}',
    );
  }

  stats(): Record<string, unknown> {
    return {
      name: this.name,
      stored: this.ledger.size,
      running: this.limiter.running_count,
      queued: this.limiter.queued_count,
      rejected429: this.limiter.rejected_total,
      held: this.held_requests,
      delay: this.delay_ms,
      failure: this.failure,
      fault: this.fault,
    };
  }

  shutdown(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.limiter.drop_waiting();
    this.health.close();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

function send(res: http.ServerResponse, status: number, body: string, close_after = false): void {
  if (res.destroyed || res.headersSent) return;
  const headers: http.OutgoingHttpHeaders = body.length > 0 ? { ...json_headers } : {};
  headers['content-length'] = Buffer.byteLength(body);
  if (close_after) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/** Connection reset: the peer sees ECONNRESET (RST), no HTTP answer at all. */
function reset_socket(res: http.ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

type BodyError = 'too_large' | 'aborted';

function read_body(req: http.IncomingMessage, done: (error: BodyError | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > max_body_bytes) {
      finished = true;
      done('too_large', '');
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(null, chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8'));
  });
  const aborted = (): void => {
    if (finished) return;
    finished = true;
    done('aborted', '');
  };
  req.on('error', aborted);
  req.on('close', aborted); // connection lost before 'end' (no error is emitted for that)
}

/** For requests whose body we ignore: consume it, then answer. */
function drain_then(req: http.IncomingMessage, then: () => void): void {
  if (req.complete) return then();
  req.resume();
  req.once('end', then);
}

function parse_json_object(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    return value as Record<string, unknown>;
  } catch {
    return null;
  }
}

function parse_payment(text: string): StoredPayment | null {
  const body = parse_json_object(text);
  if (body === null) return null;
  const { correlationId, amount, requestedAt } = body;
  if (typeof correlationId !== 'string' || !uuid_re.test(correlationId)) return null;
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return null;
  if (typeof requestedAt !== 'string') return null;
  const requested_at_ms = parseIsoMs(requestedAt);
  if (requested_at_ms === null) return null;
  return {
    correlation_id: correlationId.toLowerCase(),
    amount_cents: amountToCents(amount),
    requested_at_text: requestedAt,
    requested_at_ms,
  };
}

function payment_json(p: StoredPayment): string {
  return (
    '{"correlationId":"' + p.correlation_id +
    '","amount":' + centsToJson(p.amount_cents) +
    ',"requestedAt":' + JSON.stringify(p.requested_at_text) + '}'
  );
}

function decodeURIComponent_safe(text: string): string | null {
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

  const server = http.createServer({ keepAlive: true }, (req, res) => sim.handle(req, res));
  server.keepAliveTimeout = 60_000; // clients keep pools open between bursts
  server.headersTimeout = 65_000; // must exceed keepAliveTimeout
  server.requestTimeout = 120_000; // time to receive a request, not to answer it (hang mode holds answers)
  server.maxRequestsPerSocket = 0; // unlimited
  server.timeout = 0;
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sim.sockets.add(socket);
    socket.on('close', () => sim.sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound_port = (server.address() as AddressInfo).port;
  const url_host = host.includes(':') ? '[' + host + ']' : host === '0.0.0.0' ? '127.0.0.1' : host;

  let closing: Promise<void> | null = null;
  return {
    url: 'http://' + url_host + ':' + bound_port,
    port: bound_port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        sim.shutdown();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
