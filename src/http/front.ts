// The front thread's HTTP server (uWebSockets.js). It owns the socket and nothing else: it
// validates, writes one record to the ring and answers. It never awaits on the payment path.
// Only summary and purge reach Postgres, through the callbacks it is given.
import uWS from 'uWebSockets.js';
import { chmodSync } from 'node:fs';
import type { Config } from '../config.js';
import { C_ACCEPTED, type Counters, renderMetrics } from '../counters.js';
import type { Ring } from '../queue/ring.js';
import { writeAcceptedRecord } from '../queue/record.js';
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

const JSON_HEADER = 'application/json';

function sendJson(res: uWS.HttpResponse, status: string, body: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', JSON_HEADER).end(body);
  });
}

function sendError(res: uWS.HttpResponse, status: number, error: string): void {
  sendJson(res, STATUS_TEXT[status] ?? `${status}`, JSON.stringify({ error }));
}

const STATUS_TEXT: Record<number, string> = {
  400: '400 Bad Request',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const KNOWN_PATHS: Record<string, string> = {
  '/payments': 'POST',
  '/payments-summary': 'GET',
  '/purge-payments': 'POST',
  '/health': 'GET',
  '/metrics': 'GET',
};

export function startFront(deps: FrontDeps): Promise<Front> {
  assertNativeUws();
  const { config, ring, counters, log } = deps;
  const body_max = config.body_max_bytes;
  let accepting = true;

  const id = new Uint8Array(16); // the id being accepted: validated into it, copied into a slot
  let amount_cents = 0; // the amount being accepted (one payment at a time: a single thread)
  const fill = (view: DataView, bytes: Uint8Array, base: number): void => {
    writeAcceptedRecord(view, bytes, base, id, amount_cents, Date.now());
  };
  // The general path: any body, any JSON spelling, every error named.
  const acceptPayment = (res: uWS.HttpResponse, body: string): void => {
    const parsed = readPayment(body, id);
    if (!parsed.ok) {
      counters.reject(parsed.status === 413 ? 'too_large' : 'invalid');
      sendError(res, parsed.status, parsed.error);
      return;
    }
    acceptValid(res, parsed.amount_cents);
  };
  // id holds a valid id: queue the payment and answer.
  const acceptValid = (res: uWS.HttpResponse, cents: number): void => {
    amount_cents = cents;
    const pushed = ring.pushWith(fill);
    if (!pushed) {
      counters.reject('ring_full');
      sendError(res, 503, 'queue is full; retry later');
      return;
    }
    counters.add(C_ACCEPTED);
    res.cork(() => {
      res.writeStatus('202 Accepted').end();
    });
  };

  const app = uWS.App();

  app.post('/payments', (res, req) => {
    if (!accepting) {
      counters.reject('shutting_down');
      sendError(res, 503, 'shutting down');
      return;
    }
    const media = checkContentType(req.getHeader('content-type'));
    const declared = req.getHeader('content-length');
    if (media !== null) {
      counters.reject('unsupported_media_type');
      sendError(res, media.status, media.error);
      return;
    }
    if (declared !== '' && Number(declared) > body_max) {
      counters.reject('too_large');
      sendError(res, 413, `body larger than ${body_max} bytes`);
      return;
    }
    let aborted = false;
    let chunks: Buffer[] | null = null;
    let size = 0;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, isLast) => {
      if (aborted) return;
      size += chunk.byteLength;
      if (size > body_max) {
        aborted = true; // answer once, ignore the rest of the body
        counters.reject('too_large');
        sendError(res, 413, `body larger than ${body_max} bytes`);
        return;
      }
      if (isLast && chunks === null) {
        // The common case: the whole body in one chunk, read in place (the chunk dies with this
        // callback). A body spelled as load generators spell it is read from its bytes.
        const cents = readCanonicalPayment(new Uint8Array(chunk), id);
        if (cents > 0) acceptValid(res, cents);
        else acceptPayment(res, Buffer.from(chunk).toString('utf8'));
        return;
      }
      (chunks ??= []).push(Buffer.from(chunk.slice(0)));
      if (isLast) acceptPayment(res, Buffer.concat(chunks).toString('utf8'));
    });
  });

  app.get('/payments-summary', (res, req) => {
    const range = parseSummaryQuery(req.getQuery() ?? '');
    if (!range.ok) {
      sendError(res, range.status, range.error);
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    deps.summary(range.from_ms, range.to_ms).then(
      (body) => {
        if (!aborted) sendJson(res, '200 OK', body);
      },
      (err: unknown) => {
        log.error('summary failed', { err: String(err) });
        if (!aborted) sendError(res, 503, 'summary unavailable: database not reachable');
      },
    );
  });

  app.post('/purge-payments', (res) => {
    if (!config.purge_enabled) {
      sendError(res, 403, 'purge is disabled; set PURGE_ENABLED=true to enable it');
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData(() => {}); // the body, if any, is ignored
    deps.purge().then(
      () => {
        if (!aborted) sendJson(res, '200 OK', '{"message":"purged"}');
      },
      (err: unknown) => {
        log.error('purge failed', { err: String(err) });
        if (!aborted) sendError(res, 503, 'purge failed: database not reachable');
      },
    );
  });

  app.get('/health', (res) => {
    const { ready, detail } = deps.readiness();
    sendJson(res, ready ? '200 OK' : '503 Service Unavailable', JSON.stringify({ status: ready ? 'ok' : 'not ready', ...detail }));
  });

  app.get('/metrics', (res) => {
    const body = renderMetrics(counters, { ring_depth: ring.size(), ring_slots: ring.slots, ring_wakeups: ring.wakeups() });
    res.cork(() => {
      res.writeStatus('200 OK').writeHeader('Content-Type', 'text/plain; version=0.0.4').end(body);
    });
  });

  app.any('/*', (res, req) => {
    const expected = KNOWN_PATHS[req.getUrl()];
    counters.reject('not_found');
    if (expected !== undefined) {
      res.cork(() => {
        res.writeStatus(STATUS_TEXT[405]).writeHeader('Allow', expected).writeHeader('Content-Type', JSON_HEADER)
          .end(JSON.stringify({ error: `method not allowed; use ${expected}` }));
      });
      return;
    }
    sendError(res, 404, 'not found');
  });

  return new Promise((resolve, reject) => {
    let listenSocket: uWS.us_listen_socket | false = false;
    const onListen = (address: string) => (socket: uWS.us_listen_socket | false): void => {
      if (!socket) {
        reject(new Error(`could not listen on ${address}`));
        return;
      }
      listenSocket = socket;
      resolve({
        address,
        stopAccepting() {
          accepting = false;
          if (listenSocket) uWS.us_listen_socket_close(listenSocket);
          listenSocket = false;
        },
        close() {
          accepting = false;
          if (listenSocket) uWS.us_listen_socket_close(listenSocket);
          listenSocket = false;
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    };
    if (config.listen_socket !== '') {
      app.listen_unix((socket) => {
        if (socket) chmodSync(config.listen_socket, 0o666); // the load balancer may run as another user
        onListen(`unix:${config.listen_socket}`)(socket);
      }, config.listen_socket);
    } else {
      app.listen(config.port, onListen(`http://0.0.0.0:${config.port}`));
    }
  });
}
