// The fixed-size payment record carried by the ring: the codec between a slot's bytes and a
// PaymentRecord. Imports nothing of the app.

export const RECORD_BYTES = 48;

// Byte offsets inside one record.
const OFF_PINNED = 0; // u8: 0 none, 1 default, 2 fallback
const OFF_FLAGS = 1; // u8: FLAG_*
const OFF_ATTEMPTS = 2; // u16
const OFF_AMOUNT_CENTS = 8; // f64 (an integer; f64 keeps every cent exact up to 2^53)
const OFF_ACCEPTED_AT_MS = 16; // f64 epoch ms
const OFF_REQUESTED_AT_MS = 24; // f64 epoch ms, 0 = never sent
const OFF_ID = 32; // 16 bytes: the UUID

export const PINNED_NONE = 0;
export const PINNED_DEFAULT = 1;
export const PINNED_FALLBACK = 2;
export const FLAG_CLAIMED = 1; // the id's claim is already this instance's (a reclaimed payment)

export interface PaymentRecord {
  id: Uint8Array; // 16 bytes
  amount_cents: number;
  accepted_at_ms: number;
  requested_at_ms: number;
  attempts: number;
  pinned: number;
  flags: number;
}

const HEX = '0123456789abcdef';
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE[HEX.charCodeAt(i)] = i;
  HEX_VALUE[HEX.toUpperCase().charCodeAt(i)] = i;
}

// Writes the 16 bytes of a canonical 8-4-4-4-12 UUID read from 36 bytes of UTF-8 at
// bytes[at..] into out[offset..]; false if malformed. The front reads a request body with it
// before any string exists.
export function parseUuidBytesInto(bytes: Uint8Array, at: number, out: Uint8Array, offset: number): boolean {
  if (at + 36 > bytes.length) return false;
  let byte = 0;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (bytes[at + i] !== 45) return false; // '-'
      i++;
      continue;
    }
    const hi = bytes[at + i];
    const lo = bytes[at + i + 1];
    const h = hi < 128 ? HEX_VALUE[hi] : -1;
    const l = lo < 128 ? HEX_VALUE[lo] : -1;
    if (h < 0 || l < 0) return false;
    out[offset + byte++] = (h << 4) | l;
    i += 2;
  }
  return byte === 16;
}

const UTF8 = new TextEncoder();
const UUID_TEXT = new Uint8Array(36 * 3); // room for 36 UTF-16 units of any kind

// The same from a string. A non-ASCII character takes more than one UTF-8 byte (so not 36 in
// all) or a byte >= 128 (never a hex digit): either way it is refused.
export function parseUuidInto(text: string, out: Uint8Array, offset: number): boolean {
  if (text.length !== 36) return false;
  const { written } = UTF8.encodeInto(text, UUID_TEXT);
  return written === 36 && parseUuidBytesInto(UUID_TEXT.subarray(0, 36), 0, out, offset);
}

export function formatUuid(bytes: Uint8Array, offset = 0): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    const b = bytes[offset + i];
    s += HEX[b >> 4] + HEX[b & 15];
  }
  return s;
}

export function writeRecord(view: DataView, bytes: Uint8Array, base: number, r: PaymentRecord): void {
  view.setUint8(base + OFF_PINNED, r.pinned);
  view.setUint8(base + OFF_FLAGS, r.flags);
  view.setUint16(base + OFF_ATTEMPTS, r.attempts, true);
  view.setFloat64(base + OFF_AMOUNT_CENTS, r.amount_cents, true);
  view.setFloat64(base + OFF_ACCEPTED_AT_MS, r.accepted_at_ms, true);
  view.setFloat64(base + OFF_REQUESTED_AT_MS, r.requested_at_ms, true);
  bytes.set(r.id, base + OFF_ID);
}

// A freshly accepted payment (never sent) whose id is already 16 bytes: the front thread's path,
// which validated the id into bytes and copies them here.
export function writeAcceptedRecord(
  view: DataView, bytes: Uint8Array, base: number,
  id: Uint8Array, amount_cents: number, accepted_at_ms: number, flags = 0,
): void {
  bytes.set(id.subarray(0, 16), base + OFF_ID);
  writeNewFields(view, base, amount_cents, accepted_at_ms, flags);
}

// The same from the id's text (parsed straight into the slot); false if it is not a UUID.
export function writeNewRecord(
  view: DataView, bytes: Uint8Array, base: number,
  id_text: string, amount_cents: number, accepted_at_ms: number, flags = 0,
): boolean {
  if (!parseUuidInto(id_text, bytes, base + OFF_ID)) return false;
  writeNewFields(view, base, amount_cents, accepted_at_ms, flags);
  return true;
}

function writeNewFields(view: DataView, base: number, amount_cents: number, accepted_at_ms: number, flags: number): void {
  view.setUint8(base + OFF_PINNED, PINNED_NONE);
  view.setUint8(base + OFF_FLAGS, flags);
  view.setUint16(base + OFF_ATTEMPTS, 0, true);
  view.setFloat64(base + OFF_AMOUNT_CENTS, amount_cents, true);
  view.setFloat64(base + OFF_ACCEPTED_AT_MS, accepted_at_ms, true);
  view.setFloat64(base + OFF_REQUESTED_AT_MS, 0, true);
}

export function readRecord(view: DataView, bytes: Uint8Array, base: number): PaymentRecord {
  return {
    id: bytes.slice(base + OFF_ID, base + OFF_ID + 16),
    amount_cents: view.getFloat64(base + OFF_AMOUNT_CENTS, true),
    accepted_at_ms: view.getFloat64(base + OFF_ACCEPTED_AT_MS, true),
    requested_at_ms: view.getFloat64(base + OFF_REQUESTED_AT_MS, true),
    attempts: view.getUint16(base + OFF_ATTEMPTS, true),
    pinned: view.getUint8(base + OFF_PINNED),
    flags: view.getUint8(base + OFF_FLAGS),
  };
}
