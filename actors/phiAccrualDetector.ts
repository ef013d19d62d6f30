/**
 * The phi accrual failure detector (N. Hayashibara, X. Défago, R. Yared,
 * T. Katayama, "The φ Accrual Failure Detector", SRDS 2004), configured and
 * approximated as Akka's `PhiAccrualFailureDetector` is documented to be.
 *
 * Instead of a yes/no verdict it gives a suspicion level φ on a continuous
 * scale: from the recent inter-arrival times of the peer's heartbeats it
 * estimates a normal distribution, and
 *
 * ```
 * φ(now) = −log10(1 − F(now − lastHeartbeat))
 * ```
 *
 * where F is the normal CDF with the history's mean (plus
 * `acceptableHeartbeatPauseMs`) and standard deviation (at least
 * `minStdDeviationMs`). φ = 1 means a 10 % chance that a heartbeat this late
 * would still come, φ = 8 about 10⁻⁸. The peer is available while
 * φ < `threshold`. Because the scale follows each link's own jitter, one
 * threshold suits a steady link and a noisy one alike, where a fixed timeout
 * must be set for the noisiest (see `bench/detectors.ts`).
 *
 * A passive data structure like every detector (see {@link FailureDetector}):
 * no timer, no clock; the caller passes `now`.
 *
 * ## Choices, and why
 *
 * - **CDF.** Akka's logistic approximation of the normal CDF,
 *   `F(y) ≈ 1 / (1 + e^(−y(1.5976 + 0.070566 y²)))`, y = (t − mean)/σ
 *   (maximum absolute error about 1.4·10⁻⁴). Then
 *   `1 − F = 1 / (1 + e^g)` with `g = y(1.5976 + 0.070566 y²)`, so
 *   `φ = log10(1 + e^g)`, which this file evaluates in that form: it never
 *   subtracts two numbers close to 1, so φ stays accurate and finite far
 *   into the tail (Akka's `−log10(e / (1 + e))` reaches `Infinity` near
 *   y ≈ 21). φ is capped at {@link MAX_PHI} to stay finite for any input.
 *   It is monotone non-decreasing in `now`.
 * - **History.** A ring buffer of the last `maxSampleSize` inter-arrival
 *   intervals with a running sum and sum of squares: O(1) per heartbeat.
 *   Running sums drift as values enter and leave; every `maxSampleSize`
 *   heartbeats they are recomputed from the buffer around the current mean
 *   (which also keeps the variance free of cancellation), so the cost is
 *   amortized O(1) and the error stays bounded forever.
 * - **First heartbeat.** As Akka, the first heartbeat seeds the history with
 *   two intervals, `estimate ∓ estimate/4`: mean = `firstHeartbeatEstimateMs`,
 *   σ = a quarter of it, so the verdicts right after a peer appears are
 *   sensible. The seeds age out after `maxSampleSize` real intervals.
 * - **Intervals after a suspicion.** As Akka, a heartbeat that arrives
 *   while the peer is suspected (φ ≥ threshold) does not add its interval to
 *   the history: a crash-and-return or a partition would otherwise teach the
 *   detector that hour-long gaps are normal. `recordIntervalsAfterSuspicion`
 *   turns this off.
 * - **Before the first heartbeat** φ is 0 and the peer is available, as in
 *   Akka: there is nothing to judge by. Pair it with a
 *   {@link HeartbeatDetector} (its first-heartbeat grace) or a join timeout
 *   to catch a peer that never speaks.
 */
import { requireFinite, requireTime, type FailureDetector } from './heartbeatDetector.js';

/** Configuration of a {@link PhiAccrualDetector}; all durations in ms. */
export interface PhiAccrualConfig {
  /** φ at or above which the peer is suspected; finite, > 0 and < {@link MAX_PHI}. Default 8 (Akka's cluster default). */
  threshold: number;
  /** Inter-arrival intervals kept, a whole number in [1, {@link MAX_SAMPLE_SIZE}]. Default 1000. */
  maxSampleSize: number;
  /** Floor of the standard deviation used by φ, finite, > 0. Default 100. Keeps a very regular link from being suspected at the first small delay. */
  minStdDeviationMs: number;
  /** Added to the mean interval (a GC pause, a slow link), finite, ≥ 0. Default 0. */
  acceptableHeartbeatPauseMs: number;
  /** Expected interval before anything is known, finite, > 0. Default 1000. Seeds the history (σ = a quarter of it). */
  firstHeartbeatEstimateMs: number;
  /** Whether a heartbeat that arrives while the peer is suspected adds its interval to the history. Default false (Akka). */
  recordIntervalsAfterSuspicion: boolean;
}

