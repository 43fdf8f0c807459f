// The scheduler-trace replay and its reading (native-bench/sched): perf script lines in, waits
// for a CPU and why they were long out. Lines are in the format perf 6.1 prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupOfFor } from '../native-bench/sched/main.js';
import { parseLine, Replay } from '../native-bench/sched/trace.js';
import { analyze, BASELINE_FRONT, classifyWait, findRuns, FRONT, IDLE, LOADGEN, renderMarkdown } from '../native-bench/sched/waits.js';

const T0 = 1000; // s
const at = (us: number): string => (T0 + us / 1e6).toFixed(6);
const head = (cur: number, cpu: number, us: number, pid = cur): string => ` ${pid}/${cur}  [${String(cpu).padStart(3, '0')}] ${at(us)}:`;
const sw = (cpu: number, us: number, prev: number, state: string, next: number, names: Record<number, string> = {}): string =>
  `${head(prev, cpu, us)}       sched:sched_switch: prev_comm=${names[prev] ?? (prev === 0 ? `swapper/${cpu}` : `t${prev}`)} prev_pid=${prev} prev_prio=120 prev_state=${state} ==> next_comm=${names[next] ?? (next === 0 ? `swapper/${cpu}` : `t${next}`)} next_pid=${next} next_prio=120`;
const wake = (cpu: number, us: number, cur: number, tid: number, comm = `t${tid}`): string =>
  `${head(cur, cpu, us)}       sched:sched_waking: comm=${comm} pid=${tid} prio=120 target_cpu=${String(cpu).padStart(3, '0')}`;
const runtime = (cpu: number, us: number, tid: number, ns: number): string =>
  `${head(tid, cpu, us)} sched:sched_stat_runtime: comm=t${tid} pid=${tid} runtime=${ns} [ns]`;
const migrate = (cpu: number, us: number, cur: number, tid: number, to: number): string =>
  `${head(cur, cpu, us)}       sched:sched_migrate_task: comm=t${tid} pid=${tid} prio=120 orig_cpu=${cpu} dest_cpu=${to}`;

function replayOf(lines: string[]): Replay {
  const r = new Replay();
  for (const l of lines) {
    const p = parseLine(l);
    assert.ok(p, `unparsed: ${l}`);
    r.add(p);
  }
  r.end();
  return r;
}

test('parseLine reads the four sched events perf script prints, and nothing else', () => {
  const s = parseLine(
    ' 8934/8934  [000] 16667.214422:       sched:sched_switch: prev_comm=perf prev_pid=8934 prev_prio=120 prev_state=R+ ==> next_comm=migration/0 next_pid=18 next_prio=0',
  );
  assert.deepEqual(s, {
    pid: 8934,
    event: {
      kind: 'switch',
      t_us: 16667.214422e6,
      cpu: 0,
      prev: 8934,
      prev_comm: 'perf',
      prev_runnable: true,
      next: 18,
      next_comm: 'migration/0',
    },
  });
  const w = parseLine('    0/0     [001] 16667.343679:       sched:sched_waking: comm=rinha-worker-0 pid=9760 prio=130 target_cpu=000');
  assert.deepEqual(w?.event, { kind: 'waking', t_us: 16667.343679e6, cpu: 1, current: 0, tid: 9760, comm: 'rinha-worker-0' });
  const r = parseLine(' 8935/8941  [001] 16667.216282: sched:sched_stat_runtime: comm=node pid=8941 runtime=199943 [ns]');
  assert.deepEqual(r, {
    pid: 8935,
    event: { kind: 'runtime', t_us: 16667.216282e6, cpu: 1, current: 8941, pid: 8941, runtime_ns: 199943 },
  });
  const m = parseLine(
    ' 8935/8935  [000] 16667.293409: sched:sched_migrate_task: comm=memfd:sealed-91 pid=7573 prio=120 orig_cpu=0 dest_cpu=1',
  );
  assert.deepEqual(m?.event, { kind: 'migrate', t_us: 16667.293409e6, cpu: 0, tid: 7573 });
  const spaced = parseLine(
    ' 10/12  [000] 1.000000:       sched:sched_switch: prev_comm=V8 DefaultWorke prev_pid=12 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120',
  );
  assert.equal(spaced?.event.kind === 'switch' && spaced.event.prev_comm, 'V8 DefaultWorke');
  for (const junk of ['', '# ========', ' 8934/8934  [000] 16667.2:  sched:sched_switch: prev_comm=x', 'garbage'])
    assert.equal(parseLine(junk), null, junk);
});

