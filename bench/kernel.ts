/**
 * Kernel benchmark: timers scheduled and fired per wall second.
 *
 * Two shapes: a steady state where 10,000 timers are pending and each one,
 * when it fires, schedules the next (as actors' timers do), and a burst of
 * one million timers scheduled at once and then drained. Delays are drawn
 * from the kernel's seeded RNG (1–100 ms). Also reported: XState `after`
 * timers of real actors on the kernel clock.
 *
 * Run: `npx tsx bench/kernel.ts`
 */
import { createActor, setup } from 'xstate';
import { Kernel } from '../system/kernel.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const delays = (kernel: Kernel, n: number, fractional = false) => {
  const r = kernel.random('bench');
  return Float64Array.from({ length: n }, () => (fractional ? r.uniform(1, 100) : r.int(1, 100)));
};

/**
 * Steady state: `pending` timers, each rescheduling itself when fired.
 * `fractional` draws delays like 37.418 ms (each timer its own instant)
 * instead of whole milliseconds (timers sharing instants).
 */
export function benchKernelSteady(pending = 10_000, fires = 2_000_000, seed = 1, fractional = false): BenchResult {
  const kernel = new Kernel({ seed });
  const d = delays(kernel, 4096, fractional);
  let fired = 0;
  const tick = (i: number) => {
    fired++;
    kernel.schedule(d[(i + fired) & 4095], tick, i);
  };
  for (let i = 0; i < pending; i++) kernel.schedule(d[i & 4095], tick, i);
  while (fired < fires / 10) kernel.step(); // warm-up
  const start = fired;
  const t0 = performance.now();
  while (fired - start < fires) kernel.step();
  const wall = (performance.now() - t0) / 1000;
  return {
    name: `kernel timers, steady state${fractional ? ', fractional delays' : ''}`,
    value: Math.round(fires / wall),
    unit: 'timers scheduled+fired/s',
    target: 2_000_000,
    config: { pendingTimers: pending, timersFired: fires, delayMs: fractional ? '1–100, fractional (seeded)' : '1–100, whole ms (seeded)', wallMs: Math.round(wall * 1000), seed },
  };
}

/** Burst: `n` timers scheduled at once, then all fired. */
export function benchKernelBurst(n = 1_000_000, seed = 1): BenchResult {
  const kernel = new Kernel({ seed });
  const d = delays(kernel, n);
  let fired = 0;
  const fn = () => {
    fired++;
  };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) kernel.schedule(d[i], fn);
  kernel.advance(1_000);
  const wall = (performance.now() - t0) / 1000;
  if (fired !== n) throw new Error(`fired ${fired} of ${n}`);
  return {
    name: 'kernel timers, burst',
    value: Math.round(n / wall),
    unit: 'timers scheduled+fired/s',
    config: { timers: n, delayMs: '1–100 (seeded)', wallMs: Math.round(wall * 1000), seed },
  };
}

/** XState `after` transitions of live actors, timed by the kernel clock. */
export function benchActorTimers(actors = 1_000, virtualMs = 10_000, seed = 1): BenchResult {
  const kernel = new Kernel({ seed });
  const m = setup({ delays: { tick: 10 } }).createMachine({
    initial: 'a',
    states: { a: { after: { tick: 'b' } }, b: { after: { tick: 'a' } } },
  });
  for (let i = 0; i < actors; i++) createActor(m, { clock: kernel }).start();
  const before = kernel.eventsFired;
  const t0 = performance.now();
  kernel.advance(virtualMs);
  const wall = (performance.now() - t0) / 1000;
  const fired = kernel.eventsFired - before;
  return {
    name: 'XState after-timers on the kernel',
    value: Math.round(fired / wall),
    unit: 'actor timers/s',
    config: { actors, virtualMs, timersFired: fired, wallMs: Math.round(wall * 1000), seed },
  };
}

if (isMainModule(import.meta.url)) {
  printResult(benchKernelSteady());
  printResult(benchKernelSteady(10_000, 2_000_000, 1, true));
  printResult(benchKernelBurst());
  printResult(benchActorTimers());
}
