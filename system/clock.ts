/**
 * The time source every actor runs on. It is a superset of XState's `Clock`
 * (`setTimeout` / `clearTimeout`), so it can be handed to
 * `createActor(machine, { clock })` and every `after` runs on it.
 *
 * Two implementations: the simulation {@link Kernel} (virtual time) and
 * {@link WallClock} (real mode).
 */
export interface Clock {
  /** Milliseconds since the clock's epoch (virtual or real). */
  now(): number;
  /** Runs `fn` once, `ms` milliseconds from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; cancelling a fired or cancelled timer is a no-op. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Says that async code may have been resumed (a promise resolved), so the
   * simulation drains microtasks before its next event. Real clocks need not.
   */
  wake?(): void;
}

/** Opaque handle of a scheduled timer. */
export type TimerHandle = unknown;
