// The do-nothing Rinha backend: the floor any real service's latency is compared with.
// One uWebSockets.js process; POST /payments reads the body and answers 202, nothing else.
// With `pay` (--pay <processor url>) it is the minimal paying backend instead: each accepted
// payment is also sent at once to that processor (undici, keep-alive, no database, no retry).
// It measures what paying at all costs a machine the processors share: their work and the
// sends, without any of a real service's bookkeeping.
// CLI: node dist/native-bench/baseline/server.js --port <p> [--pay <url>]
//      (prints {"event":"listening","port":n,"url":...})
import uWS from 'uWebSockets.js';
import { Pool } from 'undici';
import { pathToFileURL } from 'node:url';

const ZERO_SUMMARY = '{"default":{"totalRequests":0,"totalAmount":0},"fallback":{"totalRequests":0,"totalAmount":0}}';
const MAX_BODY_BYTES = 64 * 1024;

export interface BaselineServer { port: number; url: string; close(): void }

const PAY_CONNECTIONS = 64;

export function startBaseline(opts: { port: number; host?: string; pay?: string }): Promise<BaselineServer> {
  const host = opts.host ?? '127.0.0.1';
  const app = uWS.App();
  const pool = opts.pay ? new Pool(opts.pay, { connections: PAY_CONNECTIONS }) : null;
  const pay = (body: string): void => {
    if (pool === null || body.length < 2) return;
    const requestedAt = new Date().toISOString();
    pool.request({
      path: '/payments', method: 'POST', headers: { 'content-type': 'application/json' },
      body: `${body.slice(0, body.lastIndexOf('}'))},"requestedAt":"${requestedAt}"}`,
    }).then((r) => r.body.dump(), () => {});
  };
  app.post('/payments', (res) => {
    let aborted = false;
    let bytes = 0;
    let text = '';
    res.onAborted(() => { aborted = true; });
    res.onData((chunk, isLast) => {
      bytes += chunk.byteLength;  // read (and drop) the body like a real service would
      if (pool !== null && bytes <= MAX_BODY_BYTES) text += Buffer.from(chunk).toString('utf8');
      if (!isLast || aborted) return;
      res.cork(() => {
        if (bytes > MAX_BODY_BYTES) res.writeStatus('413 Payload Too Large').end();
        else res.writeStatus('202 Accepted').end();
      });
      if (bytes <= MAX_BODY_BYTES) pay(text);
    });
  });
  app.get('/payments-summary', (res) => {
    res.cork(() => { res.writeHeader('Content-Type', 'application/json').end(ZERO_SUMMARY); });
  });
  app.get('/health', (res) => { res.cork(() => { res.writeStatus('200 OK').end('ok'); }); });
  app.post('/purge-payments', (res) => {
    res.onAborted(() => {});
    res.cork(() => { res.writeStatus('200 OK').end(); });
  });
  app.any('/*', (res) => { res.cork(() => { res.writeStatus('404 Not Found').end(); }); });

  return new Promise((resolve, reject) => {
    app.listen(host, opts.port, (token) => {
      if (!token) { reject(new Error(`baseline: cannot listen on ${host}:${opts.port}`)); return; }
      const port = uWS.us_socket_local_port(token);
      resolve({ port, url: `http://${host}:${port}`, close: () => { uWS.us_listen_socket_close(token); void pool?.close(); } });
    });
  });
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
  const stop = () => { server.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
