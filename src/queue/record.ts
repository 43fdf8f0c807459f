// The fixed-size payment record carried by the ring: the codec between a slot's bytes and a
// PaymentRecord. Imports nothing of the app. What happens to a payment after it leaves the ring
// (attempts, the processor an unknown outcome pins it to) is the worker's, not the record's.
import assert from 'node:assert/strict';

const ID_BYTES = 16; // a UUID

// Byte offsets inside one record.
const OFF_FLAGS = 0; // u8: FLAG_*
const OFF_TICKET = 4; // u32: DURABILITY=strict, the front's answer waiting for this claim; 0 = none
const OFF_AMOUNT_CENTS = 8; // f64 (an integer; f64 keeps every cent exact up to 2^53)
const OFF_ACCEPTED_AT_MS = 16; // f64 epoch ms
const OFF_ID = 24; // ID_BYTES: the UUID
export const RECORD_BYTES = 40;

// The layout: the f64 fields 8-aligned, nothing overlaps, the id ends the record, and a record is
// a whole number of 8-byte words, so every record of a ring of them stays aligned.
assert(OFF_FLAGS + 1 <= OFF_TICKET && OFF_TICKET % 4 === 0 && OFF_TICKET + 4 <= OFF_AMOUNT_CENTS && OFF_AMOUNT_CENTS % 8 === 0);
assert(OFF_AMOUNT_CENTS + 8 <= OFF_ACCEPTED_AT_MS && OFF_ACCEPTED_AT_MS % 8 === 0);
assert(OFF_ACCEPTED_AT_MS + 8 <= OFF_ID && OFF_ID + ID_BYTES === RECORD_BYTES && RECORD_BYTES % 8 === 0);

export const FLAG_CLAIMED = 1; // the id's claim is already this instance's (a reclaimed payment)

export interface PaymentRecord {
  id: Uint8Array; // ID_BYTES
  amount_cents: number;
  accepted_at_ms: number;
  flags: number;
  ticket?: number; // strict: the waiting answer to complete once the claim is committed (0 = none)
}

const UUID_TEXT_CHARS = 36; // 8-4-4-4-12 hex digits and 4 dashes
const DASH = 45; // '-'
const ASCII_END = 128;

const HEX = '0123456789abcdef';
const HEX_VALUE = new Int8Array(ASCII_END).fill(-1);
for (let i = 0; i < HEX.length; i++) {
  HEX_VALUE[HEX.charCodeAt(i)] = i;
  HEX_VALUE[HEX.toUpperCase().charCodeAt(i)] = i;
}

// Writes the 16 bytes of a canonical 8-4-4-4-12 UUID read from 36 bytes of UTF-8 at
// bytes[at..] into out[offset..]; false if malformed. The front reads a request body with it
// before any string exists.
export function parseUuidBytesInto(bytes: Uint8Array, at: number, out: Uint8Array, offset: number): boolean {
  if (at + UUID_TEXT_CHARS > bytes.length) return false;
  let byte = 0;
  for (let i = 0; i < UUID_TEXT_CHARS; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (bytes[at + i] !== DASH) return false;
      i++;
      continue;
    }
    const hi = bytes[at + i];
    const lo = bytes[at + i + 1];
    const h = hi < ASCII_END ? HEX_VALUE[hi] : -1;
    const l = lo < ASCII_END ? HEX_VALUE[lo] : -1;
    if (h < 0 || l < 0) return false;
    out[offset + byte++] = (h << 4) | l;
    i += 2;
  }
  return byte === ID_BYTES;
}

const UTF8 = new TextEncoder();
const UUID_TEXT = new Uint8Array(UUID_TEXT_CHARS * 3); // room for 36 UTF-16 units of any kind

// The same from a string. A non-ASCII character takes more than one UTF-8 byte (so not 36 in
// all) or a byte >= 128 (never a hex digit): either way it is refused.
export function parseUuidInto(text: string, out: Uint8Array, offset: number): boolean {
  if (text.length !== UUID_TEXT_CHARS) return false;
  const { written } = UTF8.encodeInto(text, UUID_TEXT);
  return written === UUID_TEXT_CHARS && parseUuidBytesInto(UUID_TEXT.subarray(0, UUID_TEXT_CHARS), 0, out, offset);
}

export function formatUuid(bytes: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < ID_BYTES; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    const b = bytes[offset + i];
    s += HEX[b >> 4] + HEX[b & 15];
  }
  return s;
}

export function writeRecord(view: DataView, bytes: Uint8Array, base: number, r: PaymentRecord): void {
  assert(r.id.length === ID_BYTES, 'a record id is 16 bytes');
  bytes.set(r.id, base + OFF_ID);
  writeFields(view, base, r.amount_cents, r.accepted_at_ms, r.flags, r.ticket ?? 0);
}

// A freshly accepted payment (never sent) whose id is already 16 bytes: the front thread's path,
// which validated the id into bytes and copies them here.
export function writeAcceptedRecord(
  view: DataView,
  bytes: Uint8Array,
  base: number,
  id: Uint8Array,
  amount_cents: number,
  accepted_at_ms: number,
  flags = 0,
  ticket = 0,
): void {
  bytes.set(id.subarray(0, ID_BYTES), base + OFF_ID);
  writeFields(view, base, amount_cents, accepted_at_ms, flags, ticket);
}

// The same from the id's text (parsed straight into the slot); false if it is not a UUID.
export function writeNewRecord(
  view: DataView,
  bytes: Uint8Array,
  base: number,
  id_text: string,
  amount_cents: number,
  accepted_at_ms: number,
  flags = 0,
): boolean {
  if (!parseUuidInto(id_text, bytes, base + OFF_ID)) return false;
  writeFields(view, base, amount_cents, accepted_at_ms, flags, 0);
  return true;
}

function writeFields(view: DataView, base: number, amount_cents: number, accepted_at_ms: number, flags: number, ticket: number): void {
  view.setUint8(base + OFF_FLAGS, flags);
  view.setUint32(base + OFF_TICKET, ticket, true);
  view.setFloat64(base + OFF_AMOUNT_CENTS, amount_cents, true);
  view.setFloat64(base + OFF_ACCEPTED_AT_MS, accepted_at_ms, true);
}

export function readRecord(view: DataView, bytes: Uint8Array, base: number): PaymentRecord {
  return {
    id: bytes.slice(base + OFF_ID, base + OFF_ID + ID_BYTES),
    amount_cents: view.getFloat64(base + OFF_AMOUNT_CENTS, true),
    accepted_at_ms: view.getFloat64(base + OFF_ACCEPTED_AT_MS, true),
    flags: view.getUint8(base + OFF_FLAGS),
    ticket: view.getUint32(base + OFF_TICKET, true),
  };
}
