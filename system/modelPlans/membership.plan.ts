import { transition, type SnapshotFrom } from 'xstate';
import { membership, type MemberStatus, type MembershipContext, type MembershipEvent } from '../../machines/membership.js';
import { membershipStepper } from '../../machines/membershipTable.js';
import { type ModelPlan } from '../modelPaths.js';

export type Snap = SnapshotFrom<typeof membership>;

export const EVENTS: MembershipEvent[] = [
  { type: 'REQUEST_JOIN' },
  { type: 'APPROVE' },
  { type: 'REJECT' },
  { type: 'REJECT', reason: 'unknown key' },
  { type: 'BOOTSTRAP' },
  { type: 'PROMOTE' },
  { type: 'DEMOTE' },
  { type: 'REMOVE' },
  { type: 'REMOVE', reason: 'unreachable' },
  { type: 'BLOCK', reason: 'compromised' },
  { type: 'BLOCK' },
  { type: 'UNBLOCK' },
];

/** The specification, written independently of the chart: which entries each status accepts, and where they lead. */
export const SPEC: Record<MemberStatus, Partial<Record<MembershipEvent['type'], MemberStatus>>> = {
  pendingApproval: { APPROVE: 'learner', BOOTSTRAP: 'voter', REJECT: 'rejected', BLOCK: 'blocked' },
  learner: { PROMOTE: 'voter', REMOVE: 'removed', BLOCK: 'blocked' },
  voter: { DEMOTE: 'learner', REMOVE: 'removed', BLOCK: 'blocked' },
  removed: { REQUEST_JOIN: 'pendingApproval', BLOCK: 'blocked' },
  rejected: { REQUEST_JOIN: 'pendingApproval', BLOCK: 'blocked' },
  blocked: { UNBLOCK: 'removed' },
};

/** What must hold in every state a member can reach: the chart follows the spec, and the table follows the chart. */
export function membershipInvariant(snap: Snap): void {
  const status = snap.value as MemberStatus;
  if (!(status in SPEC)) throw new Error(`unknown status ${status}`);
  if (snap.status !== 'active') throw new Error(`a member in ${status} is ${snap.status}: no status is final`);
  for (const e of EVENTS) {
    const [next] = transition(membership, snap, e);
    const want = SPEC[status][e.type] ?? status;
    if (next.value !== want) throw new Error(`${status} --${e.type}--> ${next.value}, the spec says ${want}`);
    if (status === 'blocked' && e.type !== 'UNBLOCK' && (next.value !== 'blocked' || next.context.reason !== snap.context.reason)) {
      throw new Error(`${e.type} changed a blocked member`);
    }
    const ctx: MembershipContext = { ...snap.context };
    const stepped = membershipStepper.step(status, ctx, e);
    if ((stepped ?? status) !== next.value) throw new Error(`table steps ${status} --${e.type}--> ${stepped}, the chart to ${next.value}`);
    if (stepped === null && SPEC[status][e.type] !== undefined) throw new Error(`table refused ${e.type} in ${status}`);
    if (JSON.stringify(ctx) !== JSON.stringify(next.context)) throw new Error(`table and chart disagree on the context after ${e.type} in ${status}`);
  }
}

/** The model plan of `membership`: sample events, the invariant of every state, a small configuration. */
export const membershipPlan: ModelPlan<typeof membership> = {
  machine: membership,
  events: () => EVENTS,
  invariant: (snap) => membershipInvariant(snap),
};

