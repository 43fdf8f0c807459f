// What a replayed scheduler trace says about latency: for each run of a contest invocation (the
// service, each baseline), how long each kind of thread waited for a CPU once runnable, and for
// the threads a request waits on (the server's front thread, the load generator's thread) why
// their long waits were long and what held the CPUs meanwhile. Pure: it works on a Replay.
import { percentileOfSorted } from '../contest/score.js'; // the contest report's percentiles (k6's)
import type { Replay, Wait } from './trace.js';

export const IDLE = 'idle';
export const FRONT = 'instance front (main thread)';
export const BASELINE_FRONT = 'baseline server (main thread)';
export const LOADGEN = 'load generator thread';

export type WaitClass = 'queued, then moved' | 'own CPU idle' | 'queued while another CPU idled' | 'all CPUs busy';
const WAIT_CLASSES: readonly WaitClass[] = ['queued, then moved', 'own CPU idle', 'queued while another CPU idled', 'all CPUs busy'];

interface GroupWaits {
  group: string;
  cpu_ms: number;
  wakes: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  long: number;
  preempted_wait_ms: number;
}
interface LongWaits {
  group: string;
  count: number;
  total_ms: number;
  classes: Record<WaitClass, number>;
  holders: Array<[string, number]>;
} // holders: group → CPU ms
export interface Run {
  name: string;
  front: string;
  from_us: number;
  to_us: number;
}
export interface RunWaits {
  name: string;
  from_us: number;
  to_us: number;
  groups: GroupWaits[];
  long_waits: LongWaits[];
}

// Why one long wait was long, from what its own CPU and the others did meanwhile.
export function classifyWait(w: Wait, replay: Replay, groupOf: (tid: number) => string): WaitClass {
  if (w.migrated) return 'queued, then moved'; // it sat behind a busy CPU until another took it
  const dur = w.to_us - w.from_us;
  const own = replay.heldBy(w.from_us, w.to_us, groupOf, w.cpu).get(IDLE) ?? 0;
  if (own >= dur / 2) return 'own CPU idle'; // waking its (halted) CPU took that long
  const all = replay.heldBy(w.from_us, w.to_us, groupOf).get(IDLE) ?? 0;
  return all - own >= dur / 2 ? 'queued while another CPU idled' : 'all CPUs busy';
}

// The contest runs one server at a time: a run is the span of its front threads' processes, and
// spans that overlap are one run (the service's instances run side by side; the do-nothing and
// the paying baseline run one after the other, each in its own process).
export function findRuns(replay: Replay, groupOf: (tid: number) => string): Run[] {
  const spans = new Map<string, Omit<Run, 'name'>>(); // by front group and process
  for (const cpu of replay.intervals) {
    for (const iv of cpu) {
      if (iv.tid <= 0) continue;
      const front = groupOf(iv.tid);
      if (front !== FRONT && front !== BASELINE_FRONT) continue;
      const key = `${front}/${replay.pidOf.get(iv.tid) ?? iv.tid}`;
      const span = spans.get(key);
      if (span === undefined) spans.set(key, { front, from_us: iv.from_us, to_us: iv.to_us });
      else {
        span.from_us = Math.min(span.from_us, iv.from_us);
        span.to_us = Math.max(span.to_us, iv.to_us);
      }
    }
  }
  const runs: Run[] = [];
  for (const span of [...spans.values()].sort((a, b) => a.from_us - b.from_us)) {
    const last = runs.at(-1);
    if (last !== undefined && last.front === span.front && span.from_us <= last.to_us) last.to_us = Math.max(last.to_us, span.to_us);
    else runs.push({ name: span.front === FRONT ? 'service' : 'baseline', ...span });
  }
  const baselines = runs.filter((r) => r.front === BASELINE_FRONT);
  if (baselines.length > 1) {
    for (const [i, r] of baselines.entries()) r.name = `baseline ${i + 1}`; // in the order they ran
  }
  return runs;
}

