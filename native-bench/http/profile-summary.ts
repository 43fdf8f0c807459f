// Self time per function from a V8 .cpuprofile (what --cpu-prof writes), so a bench run says
// where the service's CPU went without opening DevTools. CLI: node profile-summary.js <file> [top]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[]; // µs
}

interface HotFunction {
  name: string;
  where: string;
  self_ms: number;
  self_pct: number;
}

function summarizeProfile(path: string, top = 15): { total_ms: number; busy_ms: number; hot: HotFunction[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byNode = new Map<number, CpuProfile['nodes'][number]>();
  for (const n of profile.nodes) byNode.set(n.id, n);
  const self_us = new Map<string, { name: string; where: string; us: number }>();
  let total_us = 0;
  let idle_us = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || dt <= 0) continue;
    total_us += dt;
    const f = node.callFrame;
    if (f.functionName === '(idle)') idle_us += dt;
    const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}|${where}`;
    const entry = self_us.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    entry.us += dt;
    self_us.set(key, entry);
  }
  const busy_us = total_us - idle_us;
  const hot = [...self_us.values()]
    .filter((e) => e.name !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      name: e.name,
      where: e.where,
      self_ms: Math.round(e.us / 100) / 10,
      self_pct: busy_us > 0 ? Math.round((e.us / busy_us) * 1000) / 10 : 0,
    }));
  return { total_ms: Math.round(total_us / 1000), busy_ms: Math.round(busy_us / 1000), hot };
}

export function profileMarkdown(path: string, top = 15): string {
  const s = summarizeProfile(path, top);
  const lines = [
    `${basename(path)}: ${s.busy_ms} ms busy of ${s.total_ms} ms sampled (% of busy)`,
    '',
    '| self ms | % | function | where |',
    '|---|---|---|---|',
  ];
  for (const h of s.hot) lines.push(`| ${h.self_ms} | ${h.self_pct} | ${h.name} | ${h.where} |`);
  return lines.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(profileMarkdown(file, Number(process.argv[3] ?? 15)));
}
