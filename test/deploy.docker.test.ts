// The submission run by Docker as the contest runs it: the image built from the Dockerfile,
// docker-compose.yml brought up with `docker compose` (its own project, published port and
// processors network, so a bench on 9999 is not disturbed), the processors as containers. Every
// service healthy, the limits each container got equal to the compose file's, payments through the
// load balancer summarized exactly as the processors recorded them, a purge, then down.
// Docker and compose are installed and dockerd started when missing (root + apt-get); where that is
// impossible the test fails and says why.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { REPO_DIR, buildServiceImage, docker, ensureBaseImages, ensureEngine, type Engine } from '../native-bench/docker/docker.js';
import { startProcessorContainers, type ProcessorContainers } from '../native-bench/docker/processors.js';
import { composeUp, limitMismatches, type Stack } from '../native-bench/docker/compose.js';
import { readComposeLimits } from '../native-bench/topology/compose-file.js';
import { join } from 'node:path';
import { freePort } from '../src/net.js';
import { eventually, payment, post, summary, type Summary } from './support/stack.js';

const PROJECT = 'rinha-node-test';
const IMAGE = 'rinha-node:test';
const PAYMENTS = 40;

let engine: Engine | undefined;
let procs: ProcessorContainers | undefined;
let stack: Stack | undefined;

before(async () => {
  engine = await ensureEngine();
  await ensureBaseImages();
  await buildServiceImage(IMAGE);
  procs = await startProcessorContainers({
    network: `${PROJECT}-processors`,
    container_prefix: `${PROJECT}-processor-`,
    host_ports: [0, 0],
    fees: [0.05, 0.15],
  });
  stack = await composeUp({ project: PROJECT, image: IMAGE, port: await freePort(), network: `${PROJECT}-processors` });
});

after(async () => {
  try {
    await stack?.stop();
  } finally {
    try {
      await procs?.stop();
    } finally {
      await engine?.stop();
    }
  }
});

/** Seeded, so a failure replays with the same payments. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

async function adminSummary(url: string): Promise<{ totalRequests: number; totalAmount: number }> {
  const res = await fetch(`${url}/admin/payments-summary`, { headers: { 'X-Rinha-Token': procs!.token } });
  assert.equal(res.status, 200);
  const s = (await res.json()) as { totalRequests: number; totalAmount: number };
  return { totalRequests: s.totalRequests, totalAmount: s.totalAmount };
}

test('every service of the compose file runs, and each with a healthcheck is healthy', async () => {
  const services = Object.keys(readComposeLimits(join(REPO_DIR, 'docker-compose.yml')).services).sort();
  assert.deepEqual(
    stack!.containers.map((c) => c.service),
    services,
  );
  for (const c of stack!.containers) {
    const [status, health] = (
      await docker(['inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', c.id])
    ).stdout
      .trim()
      .split(' ');
    assert.equal(status, 'running', c.service);
    assert.ok(health === 'healthy' || health === 'none', `${c.service}: ${health}`);
  }
  assert.ok(stack!.containers.filter((c) => c.service.startsWith('api')).length >= 2, 'two instances');
});

test("the limits in each container's cgroup equal the compose file's", () => {
  for (const c of stack!.containers) {
    assert.ok(c.cgroup.limits.cpus > 0 && c.cgroup.limits.memory_mb > 0, `${c.service}: ${JSON.stringify(c.cgroup.limits)}`);
  }
  assert.deepEqual(limitMismatches(stack!.containers), []);
});

test('payments through the load balancer: the summary equals what the processors recorded, then a purge empties it', async () => {
  const random = seeded(20250701);
  let cents = 0;
  for (let i = 0; i < PAYMENTS; i++) {
    const amount_cents = 1 + Math.floor(random() * 100_000);
    cents += amount_cents;
    const r = await post(stack!.url, '/payments', payment(uuid(random), amount_cents / 100));
    assert.equal(r.status, 202, r.text);
  }
  let last:
    | { service: Summary; d: { totalRequests: number; totalAmount: number }; f: { totalRequests: number; totalAmount: number } }
    | undefined;
  const settled = await eventually(
    async () => {
      const [service, d, f] = await Promise.all([summary(stack!.url), adminSummary(procs!.default_url), adminSummary(procs!.fallback_url)]);
      last = { service, d, f };
      return d.totalRequests + f.totalRequests === PAYMENTS && service.default.totalRequests + service.fallback.totalRequests === PAYMENTS;
    },
    60_000,
    200,
  );
  assert.ok(settled, `not all ${PAYMENTS} payments paid and summarized: ${JSON.stringify(last)}`);
  const inCents = (x: { totalRequests: number; totalAmount: number }) => ({
    requests: x.totalRequests,
    cents: Math.round(x.totalAmount * 100),
  });
  assert.deepEqual(inCents(last!.service.default), inCents(last!.d));
  assert.deepEqual(inCents(last!.service.fallback), inCents(last!.f));
  assert.equal(Math.round((last!.d.totalAmount + last!.f.totalAmount) * 100), cents);

  const purged = await post(stack!.url, '/purge-payments', '');
  assert.ok(purged.status >= 200 && purged.status < 300, `purge: ${purged.status} ${purged.text}`);
  assert.deepEqual(await summary(stack!.url), {
    default: { totalRequests: 0, totalAmount: 0 },
    fallback: { totalRequests: 0, totalAmount: 0 },
  });
});
