// The environment, parsed and validated once. Every limit of the service lives here, with its
// unit in its name. An invalid value stops start-up with a message naming the variable.

export interface Config {
  readonly port: number;
  readonly listen_socket: string; // unix socket path; when set, used instead of port
  readonly database_url: string; // '' = not set (the cluster launcher then embeds Postgres)
  readonly processor_url_default: string;
  readonly processor_url_fallback: string;
  readonly instances: number;
  readonly purge_enabled: boolean;
  readonly summary_answer: SummaryAnswer;
  readonly summary_wait_max_ms: number;
  readonly purge_wait_max_ms: number;
  readonly log_level: LogLevel;
  readonly worker_threads: number;
  readonly worker_nice: number;
  readonly worker_poll_ms: number;
  readonly ring_slots: number;
  readonly body_max_bytes: number;
  readonly max_inflight_per_worker: number;
  readonly max_sends_per_s_per_worker: number;
  readonly pool_connections: number;
  readonly request_timeout_ms: number;
  readonly connect_timeout_ms: number;
  readonly fee_default: number;
  readonly fee_fallback: number;
  readonly safe_latency_ms: number;
  readonly hold_budget_ms: number;
  readonly backlog_max_per_worker: number;
  readonly retry_backoff_min_ms: number;
  readonly retry_backoff_max_ms: number;
  readonly batch_max_rows: number;
  readonly writer_linger_ms: number;
  readonly health_interval_ms: number;
  readonly pg_connect_attempts: number;
  readonly pg_connect_interval_ms: number;
  readonly shutdown_timeout_ms: number;
  readonly durable_intake: boolean;
  readonly idempotency_claims: boolean;
  readonly reclaim_grace_ms: number;
  readonly reclaim_interval_ms: number;
  readonly embedded_pg_nice: number;
  readonly embedded_pg_port: number; // 0 = any free port
  readonly durability: Durability;
  readonly ack_timeout_ms: number;
  readonly acks_pending_max: number;
  readonly instance_index: number;
  readonly metrics_port: number;
  readonly simulator_port_base: number;
}

// fast: 202 at once (the contest's). strict: 202 once the payment's claim is durably committed.
type Durability = 'fast' | 'strict';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
// How summary and purge are answered: inside the request handler while the front waits for the
// answer thread (blocking), or after it (async). docs/HTTP.md, "Pipelining".
type SummaryAnswer = 'blocking' | 'async';

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
}

type Env = Record<string, string | undefined>;

interface IntSpec {
  min: number;
  max: number;
  fallback: number;
}

function int(env: Env, name: string, spec: IntSpec): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return spec.fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < spec.min || value > spec.max) {
    throw new ConfigError(`${name} must be between ${spec.min} and ${spec.max}, got ${value}`);
  }
  return value;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new ConfigError(`${name} must be a fraction in [0, 1), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function summaryAnswer(env: Env): SummaryAnswer {
  const raw = (env.SUMMARY_ANSWER ?? 'async').trim().toLowerCase();
  if (raw === 'blocking' || raw === 'async') return raw;
  throw new ConfigError(`SUMMARY_ANSWER must be blocking or async, got ${JSON.stringify(env.SUMMARY_ANSWER)}`);
}

function url(env: Env, name: string): string {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return '';
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (name === 'DATABASE_URL') {
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new ConfigError(`${name} must be a postgres:// URL`);
    }
    return raw;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return parsed.origin; // the processors' API lives at the root
}

function durability(env: Env): Durability {
  const raw = (env.DURABILITY ?? 'fast').trim().toLowerCase();
  if (raw === 'fast' || raw === 'strict') return raw;
  throw new ConfigError(`DURABILITY must be fast or strict, got ${JSON.stringify(env.DURABILITY)}`);
}

