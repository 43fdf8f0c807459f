// HTTP calls the contest test makes besides the POSTs: processors' admin API and the backend's
// summary / purge. Same 1500 ms timeout as the official Httpx clients. Every call is timed, because
// k6 counts them in http_req_duration{expected_response:true} too.
import { Agent, request } from 'undici';
import type { ProcessorAdminSummary } from './score.js';
import { nowEpochMs } from './loadgen.js';

const REQUEST_TIMEOUT_MS = 1500;
export const INITIAL_TOKEN = '123';

export interface CallRecord {
  kind: string;
  start_epoch_ms: number;
  dur_ms: number;
  status: number;
}

export interface BackendSummary {
  default: { totalRequests: number; totalAmount: number };
  fallback: { totalRequests: number; totalAmount: number };
}

export class HttpCaller {
  readonly records: CallRecord[] = [];
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 8 });

  /** One call; status 0 on timeout / connection error. Records it when `kind` is given. */
  async call(
    kind: string | null,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    opts: { body?: string; headers?: Record<string, string>; timeout_ms?: number } = {},
  ) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), opts.timeout_ms ?? REQUEST_TIMEOUT_MS);
    const start = nowEpochMs();
    let status = 0;
    let text = '';
    try {
      const res = await request(url, {
        method,
        body: opts.body,
        signal: ac.signal,
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
      });
      text = await res.body.text();
      status = res.statusCode;
    } catch {
      status = 0;
    } finally {
      clearTimeout(timer);
    }
    const dur_ms = nowEpochMs() - start;
    if (kind) this.records.push({ kind, start_epoch_ms: start, dur_ms, status });
    return { status, text, dur_ms };
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }
}

export class ProcessorAdmin {
  constructor(
    readonly name: 'default' | 'fallback',
    readonly url: string,
    public token: string,
    private readonly http: HttpCaller,
  ) {}

  private headers(token = this.token) {
    return { 'x-rinha-token': token };
  }

  private async must(kind: string, method: 'GET' | 'POST' | 'PUT', path: string, body: unknown, ok: number, token?: string) {
    const r = await this.http.call(kind, method, this.url + path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: this.headers(token),
    });
    if (r.status !== ok) throw new Error(`${this.name} processor ${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    return r;
  }

  /** The official setup changes the token from the initial one (123) to the run's token. */
  async setToken(token: string, current = INITIAL_TOKEN): Promise<void> {
    await this.must('admin', 'PUT', '/admin/configurations/token', { token }, 204, current);
    this.token = token;
  }
  async purge(): Promise<void> {
    await this.must('admin', 'POST', '/admin/purge-payments', undefined, 200);
  }
  async setDelay(delay_ms: number): Promise<void> {
    await this.must('admin', 'PUT', '/admin/configurations/delay', { delay: delay_ms }, 200);
  }
  async setFailure(failure: boolean): Promise<void> {
    await this.must('admin', 'PUT', '/admin/configurations/failure', { failure }, 200);
  }

  /** As the official getPPPaymentsSummary: zeros when the call fails. `kind` null = not part of the test. */
  async summary(from: string, to: string, kind: string | null = 'admin-summary'): Promise<ProcessorAdminSummary & { ok: boolean }> {
    const r = await this.http.call(kind, 'GET', `${this.url}/admin/payments-summary?from=${from}&to=${to}`, { headers: this.headers() });
    if (r.status === 200) {
      try {
        return { ...(JSON.parse(r.text) as ProcessorAdminSummary), ok: true };
      } catch {
        /* fall through */
      }
    }
    return { totalAmount: 0, totalRequests: 0, feePerTransaction: 0, totalFee: 0, ok: false };
  }
}

export class Backend {
  constructor(
    readonly url: string,
    private readonly http: HttpCaller,
  ) {}

  async summary(from?: string, to?: string): Promise<BackendSummary & { ok: boolean }> {
    const q = from !== undefined && to !== undefined ? `?from=${from}&to=${to}` : '';
    const r = await this.http.call('backend-summary', 'GET', `${this.url}/payments-summary${q}`);
    if (r.status === 200) {
      try {
        return { ...(JSON.parse(r.text) as BackendSummary), ok: true };
      } catch {
        /* fall through */
      }
    }
    return { default: { totalRequests: 0, totalAmount: 0 }, fallback: { totalRequests: 0, totalAmount: 0 }, ok: false };
  }

  /** Errors ignored, as in the official setup. */
  async purge(): Promise<number> {
    return (await this.http.call('backend-purge', 'POST', `${this.url}/purge-payments`)).status;
  }

  /** Like the official runner: `curl -f --max-time 3` on /payments-summary, up to `tries` tries `gap_ms` apart. */
  async waitReady(tries = 15, gap_ms = 5000, log: (s: string) => void = () => {}): Promise<boolean> {
    for (let i = 0; i < tries; i++) {
      const r = await this.http.call(null, 'GET', `${this.url}/payments-summary`, { timeout_ms: 3000 });
      if (r.status >= 200 && r.status < 400) return true;
      log(`backend not ready (try ${i + 1}/${tries}, HTTP ${r.status})`);
      await new Promise((res) => setTimeout(res, gap_ms));
    }
    return false;
  }
}
