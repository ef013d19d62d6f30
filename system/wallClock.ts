import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from './clock.js';
import type { RandomSource } from './random.js';

/**
 * The real-mode {@link Clock}: wall time and Node's timers. Same interface as
 * the simulation kernel, so actors cannot tell the two apart.
 */
export class WallClock implements Clock {
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
}

/** The real-mode {@link RandomSource}: the operating system's CSPRNG. */
export class CryptoRandom implements RandomSource {
  float(): number {
    return randomBytes(4).readUInt32LE(0) / 4294967296;
  }
  int(min: number, max: number): number {
    if (!(max >= min)) throw new RangeError(`int(min, max) needs max >= min, got ${min}..${max}`);
    return min + Math.floor(this.float() * (max - min + 1));
  }
  chance(p: number): boolean {
    return p > 0 && (p >= 1 || this.float() < p);
  }
  bytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }
}
