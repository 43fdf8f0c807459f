// What reading a request's headers costs inside a uWS request handler: one contest-shaped
// POST /payments (five headers) is sent to a bare uWS app on a free port, and its handler times
// `calls` header walks (req.forEach, the front's framing check) and `calls` single lookups
// (req.getHeader) on that request. Prints ns per call.
// node dist/native-bench/http/header-walk.js [calls]   (default 200000)
import { connect } from 'node:net';
import uWS from 'uWebSockets.js';
import { freePort } from '../../src/net.js';
import { framingConflict } from '../../src/http/framing.js';

const DEFAULT_CALLS = 200_000;
const BODY = '{"correlationId":"4a7c2f0e-9b1d-4e3a-8c5f-6d2b1a0e9f37","amount":19.9}';

function nsPerCall(calls: number, run: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run();
  return Number(process.hrtime.bigint() - start) / calls;
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? DEFAULT_CALLS);
  if (!Number.isInteger(calls) || calls < 1) throw new Error(`calls must be a positive integer, got ${process.argv[2]}`);
  const port = await freePort();
  const app = uWS.App();
  const done = new Promise<string>((resolve) => {
    app.post('/payments', (res, req) => {
      let conflicts = 0;
      const walk_ns = nsPerCall(calls, () => {
        if (framingConflict(req) !== null) conflicts++;
      });
      let length_chars = 0;
      const lookup_ns = nsPerCall(calls, () => {
        length_chars += req.getHeader('content-length').length;
      });
      res.end();
      resolve(
        `framingConflict (req.forEach over 5 headers): ${walk_ns.toFixed(0)} ns/call; req.getHeader: ${lookup_ns.toFixed(0)} ns/call (${calls} calls each; ${conflicts} conflicts, ${length_chars} chars read)`,
      );
    });
  });
  await new Promise<void>((resolve, reject) =>
    app.listen(port, (socket) => (socket ? resolve() : reject(new Error(`cannot listen on ${port}`)))),
  );
  const client = connect({ host: '127.0.0.1', port }, () => {
    client.write(
      `POST /payments HTTP/1.1\r\nHost: 127.0.0.1:9999\r\nUser-Agent: k6/0.49\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${BODY.length}\r\nAccept-Encoding: gzip\r\n\r\n${BODY}`,
    );
  });
  client.on('data', () => {});
  process.stdout.write(`${await done}\n`);
  client.destroy();
  process.exit(0);
}

void main();