/** Input of a {@link PhiAccrualDetector}: any configuration field, the rest defaulted. */
export type PhiAccrualInput = Partial<PhiAccrualConfig>;

/** The largest φ reported: a bound so φ stays finite (it is reached about 3,200 σ past the mean). */
export const MAX_PHI = 1e9;

/** Upper bound on `maxSampleSize` (the buffer is allocated up front: 8 bytes per sample). */
export const MAX_SAMPLE_SIZE = 1_000_000;

/** Configuration used for every field the input leaves out (Akka's defaults, acceptable pause 0). */
export const DEFAULT_PHI_ACCRUAL_CONFIG: Readonly<PhiAccrualConfig> = Object.freeze({
  threshold: 8,
  maxSampleSize: 1000,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 0,
  firstHeartbeatEstimateMs: 1000,
  recordIntervalsAfterSuspicion: false,
});

/**
 * The configuration a phi accrual detector runs with: defaults applied and
 * every field checked. Throws a `RangeError` naming the first bad field.
 */
export function resolvePhiAccrualConfig(input: PhiAccrualInput = {}): PhiAccrualConfig {
  if (typeof input !== 'object' || input === null) throw new RangeError(`phi accrual config must be an object, got ${String(input)}`);
  const d = DEFAULT_PHI_ACCRUAL_CONFIG;
  const threshold = requireFinite('threshold', input.threshold ?? d.threshold, 0, true);
  if (!(threshold < MAX_PHI)) throw new RangeError(`threshold must be < ${MAX_PHI} (phi is capped there), got ${threshold}`);
  const maxSampleSize = input.maxSampleSize ?? d.maxSampleSize;
  if (!Number.isInteger(maxSampleSize) || maxSampleSize < 1 || maxSampleSize > MAX_SAMPLE_SIZE) {
    throw new RangeError(`maxSampleSize must be a whole number in [1, ${MAX_SAMPLE_SIZE}], got ${String(maxSampleSize)}`);
  }
  const record = input.recordIntervalsAfterSuspicion ?? d.recordIntervalsAfterSuspicion;
  if (typeof record !== 'boolean') throw new RangeError(`recordIntervalsAfterSuspicion must be a boolean, got ${String(record)}`);
  return {
    threshold,
    maxSampleSize,
    minStdDeviationMs: requireFinite('minStdDeviationMs', input.minStdDeviationMs ?? d.minStdDeviationMs, 0, true),
    acceptableHeartbeatPauseMs: requireFinite('acceptableHeartbeatPauseMs', input.acceptableHeartbeatPauseMs ?? d.acceptableHeartbeatPauseMs, 0, false),
    firstHeartbeatEstimateMs: requireFinite('firstHeartbeatEstimateMs', input.firstHeartbeatEstimateMs ?? d.firstHeartbeatEstimateMs, 0, true),
    recordIntervalsAfterSuspicion: record,
  };
}

// Coefficients of Akka's logistic approximation of the normal CDF.
const A = 1.5976;
const B = 0.070566;
// Beyond this exponent log10(1 + e^g) equals g / ln 10 to within rounding
// (e^-36 ≈ 2·10⁻¹⁶ relative), and e^g would overflow past g ≈ 709.
const G_SWITCH = 36;
const PHI_AT_SWITCH = Math.log1p(Math.exp(G_SWITCH)) / Math.LN10;

/** φ at a standardized delay y = (t − mean)/σ, capped at MAX_PHI. */
function phiAtY(y: number): number {
  const g = y * (A + B * y * y);
  if (g <= G_SWITCH) return Math.log1p(Math.exp(g)) / Math.LN10;
  const phi = g / Math.LN10;
  // The max() keeps φ non-decreasing across the switch even if the two
  // formulas round differently by an ulp there; the cap keeps it finite.
  return phi >= MAX_PHI ? MAX_PHI : Math.max(phi, PHI_AT_SWITCH);
}

