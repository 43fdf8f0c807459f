// One instance: config → store → workers → front. SIGTERM/SIGINT: stop accepting, drain, flush,
// exit 0.
import assert from 'node:assert/strict';
import pg from 'pg';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ConfigError, type Config, describeConfig, parseConfig, requireInstanceConfig } from './config.js';
import { C_ACCEPTED, C_PURGED, Counters, renderMetrics, G_DB_READY, G_IS_LEADER, G_WORKERS_ALIVE, trackGc, trackHeap } from './counters.js';
import { AnswerThread } from './http/blocking.js';
import { assertNativeUws, startFront } from './http/front.js';
import { PendingAcks } from './http/acks.js';
import { type MetricsPort, startMetricsPort } from './http/metrics-port.js';
import { onLauncherGone } from './lifeline.js';
import { createLogger, type Logger } from './log.js';
import type { PaymentRecord } from './queue/record.js';
import { Ring } from './queue/ring.js';
import { INSTANCE_V8_FLAGS } from './runtime.js';
import { Bus } from './store/bus.js';
import { assertDurableServer, connectWithRetry, durableUrl, ensureSchema } from './store/db.js';
import { querySummary, renderSummary } from './store/summary.js';
import { startHealthPoller } from './pay/health.js';
import { startReclaimer } from './pay/reclaim.js';
import { SharedState } from './pay/snapshot.js';
import type { FromWorker, ToWorker, WorkerData } from './pay/worker.js';

let stopping = false;
// A payment worker's young generation: payments stay alive across a tick (in flight, waiting for
// their claim or their COPY), so a small one copies them in scavenge after scavenge. 24 MB measured
// against 4 (bench:capacity at 2,000 payments/s, alternating): workers 117-159 µs per payment
// against 162-194, the V8 threads' share down too, the stack's memory unchanged (211-231 MB).
const WORKER_YOUNG_GEN_MB = 24;
const WORKER_OLD_GEN_MB = 64;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = parseConfig();
    requireInstanceConfig(config);
    assertNativeUws();
  } catch (err) {
    const msg = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(JSON.stringify({ level: 'error', msg: `cannot start: ${msg}` }) + '\n');
    process.exit(2);
  }
  for (const flag of INSTANCE_V8_FLAGS) setFlagsFromString(flag); // before any worker compiles undici
  const log = createLogger(config.log_level, { pid: process.pid });
  // Until the instance is up there is nothing to drain: the launcher gone, it just leaves.
  let launcherGone = (): void => process.exit(1);
  onLauncherGone(() => launcherGone());
  log.banner('starting', { config: describeConfig(config) });

  // Postgres first: wait for it (bounded), then the schema.
  const setup = await connectWithRetry({
    url: config.durability === 'strict' ? durableUrl(config.database_url) : config.database_url,
    attempts: config.pg_connect_attempts,
    interval_ms: config.pg_connect_interval_ms,
    log,
    purpose: 'setup',
  });
  if (config.durability === 'strict') {
    // Every connection commits synchronously, on a server that keeps its commits.
    config = Object.freeze({ ...config, database_url: durableUrl(config.database_url) });
    await assertDurableServer(setup);
  }
  await ensureSchema(setup, config.durability);
  await setup.end();

  const ring = Ring.create(config.ring_slots);
  const counters = Counters.create();
  trackHeap(counters, 0);
  trackGc(counters, 0);
  const state = SharedState.create();
  const db = new pg.Pool({ connectionString: config.database_url, max: 2, application_name: 'rinha-front' });
  db.on('error', (err) => log.warn('db pool error', { err: String(err) }));

  // strict: a 202 waits for its claim's commit; the answers wait here (http/acks.ts).
  const acks =
    config.durability === 'strict'
      ? new PendingAcks(config.acks_pending_max, config.ack_timeout_ms, {
          acked: () => counters.add(C_ACCEPTED),
          timedOut: () => counters.reject('ack_timeout'),
        })
      : undefined;
  const workers: Worker[] = [];
  // A purge drops what was accepted at or before its fence (the time it was asked for), in
  // every thread; what this instance accepted after it (the NOTIFY can arrive late) stays.
  const applyPurge = (fence_ms: number): void => {
    state.purgeThrough(fence_ms);
    let dropped = 0;
    const later: PaymentRecord[] = [];
    for (let r = ring.pop(); r !== null; r = ring.pop()) {
      if (r.accepted_at_ms > fence_ms) later.push(r);
      else {
        dropped++;
        if ((r.ticket ?? 0) !== 0) acks!.completeHere(r.ticket!); // purged before its claim: answered
      }
    }
    // Room is certain: the front and the reclaimer push from this thread, and workers only pop.
    for (const r of later) assert(ring.push(r), 'ring full while putting back what it held');
    for (const w of workers) w.postMessage({ type: 'purge' } satisfies ToWorker); // they read the fence from state
    counters.add(C_PURGED);
    log.info('purge applied', { fence: new Date(fence_ms).toISOString(), dropped_from_ring: dropped, kept_in_ring: later.length });
  };

  const owner = crypto.randomUUID(); // this instance, for durable intake
  const bus = new Bus({
    url: config.database_url,
    owner,
    log,
    reconnect_interval_ms: config.pg_connect_interval_ms,
    onHealth: (row) => state.writeHealth(row.processor, row),
    onPurge: applyPurge,
    onConnection: (up) => counters.set(G_DB_READY, up ? 1 : 0),
  });
  await bus.start();

  for (let i = 0; i < config.worker_threads; i++)
    workers.push(spawnWorker(i, config, ring, counters, state, owner, acks?.queue.sab ?? null, log));
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', (m: FromWorker) => (m.type === 'ready' ? resolve() : reject(new Error('worker did not start'))));
          w.once('error', reject);
        }),
    ),
  );

  const poller = startHealthPoller({
    origins: [config.processor_url_default, config.processor_url_fallback],
    interval_ms: config.health_interval_ms,
    timeout_ms: config.request_timeout_ms,
    isLeader: async () => {
      const leader = await bus.tryLead().catch(() => false);
      counters.set(G_IS_LEADER, leader ? 1 : 0);
      return leader;
    },
    publish: (row) => bus.publishHealth(row),
    counters,
    log,
  });

  const reclaimer = config.durable_intake
    ? startReclaimer({
        db,
        owner,
        ring,
        log,
        origins: [config.processor_url_default, config.processor_url_fallback],
        grace_ms: config.reclaim_grace_ms,
        interval_ms: config.reclaim_interval_ms,
        timeout_ms: config.request_timeout_ms,
      })
    : null;

  const answers = config.summary_answer === 'blocking' ? AnswerThread.start(config, counters, log) : null;
  const front = await startFront({
    config,
    ring,
    counters,
    blocking: answers,
    summary: async (from, to) => renderSummary(await querySummary(db, from, to)),
    purge: () => bus.purge(db),
    acks,
    readiness: () => {
      const db_ready = counters.get(G_DB_READY) === 1;
      const workers_alive = counters.get(G_WORKERS_ALIVE);
      return { ready: db_ready && workers_alive === config.worker_threads, detail: { db: db_ready, workers: workers_alive } };
    },
    log,
  });
  const metrics = await startInstanceMetrics(config, counters, ring, log);
  log.banner('listening', {
    address: front.address,
    metrics: metrics?.url ?? null,
    instance: config.instance_index,
    workers: config.worker_threads,
    ring_slots: config.ring_slots,
  });

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.banner('stopping: no new payments; draining', { signal });
    front.stopAccepting();
    poller.stop();
    reclaimer?.stop();
    const drained = await Promise.race([
      Promise.all(workers.map((w) => drainWorker(w))).then((left) => left.reduce((a, b) => a + b, 0)),
      new Promise<number>((r) => setTimeout(() => r(-1), config.shutdown_timeout_ms)),
    ]);
    if (drained === -1) log.error('drain timed out; payments still queued are lost', { queued: ring.size() });
    else log.banner('drained', { left: drained });
    front.close();
    metrics?.close();
    await answers?.close();
    await Promise.all(workers.map((w) => w.terminate()));
    acks?.close();
    await bus.close();
    await db.end().catch(() => {});
    process.exit(drained === -1 ? 1 : 0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  launcherGone = () => void shutdown('launcher gone'); // npm start's launcher died: drain and stop
}

