import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, transition, type SnapshotFrom } from 'xstate';
import {
  CONFIGURATION_STATUSES,
  initialMembershipContext,
  membership,
  type MemberStatus,
  type MembershipContext,
  type MembershipEvent,
} from '../../machines/membership.js';
import { membershipStepper, membershipTransitionTable } from '../../machines/membershipTable.js';
import { checkModel, generateModelPaths, type ModelPlan } from '../../system/modelPaths.js';
import { Kernel } from '../../system/kernel.js';
import { EVENTS, SPEC, membershipInvariant, membershipPlan as plan } from '../../system/modelPlans/membership.plan.js';
import type { Snap } from '../../system/modelPlans/membership.plan.js';

function start() {
  const kernel = new Kernel();
  const actor = createActor(membership, { clock: kernel }).start();
  const send = (...events: MembershipEvent[]) => {
    for (const e of events) actor.send(e);
  };
  return { kernel, actor, send, status: () => actor.getSnapshot().value as MemberStatus };
}

describe('membership model', () => {
  it('covers every state and transition on generated paths, actor agreeing with the model', () => {
    const report = checkModel(plan);
    expect(report.machine).toBe('membership');
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.states.covered).toBe(7); // root + 6 statuses
    expect(report.transitions.covered).toBe(Object.values(SPEC).reduce((n, row) => n + Object.keys(row).length, 0));
    expect(report.paths).toBeGreaterThan(50);
  });
});

describe('membership behaviour', () => {
  it('follows the approval path: pending approval, learner, voter, and out', () => {
    const m = start();
    expect(m.status()).toBe('pendingApproval');
    m.send({ type: 'PROMOTE' }); // not approved yet: refused
    expect(m.status()).toBe('pendingApproval');
    m.send({ type: 'APPROVE' });
    expect(m.status()).toBe('learner');
    expect(CONFIGURATION_STATUSES.has(m.status())).toBe(true);
    m.send({ type: 'PROMOTE' });
    expect(m.status()).toBe('voter');
    m.send({ type: 'DEMOTE' }, { type: 'PROMOTE' }, { type: 'REMOVE', reason: 'decommissioned' });
    expect(m.status()).toBe('removed');
    expect(CONFIGURATION_STATUSES.has(m.status())).toBe(false);
    expect(m.actor.getSnapshot().context.reason).toBe('decommissioned');
    m.send({ type: 'PROMOTE' }, { type: 'APPROVE' });
    expect(m.status()).toBe('removed'); // must ask again first
    m.send({ type: 'REQUEST_JOIN' }, { type: 'REJECT', reason: 'capacity' });
    expect(m.status()).toBe('rejected');
    expect(m.actor.getSnapshot().context.reason).toBe('capacity');
    m.send({ type: 'REQUEST_JOIN' }, { type: 'BOOTSTRAP' });
    expect(m.status()).toBe('voter');
    expect(m.kernel.pending).toBe(0); // a replicated chart sets no timers
  });

  it('a blocked member is lifted only by UNBLOCK, to removed, from where it may ask again', () => {
    for (const path of [[], [{ type: 'APPROVE' }], [{ type: 'BOOTSTRAP' }], [{ type: 'REJECT' }], [{ type: 'APPROVE' }, { type: 'REMOVE' }]] as MembershipEvent[][]) {
      const m = start();
      m.send(...path, { type: 'BLOCK', reason: 'compromised' });
      expect(m.status()).toBe('blocked');
      for (const e of EVENTS) if (e.type !== 'UNBLOCK') m.send(e);
      m.kernel.advance(1_000_000);
      expect(m.status()).toBe('blocked');
      expect(m.actor.getSnapshot().context.reason).toBe('compromised');
      m.send({ type: 'UNBLOCK' });
      expect(m.status()).toBe('removed');
      m.send({ type: 'REQUEST_JOIN' });
      expect(m.status()).toBe('pendingApproval');
    }
  });

  it('records the reason of the last rejection, removal or block', () => {
    const m = start();
    expect(m.actor.getSnapshot().context).toEqual(initialMembershipContext());
    m.send({ type: 'BLOCK', reason: 'spam' }, { type: 'UNBLOCK' });
    expect(m.actor.getSnapshot().context.reason).toBe('spam');
    m.send({ type: 'REQUEST_JOIN' }, { type: 'REJECT' });
    expect(m.actor.getSnapshot().context.reason).toBeNull();
  });
});

describe('membership transition table', () => {
  it('is derived from the chart: every state and event of the definition, no final state', () => {
    expect(membershipTransitionTable.machine).toBe('membership');
    expect(membershipTransitionTable.initial).toBe('pendingApproval');
    expect(membershipTransitionTable.states).toEqual(Object.keys(membership.root.states));
    expect(membershipTransitionTable.finals).toEqual([]);
    for (const [status, row] of Object.entries(SPEC)) {
      expect(Object.keys(membershipTransitionTable.on[status]).sort()).toEqual(Object.keys(row).sort());
      for (const [event, target] of Object.entries(row)) expect(membershipTransitionTable.on[status][event].map((t) => t.target)).toEqual([target]);
    }
  });

  it('agrees with the machine on every generated path', () => {
    const paths = generateModelPaths(plan);
    expect(paths.length).toBeGreaterThan(50);
    for (const path of paths) {
      const ctx = initialMembershipContext();
      let state = membershipStepper.initial(ctx);
      for (const step of path.steps) {
        state = membershipStepper.step(state, ctx, step.event) ?? state;
        expect({ path: path.description, state, ctx }).toEqual({ path: path.description, state: step.state.value, ctx: step.state.context });
      }
    }
  });

  it('rejects what the chart does not allow and leaves the record untouched', () => {
    const ctx: MembershipContext = { reason: 'compromised' };
    expect(membershipStepper.step('blocked', ctx, { type: 'REQUEST_JOIN' })).toBeNull();
    expect(membershipStepper.step('blocked', ctx, { type: 'BLOCK', reason: 'again' })).toBeNull();
    expect(membershipStepper.step('removed', ctx, { type: 'PROMOTE' })).toBeNull();
    expect(ctx).toEqual({ reason: 'compromised' });
    expect(() => membershipStepper.step('nonsense', ctx, { type: 'APPROVE' })).toThrow(RangeError);
  });

  it('property: table stepper equals the machine on random sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EVENTS), { maxLength: 60, size: 'max' }), (events) => {
        const actor = createActor(membership, { clock: new Kernel() }).start();
        const ctx = initialMembershipContext();
        let state = membershipStepper.initial(ctx);
        for (const e of events) {
          actor.send(e);
          const next = membershipStepper.step(state, ctx, e);
          const snap = actor.getSnapshot();
          expect(next === null).toBe(SPEC[state as MemberStatus][e.type] === undefined);
          state = next ?? state;
          expect(state).toBe(snap.value);
          expect(ctx).toEqual(snap.context);
        }
      }),
      { numRuns: 300, seed: 20261127 },
    );
  });
});
