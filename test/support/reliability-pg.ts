// A Postgres we can stop and start on the same port and data directory (Debian's PostgreSQL 15,
// run as the `postgres` user when we are root), for restart tests. The embedded one of
// src/store/embedded.ts cannot do that: it deletes its data directory when it stops.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface RestartablePg {
  url: string;
  port: number;
  // 'fast': clean shutdown (UNLOGGED tables survive); 'immediate': like a crash (they are emptied).
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  destroy(): void;
}

export function debianPgAvailable(): boolean {
  return existsSync(join(PG_BIN, 'pg_ctl')) && existsSync(join(PG_BIN, 'initdb'));
}

function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('running as root and there is no postgres user');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function run(cmd: string, args: string[], ids: { uid?: number; gid?: number }): void {
  const r = spawnSync(join(PG_BIN, cmd), args, { ...ids, encoding: 'utf8', timeout: 60_000, env: { ...process.env, LC_ALL: 'C' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

export async function startRestartablePg(max_connections = 80): Promise<RestartablePg> {
  const ids = runAs();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rinha-rel-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const log = join(dir, 'log.txt');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], ids);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=${max_connections}`;
  const pg: RestartablePg = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => run('pg_ctl', ['start', '-w', '-t', '30', '-D', data, '-l', log, '-o', opts], ids),
    stop: (mode = 'fast') => run('pg_ctl', ['stop', '-w', '-t', '30', '-D', data, '-m', mode], ids),
    destroy: () => {
      spawnSync(join(PG_BIN, 'pg_ctl'), ['stop', '-w', '-t', '10', '-D', data, '-m', 'immediate'], { ...ids });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}
