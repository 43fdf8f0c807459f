// `npm run bench:capacity`: stepped open-loop rates against the whole local stack (`npm start`:
// two instances and Postgres, inside the compose file's limits), the do-nothing server and the
// paying baseline, with the processors answering at once. Prints each step and the knees, and
// writes bench-results/<UTC>-capacity-<label>/{result.json,report.md,latency.svg}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseOptions } from '../contest/options.js';
import {
  startProcessors,
  startService,
  startBaselineServer,
  planLimits,
  type LimitsPlan,
  type Processors,
  type Service,
} from '../contest/topology.js';
import { Backend, HttpCaller, ProcessorAdmin } from '../contest/clients.js';
import { parseCapacityOptions, type CapacityOptions, type TargetName } from './options.js';
import { runStep, type StepResult, type Target } from './step.js';
import { compareGenerators } from './generators.js';
import { buildCapacityJson, renderCapacityReport, renderCapacitySvg, type TargetRun } from './report.js';
import { machineInfo } from '../lib/machine.js';

// A step this far outside the bound ends the climb: higher rates only take time. Far above the
// bound: on a shared machine a p99 of tens of ms says little about the next rate's CPU.
const GIVE_UP_P99_MS = 1000;

function outDir(o: CapacityOptions): string {
  if (o.out) return resolve(o.out);
  const stamp = new Date()
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return resolve('bench-results', `${stamp}-capacity-${o.label.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

const log = (line: string): void => {
  process.stderr.write(line + '\n');
};

function stepLine(t: string, s: StepResult): string {
  const c = s.cpu_us_per_payment;
  return (
    `[${t}] ${s.rate_per_s}/s: achieved ${s.achieved_per_s}/s, p50 ${s.latency.p50.toFixed(2)} p99 ${s.latency.p99.toFixed(2)} p99.9 ${s.latency.p999.toFixed(2)} ms, refused ${s.refused}` +
    (c ? `, CPU ${c.total} µs/payment (fronts ${c.fronts}, workers ${c.workers}, postgres ${c.postgres}, rest ${c.rest})` : '') +
    (s.memory_mb !== null ? `, memory ${s.memory_mb} MB` : '') +
    `, backlog max ${s.backlog.max}` +
    (s.visibility_lag ? `, visibility lag max ${s.visibility_lag.max}` : '') +
    (s.summary ? `, summary ${s.summary.exact ? 'exact' : 'NOT exact'}` : '') +
    `; generator late p99 ${s.generator.late.p99.toFixed(2)} ms, ${s.generator.cpu_us_per_request} µs/req${s.generator.kept_rate ? '' : ' (could NOT keep the rate)'}` +
    ` → ${s.within_bound ? 'within' : `outside (${s.why_not.join('; ')})`}`
  );
}

async function startTarget(
  name: TargetName,
  o: CapacityOptions,
  procs: Processors,
  plan: LimitsPlan,
): Promise<{ service: Service; target: Target }> {
  let service: Service;
  if (name === 'service') {
    const co = parseOptions([
      '--topology',
      'npm-start',
      '--target',
      `http://127.0.0.1:${o.port}`,
      '--compose-file',
      o.compose_file,
      ...(o.limits ? [] : ['--no-limits']),
    ]);
    service = await startService(co, procs, plan);
  } else {
    service = await startBaselineServer(plan, name === 'baseline-pays' ? procs.default_url : undefined);
  }
  return {
    service,
    target: {
      name,
      url: service.url,
      cgroups: service.cgroups,
      roots: () => service.roots(),
      pays: name !== 'baseline',
      summarizes: name === 'service',
    },
  };
}

