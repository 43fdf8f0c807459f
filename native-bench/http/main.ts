// The HTTP profiling bench: autocannon against the service front (and the do-nothing baseline)
// at fixed rates and at saturation; latency percentiles, non-2xx, CPU ms per 1000 requests.
// CLI: see options.ts (USAGE). Writes bench-results/<UTC>-http/{http.json,http.md}.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runLoad } from './load.js';
import { parseHttpArgs, type HttpBenchOptions } from './options.js';
import { totalCpuMs } from './proc-cpu.js';
import { markdown, ratios, type StepRow } from './report.js';
import { profileMarkdown } from './profile-summary.js';
import { startServers, type Server } from './servers.js';
import { utcStamp } from '../ring/stats.js';

// Set while servers run, so a signal stops them in order (Postgres's own children included)
// instead of leaving them behind.
let stopServers: (() => Promise<void>) | null = null;

async function measure(server: Server, rate: StepRow['rate'], o: HttpBenchOptions): Promise<StepRow> {
  const cpu_before = totalCpuMs(server.pids);
  const step = await runLoad(server.url, rate, o.duration_s, o.connections);
  const cpu_after = totalCpuMs(server.pids);
  const cpu_ms = cpu_before !== null && cpu_after !== null && server.pids.length > 0 ? cpu_after - cpu_before : null;
  const per_1000 = cpu_ms !== null && step.requests > 0 ? Math.round((cpu_ms / step.requests) * 1000 * 10) / 10 : null;
  return { ...step, server: server.name as StepRow['server'], cpu_ms, cpu_ms_per_1000_req: per_1000 };
}

export async function runHttpBench(
  o: HttpBenchOptions,
): Promise<{ dir: string; rows: StepRow[]; cpu_profiles: string[]; profile_md: string }> {
  const dir = resolve(o.out || join('bench-results', `${utcStamp()}-http`));
  mkdirSync(dir, { recursive: true });
  const cpu_prof_dir = o.cpu_prof ? join(dir, 'cpu-prof') : null;
  const servers = await startServers({
    service: !o.baseline_only && !o.target,
    baseline: o.baseline,
    base_port: o.base_port,
    cpu_prof_dir,
  });
  stopServers = servers.stop;
  const rows: StepRow[] = [];
  try {
    const targets: Server[] = [];
    if (o.target) targets.push({ name: 'service', url: o.target, pids: o.pids });
    else if (servers.service) targets.push(servers.service);
    if (servers.baseline) targets.push(servers.baseline);
    if (o.warmup_s > 0) for (const t of targets) await runLoad(t.url, 'max', o.warmup_s, o.connections);
    for (const rate of o.rates) {
      for (const t of targets) {
        const row = await measure(t, rate, o);
        rows.push(row);
        process.stderr.write(
          `http bench: ${t.name} @ ${rate}: ${row.req_per_s} req/s, p99 ${row.latency_ms.p99} ms, non-2xx ${row.non2xx}, CPU ${row.cpu_ms_per_1000_req ?? 'n/a'} ms/1000\n`,
        );
      }
    }
  } finally {
    stopServers = null;
    await servers.stop();
  }
  const cpu_profiles = cpu_prof_dir
    ? readdirSync(cpu_prof_dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(cpu_prof_dir, f))
    : [];
  // One profile per thread (main = front, then each worker); the summary is self time per function.
  let profile_md = '';
  for (const p of cpu_profiles) {
    try {
      profile_md += '\n' + profileMarkdown(p, 15);
    } catch (e) {
      profile_md += `\n${p}: unreadable (${(e as Error).message})\n`;
    }
  }
  const meta = { node: process.version, cpus: availableParallelism(), argv: process.argv.slice(2), options: o, cpu_profiles };
  writeFileSync(join(dir, 'http.json'), JSON.stringify({ ...meta, rows, ratios: ratios(rows) }, null, 2) + '\n');
  writeFileSync(
    join(dir, 'http.md'),
    `# HTTP bench\n\n\`node dist/native-bench/http/main.js ${meta.argv.join(' ')}\` — Node ${meta.node}, ${meta.cpus} CPUs, ${o.connections} connections, ${o.duration_s} s per step. Latency: 2xx responses, float ms.\n\n${markdown(rows)}${profile_md ? `\n## CPU profiles (whole run, warm-up included)\n${profile_md}` : ''}`,
  );
  return { dir, rows, cpu_profiles, profile_md };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let options: HttpBenchOptions;
  try {
    options = parseHttpArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`http bench: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const stop = () => {
    process.stderr.write('http bench: interrupted, stopping servers\n');
    const pending = stopServers?.() ?? Promise.resolve();
    pending.finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const { dir, rows, cpu_profiles, profile_md } = await runHttpBench(options);
  process.stdout.write(markdown(rows));
  if (profile_md) process.stdout.write(profile_md + '\n');
  for (const p of cpu_profiles) process.stdout.write(`cpu profile: ${p} (open in Chrome DevTools > Performance, or speedscope)\n`);
  process.stdout.write(`written: ${dir}\n`);
}
