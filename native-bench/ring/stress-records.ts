// The records of the ring stress run: every field derives from (producer, seq), so a consumer can
// check that what it popped is exactly what was pushed (no torn or overwritten slot).
import type { PaymentRecord } from '../../src/queue/record.js';

const MAX_PRODUCERS = 8;

export function stressRecord(producer: number, seq: number): PaymentRecord {
  const id = new Uint8Array(16);
  id[0] = producer;
  id[1] = seq & 0xff;
  id[2] = (seq >>> 8) & 0xff;
  id[3] = (seq >>> 16) & 0xff;
  id[4] = (seq >>> 24) & 0xff;
  for (let i = 5; i < 16; i++) id[i] = (seq * 7 + producer * 13 + i) & 0xff;
  return {
    id,
    amount_cents: seq * 3 + producer,
    accepted_at_ms: 1_700_000_000_000 + seq,
    flags: (seq >>> 3) & 0xff,
  };
}

// (producer, seq) of a popped record, or null when any field disagrees with stressRecord's.
export function decodeStressRecord(r: PaymentRecord): { producer: number; seq: number } | null {
  const producer = r.id[0];
  const seq = (r.id[1] | (r.id[2] << 8) | (r.id[3] << 16) | (r.id[4] << 24)) >>> 0;
  if (producer >= MAX_PRODUCERS) return null;
  const want = stressRecord(producer, seq);
  for (let i = 0; i < 16; i++) if (r.id[i] !== want.id[i]) return null;
  if (r.amount_cents !== want.amount_cents || r.accepted_at_ms !== want.accepted_at_ms) return null;
  if (r.flags !== want.flags) return null;
  return { producer, seq };
}

// Control words shared by the stress threads (an Int32Array over its own SharedArrayBuffer).
export const C_GO = 0; // 0 until main lets everyone run
export const C_PRODUCERS_DONE = 1; // producers that pushed their last record
export const C_ABORT = 2; // set by main on timeout: every loop exits
export const CONTROL_WORDS = 4;
