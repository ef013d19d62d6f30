import { assign, setup } from 'xstate';

/** Configuration of a circuit breaker (see {@link circuitBreaker}). */
export interface BreakerConfig {
  /** Consecutive failures that trip a closed breaker (count-based), ≥ 1. */
  failureThreshold: number;
  /** Failure rate in (0, 1] over the sliding window that trips a closed breaker (rate-based). */
  failureRateThreshold: number;
  /** Recorded calls the sliding window keeps (the most recent ones), ≥ 1. */
  windowSize: number;
  /** Calls the window must hold before the failure rate counts, in [1, windowSize]. */
  minimumVolume: number;
  /** How long the breaker stays open before it turns half-open, in ms. */
  resetTimeoutMs: number;
  /** Trial calls a half-open breaker admits at the same time, ≥ 1. */
  halfOpenMaxCalls: number;
  /** Successful trials that close a half-open breaker, ≥ 1. */
  successThreshold: number;
}

/** The outcome of one recorded call. */
export type BreakerOutcome = 'success' | 'failure';

/** Context of a circuit breaker: its configuration and the statistics of the current state. */
export interface BreakerContext {
  config: BreakerConfig;
  /** Outcomes of the last calls while closed, oldest first, at most `windowSize`. */
  window: BreakerOutcome[];
  /** Failures in a row while closed (always below `failureThreshold`). */
  consecutiveFailures: number;
  /** Trial calls admitted in halfOpen and not yet finished (at most `halfOpenMaxCalls`). */
  trialsInFlight: number;
  /** Successful trials in halfOpen (always below `successThreshold`). */
  trialSuccesses: number;
}

/** Every event the circuit breaker understands. */
export type BreakerEvent =
  | { type: 'CALL' }
  | { type: 'SUCCESS' }
  | { type: 'FAILURE' }
  | { type: 'FORCE_OPEN' }
  | { type: 'RESET' }
  | { type: 'DISABLE' }
  | { type: 'ENABLE' };

/** Input of a circuit breaker actor: any configuration field, the rest defaulted. */
export type BreakerInput = Partial<BreakerConfig>;

/** The state names of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'halfOpen' | 'forcedOpen' | 'disabled';

/** Configuration used for every field the input leaves out. */
export const DEFAULT_BREAKER_CONFIG: Readonly<BreakerConfig> = Object.freeze({
  failureThreshold: 5,
  failureRateThreshold: 0.5,
  windowSize: 20,
  minimumVolume: 10,
  resetTimeoutMs: 5_000,
  halfOpenMaxCalls: 1,
  successThreshold: 1,
});

function wholeAtLeast(value: number | undefined, min: number, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(min, Math.floor(value));
}

/**
 * The configuration a breaker runs with: defaults for missing fields, and
 * every field brought into its valid range (counts are whole numbers ≥ 1,
 * the rate lies in (0, 1], `minimumVolume` never exceeds `windowSize`, the
 * timeout is ≥ 0). A machine cannot reject its input without an error
 * escaping the actor, so the input is normalized here; validate what a
 * person typed at the edge, before it reaches a breaker.
 */
export function resolveBreakerConfig(input: BreakerInput = {}): BreakerConfig {
  const d = DEFAULT_BREAKER_CONFIG;
  const windowSize = wholeAtLeast(input.windowSize, 1, d.windowSize);
  const rate = input.failureRateThreshold;
  return {
    failureThreshold: wholeAtLeast(input.failureThreshold, 1, d.failureThreshold),
    failureRateThreshold: rate === undefined || !Number.isFinite(rate) || rate <= 0 ? d.failureRateThreshold : Math.min(1, rate),
    windowSize,
    minimumVolume: Math.min(windowSize, wholeAtLeast(input.minimumVolume, 1, Math.min(windowSize, d.minimumVolume))),
    resetTimeoutMs: input.resetTimeoutMs === undefined || !Number.isFinite(input.resetTimeoutMs) ? d.resetTimeoutMs : Math.max(0, input.resetTimeoutMs),
    halfOpenMaxCalls: wholeAtLeast(input.halfOpenMaxCalls, 1, d.halfOpenMaxCalls),
    successThreshold: wholeAtLeast(input.successThreshold, 1, d.successThreshold),
  };
}

/** The window after recording `outcome`: the oldest outcome drops out once it holds `size`. */
export function pushOutcome(window: readonly BreakerOutcome[], outcome: BreakerOutcome, size: number): BreakerOutcome[] {
  const next = [...window, outcome];
  return next.length > size ? next.slice(next.length - size) : next;
}

/** Failures over calls in a window (0 for an empty window). */
export function failureRateOf(window: readonly BreakerOutcome[]): number {
  if (window.length === 0) return 0;
  let failures = 0;
  for (const o of window) if (o === 'failure') failures++;
  return failures / window.length;
}

/** Whether a window is over the rate threshold, with enough volume for the rate to count. */
export function windowTrips(config: BreakerConfig, window: readonly BreakerOutcome[]): boolean {
  return window.length >= config.minimumVolume && failureRateOf(window) >= config.failureRateThreshold;
}

