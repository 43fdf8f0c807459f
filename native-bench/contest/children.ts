// Child processes the bench starts (simulators, baseline, the service launcher): spawn, wait for
// the one-line {"event":"listening"} announcement, stop with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { lineTail, stopChild } from '../lib/child.js';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Last lines of stderr/stdout, for error messages. */
  tail(): string;
  stop(grace_ms?: number): Promise<void>;
}

const TAIL_LINES = 40;

export function spawnChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = lineTail(proc, TAIL_LINES);
  let exited = proc.exitCode !== null;
  const exitP = new Promise<void>((r) =>
    proc.once('exit', () => {
      exited = true;
      r();
    }),
  );
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    tail: output.text,
    async stop(grace_ms = 5000) {
      if (!exited) await stopChild(proc, exitP, 'SIGTERM', grace_ms);
    },
  };
}

/** Wait until the child prints {"event":"listening",...} on stdout; returns that object. */
export function waitListening(child: Child, timeout_ms = 20_000): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.proc.stdout! });
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name}: not listening after ${timeout_ms} ms\n${child.tail()}`));
    }, timeout_ms);
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${child.name}: exited (${code}) before listening\n${child.tail()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      rl.close();
      child.proc.off('exit', onExit);
    };
    rl.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; port?: number; url?: string };
        if (msg.event === 'listening' && typeof msg.port === 'number') {
          cleanup();
          resolve({ port: msg.port, url: msg.url ?? `http://127.0.0.1:${msg.port}` });
        }
      } catch {
        /* not JSON: ordinary log line */
      }
    });
    child.proc.once('exit', onExit);
  });
}
