import { type SnapshotFrom } from 'xstate';
import { quarantine, quarantineDurationFor, type QuarantineEvent, type QuarantineInput } from '../../machines/quarantine.js';
import { type ModelPlan } from '../modelPaths.js';

export type Snap = SnapshotFrom<typeof quarantine>;

export const EVENTS: QuarantineEvent[] = [
  { type: 'SUSPECT', reason: 'phi' },
  { type: 'SUSPECT', reason: 'heartbeat-timeout' },
  { type: 'ALIVE' },
  { type: 'CONFIRM' },
  { type: 'CONFIRM', reason: 'confirmed' },
  { type: 'FAILURE', reason: 'rpc-error' },
  { type: 'RELEASE' },
  { type: 'ISOLATE', reason: 'operator' },
  { type: 'CLEAR' },
];

/** What must hold in every state a quarantine chart can reach. */
export function quarantineInvariant(snap: Snap): void {
  const c = snap.context;
  const cfg = c.config;
  if (c.quarantineMs > cfg.maxQuarantineMs) throw new Error(`quarantine of ${c.quarantineMs} ms exceeds the maximum ${cfg.maxQuarantineMs}`);
  if (c.strikes < 0 || c.strikes > cfg.maxStrikes) throw new Error(`${c.strikes} strikes, cap ${cfg.maxStrikes}`);
  if (c.heartbeats < 0 || c.heartbeats > cfg.probationHeartbeats) throw new Error(`${c.heartbeats} heartbeats counted`);
  if (snap.value !== 'probation' && c.heartbeats !== 0) throw new Error(`heartbeats counted in ${snap.value}`);
  switch (snap.value) {
    case 'healthy':
      if (c.reason !== null) throw new Error(`healthy with a reason: ${c.reason}`);
      break;
    case 'suspect':
      if (c.reason === null) throw new Error('suspect without a reason');
      break;
    case 'quarantined':
    case 'probation':
      if (c.reason === null) throw new Error(`${snap.value} without a reason`);
      if (c.strikes < 1) throw new Error(`${snap.value} without a strike`);
      if (c.quarantineMs !== quarantineDurationFor(cfg, c.strikes)) throw new Error(`quarantine of ${c.quarantineMs} ms on strike ${c.strikes}`);
      if (c.quarantineMs < cfg.baseQuarantineMs) throw new Error('quarantine shorter than the base');
      break;
    default:
      throw new Error(`unknown state ${String(snap.value)}`);
  }
}

export const SMALL: QuarantineInput = {
  suspectTimeoutMs: 50,
  baseQuarantineMs: 100,
  maxQuarantineMs: 250,
  maxStrikes: 3,
  probationPeriodMs: 80,
  probationHeartbeats: 2,
  strikeDecayMs: 1_000,
};

/** The model plan of `quarantine`: sample events, the invariant of every state, a small configuration. */
export const quarantinePlan: ModelPlan<typeof quarantine> = {
  machine: quarantine,
  input: SMALL,
  events: () => EVENTS,
  invariant: (snap) => quarantineInvariant(snap),
};