/**
 * The context updates of the chart as plain functions (each returns the
 * fields it changes), so that tests and tools can reason about them
 * without running an actor.
 */
export const breakerContextUpdates = {
  recordSuccess: (c: BreakerContext): Partial<BreakerContext> => ({
    window: pushOutcome(c.window, 'success', c.config.windowSize),
    consecutiveFailures: 0,
  }),
  recordFailure: (c: BreakerContext): Partial<BreakerContext> => ({
    window: pushOutcome(c.window, 'failure', c.config.windowSize),
    consecutiveFailures: Math.min(c.consecutiveFailures + 1, c.config.failureThreshold),
  }),
  admitTrial: (c: BreakerContext): Partial<BreakerContext> => ({ trialsInFlight: Math.min(c.trialsInFlight + 1, c.config.halfOpenMaxCalls) }),
  recordTrialSuccess: (c: BreakerContext): Partial<BreakerContext> => ({
    trialsInFlight: Math.max(0, c.trialsInFlight - 1),
    trialSuccesses: c.trialSuccesses + 1,
  }),
  clearStats: (): Partial<BreakerContext> => ({ window: [], consecutiveFailures: 0, trialsInFlight: 0, trialSuccesses: 0 }),
} as const;

/** The guards of the chart as plain predicates, evaluated before the event's update. */
export const breakerGuards = {
  /** This failure makes `failureThreshold` failures in a row. */
  reachesFailureThreshold: (c: BreakerContext): boolean => c.consecutiveFailures + 1 >= c.config.failureThreshold,
  /**
   * With this outcome recorded, the window has the volume and the failure
   * rate to trip. Checked on every outcome, successes included (as
   * resilience4j does): the call that brings the window to its minimum
   * volume may succeed and still reveal a failure rate over the threshold.
   */
  reachesFailureRate: (c: BreakerContext, e: BreakerEvent): boolean =>
    windowTrips(c.config, pushOutcome(c.window, e.type === 'SUCCESS' ? 'success' : 'failure', c.config.windowSize)),
  /** A half-open breaker has room for one more trial. */
  trialSlotFree: (c: BreakerContext): boolean => c.trialsInFlight < c.config.halfOpenMaxCalls,
  /** A trial is in flight, so an outcome in halfOpen is a trial's. */
  trialInFlight: (c: BreakerContext): boolean => c.trialsInFlight > 0,
  /** This outcome is a trial's success and makes `successThreshold` successes. */
  closesOnSuccess: (c: BreakerContext): boolean => c.trialsInFlight > 0 && c.trialSuccesses + 1 >= c.config.successThreshold,
} as const;

/** What {@link breakerAdmits} needs of a snapshot (any breaker snapshot fits). */
export interface BreakerView {
  readonly value: unknown;
  readonly context: BreakerContext;
}

/**
 * Whether the breaker lets a new call through now: closed and disabled
 * always do, halfOpen while a trial slot is free, open and forcedOpen never.
 * Pure: asking does not take the slot; send `CALL` for that.
 */
export function breakerAdmits(snapshot: BreakerView): boolean {
  switch (snapshot.value as BreakerState) {
    case 'closed':
    case 'disabled':
      return true;
    case 'halfOpen':
      return breakerGuards.trialSlotFree(snapshot.context);
    default:
      return false;
  }
}

/**
 * Whether sending `event` to a breaker in `snapshot` would change nothing
 * at all (state and context alike), so a caller on a hot path may skip the
 * send: `CALL` in closed (a closed breaker counts outcomes, not starts) or
 * disabled, outcomes in disabled, and a `SUCCESS` in closed when the window
 * is full of successes and no failure is pending (recording it would leave
 * the same window). Derived from the chart below; a test checks it against
 * the running machine.
 */
export function breakerIgnores(snapshot: BreakerView, event: Pick<BreakerEvent, 'type'>): boolean {
  const state = snapshot.value as BreakerState;
  if (state === 'disabled') return event.type === 'CALL' || event.type === 'SUCCESS' || event.type === 'FAILURE';
  if (state !== 'closed') return false;
  if (event.type === 'CALL') return true;
  if (event.type !== 'SUCCESS') return false;
  const c = snapshot.context;
  if (c.consecutiveFailures !== 0 || c.window.length !== c.config.windowSize) return false;
  for (const o of c.window) if (o !== 'success') return false;
  return true;
}