function level(env: Env): LogLevel {
  const raw = (env.LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
  throw new ConfigError(`LOG_LEVEL must be one of debug, info, warn, error, got ${JSON.stringify(env.LOG_LEVEL)}`);
}

export function parseConfig(env: Env = process.env): Config {
  const ring_slots = int(env, 'RING_SLOTS', { min: 2, max: 1 << 22, fallback: 1 << 14 });
  if ((ring_slots & (ring_slots - 1)) !== 0) throw new ConfigError(`RING_SLOTS must be a power of two, got ${ring_slots}`);
  const max_inflight_per_worker = int(env, 'MAX_INFLIGHT_PER_WORKER', { min: 1, max: 4096, fallback: 128 });
  const retry_backoff_min_ms = int(env, 'RETRY_BACKOFF_MIN_MS', { min: 1, max: 60_000, fallback: 50 });
  const retry_backoff_max_ms = int(env, 'RETRY_BACKOFF_MAX_MS', { min: 1, max: 600_000, fallback: 2_000 });
  if (retry_backoff_max_ms < retry_backoff_min_ms) {
    throw new ConfigError('RETRY_BACKOFF_MAX_MS must be >= RETRY_BACKOFF_MIN_MS');
  }
  const config: Config = {
    port: int(env, 'PORT', { min: 1, max: 65535, fallback: 9999 }),
    listen_socket: (env.LISTEN_SOCKET ?? '').trim(),
    database_url: url(env, 'DATABASE_URL'),
    processor_url_default: url(env, 'PAYMENT_PROCESSOR_URL_DEFAULT'),
    processor_url_fallback: url(env, 'PAYMENT_PROCESSOR_URL_FALLBACK'),
    instances: int(env, 'INSTANCES', { min: 1, max: 64, fallback: 2 }),
    purge_enabled: bool(env, 'PURGE_ENABLED', false),
    summary_answer: summaryAnswer(env),
    summary_wait_max_ms: int(env, 'SUMMARY_WAIT_MAX_MS', { min: 10, max: 60_000, fallback: 500 }),
    purge_wait_max_ms: int(env, 'PURGE_WAIT_MAX_MS', { min: 10, max: 60_000, fallback: 5_000 }),
    log_level: level(env),
    worker_threads: int(env, 'WORKER_THREADS', { min: 1, max: 64, fallback: 1 }),
    worker_nice: int(env, 'WORKER_NICE', { min: 0, max: 19, fallback: 10 }),
    worker_poll_ms: int(env, 'WORKER_POLL_MS', { min: 1, max: 1_000, fallback: 100 }),
    ring_slots,
    body_max_bytes: int(env, 'BODY_MAX_BYTES', { min: 64, max: 1 << 20, fallback: 1024 }),
    max_inflight_per_worker,
    max_sends_per_s_per_worker: int(env, 'MAX_SENDS_PER_S_PER_WORKER', { min: 0, max: 1_000_000, fallback: 400 }),
    pool_connections: int(env, 'POOL_CONNECTIONS', { min: 1, max: 4096, fallback: max_inflight_per_worker }),
    request_timeout_ms: int(env, 'REQUEST_TIMEOUT_MS', { min: 50, max: 120_000, fallback: 6_000 }),
    connect_timeout_ms: int(env, 'CONNECT_TIMEOUT_MS', { min: 50, max: 60_000, fallback: 1_000 }),
    fee_default: ratio(env, 'FEE_DEFAULT', 0.07),
    fee_fallback: ratio(env, 'FEE_FALLBACK', 0.1),
    safe_latency_ms: int(env, 'SAFE_LATENCY_MS', { min: 1, max: 60_000, fallback: 1_500 }),
    hold_budget_ms: int(env, 'HOLD_BUDGET_MS', { min: 0, max: 3_600_000, fallback: 90_000 }),
    backlog_max_per_worker: int(env, 'BACKLOG_MAX_PER_WORKER', { min: 1, max: 10_000_000, fallback: 10_000 }),
    retry_backoff_min_ms,
    retry_backoff_max_ms,
    batch_max_rows: int(env, 'BATCH_MAX_ROWS', { min: 1, max: 1_000_000, fallback: 5_000 }),
    writer_linger_ms: int(env, 'WRITER_LINGER_MS', { min: 0, max: 1_000, fallback: 2 }),
    health_interval_ms: int(env, 'HEALTH_INTERVAL_MS', { min: 100, max: 600_000, fallback: 5_000 }),
    pg_connect_attempts: int(env, 'PG_CONNECT_ATTEMPTS', { min: 1, max: 10_000, fallback: 120 }),
    pg_connect_interval_ms: int(env, 'PG_CONNECT_INTERVAL_MS', { min: 10, max: 60_000, fallback: 500 }),
    shutdown_timeout_ms: int(env, 'SHUTDOWN_TIMEOUT_MS', { min: 100, max: 600_000, fallback: 15_000 }),
    durable_intake: bool(env, 'DURABLE_INTAKE', true),
    idempotency_claims: bool(env, 'IDEMPOTENCY_CLAIMS', true),
    reclaim_grace_ms: int(env, 'RECLAIM_GRACE_MS', { min: 0, max: 600_000, fallback: 12_000 }),
    reclaim_interval_ms: int(env, 'RECLAIM_INTERVAL_MS', { min: 100, max: 600_000, fallback: 5_000 }),
    embedded_pg_nice: int(env, 'EMBEDDED_PG_NICE', { min: 0, max: 19, fallback: 5 }),
    embedded_pg_port: int(env, 'EMBEDDED_PG_PORT', { min: 0, max: 65535, fallback: 0 }),
    durability: durability(env),
    ack_timeout_ms: int(env, 'ACK_TIMEOUT_MS', { min: 100, max: 600_000, fallback: 5_000 }),
    acks_pending_max: int(env, 'ACKS_PENDING_MAX', { min: 2, max: 1 << 20, fallback: 4_096 }),
    instance_index: int(env, 'INSTANCE_INDEX', { min: 0, max: 63, fallback: 0 }),
    metrics_port: int(env, 'METRICS_PORT', { min: 0, max: 65535, fallback: 9100 }),
    simulator_port_base: int(env, 'SIMULATOR_PORT_BASE', { min: 0, max: 65534, fallback: 8001 }),
  };
  if (config.metrics_port !== 0 && config.metrics_port + Math.max(config.instance_index, config.instances - 1) > 65535) {
    throw new ConfigError(`METRICS_PORT + the instance's index must be a port, got ${config.metrics_port}`);
  }
  if ((config.acks_pending_max & (config.acks_pending_max - 1)) !== 0) {
    throw new ConfigError(`ACKS_PENDING_MAX must be a power of two, got ${config.acks_pending_max}`);
  }
  if (config.durability === 'strict' && !config.durable_intake) {
    throw new ConfigError('DURABILITY=strict needs DURABLE_INTAKE=true (the claim is what a 202 waits for)');
  }
  if (config.durable_intake && !config.idempotency_claims) {
    throw new ConfigError('DURABLE_INTAKE=true needs IDEMPOTENCY_CLAIMS=true (a claim is the durable record)');
  }
  return Object.freeze(config);
}

// The settings `npm start` gives its instances unless the environment sets them: a local stack
// purges (the contest runner calls POST /purge-payments).
export const LOCAL_STACK_ENV: Readonly<Record<string, string>> = Object.freeze({ PURGE_ENABLED: 'true' });

// What an instance needs beyond parseConfig: the URLs the launcher may leave empty.
export function requireInstanceConfig(config: Config): void {
  const missing = [
    ['DATABASE_URL', config.database_url],
    ['PAYMENT_PROCESSOR_URL_DEFAULT', config.processor_url_default],
    ['PAYMENT_PROCESSOR_URL_FALLBACK', config.processor_url_fallback],
  ]
    .filter(([, v]) => v === '')
    .map(([k]) => k);
  if (missing.length > 0) {
    throw new ConfigError(`an instance needs ${missing.join(', ')} (npm start sets them for the local stack)`);
  }
}

// One line of the effective configuration for the start-up banner (no credentials).
export function describeConfig(config: Config): Record<string, unknown> {
  const redacted = config.database_url.replace(/\/\/([^:@/]+)(:[^@/]*)?@/, '//$1:***@');
  return { ...config, database_url: redacted };
}
