/**
 * A small deterministic PRNG (a 32-bit xorshift-multiply generator) so that noise
 * and fault injection repeat exactly for a given seed.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    // Spread small seeds (0, 1, 2 ...) over the whole state space; never let the state be 0.
    this.state = (Math.imul((seed | 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0) || 0x6d2b79f5;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let x = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform in [-amplitude, +amplitude]. */
  symmetric(amplitude: number): number {
    return (this.next() * 2 - 1) * amplitude;
  }

  /** True with probability p (0..1). Always draws exactly one number, so sequences stay aligned. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
