// Raw HTTP/1.1 over a TCP socket, for requests undici refuses to make (header floods, lying
// content-length, dribbled bytes, invalid UTF-8) and for checking what an error body reveals.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number; // 0 when the server closed without answering
  headers: Record<string, string>;
  body: string;
  closed: boolean; // the server closed the connection (before or after answering)
}

export interface RawOptions {
  timeout_ms?: number; // give up waiting for an answer after this long
  // Writes the request in pieces, `every_ms` apart (a slow sender). Bounded by pieces.length.
  pieces?: Buffer[];
  every_ms?: number;
}

// Parses one response out of `buf`; null while incomplete.
function parseResponse(buf: Buffer): { status: number; headers: Record<string, string>; body: string } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  if (m === null) return { status: -1, headers: {}, body: buf.toString('latin1') };
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    let at = 0;
    const parts: Buffer[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const nl = rest.indexOf('\r\n', at);
      if (nl < 0) return null;
      const size = parseInt(rest.subarray(at, nl).toString('latin1'), 16);
      if (!Number.isFinite(size)) return null;
      if (size === 0) return { status: Number(m[1]), headers, body: Buffer.concat(parts).toString('utf8') };
      if (rest.length < nl + 2 + size + 2) return null;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    return null;
  }
  const length = Number(headers['content-length'] ?? '0');
  if (rest.length < length) return null;
  return { status: Number(m[1]), headers, body: rest.subarray(0, length).toString('utf8') };
}

// Sends `request` (or `pieces`) and resolves with the first response, or status 0 if the server
// closed or the timeout passed without one. The socket is always destroyed at the end.
export function rawRequest(port: number, request: Buffer | string, opts: RawOptions = {}): Promise<RawResponse> {
  const timeout_ms = opts.timeout_ms ?? 5_000;
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let done = false;
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: RawResponse): void => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      socket.destroy();
      resolve(r);
    };
    const partial = (): RawResponse => {
      const p = parseResponse(buf);
      return p === null ? { status: 0, headers: {}, body: buf.toString('utf8'), closed } : { ...p, closed };
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const p = parseResponse(buf);
      if (p !== null) finish({ ...p, closed });
    });
    socket.on('error', () => {
      closed = true;
      finish(partial());
    });
    socket.on('close', () => {
      closed = true;
      finish(partial());
    });
    timers.push(setTimeout(() => finish(partial()), timeout_ms));
    socket.on('connect', () => {
      const pieces = opts.pieces ?? [Buffer.isBuffer(request) ? request : Buffer.from(request, 'utf8')];
      pieces.forEach((piece, i) => {
        timers.push(
          setTimeout(
            () => {
              if (!done && !socket.destroyed) socket.write(piece);
            },
            i * (opts.every_ms ?? 0),
          ),
        );
      });
    });
  });
}

// A POST request as raw text; `length` overrides the content-length header ('' = omit it).
export function rawPost(path: string, body: Buffer | string, headers: Record<string, string> = {}): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const all: Record<string, string> = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(b.length),
    ...headers,
  };
  const head =
    `POST ${path} HTTP/1.1\r\n` +
    Object.entries(all)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

// Words that would mean an error body leaks internals: stack frames, source paths, error class
// names, SQL, driver codes.
const LEAKS = [
  /\bat \S+ \(/, // stack frame "at fn (file:line)"
  /\.(?:ts|js|mjs|cjs):\d+/, // file:line
  /\/(?:work|home|root|usr|tmp|app|src|dist|node_modules)\//,
  /node_modules/,
  /\b(?:TypeError|RangeError|SyntaxError|ReferenceError)\b/,
  /relation "|syntax error at or near|duplicate key value|\bsqlstate\b|\bECONN\w+/i, // Postgres / socket errors
];

export function leaksInternals(text: string): string | null {
  for (const re of LEAKS) if (re.test(text)) return String(re);
  return null;
}

// A 4xx with a JSON {"error": string} body that reveals nothing about the inside.
export function assertCleanClientError(
  r: { status: number; text: string; headers?: Record<string, string> },
  label: string,
  expected_status?: number,
): void {
  if (expected_status !== undefined) assert.equal(r.status, expected_status, `${label}: status ${r.status} body ${r.text.slice(0, 200)}`);
  assert.ok(r.status >= 400 && r.status < 500, `${label}: expected a 4xx, got ${r.status} ${r.text.slice(0, 200)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.text);
  } catch {
    assert.fail(`${label}: body is not JSON: ${JSON.stringify(r.text.slice(0, 200))}`);
  }
  assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `${label}: body is not a JSON object`);
  const error = (parsed as { error?: unknown }).error;
  assert.equal(typeof error, 'string', `${label}: no string "error" in ${r.text.slice(0, 200)}`);
  assert.ok((error as string).length > 0 && (error as string).length <= 300, `${label}: error message empty or long`);
  const leak = leaksInternals(r.text);
  assert.equal(leak, null, `${label}: error body leaks internals (${leak}): ${r.text.slice(0, 300)}`);
}
