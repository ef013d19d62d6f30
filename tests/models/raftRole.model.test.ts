import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { raftRole, roleOf, type RaftRoleEmitted } from '../../machines/raftRole.js';
import { raftRolePlans } from '../../system/modelPlans/raftRole.plan.js';
import { checkModel } from '../../system/modelPaths.js';
import { MachineCoverage } from '../../system/machineCoverage.js';
import { Kernel } from '../../system/kernel.js';

function start(input: Parameters<typeof createActor<typeof raftRole>>[1] extends infer O ? O extends { input?: infer I } ? I : never : never) {
  const kernel = new Kernel();
  const emitted: RaftRoleEmitted[] = [];
  const actor = createActor(raftRole, { clock: kernel, input });
  for (const t of ['campaign', 'becameLeader', 'heartbeat', 'steppedDown'] as const) actor.on(t, (e) => emitted.push(e));
  actor.start();
  return { kernel, actor, emitted, role: () => roleOf(actor.getSnapshot().value), ctx: () => actor.getSnapshot().context };
}

describe('raftRole model', () => {
  it('covers every state and transition on generated paths, the actor agreeing with the model', () => {
    const coverage = new MachineCoverage(raftRole);
    let paths = 0;
    for (const plan of raftRolePlans) paths += checkModel(plan, coverage).paths;
    const report = coverage.report();
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(paths).toBeGreaterThan(100);
  });
});

describe('raftRole behaviour on virtual time', () => {
  it('a single voter elects itself through an ordinary election (PreVote, then vote) in term 1', () => {
    const n = start({ self: 'n1', voters: 1, electionTimeoutMin: 150 });
    expect(n.role()).toBe('follower');
    n.kernel.advance(149);
    expect(n.role()).toBe('follower');
    n.kernel.advance(1);
    expect(n.role()).toBe('leader');
    expect(n.ctx()).toMatchObject({ term: 1, votedFor: 'n1', leader: 'n1' });
    expect(n.emitted.map((e) => e.type)).toEqual(['campaign', 'campaign', 'becameLeader']);
    expect(n.emitted[0]).toEqual({ type: 'campaign', term: 1, preVote: true });
  });

  it('contact with the leader postpones the election; silence starts a PreVote round', () => {
    const n = start({ self: 'n1', voters: 3 });
    n.kernel.advance(100);
    n.actor.send({ type: 'LEADER_SEEN', term: 0, leader: 'n2' });
    n.kernel.advance(50); // timer fires at 150, sees the contact and re-arms
    expect(n.role()).toBe('follower');
    expect(n.ctx().leader).toBe('n2');
    n.kernel.advance(150);
    expect(n.role()).toBe('precandidate');
    expect(n.ctx().term).toBe(0); // PreVote does not bump the term
  });

  it('PreVote quorum leads to a real election; a vote quorum to leadership and heartbeats', () => {
    const n = start({ self: 'n1', voters: 3 });
    n.kernel.advance(150);
    n.actor.send({ type: 'PREVOTE_GRANTED', from: 'n2', term: 1 });
    expect(n.role()).toBe('candidate');
    expect(n.ctx()).toMatchObject({ term: 1, votedFor: 'n1' });
    n.actor.send({ type: 'VOTE_GRANTED', from: 'n3', term: 1 });
    expect(n.role()).toBe('leader');
    const before = n.emitted.filter((e) => e.type === 'heartbeat').length;
    n.actor.send({ type: 'PEER_ACTIVE', from: 'n2' });
    n.kernel.advance(100);
    expect(n.emitted.filter((e) => e.type === 'heartbeat').length - before).toBe(2);
  });

  it('a candidate refused by a quorum falls back to follower; duplicate votes count once', () => {
    const n = start({ self: 'n1', voters: 5, preVote: false });
    n.kernel.advance(150);
    expect(n.role()).toBe('candidate');
    n.actor.send({ type: 'VOTE_GRANTED', from: 'n2', term: 1 });
    n.actor.send({ type: 'VOTE_GRANTED', from: 'n2', term: 1 });
    expect(n.role()).toBe('candidate');
    for (const from of ['n3', 'n4']) n.actor.send({ type: 'VOTE_DENIED', from, term: 1 });
    expect(n.role()).toBe('candidate');
    n.actor.send({ type: 'VOTE_DENIED', from: 'n5', term: 1 });
    expect(n.role()).toBe('follower');
  });

  it('CheckQuorum steps down a leader that hears from no majority within an election timeout', () => {
    const n = start({ self: 'n1', voters: 3, preVote: false });
    n.kernel.advance(150);
    n.actor.send({ type: 'VOTE_GRANTED', from: 'n2', term: 1 });
    expect(n.role()).toBe('leader');
    n.actor.send({ type: 'PEER_ACTIVE', from: 'n2' });
    n.kernel.advance(150); // first interval: n2 was active
    expect(n.role()).toBe('leader');
    n.kernel.advance(150); // second: nobody answered
    expect(n.role()).toBe('follower');
    expect(n.ctx().leader).toBeNull();
    expect(n.emitted.at(-1)).toEqual({ type: 'steppedDown', term: 1, reason: 'lostQuorum' });
  });

  it('any role steps down on a higher term and forgets its vote', () => {
    const n = start({ self: 'n1', voters: 1 });
    n.kernel.advance(150);
    expect(n.role()).toBe('leader');
    n.actor.send({ type: 'TERM_SEEN', term: 7 });
    expect(n.role()).toBe('follower');
    expect(n.ctx()).toMatchObject({ term: 7, votedFor: null, leader: null });
    n.actor.send({ type: 'TERM_SEEN', term: 3 });
    expect(n.ctx().term).toBe(7); // terms never decrease
  });

  it('a learner never campaigns; TIMEOUT_NOW makes a voter campaign at once', () => {
    const learner = start({ self: 'n4', voters: 3, isVoter: false });
    learner.kernel.advance(10_000);
    expect(learner.role()).toBe('follower');
    learner.actor.send({ type: 'TIMEOUT_NOW' });
    expect(learner.role()).toBe('follower');
    learner.actor.send({ type: 'CONFIG', voters: 4, isVoter: true });
    learner.actor.send({ type: 'TIMEOUT_NOW' });
    expect(learner.role()).toBe('candidate');
    expect(learner.ctx().term).toBe(1);
  });
});
