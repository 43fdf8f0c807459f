// The two payment processors as containers, as the contest runs them: on the external network the
// compose file joins, under the names it calls (payment-processor-default:8080,
// payment-processor-fallback:8080), from the project's own simulator (the compiled
// native-bench/processor-sim, mounted read-only into the Node base image), admin API published on
// the host for the bench. Processors run without limits, as in the native topologies.
import { join } from 'node:path';
import { REPO_DIR, LABEL, docker, refTimeout } from './docker.js';

export interface ProcessorContainersOptions {
  network: string; // 'payment-processor' as the compose file names it
  container_prefix: string; // container names: <prefix>default, <prefix>fallback
  host_ports: [number, number]; // published admin ports (0: any free port)
  fees: [number, number];
  image?: string; // default node:20-bookworm-slim (the Dockerfile's base)
  log?: (line: string) => void;
}

export interface ProcessorContainers {
  default_url: string;
  fallback_url: string;
  token: string;
  pids: number[];
  stop(): Promise<void>;
}

const TOKEN = '123';

async function exists(kind: 'network' | 'container', name: string): Promise<{ ours: boolean } | undefined> {
  try {
    const out = await docker([kind, 'inspect', '-f', `{{index .${kind === 'network' ? '' : 'Config.'}Labels "${LABEL}"}}`, name]);
    return { ours: out.stdout.trim() !== '' && out.stdout.trim() !== '<no value>' };
  } catch {
    return undefined;
  }
}

async function waitAdmin(url: string, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/admin/payments-summary`, { headers: { 'X-Rinha-Token': TOKEN }, signal: refTimeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`processor admin API at ${url} not answering after ${timeout_ms} ms (${last})`);
}

export async function startProcessorContainers(o: ProcessorContainersOptions): Promise<ProcessorContainers> {
  const log = o.log ?? (() => {});
  const image = o.image ?? 'node:20-bookworm-slim';
  const undo: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    while (undo.length) await undo.pop()!().catch(() => {});
  };
  try {
    const net = await exists('network', o.network);
    if (!net) {
      await docker(['network', 'create', '--label', `${LABEL}=1`, o.network]);
      undo.push(() => docker(['network', 'rm', o.network]));
    }
    const urls: string[] = [];
    const pids: number[] = [];
    for (const [i, role] of (['default', 'fallback'] as const).entries()) {
      const name = `${o.container_prefix}${role}`;
      const found = await exists('container', name);
      if (found && !found.ours) throw new Error(`a container named ${name} exists and was not started by this bench; remove it first`);
      if (found) await docker(['rm', '-f', name]);
      const publish = `127.0.0.1:${o.host_ports[i] || ''}:8080`;
      await docker([
        'run',
        '-d',
        '--name',
        name,
        '--label',
        `${LABEL}=1`,
        '--network',
        o.network,
        '--network-alias',
        `payment-processor-${role}`,
        '-p',
        publish,
        '-w',
        '/repo',
        '-v',
        `${join(REPO_DIR, 'dist')}:/repo/dist:ro`,
        '-v',
        `${join(REPO_DIR, 'node_modules')}:/repo/node_modules:ro`,
        '-v',
        `${join(REPO_DIR, 'package.json')}:/repo/package.json:ro`,
        image,
        'node',
        'dist/native-bench/processor-sim/main.js',
        '--port',
        '8080',
        '--host',
        '0.0.0.0',
        '--fee',
        String(o.fees[i]),
        '--name',
        role,
        '--token',
        TOKEN,
      ]);
      undo.push(() => docker(['rm', '-f', name]));
      const port = (await docker(['port', name, '8080/tcp'])).stdout.trim().split('\n')[0].split(':').pop();
      urls.push(`http://127.0.0.1:${port}`);
      pids.push(Number((await docker(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim()));
    }
    await Promise.all(urls.map((u) => waitAdmin(u, 30_000)));
    log(`processors: ${o.container_prefix}default, ${o.container_prefix}fallback on network ${o.network} (admin ${urls.join(', ')})`);
    return { default_url: urls[0], fallback_url: urls[1], token: TOKEN, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
