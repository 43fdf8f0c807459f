// The baseline servers of native-bench: the do-nothing one answers 202 and pays nothing; the
// paying one (--pay) also sends every accepted payment, once, to the processor it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { startBaseline } from '../native-bench/baseline/server.js';
import { startSimulator } from '../native-bench/processor-sim/server.js';
import { SimAdmin } from '../native-bench/processor-sim/client.js';

const post = async (url: string, body: string) => {
  const r = await request(`${url}/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await r.body.dump();
  return r.statusCode;
};

test('the paying baseline sends each accepted payment once to its processor; the plain one sends none', async () => {
  const sim = await startSimulator({ port: 0, fee: 0.07, name: 'default' });
  const admin = new SimAdmin(sim.url);
  const paying = await startBaseline({ port: 0, pay: sim.url });
  const plain = await startBaseline({ port: 0 });
  try {
    for (let i = 0; i < 25; i++) assert.equal(await post(paying.url, JSON.stringify({ correlationId: randomUUID(), amount: 19.9 })), 202);
    for (let i = 0; i < 5; i++) assert.equal(await post(plain.url, JSON.stringify({ correlationId: randomUUID(), amount: 19.9 })), 202);
    // The sends are fire-and-forget: wait until the processor has them all (bounded).
    let summary = await admin.summary();
    for (let i = 0; i < 100 && summary.totalRequests < 25; i++) {
      await new Promise((r) => setTimeout(r, 50));
      summary = await admin.summary();
    }
    assert.equal(summary.totalRequests, 25);
    assert.equal(summary.totalAmount, 497.5);
  } finally {
    paying.close();
    plain.close();
    await sim.close();
  }
});
