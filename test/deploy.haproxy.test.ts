// haproxy.cfg is valid for both address styles (compose host:port, native unix socket) and really
// balances over two backends, one on TCP and one on a unix socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readComposeDocument, serviceEnvironment } from '../native-bench/topology/compose-file.js';

const repo_dir = fileURLToPath(new URL('../../', import.meta.url));
const cfg_path = join(repo_dir, 'haproxy.cfg');
const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
const STARTUP_TIMEOUT_MS = 10_000;

const temp_dir = mkdtempSync(join(tmpdir(), 'deploy-haproxy-'));
const servers: Server[] = [];
let haproxy: ChildProcess | undefined;

after(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = new Promise((resolve) => haproxy!.once('exit', resolve));
    haproxy.kill('SIGTERM');
    await exited;
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(temp_dir, { recursive: true, force: true });
});

function checkConfig(env: Record<string, string>): { status: number | null; output: string } {
  const run = spawnSync(HAPROXY_BIN, ['-c', '-f', cfg_path], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 });
  if (run.error) throw new Error(`cannot run ${HAPROXY_BIN} (test/ensure-tools.sh installs it): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('haproxy -c accepts the config with the compose environment', () => {
  const env = serviceEnvironment(readComposeDocument(join(repo_dir, 'docker-compose.yml')).services!.haproxy);
  const result = checkConfig(env);
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /Configuration file is valid/);
});

test('haproxy -c accepts unix socket and 127.0.0.1 addresses (the native topology)', () => {
  const result = checkConfig({ LB_BIND: '127.0.0.1:18299', API1_ADDR: 'unix@/tmp/api1.sock', API2_ADDR: '127.0.0.1:18298' });
  assert.equal(result.status, 0, result.output);
});

function backend(name: string): Server {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.url === '/health' ? 'ok' : name);
  });
  servers.push(server);
  return server;
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('haproxy balances over a TCP backend and a unix-socket backend', async () => {
  const tcp_backend = backend('tcp');
  await new Promise<void>((resolve) => tcp_backend.listen(0, '127.0.0.1', resolve));
  const socket_path = join(temp_dir, 'api2.sock');
  const unix_backend = backend('unix');
  await new Promise<void>((resolve) => unix_backend.listen(socket_path, resolve));
  const lb_port = await freePort();

  haproxy = spawn(HAPROXY_BIN, ['-f', cfg_path, '-db'], {
    env: {
      ...process.env,
      LB_BIND: `127.0.0.1:${lb_port}`,
      API1_ADDR: `127.0.0.1:${(tcp_backend.address() as AddressInfo).port}`,
      API2_ADDR: `unix@${socket_path}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  haproxy.stderr!.on('data', (chunk) => (stderr += chunk));

  // Wait (bounded) until the LB answers.
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let first: { status: number; body: string } | undefined;
  while (Date.now() < deadline && !first) {
    first = await get(lb_port, '/payments-summary').catch(() => undefined);
    if (!first) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(first, `haproxy did not answer: ${stderr}`);

  const seen = new Set<string>([first.body]);
  for (let i = 0; i < 10; i++) {
    const res = await get(lb_port, '/payments-summary');
    assert.equal(res.status, 200);
    seen.add(res.body);
  }
  assert.deepEqual([...seen].sort(), ['tcp', 'unix']);
});
