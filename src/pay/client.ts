// One processor's HTTP client (undici Pool, keep-alive) and the classification of an attempt's
// result into what it means for the payment: stored, not stored, or unknown.
import { type Dispatcher, Pool } from 'undici';
import type { Outcome } from '../counters.js';

export interface ClientOptions {
  origin: string;
  connections: number;
  request_timeout_ms: number;
  connect_timeout_ms: number;
}

export interface AttemptResult {
  outcome: Exclude<Outcome, 'recovered' | 'duplicate'> | 'already_stored';
  status: number; // 0 when no answer
  retry_after_ms: number;
  error?: string;
}

// Errors raised before the request could have reached the processor: nothing was stored.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function classifyStatus(status: number, retry_after: string | undefined): AttemptResult {
  if (status >= 200 && status < 300) return { outcome: 'ok', status, retry_after_ms: 0 };
  if (status === 422) return { outcome: 'already_stored', status, retry_after_ms: 0 };
  if (status === 429) {
    const seconds = Number(retry_after);
    return { outcome: 'rate_limited', status, retry_after_ms: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000 };
  }
  if (status >= 500) return { outcome: 'failed', status, retry_after_ms: 0 };
  return { outcome: 'unexpected', status, retry_after_ms: 0 };
}

function classifyError(err: unknown): AttemptResult {
  const code = (err as { code?: string }).code ?? '';
  const error = `${code} ${(err as Error).message ?? String(err)}`.trim();
  if (NOT_SENT_CODES.has(code)) return { outcome: 'not_sent', status: 0, retry_after_ms: 0, error };
  // Timeout, reset, socket closed mid-request: the processor may have stored it.
  return { outcome: 'unknown', status: 0, retry_after_ms: 0, error };
}

const PAY_HEADERS = { 'content-type': 'application/json' };
const OK_200: AttemptResult = Object.freeze({ outcome: 'ok', status: 200, retry_after_ms: 0 }); // the usual answer, shared

// Retry-After of a 429, from undici's raw headers (name, value, name, value…, as Buffers).
function retryAfter(raw: (Buffer | string)[] | null): string | undefined {
  if (raw === null) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].toString().toLowerCase() === 'retry-after') return raw[i + 1].toString();
  }
  return undefined;
}

// One attempt, in undici's dispatch handler interface (onConnect … onComplete / onError). A
// handler without onRequestStart is used as it is: no wrapper, no controller and no parsing of
// every answer's headers (and trailers) into objects. The status is the answer: a garbage or
// slow body after it changes nothing about what the processor stored.
class PayHandler {
  private settled = false;

  constructor(private readonly resolve: (r: AttemptResult) => void) {}

  onConnect(): void {}

  onHeaders(status: number, raw: (Buffer | string)[] | null): boolean {
    this.settle(status === 200 ? OK_200 : classifyStatus(status, status === 429 ? retryAfter(raw) : undefined));
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {}

  onError(err: Error): void {
    this.settle(classifyError(err));
  }

  private settle(r: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(r);
  }
}

export class ProcessorClient {
  private readonly pool: Pool;
  private readonly timeout_ms: number;
  private readonly origin: string;

  constructor(opts: ClientOptions) {
    this.timeout_ms = opts.request_timeout_ms;
    this.origin = opts.origin;
    this.pool = new Pool(opts.origin, {
      connections: opts.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connectTimeout: opts.connect_timeout_ms,
      headersTimeout: opts.request_timeout_ms,
      bodyTimeout: opts.request_timeout_ms,
    });
  }

  // Sends one payment. Resolves with the classified result; never rejects.
  pay(body: string): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const handler = new PayHandler(resolve);
      try {
        // The handler's legacy shape is what undici's Dispatcher takes without a wrapper; its
        // types only describe the newer one.
        this.pool.dispatch(
          {
            origin: this.origin,
            method: 'POST',
            path: '/payments',
            headers: PAY_HEADERS,
            body,
            headersTimeout: this.timeout_ms,
            bodyTimeout: this.timeout_ms,
          },
          handler as unknown as Dispatcher.DispatchHandler,
        );
      } catch (err) {
        handler.onError(err as Error); // a closed pool throws instead of calling back
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {});
  }
}
