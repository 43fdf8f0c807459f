// `bench:contest --chaos <plan>`: faults at the plan's times during the service's run, and at the
// end a reconciliation of three records: every payment the load generator got a 2xx for, what
// each processor holds (its admin summary, and GET /payments/{id} per accepted id), and the
// service's summary. Reported: accepted but never paid, paid at both processors, and the summary
// against the processors, per processor. Faults (topology npm-start: the launcher restarts a
// killed instance, and the embedded Postgres restarts itself on a signal):
// - kill-instance: SIGKILL to the instance with INSTANCE_INDEX = `instance` (default 0);
// - restart-postgres: a clean restart (fast shutdown, then start);
// - crash-postgres: an immediate shutdown (no checkpoint: crash recovery), then start.
import { readFileSync, existsSync } from 'node:fs';
import { request } from 'undici';
import { processTree } from './resources.js';

type ChaosAction = 'kill-instance' | 'restart-postgres' | 'crash-postgres';
export interface ChaosStep {
  at_s: number;
  action: ChaosAction;
  instance?: number;
}
export interface ChaosApplied extends ChaosStep {
  t_s: number;
  pid: number | null;
  note: string;
}

const ACTIONS: readonly ChaosAction[] = ['kill-instance', 'restart-postgres', 'crash-postgres'];
const SETTLE_TIMEOUT_MS = 90_000; // a killed instance's payments wait RECLAIM_GRACE_MS (12 s) and a round
const SETTLE_POLL_MS = 2_000;
const LOOKUP_CONCURRENCY = 32;

// A plan is a JSON file, or the JSON itself: [{"at_s": 20, "action": "kill-instance", "instance": 0}, ...].
export function readChaosPlan(arg: string): ChaosStep[] {
  const text = existsSync(arg) ? readFileSync(arg, 'utf8') : arg;
  let steps: unknown;
  try {
    steps = JSON.parse(text);
  } catch {
    throw new Error(`--chaos: not a JSON file or JSON: ${arg}`);
  }
  if (!Array.isArray(steps) || steps.length === 0) throw new Error('--chaos: the plan is a non-empty JSON array of steps');
  return steps
    .map((s: Partial<ChaosStep>, i) => {
      if (typeof s.at_s !== 'number' || !(s.at_s >= 0)) throw new Error(`--chaos step ${i}: at_s must be a number >= 0`);
      if (!ACTIONS.includes(s.action as ChaosAction)) throw new Error(`--chaos step ${i}: action must be one of ${ACTIONS.join(', ')}`);
      if (s.instance !== undefined && !(Number.isInteger(s.instance) && s.instance >= 0))
        throw new Error(`--chaos step ${i}: instance must be an index`);
      return { at_s: s.at_s, action: s.action as ChaosAction, ...(s.action === 'kill-instance' ? { instance: s.instance ?? 0 } : {}) };
    })
    .sort((a, b) => a.at_s - b.at_s);
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function envOf(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((kv) => kv.startsWith(name + '='))
      ?.slice(name.length + 1);
  } catch {
    return undefined;
  }
}

function findTarget(step: ChaosStep, roots: number[]): number | null {
  for (const pid of processTree(roots)) {
    const args = cmdline(pid);
    if (step.action === 'kill-instance') {
      if (args.some((a) => a.endsWith('/dist/src/main.js')) && Number(envOf(pid, 'INSTANCE_INDEX') ?? '0') === step.instance) return pid;
    } else if (args.some((a) => a.endsWith('/dist/src/store/embedded.js'))) return pid;
  }
  return null;
}

const SIGNAL: Record<ChaosAction, NodeJS.Signals> = {
  'kill-instance': 'SIGKILL',
  'restart-postgres': 'SIGUSR1',
  'crash-postgres': 'SIGUSR2',
};

// Arms one timer per step from the load's t = 0.
export function startChaos(
  plan: ChaosStep[],
  roots: () => number[],
  t0_epoch_ms: number,
  log: (line: string) => void,
): { applied: ChaosApplied[]; stop(): void } {
  const applied: ChaosApplied[] = [];
  const timers = plan.map((step) =>
    setTimeout(
      () => {
        const pid = findTarget(step, roots());
        let note = 'target not found';
        if (pid !== null) {
          try {
            process.kill(pid, SIGNAL[step.action]);
            note = `${SIGNAL[step.action]} to pid ${pid}`;
          } catch (err) {
            note = `signal failed: ${(err as Error).message}`;
          }
        }
        const t_s = Math.round((Date.now() - t0_epoch_ms) / 100) / 10;
        applied.push({ ...step, t_s, pid, note });
        log(`chaos t=${t_s}s ${step.action}${step.instance !== undefined ? ` ${step.instance}` : ''}: ${note}`);
      },
      Math.max(0, t0_epoch_ms + step.at_s * 1000 - Date.now()),
    ),
  );
  return { applied, stop: () => timers.forEach(clearTimeout) };
}

interface Totals {
  count: number;
  cents: number;
}
export interface ChaosReport {
  durability: string;
  plan: ChaosApplied[];
  accepted: number;
  never_paid: number;
  paid_twice: number;
  paid_not_accepted: number; // at a processor without a 2xx to the generator (timeouts, 503s): not an error
  processors: { default: Totals; fallback: Totals };
  summary: { default: Totals; fallback: Totals };
  summary_minus_processors: { default: Totals; fallback: Totals };
  settled_after_ms: number;
  never_paid_sample: string[];
  paid_twice_sample: string[];
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text.length > 0 && res.statusCode < 300 ? JSON.parse(text) : null };
}

