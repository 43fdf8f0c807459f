// Replayable randomness for tests: a small PRNG (mulberry32) from a seed. The seed comes from
// TEST_SEED when set, else a fixed one, and a test that draws from it names its seed in its
// failure messages, so `TEST_SEED=<seed> node --test <file>` replays a failure.
export const TEST_SEED = Number(process.env.TEST_SEED ?? 20_250_701) >>> 0;

export interface Seeded {
  readonly seed: number;
  next(): number; // uniform in [0, 1)
  int(n: number): number; // uniform in [0, n)
  uuid(): string; // a version-4 UUID made of the stream's bits
}

export function seeded(seed = TEST_SEED): Seeded {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const hex = (digits: number): string => Array.from({ length: digits }, () => int(16).toString(16)).join('');
  const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + int(4)).toString(16)}${hex(3)}-${hex(12)}`;
  return { seed, next, int, uuid };
}
