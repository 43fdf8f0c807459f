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

// Character codes the JSON reader compares against.
const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_BACKSLASH = 92;
const FIRST_PRINTABLE = 32; // below it: raw control characters, which JSON strings may not hold
const UNICODE_ESCAPE_HEX_DIGITS = 4;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const HEX4 = /^[0-9a-fA-F]{4}$/;
const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ['true', 'false', 'null'] as const;
const NOT_JSON = 'body is not valid JSON';

// A cursor over one JSON text, each step a method; a step that meets something that is not
// JSON returns null and leaves the cursor where it stopped.
class FlatJsonReader {
  at = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.at === this.text.length;
  }

  skipWhitespace(): void {
    const { text } = this;
    while (this.at < text.length) {
      const c = text.charCodeAt(this.at);
      if (c !== CH_SPACE && c !== CH_TAB && c !== CH_LF && c !== CH_CR) return;
      this.at++;
    }
  }

  // Consumes `ch` if it is next.
  take(ch: string): boolean {
    if (this.text[this.at] !== ch) return false;
    this.at++;
    return true;
  }

  readString(): string | null {
    const { text } = this;
    if (text.charCodeAt(this.at) !== CH_QUOTE) return null;
    this.at++;
    let out = '';
    let run_start = this.at; // the run of plain characters not yet copied to out
    while (this.at < text.length) {
      const c = text.charCodeAt(this.at);
      if (c === CH_QUOTE) {
        out += text.slice(run_start, this.at);
        this.at++;
        return out;
      }
      if (c < FIRST_PRINTABLE) return null;
      if (c === CH_BACKSLASH) {
        out += text.slice(run_start, this.at);
        const unescaped = this.readEscape();
        if (unescaped === null) return null;
        out += unescaped;
        run_start = this.at;
        continue;
      }
      this.at++;
    }
    return null; // unterminated
  }

  // At a backslash: the character it stands for, the cursor after it.
  private readEscape(): string | null {
    const e = this.text[this.at + 1];
    if (e === undefined) return null;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      this.at += 2;
      return simple;
    }
    if (e !== 'u') return null;
    const hex = this.text.slice(this.at + 2, this.at + 2 + UNICODE_ESCAPE_HEX_DIGITS);
    if (!HEX4.test(hex)) return null;
    this.at += 2 + UNICODE_ESCAPE_HEX_DIGITS;
    return String.fromCharCode(parseInt(hex, 16));
  }

  readValue(): Scalar | null {
    const c = this.text[this.at];
    if (c === '"') {
      const s = this.readString();
      return s === null ? null : { kind: 'string', value: s };
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.readNumber();
    for (const word of LITERALS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return { kind: 'other' };
      }
    }
    // Nested values are valid JSON but never part of a payment: skipped, so the error can name
    // the field.
    if (c === '{' || c === '[') return this.skipNested() ? { kind: 'other' } : null;
    return null;
  }

  private readNumber(): Scalar | null {
    JSON_NUMBER.lastIndex = this.at;
    const m = JSON_NUMBER.exec(this.text);
    if (m === null) return null;
    this.at += m[0].length;
    return { kind: 'number', value: Number(m[0]) };
  }

  // Over one nested object or array, strings inside it included.
  private skipNested(): boolean {
    const { text } = this;
    let depth = 0;
    while (this.at < text.length) {
      const c = text[this.at];
      if (c === '"') {
        if (this.readString() === null) return false;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          this.at++;
          return true;
        }
      }
      this.at++;
    }
    return false;
  }

  // The members of a non-empty object, after its "{": key, colon, value, until the "}".
  readMembers(members: Map<string, Scalar>): string | null {
    for (;;) {
      this.skipWhitespace();
      const key = this.readString();
      if (key === null) return NOT_JSON;
      this.skipWhitespace();
      if (!this.take(':')) return NOT_JSON;
      this.skipWhitespace();
      const value = this.readValue();
      if (value === null) return NOT_JSON;
      if (members.has(key)) return `duplicate key ${JSON.stringify(key)}`;
      members.set(key, value);
      this.skipWhitespace();
      if (this.take(',')) continue;
      if (this.take('}')) return null;
      return NOT_JSON;
    }
  }
}

// A strict parser for one flat JSON object (the whole body). Returns its members, or an error
// string. Duplicate keys are an error (JSON.parse would silently keep the last one).
export function parseFlatObject(text: string): Map<string, Scalar> | string {
  const reader = new FlatJsonReader(text);
  const members = new Map<string, Scalar>();
  reader.skipWhitespace();
  if (!reader.take('{')) return 'body must be a JSON object';
  reader.skipWhitespace();
  if (!reader.take('}')) {
    const error = reader.readMembers(members);
    if (error !== null) return error;
  }
  reader.skipWhitespace();
  return reader.done ? members : NOT_JSON;
}

const UUID_BYTES = 16;
const UUID_TEXT_CHARS = 36; // 8-4-4-4-12
const ERROR_KEY_MAX_CHARS = 40; // how much of an unknown key an error message repeats
const ID_SCRATCH = new Uint8Array(UUID_BYTES);

// Validates a payment body; the id's 16 bytes go to id_out[0..16). The front thread calls this
// and copies id_out into a ring slot, so the id is parsed once and never becomes a string.
export function readPayment(body: string, id_out: Uint8Array): { ok: true; amount_cents: number } | ClientError {
  if (body.length === 0) return fail('body is empty; expected {"correlationId": "<uuid>", "amount": <number>}');
  const members = parseFlatObject(body);
  if (typeof members === 'string') return fail(members);
  for (const key of members.keys()) {
    if (key !== 'correlationId' && key !== 'amount') return fail(`unknown field ${JSON.stringify(key.slice(0, ERROR_KEY_MAX_CHARS))}`);
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
const NINE = ZERO + 9;
const PLAIN_AMOUNT_MAX_DIGITS = 9; // integer digits the fast path reads; more goes to the general path

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
  while (i < b.length && b[i] >= ZERO && b[i] <= NINE && i - first <= PLAIN_AMOUNT_MAX_DIGITS) units = units * 10 + (b[i++] - ZERO);
  const digits = i - first;
  if (digits === 0 || digits > PLAIN_AMOUNT_MAX_DIGITS || (digits > 1 && b[first] === ZERO)) return -1;
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
    if (b[i] >= ZERO && b[i] <= NINE) return -1; // a third decimal
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
    if (!parseUuidBytesInto(b, i, id_out, 0) || b[i + UUID_TEXT_CHARS] !== QUOTE || b[i + UUID_TEXT_CHARS + 1] !== COMMA) return -1;
    i += UUID_TEXT_CHARS + 2; // the closing quote and the comma
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
    if (!parseUuidBytesInto(b, i, id_out, 0) || b[i + UUID_TEXT_CHARS] !== QUOTE) return -1;
    i += UUID_TEXT_CHARS + 1; // the closing quote
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
    if (key !== 'from' && key !== 'to') return fail(`unknown query parameter ${JSON.stringify(key.slice(0, ERROR_KEY_MAX_CHARS))}`);
  }
  if (params.getAll('from').length > 1 || params.getAll('to').length > 1) return fail('from and to may be given once each');
  const from = parseInstant(params.get('from') ?? undefined);
  if (typeof from === 'string') return fail(`from ${from}`);
  const to = parseInstant(params.get('to') ?? undefined);
  if (typeof to === 'string') return fail(`to ${to}`);
  if (from !== null && to !== null && from > to) return fail('from must not be after to');
  return { ok: true, from_ms: from, to_ms: to };
}
