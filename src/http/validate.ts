// Input validation for the public API: functions from request text (or, for the common
// spelling of a payment, its bytes) to a value or a client error. Strict on purpose: anything that is not exactly a payment is refused, so a
// refused request changes nothing.
import { amountToCents } from '../money.js';
import { formatUuid, parseUuidBytesInto, parseUuidInto } from '../queue/record.js';

export type Payment = { ok: true; correlation_id: string; amount_cents: number };
export type ClientError = { ok: false; status: 400 | 413 | 415; error: string };

const fail = (error: string, status: 400 | 413 | 415 = 400): ClientError => ({ ok: false, status, error });

// Content-Type must be JSON when given; a missing one is tolerated (curl -d without -H).
export function checkContentType(header: string): ClientError | null {
  if (header === '' || header === 'application/json') return null; // no string work on the hot path
  const media = header.split(';', 1)[0].trim().toLowerCase();
  if (media === 'application/json') return null;
  return fail('content-type must be application/json', 415);
}

type Scalar = { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'other' };

// A strict parser for one flat JSON object (the whole body). Returns its members, or an error
// string. Duplicate keys are an error (JSON.parse would silently keep the last one).
export function parseFlatObject(text: string): Map<string, Scalar> | string {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const str = (): string | null => {
    if (text.charCodeAt(i) !== 34) return null;
    i++;
    let out = '';
    let start = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 32) return null; // raw control characters are not JSON
      if (c === 92) {
        out += text.slice(start, i);
        const e = text[i + 1];
        if (e === undefined) return null;
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return null;
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          return null;
        }
        start = i;
        continue;
      }
      i++;
    }
    return null;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (): Scalar | null => {
    const c = text[i];
    if (c === '"') {
      const s = str();
      return s === null ? null : { kind: 'string', value: s };
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (m === null) return null;
      i += m[0].length;
      return { kind: 'number', value: Number(m[0]) };
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { kind: 'other' };
      }
    }
    if (c === '{' || c === '[') {
      // Nested values are valid JSON but never part of a payment: skip them to report the field.
      const end = skipNested();
      return end ? { kind: 'other' } : null;
    }
    return null;
  };
  const skipNested = (): boolean => {
    let depth = 0;
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        if (str() === null) return false;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          return true;
        }
      }
      i++;
    }
    return false;
  };

  const members = new Map<string, Scalar>();
  ws();
  if (text[i] !== '{') return 'body must be a JSON object';
  i++;
  ws();
  if (text[i] === '}') {
    i++;
  } else {
    for (;;) {
      ws();
      const key = str();
      if (key === null) return 'body is not valid JSON';
      ws();
      if (text[i] !== ':') return 'body is not valid JSON';
      i++;
      ws();
      const v = value();
      if (v === null) return 'body is not valid JSON';
      if (members.has(key)) return `duplicate key ${JSON.stringify(key)}`;
      members.set(key, v);
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      return 'body is not valid JSON';
    }
  }
  ws();
  if (i !== n) return 'body is not valid JSON';
  return members;
}

const ID_SCRATCH = new Uint8Array(16);

// Validates a payment body; the id's 16 bytes go to id_out[0..16). The front thread calls this
// and copies id_out into a ring slot, so the id is parsed once and never becomes a string.
export function readPayment(body: string, id_out: Uint8Array): { ok: true; amount_cents: number } | ClientError {
  if (body.length === 0) return fail('body is empty; expected {"correlationId": "<uuid>", "amount": <number>}');
  const members = parseFlatObject(body);
  if (typeof members === 'string') return fail(members);
  for (const key of members.keys()) {
    if (key !== 'correlationId' && key !== 'amount') return fail(`unknown field ${JSON.stringify(key.slice(0, 40))}`);
  }
  const id = members.get('correlationId');
  if (id === undefined) return fail('correlationId is required');
  if (id.kind !== 'string' || !parseUuidInto(id.value, id_out, 0)) return fail('correlationId must be a UUID string');
  const amount = members.get('amount');
  if (amount === undefined) return fail('amount is required');
  if (amount.kind !== 'number') return fail('amount must be a JSON number');
  const cents = amountToCents(amount.value);
  if (typeof cents === 'string') return fail(cents);
  return { ok: true, amount_cents: cents };
}

const K_ID = Buffer.from('"correlationId":"');
const K_AMOUNT = Buffer.from('"amount":');
const OPEN = 123; // {
const CLOSE = 125; // }
const COMMA = 44;
const QUOTE = 34;
const DOT = 46;
const ZERO = 48;

