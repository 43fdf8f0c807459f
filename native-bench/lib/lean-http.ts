// A lean HTTP/1.1 client for load generators, in the manner of k6's: one raw keep-alive socket per
// connection, one request at a time on it, each answer read in place from the socket's chunks
// (status line, then Content-Length or a chunked body). Per request it allocates the request
// text and nothing else of its own: no promise, no abort controller, no timer. Every request has
// the same timeout, so deadlines come in the order requests were sent: they wait in one queue,
// and one timer, armed for the oldest request still unanswered, fires about once per timeout
// instead of once per request. A timed-out or broken connection is closed and opened again for
// its next request, as k6 does.
import net from 'node:net';

export interface LeanOptions {
  host: string;
  port: number;
  connections: number;
  timeout_ms: number;
  // A request ended: its connection, HTTP status (0 = timeout or connection error), when (clock ms).
  onDone(conn: number, status: number, end_ms: number): void;
  now?: () => number;
}

const CR = 13;
const LF = 10;
const INITIAL_DEADLINES = 1024; // the deadline queue grows by doubling when needed
const MAX_HEAD_BYTES = 16 * 1024;
const CONTENT_LENGTH = Buffer.from('content-length:');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding:');
const CONNECTION = Buffer.from('connection:');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

// Where a response stands while its bytes arrive.
const S_HEAD = 0;
const S_BODY = 1;
const S_CHUNKED = 2;

export const epochClockMs = (): number => performance.timeOrigin + performance.now();

export class LeanHttp {
  private readonly o: LeanOptions;
  private readonly now: () => number;
  private readonly sockets: (net.Socket | null)[];
  private readonly busy: Uint8Array;
  private readonly seq: Uint32Array; // requests sent on each connection so far
  // Deadlines in the order they were set: connection, its request's seq, when (a ring).
  private dl_conn = new Int32Array(INITIAL_DEADLINES);
  private dl_seq = new Uint32Array(INITIAL_DEADLINES);
  private dl_at = new Float64Array(INITIAL_DEADLINES);
  private dl_head = 0;
  private dl_len = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly state: Uint8Array;
  private readonly status: Int16Array;
  private readonly body_left: Float64Array;
  private readonly closing: Uint8Array; // the answer said `Connection: close`
  private readonly head: (Buffer | null)[]; // a head split over chunks (rare)
  private closed = false;

  constructor(opts: LeanOptions) {
    if (!(opts.connections >= 1 && Number.isInteger(opts.connections))) throw new RangeError('connections must be a whole number ≥ 1');
    this.o = opts;
    this.now = opts.now ?? epochClockMs;
    const n = opts.connections;
    this.sockets = new Array<net.Socket | null>(n).fill(null);
    this.busy = new Uint8Array(n);
    this.seq = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.status = new Int16Array(n);
    this.body_left = new Float64Array(n);
    this.closing = new Uint8Array(n);
    this.head = new Array<Buffer | null>(n).fill(null);
  }

  get size(): number {
    return this.sockets.length;
  }

  isBusy(conn: number): boolean {
    return this.busy[conn] === 1;
  }

  // Opens the connection now (a load generator warms its connections before it measures).
  connect(conn: number): Promise<void> {
    const s = this.socketOf(conn);
    if (!s.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
  }

  // Sends `request` (a whole HTTP/1.1 request) on an idle connection.
  send(conn: number, request: string): void {
    if (this.busy[conn] === 1) throw new Error(`connection ${conn} is busy`);
    const s = this.socketOf(conn);
    this.busy[conn] = 1;
    this.state[conn] = S_HEAD;
    this.pushDeadline(conn, ++this.seq[conn], this.now() + this.o.timeout_ms);
    s.write(request, 'latin1');
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (let i = 0; i < this.sockets.length; i++) this.sockets[i]?.destroy();
  }

  private socketOf(conn: number): net.Socket {
    const existing = this.sockets[conn];
    if (existing !== null) return existing;
    const s = net.connect({ host: this.o.host, port: this.o.port, noDelay: true });
    this.sockets[conn] = s;
    s.on('data', (chunk: Buffer) => {
      if (this.sockets[conn] === s) this.onData(conn, chunk);
    });
    const lost = (): void => {
      if (this.sockets[conn] !== s) return;
      this.sockets[conn] = null;
      if (this.busy[conn] === 1) this.finish(conn, 0);
    };
    s.on('error', lost);
    s.on('close', lost);
    return s;
  }

  private onData(conn: number, chunk: Buffer): void {
    if (this.busy[conn] === 0) return; // bytes nobody asked for: ignored
    let at = 0;
    if (this.state[conn] === S_HEAD) {
      const pending = this.head[conn];
      const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.fail(conn);
        else this.head[conn] = buf === chunk ? Buffer.from(chunk) : buf;
        return;
      }
      this.head[conn] = null;
      if (!this.readHead(conn, buf, end)) return;
      chunk = buf;
      at = end + 4;
    }
    if (this.state[conn] === S_BODY) {
      this.body_left[conn] -= chunk.length - at;
      if (this.body_left[conn] <= 0) this.finish(conn, this.status[conn]);
    } else if (chunk.indexOf(CHUNKED_END, at) >= 0) {
      this.finish(conn, this.status[conn]); // the last chunk (no trailers in answers to load)
    }
  }

