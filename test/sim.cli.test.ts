// The simulator's command line: the listening line, argument errors, clean exit on signals.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { request } from 'undici';

const main_js = fileURLToPath(new URL('../native-bench/processor-sim/main.js', import.meta.url));
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [main_js, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  let buffer = '';
  for await (const chunk of child.stdout!) {
    buffer += String(chunk);
    const nl = buffer.indexOf('\n');
    if (nl >= 0) return buffer.slice(0, nl + 1);
  }
  throw new Error('no line before stdout closed');
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`prints exactly one listening line, serves, and exits 0 on ${signal}`, async () => {
    const child = run(['--port', '0', '--fee', '0.07', '--token', 't1', '--name', 'fallback']);
    const line = await firstLine(child);
    assert.match(line, /^\{"event":"listening","port":\d+,"url":"http:\/\/127\.0\.0\.1:\d+"\}\n$/);
    const parsed = JSON.parse(line) as { event: string; port: number; url: string };
    assert.ok(parsed.port > 0);
    assert.equal(parsed.url, 'http://127.0.0.1:' + parsed.port);
    const res = await request(parsed.url + '/admin/payments-summary', { headers: { 'x-rinha-token': 't1' } });
    assert.equal(res.statusCode, 200);
    assert.equal(JSON.parse(await res.body.text()).feePerTransaction, 0.07);
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = await exited;
    assert.equal(code, 0);
  });
}

test('missing or invalid arguments exit 2 with a message on stderr', async () => {
  for (const args of [
    ['--fee', '0.07'],
    ['--port', '0'],
    ['--port', 'x', '--fee', '0.07'],
    ['--port', '0', '--fee', '7'],
    ['--port', '0', '--fee', '0.1', '--bogus', '1'],
  ]) {
    const child = run(args);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, /processor-sim:/);
  }
});

test('a busy port makes it exit non-zero instead of printing the line', async () => {
  const first = run(['--port', '0', '--fee', '0.05']);
  const { port } = JSON.parse(await firstLine(first)) as { port: number };
  const second = run(['--port', String(port), '--fee', '0.05']);
  let stdout = '';
  second.stdout!.on('data', (d) => (stdout += String(d)));
  const [code] = await once(second, 'exit');
  assert.notEqual(code, 0);
  assert.equal(stdout, '');
  first.kill('SIGTERM');
  await once(first, 'exit');
});
