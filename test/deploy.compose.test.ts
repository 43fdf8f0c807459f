// docker-compose.yml follows the contest's rules. Docker cannot run here, so the file is
// checked structurally; the same topology is run natively by native-bench/topology.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net.js';
import { stopProcess } from './support/stack.js';
import { readComposeDocument, readComposeLimits, serviceEnvironment, type ComposeService } from '../native-bench/topology/compose-file.js';

const repo_dir = fileURLToPath(new URL('../../', import.meta.url));
const compose_path = join(repo_dir, 'docker-compose.yml');
const doc = readComposeDocument(compose_path);
const services = doc.services ?? {};

const MAX_CPUS = 1.5;
const MAX_MEMORY_MB = 350;

/** Instances are the services built from this repository (the LB and Postgres are public images). */
function instanceNames(): string[] {
  return Object.entries(services)
    .filter(([, svc]) => svc.build !== undefined)
    .map(([name]) => name);
}

function networksOf(svc: ComposeService): string[] {
  if (!svc.networks) return [];
  return Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks);
}

function publishedPorts(svc: ComposeService): string[] {
  return (svc.ports ?? []).map((p) => (typeof p === 'string' ? p.split(':').slice(-2)[0] : String(p.published ?? '')));
}

test('every service has cpu and memory limits and they fit 1.5 CPU / 350 MB', () => {
  const limits = readComposeLimits(compose_path);
  for (const [name, l] of Object.entries(limits.services)) {
    assert.ok(l.cpus > 0, `${name} has no deploy.resources.limits.cpus`);
    assert.ok(l.memory_mb > 0, `${name} has no deploy.resources.limits.memory`);
  }
  assert.ok(limits.total.cpus <= MAX_CPUS, `total cpus ${limits.total.cpus} > ${MAX_CPUS}`);
  assert.ok(limits.total.memory_mb <= MAX_MEMORY_MB, `total memory ${limits.total.memory_mb} MB > ${MAX_MEMORY_MB}`);
});

test('at least two instances of the service, built here, with the published image name', () => {
  const names = instanceNames();
  assert.ok(names.length >= 2, `instances: ${names.join(', ')}`);
  for (const name of names) {
    assert.equal(services[name].image, '${RINHA_IMAGE:-rinha-node:latest}', `${name}.image`);
    assert.equal(services[name].build, '.', `${name}.build`);
    assert.equal(services[name].init, true, `${name}.init`);
  }
});

test('the load balancer publishes 9999 and is the only service publishing a port', () => {
  const publishers = Object.entries(services).filter(([, svc]) => (svc.ports ?? []).length > 0);
  assert.deepEqual(
    publishers.map(([name]) => name),
    ['haproxy'],
  );
  assert.deepEqual(publishedPorts(services.haproxy), ['9999']);
  const env = serviceEnvironment(services.haproxy);
  assert.equal(env.LB_BIND, ':9999');
});

test('the load balancer routes to every instance, and waits for them to be healthy', () => {
  const env = serviceEnvironment(services.haproxy);
  const targets = [env.API1_ADDR, env.API2_ADDR].map((addr) => addr.split(':')[0]);
  assert.deepEqual(targets.sort(), instanceNames().sort());
  const depends = services.haproxy.depends_on as Record<string, { condition?: string }>;
  for (const name of instanceNames()) assert.equal(depends[name]?.condition, 'service_healthy', `haproxy waits for ${name}`);
  const instance_port = serviceEnvironment(services[instanceNames()[0]]).PORT;
  for (const addr of [env.API1_ADDR, env.API2_ADDR]) assert.equal(addr.split(':')[1], instance_port);
});

