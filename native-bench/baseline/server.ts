// The do-nothing Rinha backend: the floor any real service's latency is compared with.
// One uWebSockets.js process; POST /payments reads the body and answers 202, nothing else.
// With `pay` (--pay <processor url>) it is the minimal paying backend instead: the service's own
// shape with none of its bookkeeping. The front reads the body with the service's fast path and
// puts the payment in the service's ring; a worker thread (the service's default nice, tick and
// connections) sends each one once to that processor with the service's client. No database, no
// claims, no router, no retry. It measures what paying at all costs on a machine the processors
// share: their work and the sends.
// CLI: node dist/native-bench/baseline/server.js --port <p> [--pay <url>]
//      (prints {"event":"listening","port":n,"url":...})
import uWS from 'uWebSockets.js';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../src/config.js';
import { readCanonicalPayment } from '../../src/http/validate.js';
import { writeAcceptedRecord } from '../../src/queue/record.js';
import { Ring } from '../../src/queue/ring.js';
import type { PayWorkerData } from './pay-worker.js';

const ZERO_SUMMARY = '{"default":{"totalRequests":0,"totalAmount":0},"fallback":{"totalRequests":0,"totalAmount":0}}';
const MAX_BODY_BYTES = 64 * 1024;

export interface BaselineServer {
  port: number;
  url: string;
  close(): void;
}

const SERVICE = parseConfig({}); // the service's defaults: the paying side keeps its shape

export function startBaseline(opts: { port: number; host?: string; pay?: string }): Promise<BaselineServer> {
  const host = opts.host ?? '127.0.0.1';
  const app = uWS.App();
  const paying = opts.pay ? startPaying(opts.pay) : null;
  const id = new Uint8Array(16);
  let cents = 0;
  const fill = (view: DataView, bytes: Uint8Array, base: number): void => writeAcceptedRecord(view, bytes, base, id, cents, Date.now());
  // Queues a payment spelled as load generators spell it; anything else is not paid.
  const pay = (ring: Ring, body: Uint8Array): void => {
    cents = readCanonicalPayment(body, id);
    if (cents > 0) ring.pushWith(fill);
  };
  app.post('/payments', (res) => {
    let aborted = false;
    let bytes = 0;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((chunk, isLast) => {
      bytes += chunk.byteLength; // read (and drop) the body like a real service would
      if (paying !== null && isLast && !aborted && bytes === chunk.byteLength) pay(paying.ring, new Uint8Array(chunk)); // one-chunk bodies: what load generators send
      if (!isLast || aborted) return;
      res.cork(() => {
        if (bytes > MAX_BODY_BYTES) res.writeStatus('413 Payload Too Large').end();
        else res.writeStatus('202 Accepted').end();
      });
    });
  });
  app.get('/payments-summary', (res) => {
    res.cork(() => {
      res.writeHeader('Content-Type', 'application/json').end(ZERO_SUMMARY);
    });
  });
  app.get('/health', (res) => {
    res.cork(() => {
      res.writeStatus('200 OK').end('ok');
    });
  });
  app.post('/purge-payments', (res) => {
    res.onAborted(() => {});
    res.cork(() => {
      res.writeStatus('200 OK').end();
    });
  });
  app.any('/*', (res) => {
    res.cork(() => {
      res.writeStatus('404 Not Found').end();
    });
  });

  return new Promise((resolve, reject) => {
    app.listen(host, opts.port, (token) => {
      if (!token) {
        reject(new Error(`baseline: cannot listen on ${host}:${opts.port}`));
        return;
      }
      const port = uWS.us_socket_local_port(token);
      resolve({
        port,
        url: `http://${host}:${port}`,
        close: () => {
          uWS.us_listen_socket_close(token);
          void paying?.worker.terminate();
        },
      });
    });
  });
}

// The paying side: the ring the front fills and the worker thread that empties it.
function startPaying(origin: string): { ring: Ring; worker: Worker } {
  const ring = Ring.create(SERVICE.ring_slots);
  const workerData: PayWorkerData = {
    ring: ring.sab,
    origin,
    tick_ms: SERVICE.worker_poll_ms,
    nice: SERVICE.worker_nice,
    connections: SERVICE.pool_connections,
  };
  return { ring, worker: new Worker(new URL('./pay-worker.js', import.meta.url), { workerData }) };
}

function parsePay(argv: string[]): string | undefined {
  const i = argv.indexOf('--pay');
  if (i < 0) return undefined;
  const url = argv[i + 1] ?? '';
  if (!/^https?:\/\/[^/]+\/?$/.test(url)) throw new Error(`bad --pay ${url}: an origin like http://127.0.0.1:8001`);
  return url.replace(/\/$/, '');
}

function parsePort(argv: string[]): number {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : Number(process.env.PORT ?? 9999);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${argv[i + 1]}`);
  return port;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const argv = process.argv.slice(2);
  const server = await startBaseline({ port: parsePort(argv), host: process.env.BASELINE_HOST, pay: parsePay(argv) });
  process.stdout.write(JSON.stringify({ event: 'listening', port: server.port, url: server.url }) + '\n');
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
