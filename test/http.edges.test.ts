// The front at the edges of HTTP/1.1, over raw sockets: pipelining behind pending answers, HTTP/1.0,
// malformed request lines and headers, length headers in dispute. A front runs in this process with
// a real ring and real counters; with SUMMARY_ANSWER=async, summary and purge are answered when a
// test says so, which makes "pending" a state the test controls. With SUMMARY_ANSWER=blocking
// (the last part), they are answered inside the handler by the answer thread over a real Postgres. Every case that carries a payment checks that none is
// accepted unless its 202 reached the client (docs/HTTP.md says what uWS v20.30 does in each case).
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import type pg from 'pg';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseConfig } from '../src/config.js';
import { C_ACCEPTED, C_BLOCKED_TIMEOUTS, Counters, H_BLOCKED_PURGE, H_BLOCKED_SUMMARY } from '../src/counters.js';
import { AnswerThread } from '../src/http/blocking.js';
import { type Front, startFront } from '../src/http/front.js';
import { freePort } from '../src/net.js';
import { Ring } from '../src/queue/ring.js';
import type { Postgres } from './support/stack.js';
import { startSchemaPostgres } from './support/store.js';

const ID = '4a7c2f0e-9b1d-4e3a-8c5f-6d2b1a0e9f37';
const PAYMENT = `{"correlationId":"${ID}","amount":19.9}`;
const SUMMARY_BODY = '{"default":{"totalRequests":0,"totalAmount":0},"fallback":{"totalRequests":0,"totalAmount":0}}';
const IDLE_CLOSE_WAIT_MS = 30_000; // uWS closes a connection idle with an unparsed request after ~10-12 s

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}
interface Exchange {
  answers: Answer[];
  closed: boolean; // the server closed the connection
  trailing: string; // bytes after the last whole answer
}