test('instances join the external payment-processor network and use the contest processor URLs', () => {
  assert.equal(doc.networks?.['payment-processor']?.external, true);
  for (const name of instanceNames()) {
    const svc = services[name];
    assert.ok(networksOf(svc).includes('payment-processor'), `${name} joins payment-processor`);
    const env = serviceEnvironment(svc);
    assert.equal(env.PAYMENT_PROCESSOR_URL_DEFAULT, 'http://payment-processor-default:8080');
    assert.equal(env.PAYMENT_PROCESSOR_URL_FALLBACK, 'http://payment-processor-fallback:8080');
    assert.equal(env.PURGE_ENABLED, 'true');
    assert.match(env.DATABASE_URL, /^postgres:\/\/[^@]+@postgres:5432\//);
    const depends = svc.depends_on as Record<string, { condition?: string }>;
    assert.equal(depends.postgres?.condition, 'service_healthy');
    assert.ok(svc.healthcheck?.test, `${name} has a healthcheck`);
  }
  // Every service is on some declared network (no default network surprises).
  for (const [name, svc] of Object.entries(services)) {
    for (const net of networksOf(svc)) assert.ok(doc.networks && net in doc.networks, `${name}: network ${net} declared`);
  }
});

test('bridge networking only: no host mode, no privileged, no replicas', () => {
  for (const [name, svc] of Object.entries(services)) {
    assert.equal(svc.network_mode, undefined, `${name}.network_mode`);
    assert.notEqual(svc.privileged, true, `${name}.privileged`);
    assert.equal(svc.deploy?.replicas, undefined, `${name}.deploy.replicas`);
  }
  for (const [name, net] of Object.entries(doc.networks ?? {})) {
    if (!net?.external) assert.equal(net?.driver ?? 'bridge', 'bridge', `network ${name}`);
  }
});

test('Postgres has a readiness healthcheck and the tuning flags', () => {
  const pg = services.postgres;
  assert.match(String(pg.image), /^postgres:\d+/);
  assert.match(JSON.stringify(pg.healthcheck?.test), /pg_isready/);
  const command = (pg.command as string[]).join(' ');
  for (const flag of ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=']) {
    assert.ok(command.includes(flag), `postgres command has ${flag}`);
  }
});

test('every file the compose file mounts exists', () => {
  let mounts = 0;
  for (const [name, svc] of Object.entries(services)) {
    for (const volume of svc.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0] : (volume.source ?? '');
      if (!source.startsWith('.') && !source.startsWith('/')) continue; // named volume
      mounts++;
      assert.ok(existsSync(join(repo_dir, source)), `${name} mounts ${source}, which exists`);
    }
  }
  assert.ok(mounts >= 1, 'the haproxy config is mounted');
});

test('haproxy.cfg has one server line per instance, addressed from the environment', () => {
  const cfg = readFileSync(join(repo_dir, 'haproxy.cfg'), 'utf8');
  const servers = cfg.split('\n').filter((line) => /^\s*server\s/.test(line));
  assert.deepEqual(
    servers.map((line) => line.trim().split(/\s+/)[2]),
    ['"${API1_ADDR}"', '"${API2_ADDR}"'],
  );
  assert.ok(!/^\s*log\s/m.test(cfg), 'no logging on the hot path');
});

const children: ChildProcess[] = [];
after(async () => {
  await Promise.all(children.map((c) => stopProcess(c)));
});

test('the instance healthcheck command passes against a uWS /health and fails when nothing listens', async () => {
  const check = services[instanceNames()[0]].healthcheck?.test as string[];
  assert.deepEqual(check.slice(0, 3), ['CMD', 'bash', '-c']);
  const port = await freePort();
  const backend = spawn(process.execPath, [join(repo_dir, 'dist/native-bench/topology/echo-backend.js')], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(backend);
  await new Promise<void>((resolve, reject) => {
    backend.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"listening"')) resolve();
    });
    backend.once('exit', (code) => reject(new Error(`echo backend exited (${code})`)));
  });
  const script = check[3].replace('/127.0.0.1/8080', `/127.0.0.1/${port}`);
  assert.notEqual(script, check[3], 'the check targets 127.0.0.1:8080');
  const healthy = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 5000 });
  assert.equal(healthy.status, 0, healthy.stderr);
  const closed_port = await freePort();
  const down = spawnSync('bash', ['-c', check[3].replace('/127.0.0.1/8080', `/127.0.0.1/${closed_port}`)], {
    encoding: 'utf8',
    timeout: 5000,
  });
  assert.notEqual(down.status, 0);
});