// CPU 0 runs 10 until it is preempted by 20 (woken at 100 µs); CPU 1 idles until 30 runs there.
// CPU 1's switch from idle is not in the trace (as on the VM this was built on): 30's first
// runtime event says when it began.
const SCENE = [
  sw(0, 0, 0, 'R', 10),
  wake(0, 100, 10, 20),
  sw(0, 1600, 10, 'R+', 20),
  sw(0, 1700, 20, 'S', 10),
  wake(0, 2000, 10, 30),
  runtime(1, 2300, 30, 200_000),
  sw(1, 2400, 30, 'S', 0),
  sw(0, 3000, 10, 'S', 0),
];

test('Replay: who ran where, and each wait from wake-up or preemption to switch-in', () => {
  const r = replayOf(SCENE);
  const iv = r.intervals.map((cpu) => cpu.map((x) => [x.tid, x.from_us - T0 * 1e6, x.to_us - T0 * 1e6].map(Math.round)));
  assert.deepEqual(iv[0], [
    [10, 0, 1600],
    [20, 1600, 1700],
    [10, 1700, 3000],
  ]);
  assert.deepEqual(iv[1], [
    [30, 2100, 2400],
    [0, 2400, 3000],
  ]); // nothing is known of CPU 1 before its first event; end() closes its idle at the last one
  const waits = r.waits.map((w) => [w.tid, Math.round(w.to_us - w.from_us), w.cause, w.cpu, w.migrated]);
  assert.deepEqual(waits, [
    [20, 1500, 'wake', 0, false],
    [10, 100, 'preempted', 0, false],
    [30, 100, 'wake', 1, false],
  ]);
  assert.equal(r.comm.get(20), 't20');
  assert.equal(r.pidOf.get(30), 30);
});

test('Replay: a switch-out the trace lost leaves that stretch to no one', () => {
  // 68's switch-out is not traced: CPU 0 next switches from idle to 20.
  const r = replayOf([sw(0, 0, 0, 'R', 68), wake(0, 500, 0, 20), sw(0, 900, 0, 'R', 20), sw(0, 1000, 20, 'S', 0)]);
  assert.deepEqual(
    r.intervals[0].map((x) => [x.tid, x.from_us - T0 * 1e6, x.to_us - T0 * 1e6]),
    [
      [-1, 0, 900],
      [20, 900, 1000],
    ],
  );
});

test('heldBy sums CPU time by group over a window, on every CPU or on one', () => {
  const r = replayOf(SCENE);
  const g = (tid: number): string => (tid === 0 ? IDLE : `t${tid}`);
  const b = T0 * 1e6;
  assert.deepEqual([...r.heldBy(b + 1500, b + 2200, g)].sort(), [
    ['t10', 600],
    ['t20', 100],
    ['t30', 100],
  ]);
  assert.deepEqual([...r.heldBy(b + 1500, b + 2200, g, 1)], [['t30', 100]]);
  assert.deepEqual(
    [...r.heldBy(b + 2300, b + 3500, g, 1)],
    [
      ['t30', 100],
      ['idle', 600],
    ],
  ); // idle from 2400 to the last event
});

test('classifyWait: why a long wait was long', () => {
  const g = (tid: number): string => (tid === 0 ? IDLE : `t${tid}`);
  // 20 waits 1.5 ms behind 10 on CPU 0 while CPU 1 is idle.
  const queued = replayOf([sw(1, 0, 0, 'S', 0), sw(1, 50, 0, 'R', 99), sw(1, 60, 99, 'S', 0), ...SCENE.slice(0, 4)]);
  const w20 = queued.waits.find((w) => w.tid === 20)!;
  assert.equal(classifyWait(w20, queued, g), 'queued while another CPU idled');
  // The same wait with CPU 1 busy throughout.
  const busy = replayOf([sw(1, 0, 0, 'R', 40), ...SCENE.slice(0, 4), sw(1, 1800, 40, 'S', 0)]);
  assert.equal(classifyWait(busy.waits.find((w) => w.tid === 20)!, busy, g), 'all CPUs busy');
  // Moved to CPU 1 while waiting.
  const moved = replayOf([
    sw(0, 0, 0, 'R', 10),
    wake(0, 100, 10, 20),
    migrate(1, 1500, 0, 20, 1),
    sw(1, 1600, 0, 'R', 20),
    sw(1, 1700, 20, 'S', 0),
  ]);
  assert.equal(classifyWait(moved.waits[0], moved, g), 'queued, then moved');
  // Woken onto an idle CPU that took 1.2 ms to run it.
  const halted = replayOf([
    sw(1, 0, 0, 'R', 40),
    sw(1, 10, 40, 'S', 0),
    wake(0, 100, 10, 20),
    sw(1, 1300, 0, 'R', 20),
    sw(1, 1400, 20, 'S', 0),
  ]);
  assert.equal(classifyWait(halted.waits[0], halted, g), 'own CPU idle');
});