async function climb(name: TargetName, o: CapacityOptions, procs: Processors, plan: LimitsPlan, http: HttpCaller): Promise<TargetRun> {
  const { service, target } = await startTarget(name, o, procs, plan);
  try {
    const def = new ProcessorAdmin('default', procs.default_url, procs.token, http);
    const fb = new ProcessorAdmin('fallback', procs.fallback_url, procs.token, http);
    const backend = new Backend(service.url, http);
    let tries = 0;
    const quiet = (line: string): void => {
      if (++tries % 10 === 0) log(line);
    }; // a start takes a few s: every tenth try
    if (!(await backend.waitReady(150, 500, quiet))) throw new Error(`${name} at ${service.url} never answered GET /payments-summary`);
    await Promise.all([def.purge(), fb.purge(), backend.purge()]);
    const run: TargetRun = { name, description: service.description, steps: [] };
    for (const rate of o.rates) {
      const s = await runStep(target, {
        rate_per_s: rate,
        step_s: o.step_s,
        warmup_s: o.warmup_s,
        connections: o.connections,
        timeout_ms: o.timeout_ms,
        amount: o.amount,
        settle_ms: o.settle_ms,
        def,
        fb,
        backend,
      });
      run.steps.push(s);
      log(stepLine(name, s));
      if (s.latency.p99 > GIVE_UP_P99_MS || s.refused > s.measured / 100) {
        run.stopped_early = `at ${rate}/s: p99 ${s.latency.p99} ms, ${s.refused} refused`;
        break;
      }
    }
    return run;
  } finally {
    await service.stop();
  }
}

async function main(): Promise<number> {
  if (process.argv.includes('--generators')) {
    await compareGenerators(process.argv.slice(2));
    return 0;
  }
  let o: CapacityOptions;
  try {
    o = parseCapacityOptions(process.argv.slice(2));
  } catch (err) {
    log((err as Error).message);
    return 2;
  }
  const contest = parseOptions([
    '--default-port',
    String(o.default_port),
    '--fallback-port',
    String(o.fallback_port),
    '--compose-file',
    o.compose_file,
    ...(o.limits ? [] : ['--no-limits']),
  ]);
  const plan = planLimits(contest);
  const started_at = new Date().toISOString();
  const machine = machineInfo();
  log(
    `capacity: rates ${o.rates.join(', ')}/s, ${o.step_s} s steps (${o.warmup_s} s warm-up), targets ${o.targets.join(', ')}; ${plan.note}`,
  );
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      void cleanup().then(() => process.exit(130));
    });
  const http = new HttpCaller();
  try {
    const procs = await startProcessors(contest);
    cleanups.push(procs.stop);
    const runs: TargetRun[] = [];
    for (const name of o.targets) runs.push(await climb(name, o, procs, plan, http));
    const j = buildCapacityJson({
      started_at,
      options: o,
      limits: { applied: plan.applied, cpus: plan.limits.cpus, memory_mb: plan.limits.memory_mb, note: plan.note },
      machine,
      targets: runs,
    });
    const dir = outDir(o);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'result.json'), JSON.stringify(j, null, 2) + '\n');
    writeFileSync(join(dir, 'report.md'), renderCapacityReport(j));
    writeFileSync(join(dir, 'latency.svg'), renderCapacitySvg(j));
    for (const t of j.targets)
      log(
        `knee ${t.name}: ${t.knee_per_s ?? 'none'} payments/s (sustained without the latency bound: ${t.sustained_per_s ?? 'none'}); CPU per payment at 2,000/s: ${t.cpu_us_per_payment_at_2k ?? '–'} µs`,
      );
    process.stdout.write(
      JSON.stringify({
        event: 'done',
        out: dir,
        knees: Object.fromEntries(j.targets.map((t) => [t.name, t.knee_per_s])),
        sustained: Object.fromEntries(j.targets.map((t) => [t.name, t.sustained_per_s])),
      }) + '\n',
    );
    return 0;
  } catch (err) {
    log(`capacity: ${(err as Error).stack ?? err}`);
    return 1;
  } finally {
    await http.close();
    await cleanup();
  }
}

process.exitCode = await main();
