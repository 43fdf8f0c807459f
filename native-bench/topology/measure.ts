// Per-component CPU and memory of the native compose topology under steady load, to split the
// 1.5 CPU / 350 MB budget from numbers. Starts the processor simulators in-process, the topology
// (limits from docker-compose.yml, or accounting only with --no-limits), then for each rate: samples
// every component's cgroup CPU once a second and reports avg/max cores, CPU per request, memory peak.
// CLI: node dist/native-bench/topology/measure.js [--rates 300,600] [--duration-s 20] [--port 18204]
//        [--transport tcp|unix] [--no-limits]
import { startSimulator } from '../processor-sim/server.js';
import { startComposeTopology } from './native.js';
import { steadyLoad } from './steady-load.js';

const SAMPLE_INTERVAL_MS = 1000;
const CONNECTIONS = 600;

interface Args {
  rates: number[];
  duration_s: number;
  port: number;
  transport: 'tcp' | 'unix';
  limits: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { rates: [300, 600], duration_s: 20, port: 18204, transport: 'tcp', limits: true };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${key} needs a value`);
      return v;
    };
    if (key === '--rates') args.rates = value().split(',').map(Number);
    else if (key === '--duration-s') args.duration_s = Number(value());
    else if (key === '--port') args.port = Number(value());
    else if (key === '--transport') args.transport = value() === 'unix' ? 'unix' : 'tcp';
    else if (key === '--no-limits') args.limits = false;
    else throw new Error(`unknown argument ${key}`);
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sims = [
    await startSimulator({ port: 0, fee: 0.07, name: 'default' }),
    await startSimulator({ port: 0, fee: 0.1, name: 'fallback' }),
  ];
  const topology = await startComposeTopology({
    processorDefaultUrl: sims[0].url,
    processorFallbackUrl: sims[1].url,
    port: args.port,
    limits: args.limits,
    transport: args.transport,
  });
  const results: unknown[] = [];
  try {
    await steadyLoad(topology.url, 100, 3, CONNECTIONS, false, 'unique'); // warm up JIT and pools
    for (const rate of args.rates) {
      const start_ns = topology.cgroups.map((g) => g.cpuUsageNs());
      const last_ns = start_ns.slice();
      const max_cores = topology.cgroups.map(() => 0);
      const sampler = setInterval(() => {
        topology.cgroups.forEach((g, i) => {
          const now = g.cpuUsageNs();
          max_cores[i] = Math.max(max_cores[i], (now - last_ns[i]) / 1e6 / SAMPLE_INTERVAL_MS);
          last_ns[i] = now;
        });
      }, SAMPLE_INTERVAL_MS);
      const { latencies, errors } = await steadyLoad(topology.url, rate, args.duration_s, CONNECTIONS, true, 'unique');
      clearInterval(sampler);
      const n = latencies.length;
      const pct = (p: number) => latencies[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
      process.stdout.write(
        `rate ${rate} req/s (${args.transport}, limits ${args.limits ? 'compose' : 'off'}): n=${n} errors=${errors} p50 ${pct(50).toFixed(3)} ms p99 ${pct(99).toFixed(3)} ms max ${pct(100).toFixed(1)} ms\n`,
      );
      const components = topology.cgroups.map((g, i) => {
        const cpu_s = (g.cpuUsageNs() - start_ns[i]) / 1e9;
        const row = {
          name: g.name.replace(/^topo-\d+-\d+-/, ''),
          limit_cpus: g.limits.cpus,
          limit_mb: g.limits.memory_mb,
          avg_cores: cpu_s / args.duration_s,
          max_cores_1s: max_cores[i],
          cpu_us_per_req: (cpu_s * 1e6) / Math.max(1, n),
          memory_peak_mb: g.memoryPeakBytes() / 1048576,
        };
        process.stdout.write(
          `  ${row.name.padEnd(9)} avg ${row.avg_cores.toFixed(3)} cores  max(1s) ${row.max_cores_1s.toFixed(3)}  ${row.cpu_us_per_req.toFixed(0)} us/req  peak ${row.memory_peak_mb.toFixed(1)} MB  (limit ${row.limit_cpus} / ${row.limit_mb} MB)\n`,
        );
        return row;
      });
      results.push({ rate, n, errors, p50_ms: pct(50), p99_ms: pct(99), components });
    }
  } finally {
    await topology.stop();
    await Promise.all(sims.map((s) => s.close()));
  }
  process.stdout.write(JSON.stringify({ args, results }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`measure: ${(err as Error).stack}\n`);
  process.exit(1);
});
