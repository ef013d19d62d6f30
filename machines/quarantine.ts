import { assign, setup } from 'xstate';

/** Configuration of a quarantine chart (see {@link quarantine}); all durations in ms. */
export interface QuarantineConfig {
  /** How long a suspect may stay unconfirmed before it is quarantined. */
  suspectTimeoutMs: number;
  /** Quarantine of the first strike; each further strike doubles it. */
  baseQuarantineMs: number;
  /** Upper bound on one quarantine, ≥ `baseQuarantineMs`. */
  maxQuarantineMs: number;
  /** Upper bound on the strikes remembered, ≥ 1. */
  maxStrikes: number;
  /** How long a released peer stays on probation. */
  probationPeriodMs: number;
  /** Heartbeats a peer must show during probation to be trusted again, ≥ 0. */
  probationHeartbeats: number;
  /** Time healthy that forgives one strike (strikes decay one per period). */
  strikeDecayMs: number;
}

/** Context of a quarantine chart. */
export interface QuarantineContext {
  config: QuarantineConfig;
  /** Why the peer is suspect, quarantined or on probation; null while healthy. */
  reason: string | null;
  /** Quarantines on record, at most `maxStrikes`; one is forgiven per `strikeDecayMs` healthy. */
  strikes: number;
  /** Duration of the current (or most recent) quarantine, at most `maxQuarantineMs`; 0 before the first. */
  quarantineMs: number;
  /** Heartbeats seen during the current probation, at most `probationHeartbeats`; 0 outside probation. */
  heartbeats: number;
}

/** Every event the quarantine chart understands. */
export type QuarantineEvent =
  /** A failure detector's verdict: phi over its threshold, or a heartbeat timeout. */
  | { type: 'SUSPECT'; reason: string }
  /** A heartbeat (or any sign of life) arrived from the peer. */
  | { type: 'ALIVE' }
  /** The suspicion is confirmed (a second detector, or an operator): quarantine now. */
  | { type: 'CONFIRM'; reason?: string }
  /** A failure this node observed itself: a call to the peer failed hard, its breaker opened. */
  | { type: 'FAILURE'; reason: string }
  /** Operator: end a quarantine early; the peer goes on probation. */
  | { type: 'RELEASE' }
  /** Operator: quarantine the peer now, whatever its health. */
  | { type: 'ISOLATE'; reason: string }
  /** Operator: declare the peer healthy and forgive every strike (a false positive). */
  | { type: 'CLEAR' };

/** Input of a quarantine actor: any configuration field, the rest defaulted. */
export type QuarantineInput = Partial<QuarantineConfig>;

/** The health states of a peer, as one node sees it. */
export type HealthState = 'healthy' | 'suspect' | 'quarantined' | 'probation';

/** The reason recorded when a peer stays silent through its probation. */
export const PROBATION_SILENCE_REASON = 'silent on probation';

/** Configuration used for every field the input leaves out. */
export const DEFAULT_QUARANTINE_CONFIG: Readonly<QuarantineConfig> = Object.freeze({
  suspectTimeoutMs: 10_000,
  baseQuarantineMs: 30_000,
  maxQuarantineMs: 600_000,
  maxStrikes: 8,
  probationPeriodMs: 30_000,
  probationHeartbeats: 1,
  strikeDecayMs: 600_000,
});

function numberAtLeast(value: number | undefined, min: number, fallback: number, whole = false): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(min, whole ? Math.floor(value) : value);
}

/**
 * The configuration a quarantine chart runs with: defaults for missing
 * fields, and every field brought into its valid range (durations ≥ 0,
 * `maxQuarantineMs` ≥ `baseQuarantineMs`, `maxStrikes` a whole number ≥ 1,
 * `probationHeartbeats` a whole number ≥ 0). A machine cannot reject its
 * input without an error escaping the actor, so validate what a person
 * typed at the edge.
 */
export function resolveQuarantineConfig(input: QuarantineInput = {}): QuarantineConfig {
  const d = DEFAULT_QUARANTINE_CONFIG;
  const baseQuarantineMs = numberAtLeast(input.baseQuarantineMs, 0, d.baseQuarantineMs);
  return {
    suspectTimeoutMs: numberAtLeast(input.suspectTimeoutMs, 0, d.suspectTimeoutMs),
    baseQuarantineMs,
    maxQuarantineMs: numberAtLeast(input.maxQuarantineMs, baseQuarantineMs, Math.max(baseQuarantineMs, d.maxQuarantineMs)),
    maxStrikes: numberAtLeast(input.maxStrikes, 1, d.maxStrikes, true),
    probationPeriodMs: numberAtLeast(input.probationPeriodMs, 0, d.probationPeriodMs),
    probationHeartbeats: numberAtLeast(input.probationHeartbeats, 0, d.probationHeartbeats, true),
    strikeDecayMs: numberAtLeast(input.strikeDecayMs, 0, d.strikeDecayMs),
  };
}

