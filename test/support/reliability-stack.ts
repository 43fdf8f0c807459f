// What the reliability tests share, on top of test/support/stack.ts: a stack started with
// the log level stack.ts needs, quiescence from /metrics, the ledger (processors vs service),
// a bounded payment sender, and an instance's resident memory.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { startSimulator, type SimulatorOptions } from '../../native-bench/processor-sim/server.js';
import { SimAdmin } from '../../native-bench/processor-sim/client.js';
import {
  get,
  eventually,
  type Instance,
  post,
  type Postgres,
  type Sim,
  type Stack,
  startInstance,
  startPostgres,
  startStack,
  stopParts,
  summary,
} from './stack.js';
import { type Metrics, parseMetrics, sumOf } from './reliability-metrics.js';

// stack.ts waits for the instance's info-level "listening" line: never start below info.
export function startReliabilityStack(opts: { instances?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  return startStack({ instances: opts.instances, env: { ...opts.env, LOG_LEVEL: 'info' } });
}

// Like startStack, with simulator options (e.g. a small limiter to provoke 429s) and a given
// Postgres URL or an embedded one.
export async function startCustomStack(
  opts: { instances?: number; env?: Record<string, string>; sim?: Partial<SimulatorOptions>; pg?: Postgres } = {},
): Promise<Stack> {
  const pg = opts.pg ?? (await startPostgres());
  const started = await Promise.all([
    startSimulator({ ...opts.sim, port: 0, fee: 0.07, name: 'default' }),
    startSimulator({ ...opts.sim, port: 0, fee: 0.1, name: 'fallback' }),
  ]);
  const sims = started.map((h) => ({ url: h.url, admin: new SimAdmin(h.url), close: () => h.close() })) as [Sim, Sim];
  const env = {
    DATABASE_URL: pg.url,
    PAYMENT_PROCESSOR_URL_DEFAULT: sims[0].url,
    PAYMENT_PROCESSOR_URL_FALLBACK: sims[1].url,
    ...opts.env,
    LOG_LEVEL: 'info',
  };
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < (opts.instances ?? 2); i++) instances.push(await startInstance(env));
    await post(instances[0].url, '/purge-payments', '');
  } catch (err) {
    await stopParts(instances, sims, pg);
    throw err;
  }
  return { pg, sims, instances, env, stop: () => stopParts(instances, sims, pg) };
}

