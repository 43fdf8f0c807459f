// Exact decimal arithmetic on a JS number's shortest string form, the way big.js does it
// (the official runner does its money math with big.js: Big(x) parses String(x)).
// Only what scoring needs: plus, minus, times, round half-up, back to number.

export class Decimal {
  // value = units / 10^scale
  private constructor(
    readonly units: bigint,
    readonly scale: number,
  ) {}

  static of(x: number | string): Decimal {
    const text = typeof x === 'number' ? numberText(x) : x.trim();
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
    const sign = m[1] === '-' ? -1n : 1n;
    const intDigits = m[2] || '0';
    const fracDigits = m[3] ?? '';
    const exp = m[4] ? Number(m[4]) : 0;
    let units = BigInt(intDigits + fracDigits) * sign;
    let scale = fracDigits.length - exp;
    if (scale < 0) {
      units *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(units, scale);
  }

  private static aligned(a: Decimal, b: Decimal): [bigint, bigint, number] {
    const scale = Math.max(a.scale, b.scale);
    return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
  }

  plus(other: Decimal | number): Decimal {
    const [x, y, s] = Decimal.aligned(this, toDecimal(other));
    return new Decimal(x + y, s);
  }

  minus(other: Decimal | number): Decimal {
    const [x, y, s] = Decimal.aligned(this, toDecimal(other));
    return new Decimal(x - y, s);
  }

  times(other: Decimal | number): Decimal {
    const o = toDecimal(other);
    return new Decimal(this.units * o.units, this.scale + o.scale);
  }

  /** Round to `dp` decimal places, half away from zero (big.js ROUND_HALF_UP, its default). */
  round(dp: number): Decimal {
    if (this.scale <= dp) return this;
    const divisor = 10n ** BigInt(this.scale - dp);
    const negative = this.units < 0n;
    const abs = negative ? -this.units : this.units;
    let q = abs / divisor;
    if ((abs % divisor) * 2n >= divisor) q += 1n;
    return new Decimal(negative ? -q : q, dp);
  }

  toString(): string {
    const negative = this.units < 0n;
    let digits = (negative ? -this.units : this.units).toString();
    if (this.scale === 0) return (negative ? '-' : '') + digits;
    digits = digits.padStart(this.scale + 1, '0');
    const int = digits.slice(0, digits.length - this.scale);
    const frac = digits.slice(digits.length - this.scale).replace(/0+$/, '');
    return (negative ? '-' : '') + int + (frac ? `.${frac}` : '');
  }

  toNumber(): number {
    return Number(this.toString());
  }
}

function toDecimal(x: Decimal | number): Decimal {
  return x instanceof Decimal ? x : Decimal.of(x);
}

function numberText(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`not a finite number: ${x}`);
  return Object.is(x, -0) ? '0' : String(x);
}
