import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seeded } from './support/seeded.js';
import { formatUuid, parseUuidInto, readRecord, RECORD_BYTES, writeNewRecord, writeRecord } from '../src/queue/record.js';

test('a UUID survives bytes and back, lower-cased', () => {
  const out = new Uint8Array(16);
  const rand = seeded();
  for (let i = 0; i < 200; i++) {
    const id = rand.uuid();
    assert.equal(parseUuidInto(id, out, 0), true, `${id} (seed ${rand.seed})`);
    assert.equal(formatUuid(out), id, `seed ${rand.seed}`);
  }
  assert.equal(parseUuidInto('4A7901B8-7D26-4D9D-AA19-4DC1C7CF60B3', out, 0), true);
  assert.equal(formatUuid(out), '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3');
});

test('malformed UUIDs are refused', () => {
  const out = new Uint8Array(16);
  for (const bad of [
    '',
    'x',
    '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b',
    '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3a',
    '4a7901b87d264d9daa194dc1c7cf60b3aaaa',
    '4a7901b8_7d26-4d9d-aa19-4dc1c7cf60b3',
    'g a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3'.replace(' ', ''),
    '４a7901b8-7d26-4d9d-aa19-4dc1c7cf60b3',
    '4a7901b8-7d26-4d9d-aa19-4dc1c7cf60\u200b3',
  ]) {
    assert.equal(parseUuidInto(bad, out, 0), false, bad);
  }
});

test('a record round-trips through a slot, exactly', () => {
  const buf = new ArrayBuffer(RECORD_BYTES * 3);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  const id = seeded().uuid();
  assert.equal(writeNewRecord(view, bytes, RECORD_BYTES, id, 2005, 1_752_000_000_123), true);
  const r = readRecord(view, bytes, RECORD_BYTES);
  assert.equal(formatUuid(r.id), id);
  assert.deepEqual({ ...r, id: undefined }, { id: undefined, amount_cents: 2005, accepted_at_ms: 1_752_000_000_123, flags: 0, ticket: 0 });
  const full = { id: r.id, amount_cents: 9_007_199_254_740_991, accepted_at_ms: 1, flags: 255, ticket: 4_294_967_295 };
  writeRecord(view, bytes, 0, full);
  assert.deepEqual(readRecord(view, bytes, 0), full);
  // neighbours untouched
  assert.equal(formatUuid(readRecord(view, bytes, RECORD_BYTES).id), id);
});

test('a record refuses an id that is not 16 bytes', () => {
  const buf = new ArrayBuffer(RECORD_BYTES);
  assert.throws(() =>
    writeRecord(new DataView(buf), new Uint8Array(buf), 0, { id: new Uint8Array(15), amount_cents: 1, accepted_at_ms: 1, flags: 0 }),
  );
});