export async function metricsOf(base: string): Promise<Metrics> {
  const r = await get(base, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics ${r.status}`);
  return parseMetrics(r.text);
}

// Work an instance still holds: ring, backlog, in flight, unwritten confirmations.
export async function pendingWork(base: string): Promise<number> {
  const m = await metricsOf(base);
  return sumOf(m, 'rinha_ring_depth') + sumOf(m, 'rinha_backlog') + sumOf(m, 'rinha_inflight') + sumOf(m, 'rinha_writer_pending');
}

// Waits (bounded) until no instance holds work; returns whether that happened.
export function quiesce(bases: string[], timeout_ms = 30_000): Promise<boolean> {
  return eventually(
    async () => {
      for (const b of bases) if ((await pendingWork(b).catch(() => 1)) !== 0) return false;
      return true;
    },
    timeout_ms,
    100,
  );
}

export interface Ledger {
  processors: number; // payments both processors hold
  processors_cents: number;
  service: number; // payments the service's summary counts
  service_cents: number;
  default: { processor: number; service: number };
  fallback: { processor: number; service: number };
}

// The service is read first, then the processors: the service records a payment only after a
// processor stored it, so at any moment service <= processor per processor unless it counts
// something a processor does not hold.
export async function ledger(stack: Stack, base = stack.instances[0].url): Promise<Ledger> {
  const s = await summary(base);
  const [d, f] = await Promise.all([stack.sims[0].admin.summary(), stack.sims[1].admin.summary()]);
  const cents = (x: number): number => Math.round(x * 100);
  return {
    processors: d.totalRequests + f.totalRequests,
    processors_cents: cents(d.totalAmount) + cents(f.totalAmount),
    service: s.default.totalRequests + s.fallback.totalRequests,
    service_cents: cents(s.default.totalAmount) + cents(s.fallback.totalAmount),
    default: { processor: d.totalRequests, service: s.default.totalRequests },
    fallback: { processor: f.totalRequests, service: s.fallback.totalRequests },
  };
}

// The service agrees with the processors, per processor, count and money.
export function agrees(l: Ledger): boolean {
  return l.default.processor === l.default.service && l.fallback.processor === l.fallback.service && l.processors_cents === l.service_cents;
}

// Polls (up to 30 s) until the processors hold at least `accepted` payments and the service agrees.
export function allPaidAndAgreed(stack: Stack, accepted: number): Promise<boolean> {
  return eventually(
    async () => {
      const l = await ledger(stack);
      return l.processors >= accepted && agrees(l);
    },
    30_000,
    100,
  );
}

export interface SendResult {
  accepted: string[]; // ids answered 2xx
  refused: Map<number, number>; // status → count (0 = network error)
}

const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });

// POSTs one payment per id, spread round-robin over `bases`, at most `concurrency` at once.
export async function sendPayments(
  bases: string[],
  ids: string[],
  opts: { concurrency?: number; amount?: number; timeout_ms?: number } = {},
): Promise<SendResult> {
  const result: SendResult = { accepted: [], refused: new Map() };
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i];
      try {
        const res = await request(bases[i % bases.length] + '/payments', {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ correlationId: id, amount: opts.amount ?? 19.9 }),
          headersTimeout: opts.timeout_ms ?? 5_000,
          bodyTimeout: opts.timeout_ms ?? 5_000,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) result.accepted.push(id);
        else result.refused.set(res.statusCode, (result.refused.get(res.statusCode) ?? 0) + 1);
      } catch {
        result.refused.set(0, (result.refused.get(0) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, ids.length) }, one));
  return result;
}

// A steady trickle: `per_tick` fresh payments every `every_ms` until stop() (bounded by max_ticks).
export function trickle(
  bases: string[],
  opts: { every_ms: number; per_tick: number; max_ticks: number },
): { stop(): Promise<SendResult>; sent(): number; accepted(): number } {
  const total: SendResult = { accepted: [], refused: new Map() };
  let ticks = 0;
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const tick = (): void => {
    if (stopped || ticks >= opts.max_ticks) {
      clearInterval(timer); // bounded even when the caller never calls stop()
      return;
    }
    ticks++;
    const ids = Array.from({ length: opts.per_tick }, () => crypto.randomUUID());
    const p = sendPayments(bases, ids, { concurrency: opts.per_tick }).then((r) => {
      total.accepted.push(...r.accepted);
      for (const [k, v] of r.refused) total.refused.set(k, (total.refused.get(k) ?? 0) + v);
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const timer: NodeJS.Timeout = setInterval(tick, opts.every_ms);
  tick();
  return {
    sent: () => ticks * opts.per_tick,
    accepted: () => total.accepted.length,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inflight]);
      return total;
    },
  };
}

// Resident set size of a process, from /proc (Linux).
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export const fresh = (n: number): string[] => Array.from({ length: n }, () => crypto.randomUUID());

// How many processors hold each id (GET /payments/{id} on both; 0 = lost, 2 = paid twice).
export async function holders(stack: Stack, ids: string[], concurrency = 16): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++];
      let n = 0;
      for (const sim of stack.sims) {
        const res = await request(`${sim.url}/payments/${id}`, { method: 'GET', dispatcher: agent });
        await res.body.dump();
        if (res.statusCode === 200) n++;
        else if (res.statusCode !== 404) throw new Error(`GET /payments/${id} -> ${res.statusCode}`);
      }
      out.set(id, n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, one));
  return out;
}

// Empties the service (purge through an instance) and both processors.
export async function purgeAll(stack: Stack, base: string): Promise<void> {
  const r = await post(base, '/purge-payments', '');
  if (r.status !== 200) throw new Error(`purge ${r.status} ${r.text}`);
  await Promise.all(stack.sims.map((s) => s.admin.purge()));
}