test("analyze finds the service run and the baseline run, and explains their fronts' and the load generator's long waits", () => {
  // Service: front 1 waits 2 ms behind worker 2 on CPU 0 while the load generator 5 holds CPU 1.
  // Ten seconds later, baseline: its front 7 is woken onto CPU 0 and runs at once.
  const names: Record<number, string> = { 1: 'front', 2: 'worker', 5: 'loadgen', 7: 'base' };
  const s = 10e6;
  const lines = [
    sw(0, 0, 0, 'R', 2, names),
    sw(1, 0, 0, 'R', 5, names),
    wake(0, 100, 2, 1, 'front'),
    sw(0, 2100, 2, 'R', 1, names),
    sw(0, 2200, 1, 'S', 2, names),
    sw(1, 2300, 5, 'S', 0, names),
    sw(0, 3000, 2, 'S', 0, names),
    wake(1, s, 0, 7, 'base'),
    sw(0, s + 20, 0, 'R', 7, names),
    sw(0, s + 120, 7, 'S', 0, names),
  ];
  const r = replayOf(lines);
  const groups: Record<number, string> = { 0: IDLE, 1: FRONT, 2: 'instance payment workers', 5: LOADGEN, 7: BASELINE_FRONT };
  const runs = analyze(r, (tid) => groups[tid] ?? 'other processes', 1000);
  assert.deepEqual(
    runs.map((x) => x.name),
    ['service', 'baseline'],
  );
  const front = runs[0].groups.find((x) => x.group === FRONT)!;
  assert.equal(front.wakes, 1);
  assert.equal(Math.round(front.p99_us), 2000);
  assert.equal(front.long, 1);
  const lw = runs[0].long_waits.find((x) => x.group === FRONT)!;
  assert.equal(lw.count, 1);
  assert.equal(lw.classes['all CPUs busy'], 1);
  assert.deepEqual(
    lw.holders.map(([g, v]) => [g, Math.round(v)]),
    [
      ['instance payment workers', 2],
      [LOADGEN, 2],
    ],
  );
  const base = runs[1].groups.find((x) => x.group === BASELINE_FRONT)!;
  assert.equal(base.long, 0);
  assert.equal(Math.round(base.p50_us), 20);
  // The paying baseline starts right after the do-nothing one, in a process of its own (pid 8).
  const r2 = replayOf([
    ...lines,
    wake(1, s + 200, 0, 8, 'base'),
    sw(0, s + 230, 0, 'R', 8, { 8: 'base' }),
    sw(0, s + 290, 8, 'S', 0, { 8: 'base' }),
  ]);
  const g2 = (tid: number): string => (tid === 8 ? BASELINE_FRONT : (groups[tid] ?? 'other processes'));
  assert.deepEqual(
    findRuns(r2, g2).map((x) => [x.name, x.from_us - T0 * 1e6, x.to_us - T0 * 1e6]),
    [
      ['service', 2100, 2200],
      ['baseline 1', s + 20, s + 120],
      ['baseline 2', s + 230, s + 290],
    ],
  );
  const md = renderMarkdown(runs, 1000);
  assert.match(md, /## service \(/);
  assert.match(md, /## baseline \(/);
  assert.match(
    md,
    /\*\*instance front \(main thread\)\*\*: 1 long waits, 2 ms in all\. queued, then moved 0, own CPU idle 0, queued while another CPU idled 0, all CPUs busy 1\./,
  );
});

test('groupOfFor names threads by their process (as the contest report does) and the load generator by its thread', () => {
  const r = replayOf([
    sw(0, 0, 0, 'R', 100, { 100: 'node' }),
    runtime(0, 10, 100, 1000),
    sw(0, 20, 100, 'S', 101, { 100: 'node', 101: 'rinha-worker-0' }),
  ]);
  // The runtime and switch lines above give 100 and 101 the pid of their own tid; 101 is a thread of 100.
  r.pidOf.set(101, 100);
  r.pidOf.set(300, 300);
  r.pidOf.set(301, 300);
  r.comm.set(300, 'node');
  r.comm.set(301, 'loadgen');
  r.comm.set(400, 'kworker/0:1');
  r.comm.set(500, 'sshd');
  const processes = new Map([
    [100, 'node /app/dist/src/main.js'],
    [300, 'node dist/native-bench/contest/main.js --duration 60'],
  ]);
  const g = groupOfFor(r, processes);
  assert.equal(g(0), IDLE);
  assert.equal(g(100), FRONT);
  assert.equal(g(101), 'instance payment workers');
  assert.equal(g(301), LOADGEN);
  assert.equal(g(300), 'load generator (the bench)');
  assert.equal(g(400), 'kernel threads');
  assert.equal(g(500), 'other processes');
});
