// One load step with autocannon: POST /payments with a fresh UUID v4 per request at a fixed
// overallRate (or unlimited), for a fixed duration. Latency is recorded here from every 2xx
// response's float ms (autocannon's own histogram keeps whole milliseconds only).
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import type { Rate } from './options.js';

interface AutocannonResult {
  requests: { total: number; average: number };
  duration: number; // s
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonInstance extends Promise<AutocannonResult> {
  on(event: 'response', cb: (client: unknown, statusCode: number, resBytes: number, response_time_ms: number) => void): void;
}
type Autocannon = ((opts: Record<string, unknown>) => AutocannonInstance) & { track?: unknown };
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const MAX_SAMPLES = 5_000_000; // 40 MB of float64: far above 10 s at saturation here
const REQUEST_TIMEOUT_S = 10;

export interface LoadStep {
  rate: Rate;
  requests: number; // responses received, any status
  duration_s: number;
  req_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; samples: number };
  non2xx: number;
  errors: number; // connection errors, timeouts included
  timeouts: number;
  status_codes: Record<string, number>;
}

function paymentBody(): string {
  return `{"correlationId":"${randomUUID()}","amount":19.90}`;
}

function freshPayment(request: Record<string, unknown>): Record<string, unknown> {
  request.body = paymentBody();
  return request;
}

export async function runLoad(url: string, rate: Rate, duration_s: number, connections: number): Promise<LoadStep> {
  const samples: Float64Array[] = [new Float64Array(1 << 16)];
  let n = 0;
  let in_chunk = 0;
  const instance = autocannon({
    url,
    connections,
    pipelining: 1,
    duration: duration_s,
    timeout: REQUEST_TIMEOUT_S,
    ...(rate === 'max' ? {} : { overallRate: rate }),
    requests: [{ method: 'POST', path: '/payments', headers: { 'content-type': 'application/json' }, setupRequest: freshPayment }],
  });
  instance.on('response', (_client, status, _bytes, time_ms) => {
    if (status < 200 || status > 299 || n >= MAX_SAMPLES) return;
    let chunk = samples[samples.length - 1];
    if (in_chunk === chunk.length) {
      chunk = new Float64Array(Math.min(chunk.length * 2, 1 << 20));
      samples.push(chunk);
      in_chunk = 0;
    }
    chunk[in_chunk++] = time_ms;
    n++;
  });
  const result = await instance;
  samples[samples.length - 1] = samples[samples.length - 1].subarray(0, in_chunk);
  return {
    rate,
    requests: result.requests.total,
    duration_s: result.duration,
    req_per_s: Math.round(result.requests.total / result.duration),
    latency_ms: percentiles(samples),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    status_codes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
  };
}

function percentiles(chunks: Float64Array[]): LoadStep['latency_ms'] {
  const all = new Float64Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  all.sort();
  const n = all.length;
  const q = (p: number) => (n === 0 ? 0 : round3(all[Math.min(n - 1, Math.floor(p * n))]));
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: n === 0 ? 0 : round3(all[n - 1]), samples: n };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
