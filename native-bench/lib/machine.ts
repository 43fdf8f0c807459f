// The machine a bench ran on, for its result.json.
import os from 'node:os';

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    kernel: os.release(),
    arch: os.arch(),
    cpu_model: cpus[0]?.model ?? 'unknown',
    cpu_count: cpus.length,
    memory_total_mb: Math.round(os.totalmem() / 1048576),
    node: process.version,
    loadavg_at_start: os.loadavg(),
  };
}