/**
 * The quarantine a peer serves on its `strikes`-th strike:
 * `baseQuarantineMs · 2^(strikes − 1)`, capped at `maxQuarantineMs`.
 */
export function quarantineDurationFor(config: QuarantineConfig, strikes: number): number {
  if (strikes <= 0) return 0;
  // 2^52 already exceeds every duration a Number can hold exactly; stop doubling there.
  return Math.min(config.maxQuarantineMs, config.baseQuarantineMs * 2 ** Math.min(strikes - 1, 52));
}

/** The reason an event carries, if any. */
function reasonOf(e: QuarantineEvent): string | undefined {
  return 'reason' in e ? e.reason : undefined;
}

/**
 * The context updates of the chart as plain functions (each returns the
 * fields it changes), so that tests and tools can reason about them
 * without running an actor.
 */
export const quarantineContextUpdates = {
  /** Records the event's reason; an event without one keeps the reason already on record. */
  noteReason: (c: QuarantineContext, e: QuarantineEvent): Partial<QuarantineContext> => ({ reason: reasonOf(e) ?? c.reason }),
  /** Records that the peer stayed silent through its probation. */
  noteSilence: (): Partial<QuarantineContext> => ({ reason: PROBATION_SILENCE_REASON, heartbeats: 0 }),
  /** A quarantine begins: one more strike (capped) and the escalated duration it sets. */
  beginQuarantine: (c: QuarantineContext): Partial<QuarantineContext> => {
    const strikes = Math.min(c.strikes + 1, c.config.maxStrikes);
    return { strikes, quarantineMs: quarantineDurationFor(c.config, strikes), heartbeats: 0 };
  },
  /** Starts a probation with no heartbeats seen yet. */
  beginProbation: (): Partial<QuarantineContext> => ({ heartbeats: 0 }),
  /** Counts a heartbeat seen during probation (capped). */
  countHeartbeat: (c: QuarantineContext): Partial<QuarantineContext> => ({
    heartbeats: Math.min(c.heartbeats + 1, c.config.probationHeartbeats),
  }),
  /** The peer is healthy again: nothing to explain any more. */
  clearReason: (): Partial<QuarantineContext> => ({ reason: null, heartbeats: 0 }),
  /** Forgives one strike after a decay period spent healthy. */
  forgiveStrike: (c: QuarantineContext): Partial<QuarantineContext> => ({ strikes: Math.max(0, c.strikes - 1) }),
  /** Operator pardon: healthy with a clean record. */
  clearRecord: (): Partial<QuarantineContext> => ({ reason: null, strikes: 0, quarantineMs: 0, heartbeats: 0 }),
} as const;

/** The guards of the chart as plain predicates. */
export const quarantineGuards = {
  /** Strikes are on record, so a decay period forgives one. */
  hasStrikes: (c: QuarantineContext): boolean => c.strikes > 0,
  /** The peer showed the heartbeats its probation asks for. */
  probationPassed: (c: QuarantineContext): boolean => c.heartbeats >= c.config.probationHeartbeats,
} as const;

