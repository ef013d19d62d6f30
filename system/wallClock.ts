import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from './clock.js';
import type { RandomSource } from './random.js';

/**
 * The real-mode {@link Clock}: wall time and Node's timers. Same interface as
 * the simulation kernel, so actors cannot tell the two apart.
 */
export class WallClock implements Clock {
  /**
   * Milliseconds since the Unix epoch, counted on the monotonic clock from
   * the process's start (so it never steps back when the system clock is
   * set). Every process reads the same time base: the times a client, a
   * leader and a worker write into one task (submitted, started, finished)
   * and the rate limits computed from them compare across processes, to
   * within the machines' clock sync.
   */
  now(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }

  /** Runs `fn(arg)` once, `delay` ms from now (the kernel's `schedule`, on Node's timers). */
  schedule<A>(delay: number, fn: (arg: A) => void, arg?: A): TimerHandle {
    if (!(delay >= 0)) throw new RangeError(`delay must be a non-negative number, got ${delay}`);
    return setTimeout(() => fn(arg as A), delay);
  }

  /** Cancels a timer; true (Node does not say whether it was still pending). */
  cancel(handle: TimerHandle): boolean {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
    return true;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Nothing to do: Node's event loop runs resumed code by itself. */
  wake(): void {}

  /** The operating system's CSPRNG, whatever the stream (nothing in real mode replays). */
  random(_stream: string): RandomSource {
    return CRYPTO_RANDOM;
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

const CRYPTO_RANDOM = new CryptoRandom();
