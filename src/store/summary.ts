// The summary: one aggregate over the requested_at index, exact integer cents, the contest's shape.
import type pg from 'pg';
import { formatCents } from '../money.js';
import { PURGE_FENCE_SQL } from './db.js';

interface ProcessorTotals {
  count: number;
  cents: number;
}
export interface Totals {
  default: ProcessorTotals;
  fallback: ProcessorTotals;
}

export function renderSummary(t: Totals): string {
  return (
    `{"default":{"totalRequests":${t.default.count},"totalAmount":${formatCents(t.default.cents)}},` +
    `"fallback":{"totalRequests":${t.fallback.count},"totalAmount":${formatCents(t.fallback.cents)}}}`
  );
}

// Both bounds inclusive; a missing bound is unbounded. A row of a payment accepted at or before the
// last purge's fence is not counted: a write in flight at the purge may store it afterwards.
const MIN_MS = '-9223372036854775808';
const MAX_MS = '9223372036854775807';

export async function querySummary(db: pg.Pool | pg.Client, from_ms: number | null, to_ms: number | null): Promise<Totals> {
  const result = await db.query<{ processor: number; n: string; cents: string }>({
    name: 'summary',
    text:
      'SELECT processor, count(*) AS n, coalesce(sum(amount_cents), 0) AS cents FROM payments ' +
      `WHERE requested_at_ms BETWEEN $1 AND $2 AND accepted_at_ms > ${PURGE_FENCE_SQL} GROUP BY processor`,
    values: [from_ms === null ? MIN_MS : String(from_ms), to_ms === null ? MAX_MS : String(to_ms)],
  });
  const totals: Totals = { default: { count: 0, cents: 0 }, fallback: { count: 0, cents: 0 } };
  for (const row of result.rows) {
    const target = row.processor === 0 ? totals.default : totals.fallback;
    target.count = Number(row.n);
    target.cents = Number(row.cents);
  }
  return totals;
}