/**
 * One node's LOCAL view of one peer's health, fed by its failure detectors
 * (heartbeat timeout, phi accrual) and by what its own calls to the peer
 * observe. It is an opinion, not a replicated fact: only the leader turns a
 * verdict into a proposal (remove a voter, reassign its tasks), and only
 * when the cluster can afford it (see `membership`).
 *
 * ```
 *            SUSPECT / FAILURE                 after(suspectTimeout) / CONFIRM / FAILURE
 *  healthy ──────────────────────→ suspect ─────────────────────────────────────→ quarantined
 *   ▲ ▲ ▲ ◄─────── ALIVE ─────────┘   ▲                                            │  ▲
 *   │ │ │                             │ after(probationPeriod) [else]              │  │ FAILURE / SUSPECT
 *   │ │ │                             │ (silent on probation)                      │  │ (a new strike)
 *   │ │ │                             │                after(quarantineDuration)   │  │
 *   │ │ │                             │                / RELEASE                   ▼  │
 *   │ │ └──── after(probationPeriod) [probationPassed] ──────────────────────────── probation
 *   │ │                                                                          ALIVE counts a heartbeat
 *   │ └── after(strikeDecay) [hasStrikes]: healthy forgives one strike, re-armed
 *   └──── CLEAR (operator, from any state): healthy, every strike forgiven
 *
 *  ISOLATE (operator): healthy, suspect, probation → quarantined now (a strike)
 * ```
 *
 * Every entry into quarantine is a strike. Strikes are capped at
 * `maxStrikes`, and the `n`-th strike's quarantine lasts
 * `baseQuarantineMs · 2^(n−1)`, capped at `maxQuarantineMs` (see
 * {@link quarantineDurationFor}): a peer that keeps relapsing stays out for
 * longer, up to a bound. A peer that stays healthy for `strikeDecayMs` has
 * one strike forgiven, and another after each further period, so an old
 * incident stops counting against it (Envoy's outlier detection decays
 * its ejection multiplier the same way).
 *
 * Heartbeats do not touch a timer while healthy (failure detectors own
 * heartbeat timing); a quarantined peer serves its full term whatever it
 * sends (only RELEASE or CLEAR end it early); a peer on probation gets no
 * benefit of the doubt (a SUSPECT verdict or a FAILURE sends it straight
 * back to quarantine, with a strike) and must show `probationHeartbeats`
 * heartbeats before its probation counts as passed; a silent one turns
 * suspect again.
 */
export const quarantine = setup({
  types: {
    context: {} as QuarantineContext,
    events: {} as QuarantineEvent,
    input: {} as QuarantineInput,
  },
  actions: {
    noteReason: assign(({ context, event }) => quarantineContextUpdates.noteReason(context, event)),
    noteSilence: assign(() => quarantineContextUpdates.noteSilence()),
    beginQuarantine: assign(({ context }) => quarantineContextUpdates.beginQuarantine(context)),
    beginProbation: assign(() => quarantineContextUpdates.beginProbation()),
    countHeartbeat: assign(({ context }) => quarantineContextUpdates.countHeartbeat(context)),
    clearReason: assign(() => quarantineContextUpdates.clearReason()),
    forgiveStrike: assign(({ context }) => quarantineContextUpdates.forgiveStrike(context)),
    clearRecord: assign(() => quarantineContextUpdates.clearRecord()),
  },
  guards: {
    hasStrikes: ({ context }) => quarantineGuards.hasStrikes(context),
    probationPassed: ({ context }) => quarantineGuards.probationPassed(context),
  },
  delays: {
    suspectTimeout: ({ context }) => context.config.suspectTimeoutMs,
    quarantineDuration: ({ context }) => context.quarantineMs,
    probationPeriod: ({ context }) => context.config.probationPeriodMs,
    strikeDecay: ({ context }) => context.config.strikeDecayMs,
  },
}).createMachine({
  id: 'quarantine',
  initial: 'healthy',
  context: ({ input }) => ({
    config: resolveQuarantineConfig(input),
    reason: null,
    strikes: 0,
    quarantineMs: 0,
    heartbeats: 0,
  }),
  states: {
    healthy: {
      after: {
        // Re-entering re-arms the timer, so strikes decay one per period while healthy.
        strikeDecay: { guard: 'hasStrikes', target: 'healthy', reenter: true, actions: 'forgiveStrike' },
      },
      on: {
        SUSPECT: { target: 'suspect', actions: 'noteReason' },
        FAILURE: { target: 'suspect', actions: 'noteReason' },
        ISOLATE: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        CLEAR: { actions: 'clearRecord' },
      },
    },
    suspect: {
      after: { suspectTimeout: { target: 'quarantined', actions: 'beginQuarantine' } },
      on: {
        ALIVE: { target: 'healthy', actions: 'clearReason' },
        CONFIRM: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        FAILURE: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        ISOLATE: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        CLEAR: { target: 'healthy', actions: 'clearRecord' },
      },
    },
    quarantined: {
      after: { quarantineDuration: { target: 'probation', actions: 'beginProbation' } },
      on: {
        RELEASE: { target: 'probation', actions: 'beginProbation' },
        CLEAR: { target: 'healthy', actions: 'clearRecord' },
      },
    },
    probation: {
      after: {
        probationPeriod: [
          { guard: 'probationPassed', target: 'healthy', actions: 'clearReason' },
          { target: 'suspect', actions: 'noteSilence' },
        ],
      },
      on: {
        ALIVE: { actions: 'countHeartbeat' },
        SUSPECT: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        FAILURE: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        ISOLATE: { target: 'quarantined', actions: ['noteReason', 'beginQuarantine'] },
        CLEAR: { target: 'healthy', actions: 'clearRecord' },
      },
    },
  },
});
