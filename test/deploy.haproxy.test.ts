// haproxy.cfg is valid for both address styles (compose host:port, native unix socket) and really
// balances over two backends, one on TCP and one on a unix socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net.js';
import { stopProcess } from './support/stack.js';
import { readComposeDocument, serviceEnvironment } from '../native-bench/topology/compose-file.js';

const repo_dir = fileURLToPath(new URL('../../', import.meta.url));
const cfg_path = join(repo_dir, 'haproxy.cfg');
const HAPROXY_BIN = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
const STARTUP_TIMEOUT_MS = 10_000;
const HEALTH_ROUNDS_MS = 4_500;

const temp_dir = mkdtempSync(join(tmpdir(), 'deploy-haproxy-'));
const children: ChildProcess[] = [];
let haproxy: ChildProcess | undefined;

after(async () => {
  if (haproxy) await stopProcess(haproxy);
  await Promise.all(children.map((c) => stopProcess(c)));
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

/** A uWebSockets.js backend (like the real instance: it ignores haproxy's default HTTP/1.0 probe). */
async function startEchoBackend(name: string, env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, [join(repo_dir, 'dist/native-bench/topology/echo-backend.js')], {
    env: { ...process.env, ...env, BACKEND_NAME: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"listening"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`echo backend ${name} exited (${code})`)));
  });
}

function get(port: number, path: string): Promise<{ status: number; backend: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? body) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('haproxy balances over a TCP backend and a unix-socket backend, and its health checks pass', async () => {
  const tcp_port = await freePort();
  await startEchoBackend('tcp', { PORT: String(tcp_port) });
  const socket_path = join(temp_dir, 'api2.sock');
  await startEchoBackend('unix', { LISTEN_SOCKET: socket_path });
  const lb_port = await freePort();

  haproxy = spawn(HAPROXY_BIN, ['-f', cfg_path, '-db'], {
    env: { ...process.env, LB_BIND: `127.0.0.1:${lb_port}`, API1_ADDR: `127.0.0.1:${tcp_port}`, API2_ADDR: `unix@${socket_path}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  haproxy.stderr!.on('data', (chunk) => (stderr += chunk));

  // Wait (bounded) until the LB answers.
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let first: { status: number; backend: string } | undefined;
  while (Date.now() < deadline && first?.status !== 200) {
    first = await get(lb_port, '/payments-summary').catch(() => undefined);
    if (first?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(first?.status, 200, `haproxy did not answer: ${stderr}`);

  // Past two health-check rounds (inter 2s, fall 2): a failing probe would have taken servers down.
  await new Promise((resolve) => setTimeout(resolve, HEALTH_ROUNDS_MS));
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const res = await get(lb_port, '/payments-summary');
    assert.equal(res.status, 200, stderr);
    seen.add(res.backend);
  }
  assert.deepEqual([...seen].sort(), ['tcp', 'unix']);
  assert.doesNotMatch(stderr, /is DOWN, reason: Layer7/, 'health probe fails at layer 7');
});