function literalAt(b: Uint8Array, at: number, lit: Uint8Array): boolean {
  if (at + lit.length > b.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[at + i] !== lit[i]) return false;
  return true;
}

let amount_end = 0; // where amountAt stopped: a module slot instead of a tuple per request

// A plain amount at b[at..]: 1-9 integer digits (no leading zero but "0" itself), then nothing
// or "." and 1-2 digits. Its value in cents, or -1 for anything else (left to the general path).
function amountAt(b: Uint8Array, at: number): number {
  let i = at;
  let units = 0;
  const first = i;
  while (i < b.length && b[i] >= ZERO && b[i] <= ZERO + 9 && i - first < 10) units = units * 10 + (b[i++] - ZERO);
  const digits = i - first;
  if (digits === 0 || digits > 9 || (digits > 1 && b[first] === ZERO)) return -1;
  let cents = units * 100;
  if (b[i] === DOT) {
    const d1 = b[i + 1] - ZERO;
    if (!(d1 >= 0 && d1 <= 9)) return -1;
    const d2 = b[i + 2] - ZERO;
    if (d2 >= 0 && d2 <= 9) {
      cents += d1 * 10 + d2;
      i += 3;
    } else {
      cents += d1 * 10;
      i += 2;
    }
    if (b[i] >= ZERO && b[i] <= ZERO + 9) return -1; // a third decimal
  }
  amount_end = i;
  return cents;
}

// The payment exactly as a load generator's JSON.stringify sends it, either member order, no
// whitespace: {"correlationId":"<uuid>","amount":19.9}. Read straight from the request's bytes
// (no string, no object), the id into id_out[0..16). Returns the amount in cents (≥ 1), or -1
// when the body is anything else; then readPayment, the general path, decides. The two agree on
// every body this one accepts (test/unit.validate.test.ts checks it on generated bodies).
export function readCanonicalPayment(b: Uint8Array, id_out: Uint8Array): number {
  if (b[0] !== OPEN) return -1;
  let cents: number;
  let i = 1;
  if (literalAt(b, i, K_ID)) {
    i += K_ID.length;
    if (!parseUuidBytesInto(b, i, id_out, 0) || b[i + 36] !== QUOTE || b[i + 37] !== COMMA) return -1;
    i += 38;
    if (!literalAt(b, i, K_AMOUNT)) return -1;
    cents = amountAt(b, i + K_AMOUNT.length);
    if (cents < 0) return -1;
    i = amount_end;
  } else if (literalAt(b, i, K_AMOUNT)) {
    cents = amountAt(b, i + K_AMOUNT.length);
    if (cents < 0) return -1;
    i = amount_end;
    if (b[i] !== COMMA || !literalAt(b, i + 1, K_ID)) return -1;
    i += 1 + K_ID.length;
    if (!parseUuidBytesInto(b, i, id_out, 0) || b[i + 36] !== QUOTE) return -1;
    i += 37;
  } else {
    return -1;
  }
  if (b[i] !== CLOSE || i + 1 !== b.length || cents < 1) return -1;
  return cents;
}

export function parsePayment(body: string): Payment | ClientError {
  const r = readPayment(body, ID_SCRATCH);
  return r.ok ? { ok: true, correlation_id: formatUuid(ID_SCRATCH), amount_cents: r.amount_cents } : r;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

// An ISO-8601 timestamp → epoch ms; null when absent; an error string when unparsable.
export function parseInstant(raw: string | undefined): number | null | string {
  if (raw === undefined || raw === '') return null;
  if (!ISO_UTC.test(raw)) return 'must be an ISO-8601 timestamp like 2025-07-15T12:34:56.000Z';
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) return 'is not a valid date';
  return ms;
}

export type SummaryRange = { ok: true; from_ms: number | null; to_ms: number | null };

export function parseSummaryQuery(query: string): SummaryRange | ClientError {
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (key !== 'from' && key !== 'to') return fail(`unknown query parameter ${JSON.stringify(key.slice(0, 40))}`);
  }
  if (params.getAll('from').length > 1 || params.getAll('to').length > 1) return fail('from and to may be given once each');
  const from = parseInstant(params.get('from') ?? undefined);
  if (typeof from === 'string') return fail(`from ${from}`);
  const to = parseInstant(params.get('to') ?? undefined);
  if (typeof to === 'string') return fail(`to ${to}`);
  if (from !== null && to !== null && from > to) return fail('from must not be after to');
  return { ok: true, from_ms: from, to_ms: to };
}
