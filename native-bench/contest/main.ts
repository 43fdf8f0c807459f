// `npm run bench:contest`: replay the contest's final test natively and score it as the contest does.
// Starts the processor simulators, the service (per --topology), runs the load, then the same load
// against the do-nothing baseline under the same limits, and writes bench-results/<UTC>-<label>/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseOptions, type ContestOptions } from './options.js';
import {
  startProcessors,
  startService,
  startBaselineServer,
  startComposeBaseline,
  planLimits,
  type Processors,
  type Service,
} from './topology.js';
import { contestRun, type RunParams, type RunResult } from './run.js';
import { reconcile, renderChaos, startChaos, type ChaosReport } from './chaos.js';
import { parseConfig } from '../../src/config.js';
import { buildResultJson, renderReport } from './report.js';
import { renderTimelineSvg } from './svg.js';
import { machineInfo } from '../lib/machine.js';
import type { Generator } from './loadgen.js';
import { buildCGenerator } from './loadgen-native.js';

function outDir(o: ContestOptions): string {
  if (o.out) return resolve(o.out);
  const stamp = new Date()
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return resolve('bench-results', `${stamp}-${o.label.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

// The C generator when asked for and it compiles; else the Node one, saying why.
function chooseGenerator(o: ContestOptions): Generator {
  if (o.generator === 'node') return { kind: 'node' };
  const built = buildCGenerator();
  if ('binary' in built) return { kind: 'c', binary: built.binary };
  process.stderr.write(`contest: NOTICE the C load generator could not be built (${built.error}); the Node generator runs instead\n`);
  return { kind: 'node' };
}

let generator: Generator = { kind: 'node' };

async function measure(
  o: ContestOptions,
  procs: Processors,
  service: Service,
  label: string,
  duration_s: number,
  startedByBench: boolean,
  chaos?: Pick<RunParams, 'record_ids' | 'onLoadStart'>,
): Promise<RunResult> {
  return contestRun({
    ...chaos,
    label,
    participant: o.participant,
    target_url: service.url,
    duration_s,
    users: o.users,
    amount: o.amount,
    timeout_ms: o.timeout_ms,
    schedule: o.schedule.map((ph) => ({ ...ph, at_s: (ph.at_s * duration_s) / o.duration_s })),
    audit: o.audit,
    teardown_window_s: o.teardown_window_s,
    processors: procs,
    cgroups: service.cgroups,
    process_roots: () => service.roots(),
    harness_pids: [process.pid, ...procs.pids],
    progress: (line) => process.stderr.write(line + '\n'),
    // A service the bench just started gets polled faster (same 75 s budget as the official 15 × 5 s).
    ready_tries: startedByBench ? 150 : 15,
    ready_gap_ms: startedByBench ? 500 : 5000,
    drain_ms: o.drain_ms,
    generator,
  });
}

// Stops everything started so far on Ctrl-C, kill or a closed terminal, then exits 130.
function cleanUpOnSignals(cleanup: () => Promise<void>): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A closed pipe on our output (e.g. `| head`) must not kill us before the children are stopped.
  process.stderr.on('error', () => {});
  process.stdout.on('error', () => {});
}

// The service's run, with the --chaos plan applied during the load and reconciled after it.
async function measureService(
  o: ContestOptions,
  procs: Processors,
  service: Service,
): Promise<{ result: RunResult; chaosReport: ChaosReport | undefined }> {
  let chaos: ReturnType<typeof startChaos> | undefined;
  const result = await measure(
    o,
    procs,
    service,
    'service',
    o.duration_s,
    o.topology !== 'none',
    o.chaos === undefined
      ? undefined
      : {
          record_ids: true,
          onLoadStart: (t0) => {
            chaos = startChaos(
              o.chaos!,
              () => service.roots(),
              t0,
              (line) => process.stderr.write(line + '\n'),
            );
          },
        },
  );
  let chaosReport: ChaosReport | undefined;
  if (chaos !== undefined) {
    chaos.stop();
    // Before the service stops: its summary is one of the three records.
    chaosReport = await reconcile(result.accepted_ids ?? [], procs, service.url, parseConfig().durability, chaos.applied);
    delete result.accepted_ids; // tens of thousands of ids: not for result.json
  }
  return { result, chaosReport };
}

// result.json, report.md and timeline.svg, then the chaos reconciliation when there was one.
function writeOutputs(
  dir: string,
  json: ReturnType<typeof buildResultJson>,
  timelineSvg: () => string,
  chaosReport: ChaosReport | undefined,
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'result.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'report.md'), renderReport(json));
  writeFileSync(join(dir, 'timeline.svg'), timelineSvg());
  if (chaosReport !== undefined) {
    writeFileSync(join(dir, 'chaos.json'), JSON.stringify(chaosReport, null, 2) + '\n');
    writeFileSync(join(dir, 'chaos.md'), renderChaos(chaosReport));
    process.stderr.write('\n' + renderChaos(chaosReport));
  }
}

async function main(): Promise<number> {
  let o: ContestOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const dir = outDir(o);
  const plan = planLimits(o);
  const machine = machineInfo();
  generator = chooseGenerator(o);
  process.stderr.write(
    `contest: ${o.preview ? 'preview' : 'final'} test, ${o.duration_s} s, ${o.users} VUs, topology ${o.topology}, ${generator.kind === 'c' ? 'C' : 'Node'} load generator; ${plan.note}\n`,
  );

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  cleanUpOnSignals(cleanup);

  try {
    const procs = await startProcessors(o);
    cleanups.push(procs.stop);
    let baselineNote = 'skipped (--no-baseline)';
    // Baseline runs under the same limits as the service; with topology none we do not know them.
    // Never at the same time as the service: each is stopped before the next starts.
    let payingNote = '';
    const runBaseline = async (label: string, pays = false): Promise<RunResult> => {
      const basePlan =
        o.topology === 'none' ? { ...plan, applied: false, note: "unlimited (topology none: the target's limits are unknown)" } : plan;
      // The paying baseline is one process under the whole budget, in every topology.
      const b = pays
        ? await startBaselineServer(basePlan, procs.default_url)
        : o.topology === 'compose' || o.topology === 'docker'
          ? await startComposeBaseline(o, procs)
          : await startBaselineServer(basePlan);
      cleanups.push(b.stop);
      const run = await measure(o, procs, b, label, o.baseline_duration_s, true);
      await cleanups.pop()!();
      if (pays) payingNote = b.description;
      else baselineNote = b.description;
      return run;
    };
    const baseline_before = o.baseline_both ? await runBaseline('baseline-before') : undefined;

    const service = await startService(o, procs, plan);
    cleanups.push(service.stop);
    const { result, chaosReport } = await measureService(o, procs, service);
    await cleanups.pop()!();

    const baseline = o.baseline ? await runBaseline('baseline') : undefined;
    const baseline_pays = o.baseline_pays ? await runBaseline('baseline-pays', true) : undefined;

    const json = buildResultJson({
      options: o,
      plan,
      machine,
      service: { description: service.description, result },
      baseline,
      baseline_before,
      baseline_pays,
      baselineNote,
      payingNote,
    });
    writeOutputs(dir, json, () => renderTimelineSvg(result, o.schedule, baseline), chaosReport);
    process.stderr.write(
      `\nscore ${json.official.total_liquido} (p99 ${json.official.p99.valor}, inconsistencies ${json.official.multa.composicao.num_inconsistencias}, lag ${json.official.lag.lag})\n`,
    );
    process.stdout.write(JSON.stringify({ event: 'done', out: dir, score: json.official.total_liquido }) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`contest: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
