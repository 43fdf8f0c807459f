// The simulator's money beyond src/money.ts: it rounds any amount to cents as the real
// processor's numeric column does (the service refuses what is not whole cents), and charges fees.

/**
 * Rounds a JSON amount to cents, half away from zero, on the decimal text the client sent
 * (String(n) is the shortest round-trip form), so 1.005 -> 101 like a numeric(…,2) column would,
 * where Math.round(1.005 * 100) would give 100.
 */
export function roundToCents(amount: number): number {
  if (!Number.isFinite(amount)) throw new RangeError('amount must be finite');
  const sign = amount < 0 ? -1 : 1;
  const text = String(Math.abs(amount));
  if (text.includes('e')) return sign * Math.round(Math.abs(amount) * 100);
  const dot = text.indexOf('.');
  const int_part = dot < 0 ? text : text.slice(0, dot);
  const frac_part = dot < 0 ? '' : text.slice(dot + 1);
  const frac2 = (frac_part + '00').slice(0, 2);
  const round_up = frac_part.length > 2 && frac_part.charCodeAt(2) >= 53; // '5'
  const cents = Number(int_part) * 100 + Number(frac2) + (round_up ? 1 : 0);
  return sign * cents;
}

/** fee applied to a cents total, rounded half away from zero to whole cents. */
export function feeCents(total_cents: number, fee_rate: number): number {
  const raw = total_cents * fee_rate;
  // Guard against binary noise like 140.35000000000002 or 14.499999999999998.
  const cleaned = Math.round(raw * 1e6) / 1e6;
  return Math.sign(cleaned) * Math.round(Math.abs(cleaned));
}