/**
 * A circuit breaker for one request/response link (task dispatch,
 * forwarding, join): it stops a node from hammering a peer that keeps
 * failing, and lets a few trial calls through once the peer had time to
 * recover.
 *
 * ```
 * closed ──FAILURE [reachesFailureThreshold] ───────────────────────→ open
 *  ▲  ▲ └──SUCCESS / FAILURE [reachesFailureRate] ──────────────────→ │  ▲
 *  │  │                                          after(resetTimeout) │  │ FAILURE [trialInFlight]
 *  │  │                                                              ▼  │
 *  │  └────────────────── SUCCESS [closesOnSuccess] ──────────────── halfOpen
 *  │
 *  ├── RESET ─── open, halfOpen, forcedOpen   (RESET in closed clears its statistics)
 *  └── ENABLE ── disabled
 *
 * closed      CALL admitted; SUCCESS / FAILURE otherwise recorded in the window
 * halfOpen    CALL [trialSlotFree] takes a trial slot; SUCCESS [trialInFlight] counts a trial
 * FORCE_OPEN  closed, open, halfOpen, disabled → forcedOpen (operator isolate: admits nothing)
 * DISABLE     closed, open, halfOpen, forcedOpen → disabled (admits everything, records nothing)
 * ```
 *
 * Tripping follows resilience4j and opossum: the breaker opens when the
 * consecutive failures reach `failureThreshold` (count-based), or when the
 * failure rate over the last `windowSize` recorded calls reaches
 * `failureRateThreshold`, but only once at least `minimumVolume` calls are
 * in the window (rate-based). The rate is checked after every recorded
 * outcome, successes included, so a closed breaker is never over either
 * threshold. After `resetTimeoutMs` an open breaker turns
 * half-open and admits at most `halfOpenMaxCalls` trial calls at a time; a
 * failed trial reopens it, `successThreshold` successful trials close it.
 * Every change of state starts with clean statistics.
 *
 * How a caller uses it: ask {@link breakerAdmits}; if it says yes, send
 * `CALL` (in halfOpen this takes a trial slot), make the call, then send
 * `SUCCESS` or `FAILURE`. If it says no, fail fast without sending
 * anything. Outcomes that arrive in open or forcedOpen, and outcomes in
 * halfOpen while no trial is in flight, are late results of calls admitted
 * before the breaker opened: they say nothing about the recovered peer and
 * are ignored.
 */
export const circuitBreaker = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerInput,
  },
  actions: {
    recordSuccess: assign(({ context }) => breakerContextUpdates.recordSuccess(context)),
    recordFailure: assign(({ context }) => breakerContextUpdates.recordFailure(context)),
    admitTrial: assign(({ context }) => breakerContextUpdates.admitTrial(context)),
    recordTrialSuccess: assign(({ context }) => breakerContextUpdates.recordTrialSuccess(context)),
    clearStats: assign(() => breakerContextUpdates.clearStats()),
  },
  guards: {
    reachesFailureThreshold: ({ context }) => breakerGuards.reachesFailureThreshold(context),
    reachesFailureRate: ({ context, event }) => breakerGuards.reachesFailureRate(context, event),
    trialSlotFree: ({ context }) => breakerGuards.trialSlotFree(context),
    trialInFlight: ({ context }) => breakerGuards.trialInFlight(context),
    closesOnSuccess: ({ context }) => breakerGuards.closesOnSuccess(context),
  },
  delays: {
    resetTimeout: ({ context }) => context.config.resetTimeoutMs,
  },
}).createMachine({
  id: 'circuitBreaker',
  initial: 'closed',
  context: ({ input }) => ({
    config: resolveBreakerConfig(input),
    window: [],
    consecutiveFailures: 0,
    trialsInFlight: 0,
    trialSuccesses: 0,
  }),
  states: {
    closed: {
      on: {
        CALL: {}, // admitted; a closed breaker counts outcomes, not starts
        SUCCESS: [{ guard: 'reachesFailureRate', target: 'open', actions: 'clearStats' }, { actions: 'recordSuccess' }],
        FAILURE: [
          { guard: 'reachesFailureThreshold', target: 'open', actions: 'clearStats' },
          { guard: 'reachesFailureRate', target: 'open', actions: 'clearStats' },
          { actions: 'recordFailure' },
        ],
        RESET: { actions: 'clearStats' },
        FORCE_OPEN: { target: 'forcedOpen', actions: 'clearStats' },
        DISABLE: { target: 'disabled', actions: 'clearStats' },
      },
    },
    open: {
      after: { resetTimeout: { target: 'halfOpen', actions: 'clearStats' } },
      on: {
        RESET: { target: 'closed', actions: 'clearStats' },
        FORCE_OPEN: { target: 'forcedOpen', actions: 'clearStats' },
        DISABLE: { target: 'disabled', actions: 'clearStats' },
      },
    },
    halfOpen: {
      on: {
        CALL: { guard: 'trialSlotFree', actions: 'admitTrial' },
        SUCCESS: [
          { guard: 'closesOnSuccess', target: 'closed', actions: 'clearStats' },
          { guard: 'trialInFlight', actions: 'recordTrialSuccess' },
        ],
        FAILURE: { guard: 'trialInFlight', target: 'open', actions: 'clearStats' },
        RESET: { target: 'closed', actions: 'clearStats' },
        FORCE_OPEN: { target: 'forcedOpen', actions: 'clearStats' },
        DISABLE: { target: 'disabled', actions: 'clearStats' },
      },
    },
    forcedOpen: {
      on: {
        RESET: { target: 'closed', actions: 'clearStats' },
        DISABLE: { target: 'disabled', actions: 'clearStats' },
      },
    },
    disabled: {
      on: {
        ENABLE: { target: 'closed', actions: 'clearStats' },
        FORCE_OPEN: { target: 'forcedOpen', actions: 'clearStats' },
      },
    },
  },
});