type SummaryJson = Record<'default' | 'fallback', { totalRequests: number; totalAmount: number }>;
const totalsOf = (s: SummaryJson, p: 'default' | 'fallback'): Totals => ({
  count: s[p].totalRequests,
  cents: Math.round(s[p].totalAmount * 100),
});

async function snapshot(procs: { default_url: string; fallback_url: string; token: string }, service_url: string) {
  const [d, f, s] = await Promise.all([
    getJson(`${procs.default_url}/admin/payments-summary`, { 'x-rinha-token': procs.token }),
    getJson(`${procs.fallback_url}/admin/payments-summary`, { 'x-rinha-token': procs.token }),
    getJson(`${service_url}/payments-summary`),
  ]);
  const proc = (r: { body: unknown }): Totals => {
    const b = r.body as { totalRequests: number; totalAmount: number };
    return { count: b.totalRequests, cents: Math.round(b.totalAmount * 100) };
  };
  const summary = s.status === 200 ? (s.body as SummaryJson) : null;
  return {
    processors: { default: proc(d), fallback: proc(f) },
    summary: summary === null ? null : { default: totalsOf(summary, 'default'), fallback: totalsOf(summary, 'fallback') },
  };
}

async function isAt(origin: string, id: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await getJson(`${origin}/payments/${id}`);
      if (r.status === 200) return true;
      if (r.status === 404) return false;
      throw new Error(`status ${r.status}`);
    } catch (err) {
      if (attempt >= 3) throw new Error(`GET ${origin}/payments/${id}: ${(err as Error).message}`);
    }
  }
}

// Waits (bounded) until the service's summary equals the processors' and they hold at least what
// was accepted, then looks every accepted id up at both processors.
export async function reconcile(
  ids: string[],
  procs: { default_url: string; fallback_url: string; token: string },
  service_url: string,
  durability: string,
  plan: ChaosApplied[],
): Promise<ChaosReport> {
  const started = Date.now();
  let snap = await snapshot(procs, service_url);
  for (;;) {
    const held = snap.processors.default.count + snap.processors.fallback.count;
    const equal =
      snap.summary !== null &&
      snap.summary.default.count === snap.processors.default.count &&
      snap.summary.fallback.count === snap.processors.fallback.count;
    if ((equal && held >= ids.length) || Date.now() - started > SETTLE_TIMEOUT_MS) break;
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    snap = await snapshot(procs, service_url);
  }
  const settled_after_ms = Date.now() - started;
  let next = 0;
  let never = 0,
    twice = 0;
  const never_sample: string[] = [],
    twice_sample: string[] = [];
  const lookers = Array.from({ length: LOOKUP_CONCURRENCY }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const [d, f] = await Promise.all([isAt(procs.default_url, id), isAt(procs.fallback_url, id)]);
      if (!d && !f) {
        never++;
        if (never_sample.length < 5) never_sample.push(id);
      }
      if (d && f) {
        twice++;
        if (twice_sample.length < 5) twice_sample.push(id);
      }
    }
  });
  await Promise.all(lookers);
  const summary = snap.summary ?? { default: { count: 0, cents: 0 }, fallback: { count: 0, cents: 0 } };
  const minus = (p: 'default' | 'fallback'): Totals => ({
    count: summary[p].count - snap.processors[p].count,
    cents: summary[p].cents - snap.processors[p].cents,
  });
  const held = snap.processors.default.count + snap.processors.fallback.count;
  return {
    durability,
    plan,
    accepted: ids.length,
    never_paid: never,
    paid_twice: twice,
    paid_not_accepted: held - (ids.length - never) - twice,
    processors: snap.processors,
    summary,
    summary_minus_processors: { default: minus('default'), fallback: minus('fallback') },
    settled_after_ms,
    never_paid_sample: never_sample,
    paid_twice_sample: twice_sample,
  };
}

export function renderChaos(r: ChaosReport): string {
  const diff = (t: Totals) => `${t.count >= 0 ? '+' : ''}${t.count} payments, ${t.cents >= 0 ? '+' : ''}${(t.cents / 100).toFixed(2)}`;
  return [
    `# Chaos replica (DURABILITY=${r.durability})`,
    '',
    '| t (s) | fault | what was done |',
    '|---|---|---|',
    ...r.plan.map((s) => `| ${s.t_s} | ${s.action}${s.instance !== undefined ? ` ${s.instance}` : ''} | ${s.note} |`),
    '',
    `- accepted (2xx to the load generator): ${r.accepted}`,
    `- **accepted but never paid: ${r.never_paid}**${r.never_paid_sample.length ? ` (e.g. ${r.never_paid_sample.join(', ')})` : ''}`,
    `- **paid twice (at both processors): ${r.paid_twice}**${r.paid_twice_sample.length ? ` (e.g. ${r.paid_twice_sample.join(', ')})` : ''}`,
    `- paid without a 2xx to the generator (timed out or 503, then paid once; not an error): ${r.paid_not_accepted}`,
    `- processors hold: default ${r.processors.default.count} (${(r.processors.default.cents / 100).toFixed(2)}), fallback ${r.processors.fallback.count} (${(r.processors.fallback.cents / 100).toFixed(2)})`,
    `- **summary minus processors: default ${diff(r.summary_minus_processors.default)}; fallback ${diff(r.summary_minus_processors.fallback)}**`,
    `- waited ${(r.settled_after_ms / 1000).toFixed(1)} s after the run for the summary to settle`,
    '',
  ].join('\n');
}
