// A do-nothing service instance for load-balancer measurements: uWebSockets.js, POST /payments reads
// the body and answers 202, GET /health and /payments-summary answer 200. Listens on PORT or on the
// unix socket LISTEN_SOCKET (chmod 0666), like the real instance. Prints {"event":"listening",...}.
import uWS from 'uWebSockets.js';
import { chmodSync, rmSync } from 'node:fs';

const ZERO_SUMMARY = '{"default":{"totalRequests":0,"totalAmount":0},"fallback":{"totalRequests":0,"totalAmount":0}}';

const app = uWS.App();
app.post('/payments', (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, is_last) => {
    if (is_last && !aborted)
      res.cork(() => {
        res.writeStatus('202 Accepted').end();
      });
  });
});
app.get('/health', (res) => {
  res.cork(() => {
    res.end('ok');
  });
});
const backend_name = process.env.BACKEND_NAME ?? 'echo';
app.get('/payments-summary', (res) => {
  res.cork(() => {
    res.writeHeader('Content-Type', 'application/json').writeHeader('X-Backend', backend_name).end(ZERO_SUMMARY);
  });
});
app.any('/*', (res) => {
  res.cork(() => {
    res.writeStatus('404 Not Found').end();
  });
});

const socket_path = process.env.LISTEN_SOCKET;
if (socket_path) {
  rmSync(socket_path, { force: true });
  app.listen_unix((token) => {
    if (!token) {
      process.stderr.write(`echo-backend: cannot listen on ${socket_path}\n`);
      process.exit(1);
    }
    chmodSync(socket_path, 0o666);
    process.stdout.write(JSON.stringify({ event: 'listening', socket: socket_path }) + '\n');
  }, socket_path);
} else {
  const port = Number(process.env.PORT ?? 0);
  app.listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`echo-backend: cannot listen on ${port}\n`);
      process.exit(1);
    }
    const bound = uWS.us_socket_local_port(token);
    process.stdout.write(JSON.stringify({ event: 'listening', port: bound, url: `http://127.0.0.1:${bound}` }) + '\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
