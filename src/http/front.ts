// The front thread's HTTP server (uWebSockets.js). It owns the socket and nothing else: it
// validates, writes one record to the ring and answers. It never awaits on the payment path.
// Only summary and purge reach Postgres: answered inside the handler while the answer thread runs
// the query (blocking.ts), or, with SUMMARY_ANSWER=async, through the callbacks it is given as
// pending answers (answer.ts). What the HTTP layer does at its edges: docs/HTTP.md.
import uWS from 'uWebSockets.js';
import { chmodSync } from 'node:fs';
import type { Config } from '../config.js';
import { type Counters, renderMetrics } from '../counters.js';
import type { Ring } from '../queue/ring.js';
import type { BlockingAnswers, BlockingOutcome } from './blocking.js';
import { holdAnswer, JSON_MEDIA_TYPE, refuseAndClose, sendError, sendJson, STATUS_LINE } from './answer.js';
import { framingConflict } from './framing.js';
import type { PendingAcks } from './acks.js';
import { PaymentIntake } from './payments.js';
import { parseSummaryQuery } from './validate.js';

export interface FrontDeps {
  config: Config;
  ring: Ring;
  counters: Counters;
  // null: summary and purge are pending answers through the two callbacks below.
  blocking: BlockingAnswers | null;
  summary(from_ms: number | null, to_ms: number | null): Promise<string>;
  purge(): Promise<void>;
  readiness(): { ready: boolean; detail: Record<string, unknown> };
  log: { error(msg: string, fields?: Record<string, unknown>): void };
  acks?: PendingAcks; // DURABILITY=strict: a 202 waits for the claim's commit
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

const UNIX_SOCKET_MODE = 0o666; // the load balancer may run as another user
const METRICS_MEDIA_TYPE = 'text/plain; version=0.0.4';

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

function paymentsRoute(deps: FrontDeps, intake: Intake): Handler {
  const payments = new PaymentIntake(deps.ring, deps.counters, deps.config.body_max_bytes, deps.acks);
  return (res, req) => {
    if (refusedFraming(res, req, deps.counters)) return;
    payments.take(res, req, intake.accepting);
  };
}

function summaryRoute(deps: FrontDeps): Handler {
  return (res, req) => {
    const range = parseSummaryQuery(req.getQuery() ?? '');
    if (!range.ok) {
      sendError(res, range.status, range.error);
      return;
    }
    if (deps.blocking !== null) {
      sendOutcome(res, deps.blocking.summary(range.from_ms, range.to_ms), deps, 'summary');
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

// A blocking answer's result, sent inside the handler: 200 with its body, or 503.
function sendOutcome(res: uWS.HttpResponse, outcome: BlockingOutcome, deps: FrontDeps, what: 'summary' | 'purge'): void {
  if (outcome.ok) {
    sendJson(res, 200, outcome.body);
    return;
  }
  deps.log.error(`${what} failed`, { err: outcome.error, timed_out: outcome.timed_out });
  const why = outcome.timed_out ? 'no answer from the database in time' : 'database not reachable';
  sendError(res, 503, what === 'summary' ? `summary unavailable: ${why}` : `purge failed: ${why}`);
}

// The purge starts once its request is read whole (a body, if any, is ignored). Blocking, it is
// answered inside the body's last callback, before uWS parses what follows; async, a pending
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
      if (deps.blocking !== null) {
        sendOutcome(res, deps.blocking.purge(), deps, 'purge');
        return;
      }
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
      res
        .writeStatus(STATUS_LINE[405])
        .writeHeader('Allow', expected)
        .writeHeader('Content-Type', JSON_MEDIA_TYPE)
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
    const onListen =
      (address: string) =>
      (socket: uWS.us_listen_socket | false): void => {
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
