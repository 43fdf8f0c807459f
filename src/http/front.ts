// The front thread's HTTP server (uWebSockets.js). It owns the socket and nothing else: it
// validates, writes one record to the ring and answers. It never awaits on the payment path.
// Only summary and purge reach Postgres, through the callbacks it is given; their answers are
// pending answers (answer.ts). What the HTTP layer does at its edges: docs/HTTP.md.
import assert from 'node:assert/strict';
import uWS from 'uWebSockets.js';
import { chmodSync } from 'node:fs';
import type { Config } from '../config.js';
import { C_ACCEPTED, type Counters, renderMetrics } from '../counters.js';
import type { Ring } from '../queue/ring.js';
import { writeAcceptedRecord } from '../queue/record.js';
import { holdAnswer, JSON_MEDIA_TYPE, refuseAndClose, sendError, sendJson, STATUS_LINE } from './answer.js';
import { framingConflict } from './framing.js';
import { checkContentType, parseSummaryQuery, readCanonicalPayment, readPayment } from './validate.js';

export interface FrontDeps {
  config: Config;
  ring: Ring;
  counters: Counters;
  summary(from_ms: number | null, to_ms: number | null): Promise<string>;
  purge(): Promise<void>;
  readiness(): { ready: boolean; detail: Record<string, unknown> };
  log: { error(msg: string, fields?: Record<string, unknown>): void };
}

export interface Front {
  readonly address: string;
  stopAccepting(): void;
  close(): void;
}

type Handler = (res: uWS.HttpResponse, req: uWS.HttpRequest) => void;

// Whether POST /payments takes new payments; the shutdown turns it off before draining.
interface Intake {
  accepting: boolean;
}

const UUID_BYTES = 16;
const UNIX_SOCKET_MODE = 0o666; // the load balancer may run as another user
const METRICS_MEDIA_TYPE = 'text/plain; version=0.0.4';
const ACCEPTED_STATUS_LINE = STATUS_LINE[202]; // read once: the hot path writes a constant

const KNOWN_PATHS: Record<string, string> = {
  '/payments': 'POST',
  '/payments-summary': 'GET',
  '/purge-payments': 'POST',
  '/health': 'GET',
  '/metrics': 'GET',
};

// The native binary or nothing: the package's silent JS fallback would run many times slower.
export function assertNativeUws(): void {
  const app = (uWS as unknown as { App?: unknown }).App;
  const native = typeof app === 'function' && /\[native code\]/.test(Function.prototype.toString.call(app));
  if (!native || process.env.UWS_USE_FALLBACK) {
    throw new Error(
      'uWebSockets.js native binary did not load (the package fell back to its JS implementation). ' +
        'It needs Node 20 on linux-x64 with glibc >= 2.34; refusing to run degraded.',
    );
  }
}

export function startFront(deps: FrontDeps): Promise<Front> {
  assertNativeUws();
  const intake: Intake = { accepting: true };
  const app = uWS.App();
  app.post('/payments', paymentsRoute(deps, intake));
  app.get('/payments-summary', checkedFraming(deps.counters, summaryRoute(deps)));
  app.post('/purge-payments', checkedFraming(deps.counters, purgeRoute(deps)));
  app.get('/health', checkedFraming(deps.counters, healthRoute(deps)));
  app.get('/metrics', checkedFraming(deps.counters, metricsRoute(deps)));
  app.any('/*', checkedFraming(deps.counters, unknownRoute(deps.counters)));
  return listen(app, deps.config, intake);
}

// True when the request was refused for ambiguous framing (framing.ts); the refusal closes
// the connection after it.
function refusedFraming(res: uWS.HttpResponse, req: uWS.HttpRequest, counters: Counters): boolean {
  const conflict = framingConflict(req);
  if (conflict === null) return false;
  counters.reject('invalid');
  refuseAndClose(res, 400, conflict);
  return true;
}

function checkedFraming(counters: Counters, handler: Handler): Handler {
  return (res, req) => {
    if (!refusedFraming(res, req, counters)) handler(res, req);
  };
}

