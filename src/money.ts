// Money: integer cents inside, a JSON number with two decimals at the edges.
import assert from 'node:assert/strict';

const CENTS_PER_UNIT = 100;
export const AMOUNT_MAX_CENTS = 100_000_000_000; // 1 billion per payment: far above any real one

// An amount as a client sends it (a JSON number of currency units) → integer cents, or the
// client error that refuses it: not positive, more than 2 decimal places, or over the maximum.
export function amountToCents(amount: number): number | string {
  if (!Number.isFinite(amount)) return 'amount must be a finite number';
  if (amount <= 0) return 'amount must be greater than zero';
  const cents = Math.round(amount * CENTS_PER_UNIT);
  if (Math.abs(amount * CENTS_PER_UNIT - cents) > 1e-6 * Math.max(1, Math.abs(cents))) {
    return 'amount must have at most 2 decimal places';
  }
  if (cents > AMOUNT_MAX_CENTS) return `amount must be at most ${AMOUNT_MAX_CENTS / CENTS_PER_UNIT}`;
  if (cents < 1) return 'amount must be at least 0.01';
  return cents;
}

// Cents rendered as a JSON number with exactly two decimals, from integers only (no float
// rounding): 4010 → "40.10", -105 → "-1.05".
export function formatCents(cents: number): string {
  assert(Number.isSafeInteger(cents), `cents must be a safe integer, got ${cents}`);
  const abs = Math.abs(cents);
  const units = Math.floor(abs / CENTS_PER_UNIT);
  const rest = abs % CENTS_PER_UNIT;
  return `${cents < 0 ? '-' : ''}${units}.${rest < 10 ? '0' : ''}${rest}`;
}
