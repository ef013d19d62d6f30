import { describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot, EventObject } from 'xstate';
import { raftRole, type RaftRoleContext } from '../../machines/raftRole.js';
import { createTestModel } from '../../system/testModel.js';
import { PLAIN, world } from './harness.js';

/*
 * The Raft node (production code) against its role chart. The chart is
 * explored purely; each path drives node n1 of a harness world whose peers
 * n2 and n3 are phantoms: the test speaks for them, injecting the messages
 * that make the node see a leader, a higher term or a vote. Timers are the
 * node's own, fired on the kernel. After each step the node's role and term
 * must be the chart's. Plain Raft (no PreVote, no CheckQuorum), 3 voters.
 */
const INPUT = { self: 'n1', voters: 3, preVote: false, checkQuorum: false, electionTimeoutMin: 150, electionTimeoutMax: 300, heartbeatMs: 50 };
const ctx = (s: AnyMachineSnapshot) => s.context as RaftRoleContext;
const none = (): never[] => [];

const model = createTestModel(raftRole, {
  input: INPUT,
  events: {
    LEADER_SEEN: (s) => [{ term: ctx(s).term, leader: 'n2' }, { term: ctx(s).term + 1, leader: 'n2' }],
    TERM_SEEN: (s) => [{ term: ctx(s).term + 1 }],
    VOTE_GRANTED: (s) => [{ from: 'n2', term: ctx(s).term }],
    VOTE_DENIED: (s) => [{ from: 'n2', term: ctx(s).term }, { from: 'n3', term: ctx(s).term }],
    // The leader's connections all closed (its process ended).
    LEADER_GONE: (s) => (ctx(s).leader === 'n2' ? [{ leader: 'n2' }] : []),
    // Not driven here (their own tests cover them): votes this node grants, membership, transfer, PreVote, CheckQuorum.
    VOTED: none, CONFIG: none, TIMEOUT_NOW: none, STEP_DOWN: none, PEER_ACTIVE: none, PREVOTE_GRANTED: none, PREVOTE_DENIED: none,
  },
  // Terms grow without bound: tell states apart by everything else, and stop a few terms in.
  serialize: (s) => JSON.stringify([s.value, ctx(s).leader, ctx(s).votes.length, ctx(s).denials.length, ctx(s).contact, ctx(s).votedFor === 'n1']),
  stopWhen: (s) => ctx(s).term > 3,
});

function drive() {
  const w = world(3, { nodes: ['n1'], options: PLAIN });
  const n1 = w.node('n1');
  const append = (term: number) => w.send('n2', 'n1', 'raft.append', { term, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: [], commit: 0, readRound: 0 });
  const states = Object.fromEntries(
    ['follower', 'candidate', 'leader'].map((role) => [
      role,
      (s: AnyMachineSnapshot) => {
        expect(n1.currentRole).toBe(role);
        expect(n1.currentTerm).toBe(ctx(s).term);
      },
    ]),
  );
  const delays: Record<string, number> = { heartbeatInterval: INPUT.heartbeatMs, quorumCheckInterval: INPUT.electionTimeoutMin };
  return {
    states,
    events: {
      LEADER_SEEN: (e: EventObject) => append((e as EventObject & { term: number }).term),
      TERM_SEEN: (e: EventObject) => w.send('n2', 'n1', 'raft.appendResponse', { term: (e as EventObject & { term: number }).term, success: false, match: 0, conflictIndex: 0, conflictTerm: 0, lastIndex: 0, readRound: 0 }),
      VOTE_GRANTED: (e: EventObject) => w.send((e as EventObject & { from: string }).from, 'n1', 'raft.voteResponse', { term: n1.currentTerm, granted: true, preVote: false }),
      VOTE_DENIED: (e: EventObject) => w.send((e as EventObject & { from: string }).from, 'n1', 'raft.voteResponse', { term: n1.currentTerm, granted: false, preVote: false }),
      LEADER_GONE: (e: EventObject) => n1.peerDisconnected((e as EventObject & { leader: string }).leader),
      // A leader's timers by their delay; a follower's or candidate's election (or failover) timer is its only one: fire the next.
      'xstate.after': (e: EventObject) => {
        const delay = e.type.slice('xstate.after.'.length).split('.')[0];
        if (delay in delays) w.advance(delays[delay]);
        else w.kernel.step();
      },
    },
  };
}

describe('the Raft node against its role chart', () => {
  const paths = model.getPaths();

  it.each(paths)('node n1 follows the role chart: $description', async (path) => {
    await path.test(drive());
  });

  it('the paths reach every role but PreVote’s (off here), and the transitions these events drive', () => {
    const report = model.coverageOf(paths);
    expect(report.states.missing).toEqual(['raftRole.precandidate']);
    expect(report.transitions.covered).toBeGreaterThanOrEqual(14);
  });
});
