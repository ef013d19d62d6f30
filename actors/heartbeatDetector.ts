/**
 * The plain heartbeat-timeout failure detector, and the interface every
 * failure detector of a node implements.
 *
 * A detector is a passive data structure: the caller reports each heartbeat
 * with the time it arrived (`heartbeat(now)`) and asks for a verdict at a
 * time (`isAvailable(now)`). It owns no timer and reads no clock, so the
 * same calls give the same verdicts in simulation and in real mode
 * (DESIGN.md, determinism rule 1). A caller that wants to react when a peer
 * falls silent arms one timer at {@link FailureDetector.suspectAt} and
 * re-checks when it fires, instead of re-arming a timer on every heartbeat
 * (DESIGN.md, "Costs measured on this machine").
 */

/** What a node asks of any failure detector (heartbeat timeout, phi accrual). */
export interface FailureDetector {
  /**
   * Records a heartbeat (any sign of life) from the peer that arrived at
   * `now` (ms). Feed each heartbeat once: deduplicate on the sender's
   * sequence number, since a duplicated message would look like a second,
   * very early heartbeat. Throws a `RangeError` when `now` is not finite or
   * is earlier than the previous heartbeat.
   */
  heartbeat(now: number): void;
  /** Whether the peer is considered alive at `now` (ms). */
  isAvailable(now: number): boolean;
  /**
   * The time (ms) from which the peer is suspected if no further heartbeat
   * arrives: `isAvailable(now)` is true for every `now` before it and false
   * for every `now` after it (at the instant itself either verdict may be
   * given, see each detector). `Infinity` when the detector will never
   * suspect without more information. It changes only on `heartbeat`.
   */
  suspectAt(): number;
  /** When the last heartbeat arrived (ms), or null before the first one. */
  readonly lastHeartbeatAt: number | null;
}

/** Configuration of a {@link HeartbeatDetector}; all durations in ms. */
export interface HeartbeatDetectorConfig {
  /** Silence after a heartbeat beyond which the peer is suspected; finite, > 0. */
  timeoutMs: number;
  /**
   * Extra silence tolerated on top of `timeoutMs` (a GC pause, a slow
   * link), finite, ≥ 0. Kept apart from the timeout so that a configuration
   * reads like Akka's (`heartbeat-interval` plus `acceptable-heartbeat-pause`).
   */
  acceptablePauseMs: number;
  /**
   * Silence tolerated after the detector starts and before the first
   * heartbeat, finite, ≥ 0; defaults to `timeoutMs + acceptablePauseMs`.
   * A peer that never speaks must still be suspected eventually, but it
   * cannot be judged by the time of a heartbeat it never sent.
   */
  firstHeartbeatGraceMs: number;
}

/** Input of a {@link HeartbeatDetector}: `timeoutMs` is required, the rest defaulted. */
export type HeartbeatDetectorInput = Pick<HeartbeatDetectorConfig, 'timeoutMs'> & Partial<HeartbeatDetectorConfig>;

/** Throws a `RangeError` naming `field` unless `value` is a finite number ≥ `min` (or > `min` when `strict`). */
export function requireFinite(field: string, value: unknown, min: number, strict: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (strict ? !(value > min) : !(value >= min))) {
    throw new RangeError(`${field} must be a finite number ${strict ? '>' : '≥'} ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throws a `RangeError` naming `field` unless `value` is a finite number (a time in ms). */
export function requireTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${field} must be a finite time in ms, got ${String(value)}`);
  return value;
}

/**
 * The configuration a heartbeat detector runs with: defaults applied and
 * every field checked. Throws a `RangeError` naming the first bad field.
 */
export function resolveHeartbeatDetectorConfig(input: HeartbeatDetectorInput): HeartbeatDetectorConfig {
  if (typeof input !== 'object' || input === null) throw new RangeError(`heartbeat detector config must be an object, got ${String(input)}`);
  const timeoutMs = requireFinite('timeoutMs', input.timeoutMs, 0, true);
  const acceptablePauseMs = requireFinite('acceptablePauseMs', input.acceptablePauseMs ?? 0, 0, false);
  const firstHeartbeatGraceMs = requireFinite('firstHeartbeatGraceMs', input.firstHeartbeatGraceMs ?? timeoutMs + acceptablePauseMs, 0, false);
  return { timeoutMs, acceptablePauseMs, firstHeartbeatGraceMs };
}

/**
 * The heartbeat-timeout detector: the peer is suspected once
 * `now - lastHeartbeat > timeoutMs + acceptablePauseMs`. Before the first
 * heartbeat it is suspected once `now - startedAt > firstHeartbeatGraceMs`.
 * A heartbeat makes it available again at once.
 *
 * Simple and predictable, but one fixed number for every link: it must be
 * set for the worst link's jitter, which makes it slow on the steady ones
 * (compare `PhiAccrualDetector` in `phiAccrualDetector.ts`, and
 * `bench/detectors.ts`).
 *
 * Costs: O(1) time and memory per call.
 *
 * @example
 * ```ts
 * const d = new HeartbeatDetector({ timeoutMs: 300 }, kernel.now());
 * d.heartbeat(kernel.now());           // on every heartbeat message
 * if (!d.isAvailable(kernel.now())) quarantine.send({ type: 'SUSPECT', reason: 'heartbeat-timeout' });
 * ```
 */
export class HeartbeatDetector implements FailureDetector {
  /** The configuration in force (defaults applied). */
  readonly config: Readonly<HeartbeatDetectorConfig>;
  /** When the detector started watching the peer (ms): the reference for the first-heartbeat grace. */
  readonly startedAt: number;
  private last: number | null = null;
  private count = 0;
  private deadline: number;

  /**
   * @param input the timeout and optional pause and first-heartbeat grace.
   * @param startedAt when watching begins (ms, the caller's clock); required,
   *   because a default of 0 would suspect at once a peer watched from a late
   *   virtual time.
   */
  constructor(input: HeartbeatDetectorInput, startedAt: number) {
    this.config = Object.freeze(resolveHeartbeatDetectorConfig(input));
    this.startedAt = requireTime('startedAt', startedAt);
    this.deadline = startedAt + this.config.firstHeartbeatGraceMs;
  }

  /** {@inheritDoc FailureDetector.heartbeat} */
  heartbeat(now: number): void {
    requireTime('now', now);
    if (this.last !== null && now < this.last) {
      throw new RangeError(`now must not go back in time: heartbeat at ${now} after one at ${this.last}`);
    }
    this.last = now;
    this.count++;
    this.deadline = now + this.config.timeoutMs + this.config.acceptablePauseMs;
  }

  /** True while `now` is at or before {@link HeartbeatDetector.suspectAt}: the rule is strictly "silent for more than the timeout". */
  isAvailable(now: number): boolean {
    requireTime('now', now);
    return now <= this.deadline;
  }

  /**
   * The last instant at which the peer is still available without another
   * heartbeat: `lastHeartbeat + timeoutMs + acceptablePauseMs`, or
   * `startedAt + firstHeartbeatGraceMs` before the first heartbeat. The
   * peer is suspected at every time after it (not at it).
   */
  suspectAt(): number {
    return this.deadline;
  }

  /** Silence at `now` (ms) since the last heartbeat, or since the start before the first one; never negative. */
  silenceMs(now: number): number {
    requireTime('now', now);
    return Math.max(0, now - (this.last ?? this.startedAt));
  }

  /** {@inheritDoc FailureDetector.lastHeartbeatAt} */
  get lastHeartbeatAt(): number | null {
    return this.last;
  }

  /** Heartbeats recorded so far. */
  get heartbeats(): number {
    return this.count;
  }
}
