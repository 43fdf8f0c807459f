// Child processes of the native topology: spawn (optionally inside a cgroup, optionally as another
// user), keep the last output lines for error messages, stop with a signal then SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Cgroup } from '../lib/cgroup.js';
import { lineTail, stopChild } from '../lib/child.js';

const TAIL_LINES = 60;

// Components still running; killed if the launcher exits without stopping them (crash, process.exit).
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of live) {
    try {
      proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export interface Component {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly cgroup?: Cgroup;
  exited(): boolean;
  tail(): string;
  /** Wait for the process to exit by itself (SIGKILL after timeout_ms); resolves to its exit code. */
  wait(timeout_ms: number): Promise<number | null>;
  stop(signal?: NodeJS.Signals, grace_ms?: number): Promise<void>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cgroup?: Cgroup;
  run_as_user?: string; // drop to this user (needed for Postgres when we are root)
  log?: (line: string) => void;
}

/** uid of a system user, or undefined if it does not exist. */
export function userId(user: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export function spawnComponent(name: string, command: string, args: string[], opts: SpawnOptions): Component {
  let cmd = command;
  let argv = args;
  if (opts.run_as_user) {
    // setpriv execs in place (no extra process to forward signals through, unlike su/runuser).
    argv = [`--reuid=${opts.run_as_user}`, `--regid=${opts.run_as_user}`, '--init-groups', '--', cmd, ...argv];
    cmd = 'setpriv';
  }
  if (opts.cgroup) ({ command: cmd, args: argv } = opts.cgroup.wrap(cmd, argv));
  // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops components in
  // order (LB, then instances drain into Postgres, then Postgres) instead of all at once.
  const proc = spawn(cmd, argv, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const output = lineTail(proc, TAIL_LINES, opts.log && ((line) => opts.log!(`[${name}] ${line}`)));
  let has_exited = false;
  const exit_promise = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      has_exited = true;
      resolve();
    });
    proc.once('error', (err) => {
      output.keep(`spawn error: ${err.message}`);
      has_exited = true;
      resolve();
    });
  });
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    cgroup: opts.cgroup,
    exited: () => has_exited,
    tail: output.text,
    async wait(timeout_ms) {
      await stopChild(proc, exit_promise, null, timeout_ms);
      return proc.exitCode;
    },
    async stop(signal = 'SIGTERM', grace_ms = 10_000) {
      if (!has_exited) await stopChild(proc, exit_promise, signal, grace_ms);
    },
  };
}