export function analyze(replay: Replay, groupOf: (tid: number) => string, long_us: number): RunWaits[] {
  return findRuns(replay, groupOf).map(({ name, front, from_us, to_us }) => {
    const inRun = replay.waits.filter((w) => w.to_us >= from_us && w.to_us <= to_us); // a wait belongs to the run it ends in
    const cpu = replay.heldBy(from_us, to_us, groupOf);
    const byGroup = new Map<string, Wait[]>();
    for (const w of inRun) {
      const g = groupOf(w.tid);
      const list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, [w]);
      else list.push(w);
    }
    const groups: GroupWaits[] = [...byGroup]
      .map(([group, ws]) => {
        const wakes = ws
          .filter((w) => w.cause === 'wake')
          .map((w) => w.to_us - w.from_us)
          .sort((a, b) => a - b);
        const preempted = ws.filter((w) => w.cause === 'preempted').reduce((s, w) => s + w.to_us - w.from_us, 0);
        return {
          group,
          cpu_ms: (cpu.get(group) ?? 0) / 1000,
          wakes: wakes.length,
          p50_us: percentileOfSorted(wakes, 0.5),
          p90_us: percentileOfSorted(wakes, 0.9),
          p99_us: percentileOfSorted(wakes, 0.99),
          long: wakes.filter((d) => d > long_us).length,
          preempted_wait_ms: preempted / 1000,
        };
      })
      .sort((a, b) => b.cpu_ms - a.cpu_ms);
    const long_waits = [front, LOADGEN].map((group): LongWaits => {
      const ws = (byGroup.get(group) ?? []).filter((w) => w.cause === 'wake' && w.to_us - w.from_us > long_us);
      const classes = Object.fromEntries(WAIT_CLASSES.map((c) => [c, 0])) as Record<WaitClass, number>;
      const held = new Map<string, number>();
      let total = 0;
      for (const w of ws) {
        classes[classifyWait(w, replay, groupOf)]++;
        total += w.to_us - w.from_us;
        for (const [g, us] of replay.heldBy(w.from_us, w.to_us, groupOf)) held.set(g, (held.get(g) ?? 0) + us);
      }
      const holders = [...held]
        .filter(([g]) => g !== IDLE)
        .map(([g, us]): [string, number] => [g, us / 1000])
        .sort((a, b) => b[1] - a[1]);
      return { group, count: ws.length, total_ms: total / 1000, classes, holders };
    });
    return { name, from_us, to_us, groups, long_waits };
  });
}

const ms = (us: number): string => (us / 1000).toFixed(2);

export function renderMarkdown(runs: RunWaits[], long_us: number): string {
  const L: string[] = [];
  L.push(`# Waits for a CPU (scheduler trace)`, '');
  L.push(`A wait runs from a thread's wake-up (sched_waking) to its switch-in. "Long" is over ${long_us / 1000} ms.`);
  L.push('Why a long wait of a front or the load generator was long, by what the CPUs did meanwhile:');
  L.push("- *queued, then moved*: it sat on a busy CPU's queue until another CPU took it;");
  L.push('- *own CPU idle*: the CPU it was woken on was idle for most of the wait (a halted vCPU woke that slowly);');
  L.push('- *queued while another CPU idled*: it waited behind a busy CPU while another sat idle;');
  L.push('- *all CPUs busy*: every CPU ran something else for most of the wait.', '');
  for (const r of runs) {
    L.push(`## ${r.name} (${((r.to_us - r.from_us) / 1e6).toFixed(1)} s)`, '');
    L.push(
      '| thread group | CPU ms | wake-ups | wait p50 | p90 | p99 (ms) | long waits | waits after preemption (ms) |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const g of r.groups.filter((x) => x.wakes > 0).slice(0, 12)) {
      L.push(
        `| ${g.group} | ${g.cpu_ms.toFixed(0)} | ${g.wakes} | ${ms(g.p50_us)} | ${ms(g.p90_us)} | ${ms(g.p99_us)} | ${g.long} | ${g.preempted_wait_ms.toFixed(0)} |`,
      );
    }
    L.push('');
    for (const lw of r.long_waits.filter((x) => x.count > 0)) {
      const classes = WAIT_CLASSES.map((c) => `${c} ${lw.classes[c]}`).join(', ');
      const holders = lw.holders
        .slice(0, 6)
        .map(([g, v]) => `${g} ${v.toFixed(0)} ms`)
        .join(', ');
      L.push(
        `- **${lw.group}**: ${lw.count} long waits, ${lw.total_ms.toFixed(0)} ms in all. ${classes}. The CPUs meanwhile ran: ${holders}.`,
      );
    }
    L.push('');
  }
  return L.join('\n');
}
