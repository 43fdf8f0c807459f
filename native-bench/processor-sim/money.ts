// Money helpers: integer cents inside, 2-decimal text at the edges.

/**
 * Rounds a JSON amount to cents, half away from zero, on the decimal text the client sent
 * (String(n) is the shortest round-trip form), so 1.005 -> 101 like a numeric(…,2) column would,
 * where Math.round(1.005 * 100) would give 100.
 */
export function amountToCents(amount: number): number {
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

/** Renders cents as a JSON number literal with exactly 2 decimals: 4010 -> "40.10". */
export function centsToJson(cents: number): string {
  const negative = cents < 0;
  const abs = Math.abs(cents);
  const units = Math.floor(abs / 100);
  const rest = abs - units * 100;
  return (negative ? '-' : '') + units + '.' + (rest < 10 ? '0' : '') + rest;
}

/** fee applied to a cents total, rounded half away from zero to whole cents. */
export function feeCents(total_cents: number, fee_rate: number): number {
  const raw = total_cents * fee_rate;
  // Guard against binary noise like 140.35000000000002 or 14.499999999999998.
  const cleaned = Math.round(raw * 1e6) / 1e6;
  return Math.sign(cleaned) * Math.round(Math.abs(cleaned));
}