// This instance's own /metrics port (METRICS_PORT + INSTANCE_INDEX), or null when off or taken.
async function startInstanceMetrics(config: Config, counters: Counters, ring: Ring, log: Logger): Promise<MetricsPort | null> {
  if (config.metrics_port === 0) return null;
  const port = config.metrics_port + config.instance_index;
  const render = (): string => renderMetrics(counters, { ring_depth: ring.size(), ring_slots: ring.slots, ring_wakeups: ring.wakeups() });
  const started = await startMetricsPort(port, config.instance_index, render);
  if (started === null) log.warn("metrics port in use: this instance's /metrics is on the service port only", { port });
  return started;
}

function spawnWorker(
  index: number,
  config: Config,
  ring: Ring,
  counters: Counters,
  state: SharedState,
  owner: string,
  acks: SharedArrayBuffer | null,
  log: Logger,
): Worker {
  const data: WorkerData = { index, config, ring: ring.sab, counters: counters.sab, state: state.sab, owner, acks };
  const worker = new Worker(new URL('./pay/worker.js', import.meta.url), {
    workerData: data,
    // A small young generation: the worker's garbage is short-lived and a big nursery is RSS.
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GEN_MB, maxOldGenerationSizeMb: WORKER_OLD_GEN_MB },
  });
  worker.on('error', (err) => log.error('worker error', { index, err: String(err) }));
  worker.on('exit', (code) => {
    if (code !== 0 && !stopping) {
      // A worker that dies takes its in-memory backlog with it: fail loudly, let the supervisor
      // restart the instance rather than run on with fewer hands.
      log.error('worker exited; stopping the instance', { index, code });
      process.exit(70);
    }
  });
  return worker;
}

function drainWorker(worker: Worker): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: FromWorker): void => {
      if (m.type === 'drained') {
        worker.off('message', onMessage);
        resolve(m.left);
      }
    };
    worker.on('message', onMessage);
    worker.postMessage({ type: 'drain' } satisfies ToWorker);
  });
}

main().catch((err) => {
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'fatal', err: String(err?.message ?? err) }) + '\n');
  process.exit(1);
});
