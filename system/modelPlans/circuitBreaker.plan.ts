import { transition, type SnapshotFrom } from 'xstate';
import { breakerAdmits, circuitBreaker, windowTrips, type BreakerEvent, type BreakerInput } from '../../machines/circuitBreaker.js';
import { type ModelPlan } from '../modelPaths.js';

export const EVENTS: BreakerEvent[] = [
  { type: 'CALL' },
  { type: 'SUCCESS' },
  { type: 'FAILURE' },
  { type: 'FORCE_OPEN' },
  { type: 'RESET' },
  { type: 'DISABLE' },
  { type: 'ENABLE' },
];

export type Snap = SnapshotFrom<typeof circuitBreaker>;

export function statsClear(snap: Snap): boolean {
  const c = snap.context;
  return c.window.length === 0 && c.consecutiveFailures === 0 && c.trialsInFlight === 0 && c.trialSuccesses === 0;
}

/** What must hold in every state a breaker can reach. */
export function breakerInvariant(snap: Snap): void {
  const c = snap.context;
  const cfg = c.config;
  const admits = breakerAdmits(snap);
  switch (snap.value) {
    case 'closed':
      if (!admits) throw new Error('a closed breaker refused a call');
      if (c.trialsInFlight !== 0 || c.trialSuccesses !== 0) throw new Error('trial counts outside halfOpen');
      if (c.window.length > cfg.windowSize) throw new Error(`window of ${c.window.length} > ${cfg.windowSize}`);
      if (c.consecutiveFailures >= cfg.failureThreshold) throw new Error(`closed with ${c.consecutiveFailures} failures in a row`);
      if (windowTrips(cfg, c.window)) throw new Error(`closed over the rate threshold: ${c.window.join(',')}`);
      break;
    case 'halfOpen':
      if (c.trialsInFlight < 0 || c.trialsInFlight > cfg.halfOpenMaxCalls) throw new Error(`${c.trialsInFlight} trials in flight, limit ${cfg.halfOpenMaxCalls}`);
      if (c.trialSuccesses >= cfg.successThreshold) throw new Error('halfOpen with enough successes to close');
      if (c.window.length !== 0 || c.consecutiveFailures !== 0) throw new Error('closed statistics leaked into halfOpen');
      if (admits !== c.trialsInFlight < cfg.halfOpenMaxCalls) throw new Error('halfOpen admits although every trial slot is taken');
      break;
    case 'open':
    case 'forcedOpen':
      if (admits) throw new Error(`an ${snap.value} breaker admits a call`);
      if (!statsClear(snap)) throw new Error(`${snap.value} with statistics`);
      break;
    case 'disabled':
      if (!admits) throw new Error('a disabled breaker refused a call');
      if (!statsClear(snap)) throw new Error('a disabled breaker recorded something');
      break;
    default:
      throw new Error(`unknown state ${String(snap.value)}`);
  }
  if (!admits) {
    // A refused caller that sends CALL anyway changes nothing.
    const [next] = transition(circuitBreaker, snap, { type: 'CALL' });
    if (next.value !== snap.value || JSON.stringify(next.context) !== JSON.stringify(c)) throw new Error('a refused CALL changed the breaker');
  }
}

export const SMALL: BreakerInput = {
  failureThreshold: 3,
  failureRateThreshold: 0.5,
  windowSize: 4,
  minimumVolume: 3,
  resetTimeoutMs: 100,
  halfOpenMaxCalls: 2,
  successThreshold: 2,
};

/** The model plan of `circuitBreaker`: sample events, the invariant of every state, a small configuration. */
export const circuitBreakerPlan: ModelPlan<typeof circuitBreaker> = {
  machine: circuitBreaker,
  input: SMALL,
  events: () => EVENTS,
  invariant: (snap) => breakerInvariant(snap),
};

