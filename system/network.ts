import type { Random } from './random.js';

/**
 * The network model of one directed link: how long a message takes, and
 * how likely it is to be lost, duplicated or reordered. Pure data plus the
 * validation and sampling functions the {@link Bus} uses.
 */

/** Shape of the random part of a link's latency. */
export type LatencyDistribution = 'uniform' | 'normal' | 'exponential';

/**
 * Latency of a link, in virtual milliseconds. A message's delay is `base`
 * plus a jitter term drawn per message, never less than 0:
 *
 * - `uniform`: uniform in [base − jitter, base + jitter);
 * - `normal`: normal with mean `base` and standard deviation `jitter`;
 * - `exponential`: `base` plus an exponential draw with mean `jitter` (a long tail).
 */
export interface LatencyConfig {
  /** Fixed part of the delay (ms), ≥ 0. */
  readonly base: number;
  /** Spread of the delay (ms), ≥ 0; 0 means every message takes exactly `base`. */
  readonly jitter: number;
  /** How the jitter is distributed. */
  readonly distribution: LatencyDistribution;
}

/** Full configuration of one directed link. */
export interface LinkConfig {
  readonly latency: LatencyConfig;
  /** Probability in [0, 1] that a message is lost on the wire. */
  readonly loss: number;
  /** Probability in [0, 1] that an accepted message is delivered twice (same envelope). */
  readonly duplicate: number;
  /**
   * Probability in [0, 1] that a message is exempt from the link's FIFO
   * order: it gets an extra delay, uniform in [0, base + jitter), and is
   * delivered on its own schedule, so it can overtake earlier messages and
   * be overtaken by later ones. Every other message is FIFO: it is never
   * delivered before an earlier non-reordered message of the same link.
   */
  readonly reorder: number;
  /**
   * Most messages in flight on the link at once (an integer ≥ 1). A send
   * that finds the link full is refused with reason `backpressure`.
   */
  readonly capacity: number;
}

/** A partial {@link LinkConfig}: what `configureLink` and the bus options accept. */
export interface LinkConfigPatch {
  latency?: Partial<LatencyConfig>;
  loss?: number;
  duplicate?: number;
  reorder?: number;
  capacity?: number;
}

/** The defaults of every link: 1 ms, no jitter, no faults, 10,000 messages in flight. */
export const DEFAULT_LINK_CONFIG: LinkConfig = Object.freeze({
  latency: Object.freeze({ base: 1, jitter: 0, distribution: 'uniform' as const }),
  loss: 0,
  duplicate: 0,
  reorder: 0,
  capacity: 10_000,
});

const LINK_FIELDS = new Set(['latency', 'loss', 'duplicate', 'reorder', 'capacity']);
const LATENCY_FIELDS = new Set(['base', 'jitter', 'distribution']);
const DISTRIBUTIONS: ReadonlySet<string> = new Set<LatencyDistribution>(['uniform', 'normal', 'exponential']);

function checkKeys(value: unknown, allowed: ReadonlySet<string>, where: string, prefix: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${where}: ${prefix || 'link config'} must be an object, got ${String(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new TypeError(`${where}: unknown field '${prefix ? `${prefix}.` : ''}${key}' (known: ${[...allowed].join(', ')})`);
    }
  }
}

function checkProbability(value: number, field: string, where: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${where}: ${field} must be a probability in [0, 1], got ${String(value)}`);
  }
}

function checkDuration(value: number, field: string, where: string): void {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${where}: ${field} must be a finite number of ms ≥ 0, got ${String(value)}`);
  }
}

/**
 * Checks a full link config. Throws a RangeError naming the field
 * (`latency.base`, `loss`, `capacity`, …) when a value is out of range.
 */
export function validateLinkConfig(config: LinkConfig, where = 'link config'): void {
  checkDuration(config.latency.base, 'latency.base', where);
  checkDuration(config.latency.jitter, 'latency.jitter', where);
  if (!DISTRIBUTIONS.has(config.latency.distribution)) {
    throw new RangeError(
      `${where}: latency.distribution must be one of ${[...DISTRIBUTIONS].join(', ')}, got ${String(config.latency.distribution)}`,
    );
  }
  checkProbability(config.loss, 'loss', where);
  checkProbability(config.duplicate, 'duplicate', where);
  checkProbability(config.reorder, 'reorder', where);
  if (!Number.isSafeInteger(config.capacity) || config.capacity < 1) {
    throw new RangeError(`${where}: capacity must be an integer ≥ 1, got ${String(config.capacity)}`);
  }
}

/**
 * `base` with `patch` applied on top (the latency merged field by field),
 * validated and frozen. Unknown fields are a TypeError, out-of-range values
 * a RangeError naming the field.
 */
export function resolveLinkConfig(base: LinkConfig, patch: LinkConfigPatch | undefined, where = 'link config'): LinkConfig {
  if (patch === undefined) return base;
  checkKeys(patch, LINK_FIELDS, where, '');
  if (patch.latency !== undefined) checkKeys(patch.latency, LATENCY_FIELDS, where, 'latency');
  const config: LinkConfig = {
    latency: Object.freeze({
      base: patch.latency?.base ?? base.latency.base,
      jitter: patch.latency?.jitter ?? base.latency.jitter,
      distribution: patch.latency?.distribution ?? base.latency.distribution,
    }),
    loss: patch.loss ?? base.loss,
    duplicate: patch.duplicate ?? base.duplicate,
    reorder: patch.reorder ?? base.reorder,
    capacity: patch.capacity ?? base.capacity,
  };
  validateLinkConfig(config, where);
  return Object.freeze(config);
}

/** Two patches as one: `next` wins field by field (latency merged too). */
export function mergeLinkPatches(prev: LinkConfigPatch | undefined, next: LinkConfigPatch): LinkConfigPatch {
  if (prev === undefined) return { ...next, latency: next.latency && { ...next.latency } };
  const merged: LinkConfigPatch = { ...prev, ...next };
  if (prev.latency || next.latency) merged.latency = { ...prev.latency, ...next.latency };
  return merged;
}

/** Numeric code of a distribution, for the hot path: 0 uniform, 1 normal, 2 exponential. */
export type DistributionCode = 0 | 1 | 2;

/** The {@link DistributionCode} of a distribution name. */
export function distributionCode(distribution: LatencyDistribution): DistributionCode {
  return distribution === 'normal' ? 1 : distribution === 'exponential' ? 2 : 0;
}

/**
 * One latency draw (ms, ≥ 0). Draws nothing from `random` when `jitter` is
 * 0, one float for `uniform` and `exponential`, two for `normal`.
 */
export function sampleLatency(base: number, jitter: number, distribution: DistributionCode, random: Random): number {
  if (jitter === 0) return base;
  let delay: number;
  if (distribution === 0) delay = base + jitter * (2 * random.float() - 1);
  else if (distribution === 1) delay = random.normal(base, jitter);
  else delay = base + random.exponential(jitter);
  return delay > 0 ? delay : 0;
}
