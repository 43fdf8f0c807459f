// A strict parser for the Prometheus text exposition format (0.0.4) as far as the service uses
// it: # HELP / # TYPE lines and samples `name{label="v",...} value`. Throws on any line it
// cannot read, so a malformed /metrics fails the test that reads it.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Metrics {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(text: string | undefined, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === undefined || text === '') return labels;
  // Split on commas outside quotes.
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') parts.push(cur);
  for (const p of parts) {
    const m = LABEL.exec(p.trim());
    if (m === null) throw new Error(`bad label ${JSON.stringify(p)} in ${JSON.stringify(line)}`);
    if (m[1] in labels) throw new Error(`duplicate label ${m[1]} in ${JSON.stringify(line)}`);
    labels[m[1]] = m[2];
  }
  return labels;
}

function parseValue(raw: string, line: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return NaN;
  const v = Number(raw);
  if (raw.trim() === '' || Number.isNaN(v)) throw new Error(`bad value in ${JSON.stringify(line)}`);
  return v;
}

export function parseMetrics(text: string): Metrics {
  const m: Metrics = { help: new Map(), type: new Map(), samples: [] };
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
      if (help) {
        if (m.help.has(help[1])) throw new Error(`second HELP for ${help[1]}`);
        m.help.set(help[1], help[2]);
        continue;
      }
      const type = new RegExp(`^# TYPE (${NAME}) (\\w+)$`).exec(line);
      if (type) {
        if (!TYPES.has(type[2])) throw new Error(`unknown TYPE ${type[2]}`);
        if (m.type.has(type[1])) throw new Error(`second TYPE for ${type[1]}`);
        m.type.set(type[1], type[2]);
        continue;
      }
      continue; // a plain comment
    }
    const s = SAMPLE.exec(line);
    if (s === null) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    m.samples.push({ name: s[1], labels: parseLabels(s[2], line), value: parseValue(s[3], line) });
  }
  return m;
}

// The family a sample belongs to (histogram samples carry _bucket/_sum/_count suffixes).
export function familyOf(m: Metrics, sample_name: string): string | undefined {
  if (m.type.has(sample_name)) return sample_name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample_name.endsWith(suffix)) {
      const base = sample_name.slice(0, -suffix.length);
      if (m.type.get(base) === 'histogram' || m.type.get(base) === 'summary') return base;
    }
  }
  return undefined;
}

// The one sample with this name whose labels include `labels`; throws when none or several.
export function metricValue(m: Metrics, name: string, labels: Record<string, string> = {}): number {
  const found = m.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples for ${name}${JSON.stringify(labels)}`);
  return found[0].value;
}

export function sumOf(m: Metrics, name: string, labels: Record<string, string> = {}): number {
  return m.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
