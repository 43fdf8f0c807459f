// One processor's HTTP client (undici Pool, keep-alive) and the classification of an attempt's
// result into what it means for the payment: stored, not stored, or unknown.
import { Pool } from 'undici';
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

  // Sends one payment. Resolves with the classified result; never rejects. Dispatched with a
  // bare handler, not request(): no body stream per response, and the status is the answer (a
  // garbage or slow body after it changes nothing about what the processor stored).
  pay(body: string): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (r: AttemptResult): void => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      try {
        this.pool.dispatch(
          { origin: this.origin, method: 'POST', path: '/payments', headers: PAY_HEADERS, body, headersTimeout: this.timeout_ms, bodyTimeout: this.timeout_ms },
          {
            onRequestStart: () => {}, // its presence selects undici's current handler API
            onResponseStart: (_controller, status, headers) => {
              const retry_after = headers['retry-after'];
              settle(classifyStatus(status, Array.isArray(retry_after) ? retry_after[0] : retry_after));
            },
            onResponseData: () => {},
            onResponseEnd: () => {},
            onResponseError: (_controller, err) => settle(classifyError(err)),
          },
        );
      } catch (err) {
        settle(classifyError(err)); // a closed pool throws instead of calling back
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {});
  }
}
