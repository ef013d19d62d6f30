import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/** The random source interface actors depend on (seeded in simulation). */
export interface RandomSource {
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** Fills a fresh array of `n` random bytes. */
  bytes(n: number): Uint8Array;
}

const TWO_POW_32 = 4294967296;

/** FNV-1a over a string: a stable 32-bit mix for deriving stream seeds. */
function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h | 0;
}

/** Murmur3's 32-bit finalizer: spreads every input bit over the output. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/**
 * A seeded random stream (xoroshiro128+ from `pure-rand`). Same seed, same
 * sequence, on every platform. {@link Random.derive} gives independent named
 * sub-streams so that components never share (and shift) each other's draws.
 */
export class Random implements RandomSource {
  private readonly gen: RandomGenerator;

  constructor(readonly seed: number) {
    // xoroshiro's first outputs follow its seed closely; neighbouring seeds
    // (derived streams) would start correlated. Scramble and warm up.
    this.gen = xoroshiro128plus(mix32(seed | 0));
    for (let i = 0; i < 8; i++) this.gen.next();
  }

  /** An independent stream named `name`, a pure function of (seed, name). */
  derive(name: string): Random {
    return new Random(fnv1a(name, this.seed | 0) ^ Math.imul(this.seed | 0, 0x9e3779b1));
  }

  /** Raw 32-bit unsigned draw. */
  uint32(): number {
    return this.gen.next() >>> 0;
  }

  float(): number {
    return (this.gen.next() >>> 0) / TWO_POW_32;
  }

  int(min: number, max: number): number {
    if (!(max >= min)) throw new RangeError(`int(min, max) needs max >= min, got ${min}..${max}`);
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return p > 0 && (p >= 1 || this.float() < p);
  }

  /** Uniform float in [min, max). */
  uniform(min: number, max: number): number {
    return min + this.float() * (max - min);
  }

  /** Normal draw (Box–Muller), mean `mean`, standard deviation `sd`. */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.float(); // (0, 1]: log is finite
    const v = this.float();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential draw with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty array');
    return items[Math.floor(this.float() * items.length)];
  }

  /** Fisher–Yates shuffle, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let w = this.gen.next();
      for (let k = 0; k < 4 && i + k < n; k++) {
        out[i + k] = w & 0xff;
        w >>>= 8;
      }
    }
    return out;
  }
}