// Splits a byte stream into HTTP/1.1 answers framed by Content-Length (all the front sends).
function parseAnswers(buf: Buffer): { answers: Answer[]; rest: Buffer } {
  const answers: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]);
    assert.ok(m, `not a status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? '0');
    if (buf.length < end + 4 + length) break;
    answers.push({ status: Number(m[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
    at = end + 4 + length;
  }
  return { answers, rest: buf.subarray(at) };
}

// A raw connection: write bytes when told, read answers as they come.
class Raw {
  private buf = Buffer.alloc(0);
  private closed = false;
  private waiters: Array<() => void> = [];
  private readonly socket;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  // Resolves once `count` answers arrived or the server closed; rejects after `timeout_ms`.
  async until(count: number, timeout_ms = 5_000): Promise<Exchange> {
    const deadline = Date.now() + timeout_ms;
    for (;;) {
      const { answers, rest } = parseAnswers(this.buf);
      if (answers.length >= count || this.closed) return { answers, closed: this.closed, trailing: rest.toString('latin1') };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`waited ${timeout_ms} ms for ${count} answers; got ${answers.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  end(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

// Everything written at once, then every answer until the server closes or `count` arrived.
async function exchange(port: number, data: string | Buffer, count: number, timeout_ms?: number): Promise<Exchange> {
  const raw = new Raw(port);
  try {
    await raw.write(data);
    return await raw.until(count, timeout_ms);
  } finally {
    raw.end();
  }
}

const post = (path: string, body: string, extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

// A promise the test settles: the pending summary or purge.
interface Gate {
  calls: number;
  called: Promise<void>; // settles at the first call
  wait(): Promise<void>; // what summary or purge awaits
  open(): void;
}

describe('HTTP edges (raw sockets against a front in this process)', { timeout: 120_000 }, () => {
  let front: Front;
  let port: number;
  let ring: Ring;
  let counters: Counters;
  let health_calls = 0;
  let summary_gate: Gate;
  let purge_gate: Gate;
  const newGate = (): Gate => {
    let open!: () => void;
    let mark!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const gate: Gate = {
      calls: 0,
      called: new Promise<void>((resolve) => (mark = resolve)),
      wait: () => {
        gate.calls++;
        mark();
        return opened;
      },
      open: () => open(),
    };
    return gate;
  };
  const accepted = (): number => counters.get(C_ACCEPTED);

  before(async () => {
    port = await freePort();
    ring = Ring.create(1024);
    counters = Counters.create();
    front = await startFront({
      config: parseConfig({ PORT: String(port), PURGE_ENABLED: 'true', SUMMARY_ANSWER: 'async' }),
      ring,
      counters,
      blocking: null,
      summary: async () => {
        await summary_gate.wait();
        return SUMMARY_BODY;
      },
      purge: () => purge_gate.wait(),
      readiness: () => {
        health_calls++;
        return { ready: true, detail: {} };
      },
      log: { error: () => {} },
    });
  });
  after(() => front?.close());
  beforeEach(() => {
    for (let r = ring.pop(); r !== null; r = ring.pop()) {
      // each case starts with an empty ring
    }
    summary_gate = newGate();
    purge_gate = newGate();
  });

  describe('pipelining behind pending answers (SUMMARY_ANSWER=async)', () => {
    it('payments and immediate answers written at once are all answered, in order', async () => {
      const before_accepted = accepted();
      const bad = post('/payments', '{"correlationId":"nope","amount":1}');
      const x = await exchange(port, post('/payments', PAYMENT) + bad + get('/health') + post('/payments', PAYMENT), 4);
      assert.deepEqual(
        x.answers.map((a) => a.status),
        [202, 400, 200, 202],
      );
      assert.equal(accepted() - before_accepted, 2);
      assert.equal(ring.size(), 2);
    });

    for (const [name, request, gate, answer] of [
      ['summary', get('/payments-summary'), () => summary_gate, SUMMARY_BODY],
      ['purge', post('/purge-payments', ''), () => purge_gate, '{"message":"purged"}'],
    ] as const) {
      it(`a request sent after a pending ${name} was read waits for it and is answered after it`, async () => {
        const raw = new Raw(port);
        try {
          await raw.write(request);
          await gate().called;
          const calls = health_calls;
          await raw.write(get('/health') + post('/payments', PAYMENT));
          // Another connection's full round trip: the server has had the bytes above to read.
          const other = await exchange(port, get('/metrics'), 1);
          assert.equal(other.answers[0].status, 200);
          assert.equal(health_calls, calls, 'the request behind the pending answer was not read yet');
          assert.equal(ring.size(), 0);
          gate().open();
          const x = await raw.until(3);
          assert.deepEqual(
            x.answers.map((a) => [a.status, a.body]),
            [
              [200, answer],
              [200, '{"status":"ok"}'],
              [202, ''],
            ],
          );
          assert.equal(x.closed, false);
          assert.equal(ring.size(), 1);
        } finally {
          raw.end();
        }
      });
    }

    it('a request in the same write as a pending summary: the connection closes and it reaches no handler', async () => {
      const calls = health_calls;
      const before_accepted = accepted();
      const x = await exchange(port, get('/payments-summary') + get('/health') + post('/payments', PAYMENT), 2);
      assert.equal(x.answers.length, 0);
      assert.equal(x.closed, true);
      assert.equal(health_calls, calls);
      assert.equal(accepted(), before_accepted);
      assert.equal(ring.size(), 0);
      summary_gate.open(); // the summary finishes on a closed connection: nothing is sent, nothing throws
      await new Promise((resolve) => setImmediate(resolve));
    });

    it('a payment then a summary as the last request, in one write: both answered, in order', async () => {
      const before_accepted = accepted();
      const raw = new Raw(port);
      try {
        await raw.write(post('/payments', PAYMENT) + get('/payments-summary'));
        await summary_gate.called;
        summary_gate.open();
        const x = await raw.until(2);
        assert.deepEqual(
          x.answers.map((a) => a.status),
          [202, 200],
        );
        assert.equal(accepted() - before_accepted, 1);
      } finally {
        raw.end();
      }
    });

    it('a payment before a pending summary and a third request, in one write: accepted while uWS drops its 202 (a layer limit, docs/HTTP.md)', async () => {
      const before_accepted = accepted();
      const x = await exchange(port, post('/payments', PAYMENT) + get('/payments-summary') + get('/health'), 3);
      assert.equal(x.answers.length, 0);
      assert.equal(x.closed, true);
      assert.equal(accepted() - before_accepted, 1);
      summary_gate.open();
    });
  });

  describe('length and host headers in dispute', () => {
    const refusedAndClosed = (x: Exchange, reason: RegExp): void => {
      assert.equal(x.answers.length, 1, `answers: ${JSON.stringify(x.answers)}`);
      assert.equal(x.answers[0].status, 400);
      assert.equal(x.answers[0].headers.connection, 'close');
      assert.match(JSON.parse(x.answers[0].body).error, reason);
      assert.equal(x.closed, true);
    };

    it('two different Content-Length headers: 400, connection closed, no payment', async () => {
      const before_accepted = accepted();
      const x = await exchange(port, post('/payments', PAYMENT, 'Content-Length: 5\r\n'), 2);
      refusedAndClosed(x, /content-length/);
      assert.equal(accepted(), before_accepted);
    });

    it('two equal Content-Length headers: 400 as well', async () => {
      const x = await exchange(port, post('/payments', PAYMENT, `Content-Length: ${PAYMENT.length}\r\n`), 2);
      refusedAndClosed(x, /content-length/);
    });

    it('a payment hidden in a body whose length is in dispute is never routed', async () => {
      const hidden = post('/payments', PAYMENT);
      const before_accepted = accepted();
      const calls = health_calls;
      // uWS takes the first length (0): the hidden request would come next in the same read.
      const x = await exchange(
        port,
        `GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}`,
        2,
      );
      assert.equal(x.answers.length, 0);
      assert.equal(x.closed, true);
      assert.equal(accepted(), before_accepted);
      assert.equal(ring.size(), 0);
      assert.equal(health_calls, calls);
    });

    it('two Host headers: 400, connection closed', async () => {
      const x = await exchange(port, 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 2);
      refusedAndClosed(x, /host/);
    });
  });

  describe('requests uWS closes without a status', () => {
    // What each of these does in uWS v20.30 is in docs/HTTP.md; here: no answer, the server
    // closes, and nothing reaches a handler (no payment, no readiness call).
    const closedUnrouted = async (data: string | Buffer, timeout_ms = 5_000): Promise<void> => {
      const before_accepted = accepted();
      const calls = health_calls;
      const x = await exchange(port, data, 1, timeout_ms);
      assert.equal(x.answers.length, 0, `answered: ${JSON.stringify(x.answers)}`);
      assert.equal(x.trailing, '');
      assert.equal(x.closed, true);
      assert.equal(accepted(), before_accepted);
      assert.equal(health_calls, calls);
      assert.equal(ring.size(), 0);
    };

    it('Content-Length with Transfer-Encoding (a payment): closed at once', async () => {
      await closedUnrouted(post('/payments', PAYMENT, 'Transfer-Encoding: chunked\r\n'));
    });

    it('a negative Content-Length, a list, a length over 9 digits: closed', async () => {
      for (const length of ['-1', `${PAYMENT.length}, ${PAYMENT.length}`, '1000000000', '+5']) {
        await closedUnrouted(
          `POST /payments HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${PAYMENT}`,
        );
      }
    });

    it('a malformed chunked body: closed', async () => {
      await closedUnrouted(
        'POST /payments HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      );
    });

    it('headers without Host: closed at once', async () => {
      await closedUnrouted('GET /health HTTP/1.1\r\nAccept: */*\r\n\r\n');
    });

    it('2,000 headers (more than 4 KB unparsed): closed at once', async () => {
      await closedUnrouted(post('/payments', PAYMENT, Array.from({ length: 2_000 }, (_, i) => `x-h-${i}: v\r\n`).join('')));
    });

    it('HTTP/1.0, a request line that does not parse, a NUL in the path, a header name with _, 49 headers: no answer, closed when idle', async () => {
      await Promise.all(
        [
          `POST /payments HTTP/1.0\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${PAYMENT.length}\r\n\r\n${PAYMENT}`,
          'GET /health HTTP/1.0\r\n\r\n',
          'HELLO\r\n\r\n',
          'GET /health HTTP/2.0\r\nHost: t\r\n\r\n',
          Buffer.from('GET /hea\0lth HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'),
          Buffer.from(post('/pay\0ments', PAYMENT), 'latin1'),
          post('/payments', PAYMENT, 'X_Trace: 1\r\n'),
          get('/health', Array.from({ length: 48 }, (_, i) => `x-h-${i}: v\r\n`).join('')),
        ].map((data) => closedUnrouted(data, IDLE_CLOSE_WAIT_MS)),
      );
    });
  });
});

// A front whose summary and purge block on the answer thread, in this process.
async function blockingFront(
  env: Record<string, string>,
): Promise<{ front: Front; port: number; ring: Ring; counters: Counters; answers: AnswerThread }> {
  const port = await freePort();
  const ring = Ring.create(1024);
  const counters = Counters.create();
  const config = parseConfig({ PORT: String(port), PURGE_ENABLED: 'true', SUMMARY_ANSWER: 'blocking', ...env });
  const log = { debug: () => {}, error: () => {} };
  const answers = AnswerThread.start(config, counters, log);
  const never = (): Promise<never> => Promise.reject(new Error('blocking front: no pending answers'));
  const front = await startFront({
    config,
    ring,
    counters,
    blocking: answers,
    summary: never,
    purge: never,
    readiness: () => ({ ready: true, detail: {} }),
    log,
  });
  return { front, port, ring, counters, answers };
}

const summaryOf = (answer: Answer): { default: { totalRequests: number }; fallback: { totalRequests: number } } => JSON.parse(answer.body);

describe('summary and purge answered inside the handler (SUMMARY_ANSWER=blocking, real Postgres)', { timeout: 120_000 }, () => {
  let pgs: Postgres;
  let admin: pg.Client;
  let f: Awaited<ReturnType<typeof blockingFront>>;

  before(async () => {
    ({ pgs, admin } = await startSchemaPostgres('http-edges'));
    await admin.query('TRUNCATE payments');
    await admin.query(
      'INSERT INTO payments (correlation_id, amount_cents, requested_at_ms, accepted_at_ms, processor) VALUES ($1, 1990, $2, $2, 0)',
      [crypto.randomUUID(), Date.now()],
    );
    f = await blockingFront({ DATABASE_URL: pgs.url });
  });
  after(async () => {
    f?.front.close();
    await f?.answers.close();
    await admin?.end();
    await pgs?.stop();
  });

  it('a payment, a summary and a third request in one write: three answers in order, the 202 received', async () => {
    const before_accepted = f.counters.get(C_ACCEPTED);
    const x = await exchange(f.port, post('/payments', PAYMENT) + get('/payments-summary') + get('/health'), 3);
    assert.deepEqual(
      x.answers.map((a) => a.status),
      [202, 200, 200],
    );
    assert.equal(summaryOf(x.answers[1]).default.totalRequests, 1);
    assert.equal(x.closed, false);
    assert.equal(f.counters.get(C_ACCEPTED) - before_accepted, 1);
    assert.equal(f.ring.size(), 1);
    f.ring.pop();
    assert.ok(f.counters.histogram(H_BLOCKED_SUMMARY).count >= 1);
  });

  it('a summary first, then a summary and a payment, in one write: all answered, in order', async () => {
    const x = await exchange(
      f.port,
      get('/payments-summary') + get('/payments-summary?from=2000-01-01T00:00:00.000Z') + post('/payments', PAYMENT),
      3,
    );
    assert.deepEqual(
      x.answers.map((a) => a.status),
      [200, 200, 202],
    );
    assert.deepEqual(summaryOf(x.answers[0]), summaryOf(x.answers[1]));
    assert.equal(f.ring.size(), 1);
    f.ring.pop();
  });

  it('a purge and what follows it in one write: both answered, in order, and the purge applied', async () => {
    const purges = f.counters.histogram(H_BLOCKED_PURGE).count;
    const asked_at_ms = Date.now();
    const x = await exchange(f.port, post('/purge-payments', '') + get('/payments-summary') + post('/payments', PAYMENT), 3);
    assert.deepEqual(
      x.answers.map((a) => [a.status, a.status === 200 ? a.body : '']),
      [
        [200, '{"message":"purged"}'],
        [200, '{"default":{"totalRequests":0,"totalAmount":0.00},"fallback":{"totalRequests":0,"totalAmount":0.00}}'],
        [202, ''],
      ],
    );
    assert.equal(f.counters.histogram(H_BLOCKED_PURGE).count, purges + 1);
    const fence = await admin.query<{ fence_ms: string }>('SELECT fence_ms FROM purge_fence');
    assert.ok(Number(fence.rows[0].fence_ms) >= asked_at_ms);
    assert.equal(f.ring.size(), 1);
    f.ring.pop();
  });

  it('Postgres that accepts connections and never answers: the summary gets 503 when the bound passes, and the payments behind it are taken', async () => {
    const sockets: Socket[] = [];
    const hole = createServer((socket) => sockets.push(socket)); // accepts, never answers
    const hole_port = await freePort();
    await new Promise<void>((resolve) => hole.listen(hole_port, '127.0.0.1', resolve));
    const g = await blockingFront({ DATABASE_URL: `postgres://u:p@127.0.0.1:${hole_port}/db`, SUMMARY_WAIT_MAX_MS: '200' });
    try {
      const before_accepted = g.counters.get(C_ACCEPTED);
      const x = await exchange(
        g.port,
        get('/payments-summary') + post('/payments', PAYMENT) + get('/payments-summary') + get('/health'),
        4,
      );
      assert.deepEqual(
        x.answers.map((a) => a.status),
        [503, 202, 503, 200],
      );
      assert.match(x.answers[0].body, /no answer from the database in time/);
      assert.equal(g.counters.get(C_ACCEPTED) - before_accepted, 1);
      assert.equal(g.counters.get(C_BLOCKED_TIMEOUTS), 2);
      const blocked = g.counters.histogram(H_BLOCKED_SUMMARY);
      assert.equal(blocked.count, 2);
      assert.ok(blocked.sum >= 2 * 200, `each summary waited its whole bound: ${blocked.sum} ms in all`);
      const after = await exchange(g.port, post('/payments', PAYMENT), 1);
      assert.equal(after.answers[0].status, 202);
    } finally {
      g.front.close();
      await g.answers.close();
      for (const s of sockets) s.destroy();
      hole.close();
    }
  });

  it('Postgres that refuses connections: the summary gets 503 at once, not a timeout', async () => {
    const g = await blockingFront({ DATABASE_URL: `postgres://u:p@127.0.0.1:${await freePort()}/db` });
    try {
      const x = await exchange(g.port, get('/payments-summary') + post('/payments', PAYMENT), 2);
      assert.deepEqual(
        x.answers.map((a) => a.status),
        [503, 202],
      );
      assert.match(x.answers[0].body, /database not reachable/);
      assert.equal(g.counters.get(C_BLOCKED_TIMEOUTS), 0);
    } finally {
      g.front.close();
      await g.answers.close();
    }
  });
});