/**
 * The standardized delay y at which φ reaches `threshold`: the real root of
 * `B·y³ + A·y = ln(10^threshold − 1)` (Cardano; the cubic is increasing, so
 * it has exactly one), polished with two Newton steps.
 */
function yAtPhi(threshold: number): number {
  const x = threshold * Math.LN10;
  const g = x + Math.log(-Math.expm1(-x)); // ln(10^φ − 1), accurate for small and large φ
  const p = A / B;
  const q = -g / B;
  const r = Math.sqrt((q * q) / 4 + (p * p * p) / 27);
  let y = Math.cbrt(-q / 2 + r) + Math.cbrt(-q / 2 - r);
  for (let i = 0; i < 2; i++) y -= (B * y * y * y + A * y - g) / (3 * B * y * y + A);
  return y;
}

/**
 * φ of a silence of `elapsedMs` for a normal distribution of intervals with
 * mean `meanMs` and standard deviation `stdDeviationMs` (> 0), with Akka's
 * approximation of the CDF: `−log10(1 − F((elapsed − mean)/σ))`, computed
 * stably and capped at {@link MAX_PHI}. Monotone non-decreasing in `elapsedMs`.
 */
export function accrualPhi(elapsedMs: number, meanMs: number, stdDeviationMs: number): number {
  if (!(stdDeviationMs > 0)) throw new RangeError(`stdDeviationMs must be > 0, got ${String(stdDeviationMs)}`);
  if (Number.isNaN(elapsedMs) || Number.isNaN(meanMs)) throw new RangeError(`elapsedMs and meanMs must be numbers, got ${elapsedMs}, ${meanMs}`);
  return phiAtY((elapsedMs - meanMs) / stdDeviationMs);
}

/**
 * The last `capacity` intervals, with running sums of `(x − shift)` and
 * `(x − shift)²`. Summing around a shift near the mean keeps
 * `E[(x−s)²] − E[x−s]²` free of cancellation; re-basing once per
 * `capacity` writes bounds the drift of the running sums.
 */
class IntervalWindow {
  private readonly buf: Float64Array;
  private next = 0;
  private n = 0;
  private shift: number;
  private sum = 0;
  private sumSq = 0;
  private writesSinceRebase = 0;

  constructor(readonly capacity: number, shift: number) {
    this.buf = new Float64Array(capacity);
    this.shift = shift;
  }

  get size(): number {
    return this.n;
  }

  add(x: number): void {
    if (this.n === this.capacity) {
      const old = this.buf[this.next] - this.shift;
      this.sum -= old;
      this.sumSq -= old * old;
    } else {
      this.n++;
    }
    this.buf[this.next] = x;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    const d = x - this.shift;
    this.sum += d;
    this.sumSq += d * d;
    if (++this.writesSinceRebase >= this.capacity) this.rebase();
  }

  get mean(): number {
    return this.n === 0 ? NaN : this.shift + this.sum / this.n;
  }

  get variance(): number {
    if (this.n === 0) return NaN;
    const m = this.sum / this.n;
    return Math.max(0, this.sumSq / this.n - m * m);
  }

  private rebase(): void {
    this.writesSinceRebase = 0;
    this.shift = this.mean;
    let sum = 0;
    let sumSq = 0;
    // The window is the whole buffer here or its first n slots; either way order does not matter for sums.
    for (let i = 0; i < this.n; i++) {
      const d = this.buf[i] - this.shift;
      sum += d;
      sumSq += d * d;
    }
    this.sum = sum;
    this.sumSq = sumSq;
  }
}

/**
 * The phi accrual failure detector for one peer (see the file comment for
 * the model and the choices).
 *
 * Costs: `heartbeat` amortized O(1) (one φ evaluation, a ring-buffer write;
 * a re-sum of the buffer once per `maxSampleSize` heartbeats); `phi`,
 * `isAvailable`, `suspectAt` O(1). Memory: 8 bytes × `maxSampleSize`.
 *
 * @example
 * ```ts
 * const d = new PhiAccrualDetector({ threshold: 8, firstHeartbeatEstimateMs: 100 });
 * d.heartbeat(kernel.now());                       // on every heartbeat message
 * d.phi(kernel.now());                             // suspicion level, e.g. for a dashboard
 * if (!d.isAvailable(kernel.now())) quarantine.send({ type: 'SUSPECT', reason: 'phi' });
 * ```
 */