  // Status line and the two headers that say where the body ends. false when it failed.
  private readHead(conn: number, buf: Buffer, end: number): boolean {
    const status = (buf[9] - 48) * 100 + (buf[10] - 48) * 10 + (buf[11] - 48);
    if (buf[0] !== 72 || !(status >= 100 && status <= 599)) {
      this.fail(conn);
      return false;
    }
    this.status[conn] = status;
    let length = 0;
    let chunked = false;
    this.closing[conn] = 0;
    for (let line = buf.indexOf(LF, 0) + 1; line > 0 && line < end; line = buf.indexOf(LF, line) + 1) {
      if (startsWithLower(buf, line, CONTENT_LENGTH)) length = readNumber(buf, line + CONTENT_LENGTH.length);
      else if (startsWithLower(buf, line, TRANSFER_ENCODING)) chunked = hasWord(buf, line, 'chunked');
      else if (startsWithLower(buf, line, CONNECTION)) this.closing[conn] = hasWord(buf, line, 'close') ? 1 : 0;
    }
    this.state[conn] = chunked ? S_CHUNKED : S_BODY;
    this.body_left[conn] = status === 204 || status === 304 || status < 200 ? 0 : length;
    return true;
  }

  private finish(conn: number, status: number): void {
    this.busy[conn] = 0;
    if (this.closing[conn] === 1) {
      // The server closes it after this answer: the next request goes on a new connection.
      this.closing[conn] = 0;
      this.sockets[conn]?.destroy();
      this.sockets[conn] = null;
    }
    this.head[conn] = null;
    this.o.onDone(conn, status, this.now());
  }

  // Closes the connection (its next request opens a new one) and reports the request failed.
  private fail(conn: number): void {
    const s = this.sockets[conn];
    this.sockets[conn] = null;
    s?.destroy();
    if (this.busy[conn] === 1) this.finish(conn, 0);
  }

  private pushDeadline(conn: number, seq: number, at: number): void {
    const cap = this.dl_at.length;
    if (this.dl_len === cap) this.growDeadlines();
    const i = (this.dl_head + this.dl_len) % this.dl_at.length;
    this.dl_conn[i] = conn;
    this.dl_seq[i] = seq;
    this.dl_at[i] = at;
    this.dl_len++;
    if (this.timer === null) this.armTimer();
  }

  private growDeadlines(): void {
    const cap = this.dl_at.length;
    const conn = new Int32Array(cap * 2),
      seq = new Uint32Array(cap * 2),
      at = new Float64Array(cap * 2);
    for (let k = 0; k < this.dl_len; k++) {
      const i = (this.dl_head + k) % cap;
      conn[k] = this.dl_conn[i];
      seq[k] = this.dl_seq[i];
      at[k] = this.dl_at[i];
    }
    this.dl_conn = conn;
    this.dl_seq = seq;
    this.dl_at = at;
    this.dl_head = 0;
  }

  // Drops the deadlines of answered requests from the head; times out the expired ones; arms the
  // timer for the oldest request still waiting.
  private expire(): void {
    this.timer = null;
    if (this.closed) return;
    const now = this.now();
    while (this.dl_len > 0) {
      const i = this.dl_head;
      const conn = this.dl_conn[i];
      const waiting = this.busy[conn] === 1 && this.seq[conn] === this.dl_seq[i];
      if (waiting && this.dl_at[i] > now) break;
      this.dl_head = (i + 1) % this.dl_at.length;
      this.dl_len--;
      if (waiting) this.fail(conn);
    }
    if (this.dl_len > 0) this.armTimer();
  }

  private armTimer(): void {
    const wait_ms = Math.max(1, Math.ceil(this.dl_at[this.dl_head] - this.now()));
    this.timer = setTimeout(() => this.expire(), wait_ms);
  }
}

// The text of a JSON POST, ready for send(): request line, the headers a server needs, body.
export function postRequest(host: string, path: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function startsWithLower(buf: Buffer, at: number, lower: Buffer): boolean {
  if (at + lower.length > buf.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((buf[at + i] | 0x20) !== lower[i] && buf[at + i] !== lower[i]) return false;
  }
  return true;
}

// Whether the header line starting at `at` holds `word` (lower case, as servers send these values).
function hasWord(buf: Buffer, at: number, word: string): boolean {
  const found = buf.indexOf(word, at, 'latin1');
  return found >= 0 && found < buf.indexOf(LF, at);
}

function readNumber(buf: Buffer, at: number): number {
  while (buf[at] === 32 || buf[at] === 9) at++;
  let n = 0;
  for (; buf[at] >= 48 && buf[at] <= 57; at++) n = n * 10 + (buf[at] - 48);
  return buf[at] === CR || buf[at] === LF || buf[at] === 32 ? n : 0;
}
