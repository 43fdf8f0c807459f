// The docker-compose topology, run natively for real: Postgres + haproxy (the repository's haproxy.cfg)
// + two instances of dist/src/main.js with the compose environment and limits. Payments sent to the
// LB port reach the processors and show up in the summary, whichever instance answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { startSimulator, type SimulatorHandle } from '../native-bench/processor-sim/server.js';
import { freePort } from '../src/net.js';
import { startComposeTopology, type Topology } from '../native-bench/topology/native.js';

const PAYMENTS = 20;
const AMOUNT = 20.05;
const SUMMARY_WAIT_MS = 15_000;

const sims: SimulatorHandle[] = [];
let topology: Topology | undefined;
after(async () => {
  await topology?.stop();
  await Promise.all(sims.map((s) => s.close()));
});

interface Summary {
  default: { totalRequests: number; totalAmount: number };
  fallback: { totalRequests: number; totalAmount: number };
}

test('payments through the LB port reach a processor and the summary counts them', async () => {
  sims.push(await startSimulator({ port: 0, fee: 0.07, name: 'default' }), await startSimulator({ port: 0, fee: 0.1, name: 'fallback' }));
  const log_lines: string[] = [];
  topology = await startComposeTopology({
    processorDefaultUrl: sims[0].url,
    processorFallbackUrl: sims[1].url,
    port: await freePort(),
    log: (line) => {
      log_lines.push(line);
      if (log_lines.length > 200) log_lines.shift();
    },
  });
  assert.ok(topology.components.some((c) => c.name === 'haproxy'));
  assert.equal(topology.components.filter((c) => /^api\d$/.test(c.name)).length, 2);

  const purge = await fetch(`${topology.url}/purge-payments`, { method: 'POST' });
  assert.ok(purge.status < 300, `purge: ${purge.status}`);
  for (let i = 0; i < PAYMENTS; i++) {
    const res = await fetch(`${topology.url}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ correlationId: randomUUID(), amount: AMOUNT }),
    });
    assert.ok([200, 201, 202, 204].includes(res.status), `POST /payments: ${res.status}`);
    await res.arrayBuffer();
  }

  let summary: Summary | undefined;
  const deadline = Date.now() + SUMMARY_WAIT_MS;
  while (Date.now() < deadline) {
    const res = await fetch(`${topology.url}/payments-summary`);
    assert.equal(res.status, 200);
    summary = (await res.json()) as Summary;
    if (summary.default.totalRequests + summary.fallback.totalRequests >= PAYMENTS) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(summary, 'summary answered');
  assert.equal(summary.default.totalRequests + summary.fallback.totalRequests, PAYMENTS, log_lines.slice(-30).join('\n'));
  assert.equal(Math.round((summary.default.totalAmount + summary.fallback.totalAmount) * 100), PAYMENTS * Math.round(AMOUNT * 100));

  // The processors hold exactly what the summary reports.
  for (const [i, side] of (['default', 'fallback'] as const).entries()) {
    const res = await fetch(`${sims[i].url}/admin/payments-summary`, { headers: { 'X-Rinha-Token': '123' } });
    const admin = (await res.json()) as { totalRequests: number };
    assert.equal(admin.totalRequests, summary[side].totalRequests, `${side} processor vs summary`);
  }
});

test('stop() ends every component and removes the cgroups', async () => {
  assert.ok(topology);
  const pids = topology.components.map((c) => c.pid);
  const groups = topology.cgroups.flatMap((g) => (g as { dirs?: string[] }).dirs ?? []);
  await topology.stop();
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), `pid ${pid} is gone`);
  }
  for (const dir of groups) assert.ok(!existsSync(dir), `${dir} removed`);
});
