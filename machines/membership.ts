import { assign, setup } from 'xstate';

/** Context of a member's place in the cluster. */
export interface MembershipContext {
  /** The reason given with the last REJECT, REMOVE or BLOCK (null if it gave none, or none happened). */
  reason: string | null;
}

/** Every event the membership chart understands: each one is a committed log entry's effect on one member. */
export type MembershipEvent =
  /** The node asks to join (again): it waits for an operator's approval. */
  | { type: 'REQUEST_JOIN' }
  /** An operator approved the join: the node catches up as a learner. */
  | { type: 'APPROVE' }
  /** An operator turned the join down. */
  | { type: 'REJECT'; reason?: string }
  /** The bootstrap entry names this node a founding member: a voter at once. */
  | { type: 'BOOTSTRAP' }
  /** The learner caught up and becomes a voter. */
  | { type: 'PROMOTE' }
  /** The voter steps back to a learner (keeps replicating, no vote). */
  | { type: 'DEMOTE' }
  /** The member leaves the configuration (by request, or the leader removed a dead voter). */
  | { type: 'REMOVE'; reason?: string }
  /** An operator bans the node: nothing it asks is granted until UNBLOCK. */
  | { type: 'BLOCK'; reason?: string }
  /** An operator lifts a block: the node is out, and may ask to join again. */
  | { type: 'UNBLOCK' };

/** A member's status: the states of the chart. */
export type MemberStatus = 'pendingApproval' | 'learner' | 'voter' | 'removed' | 'rejected' | 'blocked';

/** The statuses of members in the cluster configuration (they receive the log). */
export const CONFIGURATION_STATUSES: ReadonlySet<MemberStatus> = new Set(['learner', 'voter']);

/** The initial context of a member (there is no input: a member is created by its join request or the bootstrap entry). */
export function initialMembershipContext(): MembershipContext {
  return { reason: null };
}

/**
 * The context updates of the chart as plain functions, shared by the
 * chart's `assign` actions and the hot-path table (see `membershipTable.ts`),
 * so both change a member the same way.
 */
export const membershipContextUpdates = {
  /** Records the reason of a rejection, removal or block (null when the entry gave none). */
  recordReason: (_c: MembershipContext, e: MembershipEvent): Partial<MembershipContext> => ({
    reason: (e.type === 'REJECT' || e.type === 'REMOVE' || e.type === 'BLOCK') && e.reason !== undefined ? e.reason : null,
  }),
} as const;

/** The guards of the chart as plain predicates (shared with the table). It has none: every rule is in its structure. */
export const membershipGuards: Record<string, (context: MembershipContext, event: MembershipEvent) => boolean> = {};

/**
 * A member's REPLICATED place in the cluster. Every node folds the same
 * committed entries through it, in log order, so it has no delays and
 * reads no clock: what depends on time (a voter unreachable for too long)
 * is decided by the leader and proposed as an entry (REMOVE).
 *
 * ```
 *                     APPROVE             PROMOTE
 *  pendingApproval ──────────→ learner ───────────→ voter
 *     │  │  ▲  ▲                 │  ▲ ◄── DEMOTE ────┘ │
 *     │  │  │  │                 │                     │
 *     │  │  │  │ REQUEST_JOIN    └─ REMOVE → removed ◄─┘ REMOVE
 *     │  │  │  └──────────────────────────────┘   ▲
 *     │  │  │ REQUEST_JOIN                         │ UNBLOCK (operator: the only way out of blocked)
 *     │  │  └──────────────── rejected             │
 *     │  └─ REJECT ──────────────↗              blocked ◄── BLOCK (operator: from every other state)
 *     └─ BOOTSTRAP (a founding member named in the bootstrap entry) ──→ voter
 * ```
 *
 * The flat chart of atomic states, with named actions and no entry/exit
 * actions, is what lets `deriveTransitionTable` turn it into the
 * `membershipTransitionTable` the replicated apply steps on its hot path.
 * An entry the chart does not allow for a member's status (a PROMOTE of a
 * removed node, anything but UNBLOCK for a blocked one) changes nothing;
 * the applier rejects and records it, never forces it.
 */
export const membership = setup({
  types: {
    context: {} as MembershipContext,
    events: {} as MembershipEvent,
  },
  actions: {
    recordReason: assign(({ context, event }) => membershipContextUpdates.recordReason(context, event)),
  },
}).createMachine({
  id: 'membership',
  initial: 'pendingApproval',
  context: initialMembershipContext,
  states: {
    pendingApproval: {
      on: {
        APPROVE: { target: 'learner' },
        BOOTSTRAP: { target: 'voter' },
        REJECT: { target: 'rejected', actions: 'recordReason' },
        BLOCK: { target: 'blocked', actions: 'recordReason' },
      },
    },
    learner: {
      on: {
        PROMOTE: { target: 'voter' },
        REMOVE: { target: 'removed', actions: 'recordReason' },
        BLOCK: { target: 'blocked', actions: 'recordReason' },
      },
    },
    voter: {
      on: {
        DEMOTE: { target: 'learner' },
        REMOVE: { target: 'removed', actions: 'recordReason' },
        BLOCK: { target: 'blocked', actions: 'recordReason' },
      },
    },
    removed: {
      on: {
        REQUEST_JOIN: { target: 'pendingApproval' },
        BLOCK: { target: 'blocked', actions: 'recordReason' },
      },
    },
    rejected: {
      on: {
        REQUEST_JOIN: { target: 'pendingApproval' },
        BLOCK: { target: 'blocked', actions: 'recordReason' },
      },
    },
    blocked: {
      on: {
        UNBLOCK: { target: 'removed' },
      },
    },
  },
});