export class PhiAccrualDetector implements FailureDetector {
  /** The configuration in force (defaults applied). */
  readonly config: Readonly<PhiAccrualConfig>;
  private readonly window: IntervalWindow;
  /** Standardized delay at which φ reaches the threshold (depends only on the threshold). */
  private readonly yThreshold: number;
  private last: number | null = null;
  private count = 0;
  // Derived from the window after each heartbeat, so verdicts cost O(1) with no allocation.
  private effectiveMean = 0;
  private effectiveStd = 1;

  constructor(input: PhiAccrualInput = {}) {
    this.config = Object.freeze(resolvePhiAccrualConfig(input));
    this.window = new IntervalWindow(this.config.maxSampleSize, this.config.firstHeartbeatEstimateMs);
    this.yThreshold = yAtPhi(this.config.threshold);
  }

  /** {@inheritDoc FailureDetector.heartbeat} */
  heartbeat(now: number): void {
    requireTime('now', now);
    if (this.last === null) {
      const estimate = this.config.firstHeartbeatEstimateMs;
      const sd = estimate / 4;
      this.window.add(estimate - sd);
      this.window.add(estimate + sd);
    } else {
      if (now < this.last) throw new RangeError(`now must not go back in time: heartbeat at ${now} after one at ${this.last}`);
      // Judged with the history as it stood before this heartbeat, as Akka does.
      if (this.config.recordIntervalsAfterSuspicion || this.isAvailable(now)) this.window.add(now - this.last);
    }
    this.last = now;
    this.count++;
    this.effectiveMean = this.window.mean + this.config.acceptableHeartbeatPauseMs;
    this.effectiveStd = Math.max(Math.sqrt(this.window.variance), this.config.minStdDeviationMs);
  }

  /**
   * The suspicion level at `now`: 0 before the first heartbeat, otherwise
   * `−log10(1 − F(now − lastHeartbeat))` (see the file comment), finite, in
   * [0, {@link MAX_PHI}], non-decreasing in `now` between heartbeats. A
   * `now` before the last heartbeat counts as no silence.
   */
  phi(now: number): number {
    requireTime('now', now);
    if (this.last === null) return 0;
    const elapsed = Math.max(0, now - this.last);
    return phiAtY((elapsed - this.effectiveMean) / this.effectiveStd);
  }

  /** Whether φ(now) is below the threshold. */
  isAvailable(now: number): boolean {
    return this.phi(now) < this.config.threshold;
  }

  /**
   * When φ reaches the threshold if no heartbeat arrives:
   * `lastHeartbeat + mean + acceptablePause + σ·y*`, where y* solves
   * φ(y*) = threshold. Exact up to floating-point rounding (`isAvailable`,
   * which evaluates φ, is the verdict of record). `Infinity` before the
   * first heartbeat.
   */
  suspectAt(): number {
    return this.last === null ? Infinity : this.last + this.effectiveMean + this.effectiveStd * this.yThreshold;
  }

  /** Mean of the intervals in the history (ms), without the acceptable pause; NaN before the first heartbeat. */
  get mean(): number {
    return this.window.mean;
  }

  /**
   * Standard deviation of the intervals in the history (ms, population
   * formula, as Akka); NaN before the first heartbeat. φ uses
   * `max(stdDeviation, minStdDeviationMs)`.
   */
  get stdDeviation(): number {
    return Math.sqrt(this.window.variance);
  }

  /** Intervals in the history (the two seeds included), at most `maxSampleSize`. */
  get samples(): number {
    return this.window.size;
  }

  /** {@inheritDoc FailureDetector.lastHeartbeatAt} */
  get lastHeartbeatAt(): number | null {
    return this.last;
  }

  /** Heartbeats recorded so far (including those whose interval was not kept). */
  get heartbeats(): number {
    return this.count;
  }
}
