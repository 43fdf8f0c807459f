// Reads docker-compose.yml and returns each service's deploy.resources.limits (cpus, memory)
// plus their sum, so tests, the native topology and the contest replica share one source of truth.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ServiceLimits {
  cpus: number;
  memory_mb: number;
  cpu_shares?: number;
}
export interface ComposeLimits {
  services: Record<string, ServiceLimits>;
  total: ServiceLimits;
}

const BYTES_PER_MB = 1024 * 1024;

/** Parses compose memory strings ("100M", "0.5G", "350MB", "64m", "1gb", "512k", plain bytes) into MB. */
function parseMemoryMb(value: string | number): number {
  if (typeof value === 'number') return value / BYTES_PER_MB; // compose: bare number = bytes
  const match = /^\s*([0-9]*\.?[0-9]+)\s*([bkmg]?)b?\s*$/i.exec(value);
  if (!match) throw new Error(`unparseable memory limit: ${JSON.stringify(value)}`);
  const amount = Number(match[1]);
  const unit = match[2].toLowerCase();
  const factor_mb = unit === 'g' ? 1024 : unit === 'm' ? 1 : unit === 'k' ? 1 / 1024 : 1 / BYTES_PER_MB;
  return amount * factor_mb;
}

/** Parses compose cpus ("0.45", 0.45) into a number of CPUs. */
function parseCpus(value: string | number): number {
  const cpus = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(cpus) || cpus <= 0) throw new Error(`unparseable cpus limit: ${JSON.stringify(value)}`);
  return cpus;
}

/** The parts of a compose service this project reads (everything else stays `unknown`). */
export interface ComposeService {
  image?: string;
  build?: unknown;
  init?: boolean;
  hostname?: string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { target?: number; published?: number | string }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
  privileged?: boolean;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string };
  cpu_shares?: number | string;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string | number; memory?: string | number } } };
  [key: string]: unknown;
}
export interface ComposeDocument {
  services?: Record<string, ComposeService>;
  networks?: Record<string, { external?: boolean; driver?: string } | null>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Parses compose YAML with merge keys (`<<: *anchor`) resolved, as docker compose does. */
export function parseCompose(text: string): ComposeDocument {
  return (parse(text, { merge: true }) ?? {}) as ComposeDocument;
}

export function readComposeDocument(path = 'docker-compose.yml'): ComposeDocument {
  return parseCompose(readFileSync(path, 'utf8'));
}

/** A service's environment as a plain map (compose allows both a map and a list of "K=V"). */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  const raw = service.environment;
  if (Array.isArray(raw)) {
    for (const item of raw) {
      const eq = item.indexOf('=');
      if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
    }
  } else if (raw) {
    for (const [key, value] of Object.entries(raw)) env[key] = value === null ? '' : String(value);
  }
  return env;
}

/** compose `cpu_shares`: the group's relative CPU weight when CPUs are contended (Docker: 2..262144). */
function parseCpuShares(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2 || n > 262_144)
    throw new Error(`cpu_shares must be an integer in [2, 262144], got ${JSON.stringify(v)}`);
  return n;
}

/** Limits per service from a compose document text. Services without limits are reported as 0 (and tests flag them). */
function composeLimitsFromText(text: string): ComposeLimits {
  const doc = parseCompose(text);
  const services: Record<string, ServiceLimits> = {};
  let cpus = 0;
  let memory_mb = 0;
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    const limits = svc?.deploy?.resources?.limits;
    const entry: ServiceLimits = {
      cpus: limits?.cpus === undefined ? 0 : parseCpus(limits.cpus),
      memory_mb: limits?.memory === undefined ? 0 : parseMemoryMb(limits.memory),
      ...(svc?.cpu_shares !== undefined ? { cpu_shares: parseCpuShares(svc.cpu_shares) } : {}),
    };
    services[name] = entry;
    cpus += entry.cpus;
    memory_mb += entry.memory_mb;
  }
  // Round away float noise (0.1 + 0.2) so "<= 1.5" comparisons are exact.
  return { services, total: { cpus: Math.round(cpus * 1e6) / 1e6, memory_mb: Math.round(memory_mb * 1e6) / 1e6 } };
}

export function readComposeLimits(path = 'docker-compose.yml'): ComposeLimits {
  return composeLimitsFromText(readFileSync(path, 'utf8'));
}
