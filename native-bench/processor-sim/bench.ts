// Measures the simulator: its CPU per payment under a client shaped like one of the service's
// payment workers, POST /payments throughput with fresh ids (autocannon), then the admin summary's
// latency with 50 k stored payments. The simulator runs as a child process (its own core).
// Usage: node dist/native-bench/processor-sim/bench.js [--port 18010] [--connections 100] [--duration_s 10] [--stored 50000] [--rate 600]

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { Pool, request } from 'undici';
import { cpuMs } from '../http/proc-cpu.js';
import { SimAdmin } from './client.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  statusCodeStats: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function freshPayment(template: Record<string, unknown>): Record<string, unknown> {
  template.body = JSON.stringify({ correlationId: randomUUID(), amount: 20.05, requestedAt: new Date().toISOString() });
  return template;
}

async function postLoad(url: string, opts: Record<string, unknown>): Promise<AutocannonResult> {
  return autocannon({
    url,
    pipelining: 1,
    requests: [{ method: 'POST', path: '/payments', headers: { 'content-type': 'application/json' }, setupRequest: freshPayment }],
    ...opts,
  });
}

// The contest replica's load on a simulator: a payment worker's burst every 50 ms (its tick) over
// 128 keep-alive connections, at the contest's peak rate. What matters is the simulator's CPU per
// payment, since the replica runs it on the cores the service is scored on.
async function workerShaped(url: string, pid: number, rate_per_s: number, duration_s: number): Promise<Record<string, unknown>> {
  const pool = new Pool(url, { connections: 128, pipelining: 1 });
  const statuses: Record<string, number> = {};
  const pay = async (): Promise<void> => {
    const body = JSON.stringify({ correlationId: randomUUID(), amount: 20.05, requestedAt: new Date().toISOString() });
    const res = await pool.request({ path: '/payments', method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.body.dump();
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
  };
  for (let i = 0; i < 20; i += 1) await Promise.all(Array.from({ length: 100 }, pay)); // warm-up, and every connection open
  const per_tick = Math.max(1, Math.round(rate_per_s / 20));
  const in_flight: Array<Promise<void>> = [];
  const cpu_before = cpuMs(pid);
  const ticks = duration_s * 20;
  for (let tick = 0; tick < ticks; tick += 1) {
    for (let i = 0; i < per_tick; i += 1) in_flight.push(pay());
    await new Promise((r) => setTimeout(r, 50));
  }
  await Promise.all(in_flight);
  const cpu_after = cpuMs(pid);
  await pool.close();
  const sent = ticks * per_tick;
  const cpu_ms = cpu_before === null || cpu_after === null ? null : cpu_after - cpu_before;
  return {
    bench: 'simulator CPU per payment, payment-worker-shaped client',
    rate_per_s,
    duration_s,
    sent,
    simulator_cpu_ms: cpu_ms,
    cpu_us_per_payment: cpu_ms === null ? null : Math.round((cpu_ms * 1000) / sent),
    statuses,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timeSummary(url: string, query: string, calls: number): Promise<{ p50_ms: number; p99_ms: number; count: number }> {
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < calls; i += 1) {
    const started = performance.now();
    const res = await request(url + '/admin/payments-summary' + query, { headers: { 'x-rinha-token': '123' } });
    count = (JSON.parse(await res.body.text()) as { totalRequests: number }).totalRequests;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50_ms: +percentile(times, 50).toFixed(3), p99_ms: +percentile(times, 99).toFixed(3), count };
}

async function main(): Promise<void> {
  const port = arg('port', 18010);
  const connections = arg('connections', 100);
  const duration_s = arg('duration_s', 10);
  const stored = arg('stored', 50_000);
  const main_js = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [main_js, '--port', String(port), '--fee', '0.07'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const { url } = JSON.parse(String(line)) as { url: string };
    const admin = new SimAdmin(url);

    console.log(JSON.stringify(await workerShaped(url, child.pid!, arg('rate', 600), duration_s)));
    await postLoad(url, { connections, duration: 2 }); // warm-up
    await admin.purge();
    const load = await postLoad(url, { connections, duration: duration_s });
    const statuses = Object.fromEntries(Object.entries(load.statusCodeStats).map(([k, v]) => [k, v.count]));
    console.log(
      JSON.stringify({
        bench: 'POST /payments',
        connections,
        duration_s,
        req_per_s: Math.round(load.requests.average),
        total: load.requests.total,
        latency_ms: { p50: load.latency.p50, p99: load.latency.p99, max: load.latency.max },
        statuses,
        errors: load.errors,
        timeouts: load.timeouts,
        stored_after: (await admin.stats()).stored,
      }),
    );

    await admin.purge();
    const started_iso = new Date().toISOString();
    await postLoad(url, { connections, amount: stored });
    const ended_iso = new Date().toISOString();
    const total_stored = (await admin.stats()).stored;
    const mid_ms = (Date.parse(started_iso) + Date.parse(ended_iso)) / 2;
    const window = `?from=${new Date(mid_ms - 1000).toISOString()}&to=${new Date(mid_ms + 1000).toISOString()}`;
    console.log(
      JSON.stringify({
        bench: 'GET /admin/payments-summary (HTTP round trip, sequential)',
        stored: total_stored,
        full_no_bounds: await timeSummary(url, '', 500),
        full_bounds: await timeSummary(url, `?from=${started_iso}&to=${ended_iso}`, 500),
        window_2s: await timeSummary(url, window, 500),
      }),
    );
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
