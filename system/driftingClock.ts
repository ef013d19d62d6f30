import type { Clock, TimerHandle } from './clock.js';
import type { Kernel } from './kernel.js';

/** A timer of a drifting clock: its deadline in local time, and the kernel timer that stands for it now. */
interface LocalTimer {
  fn: () => void;
  deadline: number;
  handle: TimerHandle;
}

/**
 * A node's own clock in the simulation: virtual time seen at a rate of its
 * own (1.01 runs 1 % fast), as a real oscillator drifts. Its `now()` is the
 * node's local time; a timer of `ms` local milliseconds fires when the
 * local clock has advanced by `ms`, that is after `ms / rate` of the
 * kernel's (true) time. {@link DriftingClock.setRate} changes the rate from
 * now on (the nemesis's `clock` fault): local time stays continuous, and
 * pending timers move so that each still fires at its local deadline.
 */
export class DriftingClock implements Clock {
  private anchorTrue: number;
  private anchorLocal: number;
  private r: number;
  private readonly pending = new Set<LocalTimer>();

  constructor(
    private readonly kernel: Kernel,
    rate = 1,
  ) {
    DriftingClock.check(rate);
    this.r = rate;
    this.anchorTrue = kernel.now();
    this.anchorLocal = kernel.now();
  }

  private static check(rate: number): void {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`a clock rate must be a finite number > 0, got ${rate}`);
  }

  /** Local ms per true ms. */
  get rate(): number {
    return this.r;
  }

  setRate(rate: number): void {
    DriftingClock.check(rate);
    const now = this.now();
    this.anchorLocal = now;
    this.anchorTrue = this.kernel.now();
    this.r = rate;
    for (const t of this.pending) {
      this.kernel.clearTimeout(t.handle);
      t.handle = this.kernel.setTimeout(() => this.fire(t), Math.max(0, t.deadline - now) / rate);
    }
  }

  now(): number {
    return this.r === 1 && this.anchorLocal === this.anchorTrue ? this.kernel.now() : this.anchorLocal + (this.kernel.now() - this.anchorTrue) * this.r;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const d = Math.max(0, ms);
    const t: LocalTimer = { fn, deadline: this.now() + d, handle: undefined };
    t.handle = this.kernel.setTimeout(() => this.fire(t), this.r === 1 ? d : d / this.r);
    this.pending.add(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    const t = handle as LocalTimer;
    if (!this.pending.delete(t)) return;
    this.kernel.clearTimeout(t.handle);
  }

  wake(): void {
    this.kernel.wake();
  }

  private fire(t: LocalTimer): void {
    this.pending.delete(t);
    t.fn();
  }
}
