import { quorumOf, raftRole, roleOf, type RaftRoleEvent } from '../../machines/raftRole.js';
import type { ModelPlan } from '../modelPaths.js';

type RaftSnapshot = ReturnType<typeof raftRole.getInitialSnapshot>;

/** Sample events relative to the snapshot's term, so the abstract graph stays finite. */
function raftEvents(s: RaftSnapshot): RaftRoleEvent[] {
  const t = s.context.term;
  const events: RaftRoleEvent[] = [
    { type: 'LEADER_SEEN', term: t, leader: 'n2' },
    { type: 'LEADER_SEEN', term: t + 1, leader: 'n3' },
    { type: 'TERM_SEEN', term: t + 1 },
    { type: 'VOTED', candidate: 'n2', term: t },
    { type: 'VOTE_GRANTED', from: 'n2', term: t },
    { type: 'VOTE_DENIED', from: 'n2', term: t },
    { type: 'VOTE_DENIED', from: 'n3', term: t },
    { type: 'PREVOTE_GRANTED', from: 'n2', term: t + 1 },
    { type: 'PREVOTE_DENIED', from: 'n2', term: t + 1 },
    { type: 'PREVOTE_DENIED', from: 'n3', term: t + 1 },
    { type: 'PEER_ACTIVE', from: 'n2' },
    { type: 'TIMEOUT_NOW' },
    { type: 'STEP_DOWN' },
  ];
  // The known leader's process ended (its connections closed).
  if (s.context.leader !== null && s.context.leader !== s.context.self) events.push({ type: 'LEADER_GONE', leader: s.context.leader });
  if (t > 0) events.push({ type: 'LEADER_SEEN', term: t - 1, leader: 'n3' }, { type: 'VOTE_GRANTED', from: 'n3', term: t - 1 });
  return events;
}

/**
 * The abstraction the traversal tells states apart by: who voted matters
 * only by count, who leads only as self / other / nobody. The term stays
 * exact (sample events are relative to it) and `stopWhen` bounds it.
 */
function raftSerialize(s: RaftSnapshot): string {
  const c = s.context;
  const who = (id: string | null) => (id === null ? '-' : id === c.self ? 'self' : 'other');
  return JSON.stringify([
    s.value,
    c.term,
    who(c.votedFor),
    who(c.leader),
    c.votes.length,
    c.denials.length,
    c.active.length,
    c.contact,
    c.voters,
    c.isVoter,
  ]);
}

function raftInvariant(s: RaftSnapshot): void {
  const c = s.context;
  const role = roleOf(s.value);
  if (role === 'leader') {
    if (c.term < 1) throw new Error(`leader in term ${c.term}`);
    if (c.leader !== c.self) throw new Error('a leader must know itself as leader');
    if (c.votedFor !== c.self) throw new Error('a leader voted for itself in its term');
  }
  if (role === 'candidate' && c.votedFor !== c.self) throw new Error('a candidate votes for itself');
  if ((role === 'candidate' || role === 'precandidate') && !c.isVoter) throw new Error('a learner never campaigns');
  if (c.votes.length > c.voters || c.denials.length > c.voters) throw new Error('more votes than voters');
  if (role === 'follower' && c.leader === c.self) throw new Error('a follower is not its own leader');
  if (role !== 'leader' && role !== 'follower' && c.votes.length >= quorumOf(c.voters)) throw new Error('a won vote was not acted on');
}

const base = {
  machine: raftRole,
  events: raftEvents,
  serialize: raftSerialize,
  // Every behaviour shows within two terms; deeper terms only repeat it.
  stopWhen: (s: RaftSnapshot) => s.context.term > 2,
  invariant: raftInvariant,
};

/**
 * Plans that together reach every state and transition of `raftRole`: a
 * three-voter node with PreVote and CheckQuorum, one without them, a single
 * voter (bootstrap) and a learner.
 */
export const raftRolePlans: ModelPlan<typeof raftRole>[] = [
  { ...base, input: { self: 'n1', voters: 3, preVote: true, checkQuorum: true } },
  { ...base, input: { self: 'n1', voters: 3, preVote: false, checkQuorum: false } },
  { ...base, input: { self: 'n1', voters: 1 } },
  {
    ...base,
    input: { self: 'n1', voters: 3, isVoter: false },
    // A learner promoted to voter, and a campaigning voter demoted again.
    events: (s) => [
      { type: 'CONFIG', voters: 3, isVoter: !s.context.isVoter },
      { type: 'CONFIG', voters: 3, isVoter: true },
      { type: 'TIMEOUT_NOW' },
      { type: 'LEADER_SEEN', term: s.context.term, leader: 'n2' },
    ],
  },
];
