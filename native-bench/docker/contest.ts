// `npm run bench:contest -- --topology docker`: the submission as the contest runs it. The engine and
// base images made present, the processors as containers, the image built from the Dockerfile, the
// compose stack up with Docker enforcing its limits; the baseline is the do-nothing server as both
// instances behind the same haproxy container.
import { buildServiceImage, ensureBaseImages, ensureEngine } from './docker.js';
import { composeDown, composeUp, limitMismatches, type Stack } from './compose.js';
import { startProcessorContainers } from './processors.js';

const IMAGE = 'rinha-node:latest';
const PROJECT = 'rinha-node';
const log = (line: string) => process.stderr.write(`[docker] ${line}\n`);

export interface DockerProcessors {
  default_url: string;
  fallback_url: string;
  token: string;
  pids: number[];
  stop(): Promise<void>;
}
export interface DockerService {
  url: string;
  stack: Stack;
  description: string;
  stop(): Promise<void>;
}

/** Engine, base images and the two processor containers; stop() also stops a dockerd started here. */
export async function startDockerProcessors(o: {
  default_port: number;
  fallback_port: number;
  fee_default: number;
  fee_fallback: number;
}): Promise<DockerProcessors> {
  const engine = await ensureEngine(log);
  try {
    await ensureBaseImages(log);
    const p = await startProcessorContainers({
      network: 'payment-processor',
      container_prefix: 'payment-processor-',
      host_ports: [o.default_port, o.fallback_port],
      fees: [o.fee_default, o.fee_fallback],
      log,
    });
    // Stopped last: the stacks are down already, unless a signal came while one was coming up.
    const stop = async () => {
      try {
        for (const project of [PROJECT, `${PROJECT}-baseline`])
          await composeDown(project).catch((err) => log(`${project}: ${(err as Error).message}`));
        await p.stop();
      } finally {
        await engine.stop();
      }
    };
    return { ...p, stop };
  } catch (err) {
    await engine.stop().catch(() => {});
    throw err;
  }
}

function describe(stack: Stack, what: string): string {
  const limits = stack.containers.map((c) => `${c.service} ${c.cgroup.limits.cpus} CPU/${c.cgroup.limits.memory_mb} MB`).join(', ');
  const mismatches = limitMismatches(stack.containers);
  const equal = mismatches.length === 0 ? "equal to the compose file's" : `NOT the compose file's: ${mismatches.join('; ')}`;
  return `${what}; ready ${stack.up_to_ready_s.toFixed(1)} s after compose up; cgroup ${stack.containers[0]?.cgroup.version} limits (${limits}) ${equal}`;
}

function withReport(stack: Stack): () => Promise<void> {
  return async () => {
    for (const line of stack.memoryReport()) log(line);
    await stack.stop();
  };
}

/** `file`: the compose file to run (a variant's copy for A/B runs; its relative paths resolve from its directory). */
export async function startDockerService(file: string): Promise<DockerService> {
  const built = await buildServiceImage(IMAGE, log);
  const stack = await composeUp({ project: PROJECT, file, image: IMAGE, log });
  const what = `docker compose: ${IMAGE} (${built.size_mb} MB) from Dockerfile, ${file} as given, limits enforced by Docker`;
  return { url: stack.url, stack, description: describe(stack, what), stop: withReport(stack) };
}

export async function startDockerBaseline(file: string): Promise<DockerService> {
  const stack = await composeUp({ project: `${PROJECT}-baseline`, file, image: IMAGE, baseline: true, log });
  const what = 'baseline uWS server as api1 and api2 in containers behind the same haproxy container and limits (no Postgres)';
  return { url: stack.url, stack, description: describe(stack, what), stop: withReport(stack) };
}