// POST /payments: headers checked in the handler, the body read in place when it arrives in
// one chunk (the common case), then one ring push and the 202.
function paymentsRoute(deps: FrontDeps, intake: Intake): Handler {
  const { ring, counters } = deps;
  const body_max_bytes = deps.config.body_max_bytes;
  const too_large = `body larger than ${body_max_bytes} bytes`;
  const id = new Uint8Array(UUID_BYTES); // the id being accepted: validated into it, copied into a slot
  let amount_cents = 0; // the amount being accepted (one payment at a time: a single thread)
  const fill = (view: DataView, bytes: Uint8Array, base: number): void => {
    writeAcceptedRecord(view, bytes, base, id, amount_cents, Date.now());
  };

  // `id` holds a valid id: queue the payment, then answer. The answer is the 202 at once; a
  // mode that answers after the payment is durable would hold it here (answer.ts holdAnswer).
  const enqueue = (res: uWS.HttpResponse, cents: number): void => {
    assert(cents >= 1, 'an accepted amount is at least one cent');
    amount_cents = cents;
    if (!ring.pushWith(fill)) {
      counters.reject('ring_full');
      sendError(res, 503, 'queue is full; retry later');
      return;
    }
    counters.add(C_ACCEPTED);
    res.cork(() => {
      res.writeStatus(ACCEPTED_STATUS_LINE).end();
    });
  };
  // The general path: any body, any JSON spelling, every error named.
  const enqueueText = (res: uWS.HttpResponse, body: string): void => {
    const parsed = readPayment(body, id);
    if (!parsed.ok) {
      counters.reject(parsed.status === 413 ? 'too_large' : 'invalid');
      sendError(res, parsed.status, parsed.error);
      return;
    }
    enqueue(res, parsed.amount_cents);
  };
  const readBody = (res: uWS.HttpResponse): void => {
    let aborted = false;
    let chunks: Buffer[] | null = null;
    let size_bytes = 0;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, is_last) => {
      if (aborted) return;
      size_bytes += chunk.byteLength;
      if (size_bytes > body_max_bytes) {
        aborted = true; // answer once, ignore the rest of the body
        counters.reject('too_large');
        sendError(res, 413, too_large);
        return;
      }
      if (is_last && chunks === null) {
        // The whole body in one chunk, read in place (the chunk dies with this callback). A
        // body spelled as load generators spell it is read from its bytes.
        const cents = readCanonicalPayment(new Uint8Array(chunk), id);
        if (cents > 0) enqueue(res, cents);
        else enqueueText(res, Buffer.from(chunk).toString('utf8'));
        return;
      }
      (chunks ??= []).push(Buffer.from(chunk.slice(0)));
      if (is_last) enqueueText(res, Buffer.concat(chunks).toString('utf8'));
    });
  };

  return (res, req) => {
    if (refusedFraming(res, req, counters)) return;
    if (!intake.accepting) {
      counters.reject('shutting_down');
      sendError(res, 503, 'shutting down');
      return;
    }
    const media = checkContentType(req.getHeader('content-type'));
    if (media !== null) {
      counters.reject('unsupported_media_type');
      sendError(res, media.status, media.error);
      return;
    }
    const declared = req.getHeader('content-length');
    if (declared !== '' && Number(declared) > body_max_bytes) {
      counters.reject('too_large');
      sendError(res, 413, too_large);
      return;
    }
    readBody(res);
  };
}

function summaryRoute(deps: FrontDeps): Handler {
  return (res, req) => {
    const range = parseSummaryQuery(req.getQuery() ?? '');
    if (!range.ok) {
      sendError(res, range.status, range.error);
      return;
    }
    const answer = holdAnswer(res);
    deps.summary(range.from_ms, range.to_ms).then(
      (body) => answer.json(200, body),
      (err: unknown) => {
        deps.log.error('summary failed', { err: String(err) });
        answer.error(503, 'summary unavailable: database not reachable');
      },
    );
  };
}

// The purge starts once its request is read whole (a body, if any, is ignored): a pending
// answer stops reading the connection, which would leave a body half read.
function purgeRoute(deps: FrontDeps): Handler {
  return (res) => {
    if (!deps.config.purge_enabled) {
      sendError(res, 403, 'purge is disabled; set PURGE_ENABLED=true to enable it');
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, is_last) => {
      if (!is_last || aborted) return;
      const answer = holdAnswer(res);
      deps.purge().then(
        () => answer.json(200, '{"message":"purged"}'),
        (err: unknown) => {
          deps.log.error('purge failed', { err: String(err) });
          answer.error(503, 'purge failed: database not reachable');
        },
      );
    });
  };
}

function healthRoute(deps: FrontDeps): Handler {
  return (res) => {
    const { ready, detail } = deps.readiness();
    sendJson(res, ready ? 200 : 503, JSON.stringify({ status: ready ? 'ok' : 'not ready', ...detail }));
  };
}

function metricsRoute(deps: FrontDeps): Handler {
  const { counters, ring } = deps;
  return (res) => {
    const body = renderMetrics(counters, { ring_depth: ring.size(), ring_slots: ring.slots, ring_wakeups: ring.wakeups() });
    res.cork(() => {
      res.writeStatus(STATUS_LINE[200]).writeHeader('Content-Type', METRICS_MEDIA_TYPE).end(body);
    });
  };
}

// A known path with another method gets 405 and its Allow header; anything else 404.
function unknownRoute(counters: Counters): Handler {
  return (res, req) => {
    const expected = KNOWN_PATHS[req.getUrl()];
    counters.reject('not_found');
    if (expected === undefined) {
      sendError(res, 404, 'not found');
      return;
    }
    res.cork(() => {
      res.writeStatus(STATUS_LINE[405]).writeHeader('Allow', expected).writeHeader('Content-Type', JSON_MEDIA_TYPE)
        .end(JSON.stringify({ error: `method not allowed; use ${expected}` }));
    });
  };
}

function listen(app: uWS.TemplatedApp, config: Config, intake: Intake): Promise<Front> {
  return new Promise((resolve, reject) => {
    let listen_socket: uWS.us_listen_socket | false = false;
    const stopListening = (): void => {
      intake.accepting = false;
      if (listen_socket) uWS.us_listen_socket_close(listen_socket);
      listen_socket = false;
    };
    const onListen = (address: string) => (socket: uWS.us_listen_socket | false): void => {
      if (!socket) {
        reject(new Error(`could not listen on ${address}`));
        return;
      }
      listen_socket = socket;
      resolve({
        address,
        stopAccepting: stopListening,
        close() {
          stopListening();
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    };
    if (config.listen_socket !== '') {
      app.listen_unix((socket) => {
        if (socket) chmodSync(config.listen_socket, UNIX_SOCKET_MODE);
        onListen(`unix:${config.listen_socket}`)(socket);
      }, config.listen_socket);
    } else {
      app.listen(config.port, onListen(`http://0.0.0.0:${config.port}`));
    }
  });
}
