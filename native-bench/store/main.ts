// What one statement of the service's store costs Postgres, and where that cost sits: per round
// trip or per row. Runs the service's own Claims and BatchWriter (src/store/) against a real
// Postgres with the service's schema (embedded, or DATABASE_URL), one batch at a time, and reads
// the backend process's CPU from /proc/<pid>/schedstat (nanoseconds) before and after. The
// baseline, measured in the same invocation, is the cheapest statement there is: `SELECT 1` on
// one connection, whose cost is the round trip itself (the backend's wake-up, read and write).
//   node dist/native-bench/store/main.js [--batches 3000] [--rounds 2]
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { Counters } from '../../src/counters.js';
import { Claims } from '../../src/store/claims.js';
import { connectWithRetry } from '../../src/store/db.js';
import { BatchWriter, type ConfirmedRow } from '../../src/store/writer.js';
import { confirmedRow, startSchemaPostgres, storeLog as log } from '../../test/support/store.js';
import { parseSchedstat } from '../lib/threads.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i > 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

// CPU time of a (single-threaded) backend process so far, in µs.
const backendCpuUs = (pid: number): number => parseSchedstat(readFileSync(`/proc/${pid}/schedstat`, 'utf8')).cpu_ns / 1000;

interface Cost {
  label: string;
  rows_per_statement: number;
  backend_us: number;
  client_us: number;
}

// Runs `batches` statements through `one`, on the backend `pid`; CPU per statement.
async function cost(label: string, rows_per_statement: number, pid: number, batches: number, one: () => Promise<void>): Promise<Cost> {
  const b0 = backendCpuUs(pid);
  const c0 = process.cpuUsage();
  for (let i = 0; i < batches; i++) await one();
  const c = process.cpuUsage(c0);
  return { label, rows_per_statement, backend_us: (backendCpuUs(pid) - b0) / batches, client_us: (c.user + c.system) / batches };
}

const rows = (n: number): ConfirmedRow[] => Array.from({ length: n }, () => confirmedRow({ accepted_at_ms: Date.now() }));

async function backendPid(admin: pg.Client, application_name: string): Promise<number> {
  const r = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application_name]);
  if (r.rows.length !== 1) throw new Error(`${r.rows.length} backends named ${application_name}`);
  return r.rows[0].pid;
}

async function main(): Promise<void> {
  const batches = arg('--batches', 3000);
  const rounds = arg('--rounds', 2);
  const { pgs, admin } = await startSchemaPostgres('store-bench');
  const results: Cost[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      await admin.query('TRUNCATE payments, payment_claims');
      const floor = await connectWithRetry({ url: pgs.url, attempts: 10, interval_ms: 200, log, purpose: 'store-bench' });
      const floor_pid = (await floor.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      results.push(
        await cost('SELECT 1 (the round trip)', 0, floor_pid, batches, async () => {
          await floor.query('SELECT 1');
        }),
      );
      await floor.end();

      const claims = new Claims({ url: pgs.url, owner: crypto.randomUUID(), batch_max_rows: 10_000, retry_interval_ms: 100, log });
      await claims.claim(rows(1)[0]); // connected and prepared
      const claims_pid = await backendPid(admin, 'rinha-claims');
      for (const n of [1, 8, 32]) {
        results.push(
          await cost(`claim, ${n} ids`, n, claims_pid, batches, async () => {
            await Promise.all(rows(n).map((r) => claims.claim(r)));
          }),
        );
      }
      await claims.close();

      const writer = new BatchWriter({
        url: pgs.url,
        batch_max_rows: 10_000,
        linger_ms: 0,
        retry_interval_ms: 100,
        counters: Counters.create(),
        log,
      });
      writer.add(rows(1)[0]);
      await writer.idle();
      const writer_pid = await backendPid(admin, 'rinha-writer');
      for (const n of [1, 4, 32]) {
        results.push(
          await cost(`COPY, ${n} rows`, n, writer_pid, batches, async () => {
            for (const r of rows(n)) writer.add(r);
            await writer.idle();
          }),
        );
      }
      await writer.close();
    }
  } finally {
    await admin.end();
    await pgs.stop();
  }
  // Means over the rounds, each against the round trip's.
  const labels = [...new Set(results.map((r) => r.label))];
  const mean = (label: string, f: (c: Cost) => number): number => {
    const xs = results.filter((r) => r.label === label).map(f);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const floor_us = mean(labels[0], (c) => c.backend_us);
  console.log(`Postgres backend CPU per statement, ${batches} statements per line, mean of ${rounds} rounds`);
  console.log('| statement | backend µs / statement | × the round trip | backend µs / row | client µs / statement |');
  console.log('|---|---|---|---|---|');
  for (const label of labels) {
    const rows_per = results.find((r) => r.label === label)!.rows_per_statement;
    const b = mean(label, (c) => c.backend_us);
    console.log(
      `| ${label} | ${b.toFixed(0)} | ×${(b / floor_us).toFixed(2)} | ${rows_per > 0 ? (b / rows_per).toFixed(1) : '–'} | ${mean(label, (c) => c.client_us).toFixed(0)} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
