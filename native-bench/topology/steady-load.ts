// Open-loop load generator shaped like the contest client: one keep-alive connection per virtual
// user, requests spread evenly in time (not autocannon's once-per-second bursts), float-ms latency.
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';

/** 'fixed': the same body every time (do-nothing backends); 'unique': a fresh correlationId each time. */
export type Payload = 'fixed' | 'unique';
const AMOUNT = 20.05;
const FIXED_BODY = JSON.stringify({ correlationId: '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3', amount: AMOUNT });

/**
 * Open-loop steady load: request k starts at k / rate seconds on connection k % connections (one
 * keep-alive socket per connection, like the contest's one connection per virtual user), so arrivals
 * are spread evenly instead of autocannon's once-per-second bursts. Latency = start to last byte.
 */
export async function steadyLoad(
  url: string,
  rate: number,
  duration_s: number,
  connections: number,
  record: boolean,
  payload: Payload = 'fixed',
): Promise<{ latencies: Float64Array; errors: number }> {
  const agents = Array.from({ length: connections }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const target = new URL(`${url}/payments`);
  const total = Math.round(rate * duration_s);
  const latencies = new Float64Array(total);
  let done = 0;
  let ok = 0;
  let errors = 0;
  let issued = 0;
  const error_kinds = new Map<string, number>();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++done === total) resolve();
    };
    const issue = () => {
      const started = performance.now();
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent: agents[issued % connections],
          headers: { 'content-type': 'application/json' },
          timeout: 2000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) latencies[ok++] = performance.now() - started;
            else {
              errors++;
              error_kinds.set(String(res.statusCode), (error_kinds.get(String(res.statusCode)) ?? 0) + 1);
            }
            finish();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        errors++;
        error_kinds.set(err.code ?? err.message, (error_kinds.get(err.code ?? err.message) ?? 0) + 1);
        finish();
      });
      req.end(payload === 'fixed' ? FIXED_BODY : JSON.stringify({ correlationId: randomUUID(), amount: AMOUNT }));
      issued++;
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (issued < due) issue();
      if (issued < total) setTimeout(tick, 1);
    };
    tick();
  });
  for (const agent of agents) agent.destroy();
  if (error_kinds.size > 0) process.stderr.write(`steady-load: errors ${JSON.stringify(Object.fromEntries(error_kinds))}\n`);
  return { latencies: record ? latencies.slice(0, ok).sort() : new Float64Array(0), errors };
}
