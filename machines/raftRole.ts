import { assign, emit, setup } from 'xstate';

/**
 * A Raft node's role and term: the control state of consensus (Raft paper §5.2,
 * dissertation §9.6 PreVote and §6.2 CheckQuorum). The log, the vote's
 * up-to-date check and all messaging live in the Raft actor; this chart
 * decides *when* a node campaigns, wins, steps down or leads.
 *
 * ```
 *            ┌──── after(electionTimeout) [heard from leader / cannot campaign] ────┐
 *            ▼                                                                        │
 *        follower ── after(electionTimeout) [preVote] ──► precandidate ──[quorum]──► candidate ──[quorum]──► leader
 *            ▲   └── after(electionTimeout) [no preVote] ─────────────────────────────►  │                     │
 *            └───────── higher term seen, leader of ≥ term seen, lost vote, lost quorum ─┴─────────────────────┘
 * ```
 *
 * A follower told that its leader's process ended (`LEADER_GONE`: the
 * transport saw every connection to it close) campaigns after the short
 * named delay `failoverDelay` instead of a whole election timeout, still
 * through PreVote. A partition closes no connection, so the timeout stays
 * the rule and this the fast path for crashes.
 *
 * The election timeout is the named delay `electionTimeout`. The chart's
 * own implementation is deterministic (the configured minimum); the Raft
 * actor provides a randomized one drawn from the kernel RNG and measured
 * from the last contact with the leader (`machine.provide({ delays })`), as
 * etcd measures its randomized timeout in ticks since the last heartbeat.
 * A heartbeat does not re-arm the timer: the actor records contact, and the
 * timer, when it fires, sees the contact and re-arms.
 *
 * Two guards read what the chart is told by events: `heardFromLeader`
 * (`contact`, from LEADER_SEEN and VOTED) and `quorumActive` (`active`,
 * from PEER_ACTIVE). The Raft actor provides both from what it tracks per
 * message anyway (contact since the timer was armed; etcd's RecentActive
 * per peer), so a steady leader and its followers exchange no chart event
 * per heartbeat: only the timers step the chart. Standalone, as in the
 * model tests, the chart keeps both on its context.
 */
export interface RaftRoleContext {
  /** This node's id. */
  self: string;
  /** Current term (persisted by the actor when it changes). */
  term: number;
  /** Whom this node voted for in `term` (persisted), or null. */
  votedFor: string | null;
  /** The known leader of `term`, or null. */
  leader: string | null;
  /** Number of voters in the configuration (self included when a voter). */
  voters: number;
  /** Whether this node is a voter (learners never campaign). */
  isVoter: boolean;
  /** Voters that granted this round's (pre-)vote, self included. */
  votes: string[];
  /** Voters that refused this round's (pre-)vote. */
  denials: string[];
  /** Heard from the current leader (or granted a vote) since the election timer was armed. */
  contact: boolean;
  /** Leader: voters heard from during the current CheckQuorum interval, self included. */
  active: string[];
  preVote: boolean;
  checkQuorum: boolean;
  electionTimeoutMin: number;
  electionTimeoutMax: number;
  heartbeatMs: number;
}

/** Inputs the Raft actor feeds the chart; the actor has checked the log already. */
export type RaftRoleEvent =
  /** AppendEntries / heartbeat / snapshot from the leader of `term`. */
  | { type: 'LEADER_SEEN'; term: number; leader: string }
  /** Any message carrying a higher term (not a PreVote request). */
  | { type: 'TERM_SEEN'; term: number }
  /** The actor granted (and persisted) a vote for `candidate` in `term`. */
  | { type: 'VOTED'; candidate: string; term: number }
  | { type: 'VOTE_GRANTED'; from: string; term: number }
  | { type: 'VOTE_DENIED'; from: string; term: number }
  | { type: 'PREVOTE_GRANTED'; from: string; term: number }
  | { type: 'PREVOTE_DENIED'; from: string; term: number }
  /** Leader: a voter answered an AppendEntries / heartbeat (CheckQuorum). */
  | { type: 'PEER_ACTIVE'; from: string }
  /** Leadership transfer: campaign now, skipping PreVote (dissertation §3.10). */
  | { type: 'TIMEOUT_NOW' }
  /**
   * Every connection to `leader` closed: its process ended (the transport
   * saw the peer's operating system close them). A partition closes
   * nothing, so this is never the only way a leader is found gone.
   */
  | { type: 'LEADER_GONE'; leader: string }
  /** Leader: step down (transfer done, or removed from the configuration). */
  | { type: 'STEP_DOWN' }
  /** The configuration changed. */
  | { type: 'CONFIG'; voters: number; isVoter: boolean };

/** What the chart asks the actor to do. */
export type RaftRoleEmitted =
  | { type: 'campaign'; term: number; preVote: boolean }
  | { type: 'becameLeader'; term: number }
  | { type: 'heartbeat'; term: number }
  | { type: 'steppedDown'; term: number; reason: 'higherTerm' | 'lostQuorum' | 'requested' };

/** Options of a role chart. */
export interface RaftRoleInput {
  self: string;
  voters?: number;
  isVoter?: boolean;
  term?: number;
  votedFor?: string | null;
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTimeoutMin?: number;
  electionTimeoutMax?: number;
  heartbeatMs?: number;
}

/** The four roles of the trace format. */
export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** Votes needed out of `voters`: a strict majority. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The role named by a snapshot's state value. */
export function roleOf(value: unknown): RaftRole {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as RaftRole;
}

const addOnce = (list: string[], id: string): string[] => (list.includes(id) ? list : [...list, id]);

export const raftRole = setup({
  types: {
    context: {} as RaftRoleContext,
    events: {} as RaftRoleEvent,
    input: {} as RaftRoleInput,
    emitted: {} as RaftRoleEmitted,
  },
  actions: {
    adoptTerm: assign(({ event }) => {
      const term = (event as { term: number }).term;
      return { term, votedFor: null, leader: null, votes: [], denials: [] };
    }),
    followLeader: assign(({ context, event }) => {
      const e = event as Extract<RaftRoleEvent, { type: 'LEADER_SEEN' }>;
      return e.term > context.term
        ? { term: e.term, votedFor: null, leader: e.leader, contact: true, votes: [], denials: [] }
        : { leader: e.leader, contact: true, votes: [], denials: [] };
    }),
    recordContact: assign(({ event }) => ({ contact: true, leader: (event as { leader: string }).leader })),
    recordVote: assign(({ event }) => {
      const e = event as Extract<RaftRoleEvent, { type: 'VOTED' }>;
      return { term: e.term, votedFor: e.candidate, contact: true };
    }),
    clearContact: assign({ contact: false }),
    startPreVote: assign(({ context }) => ({ votes: [context.self], denials: [], leader: null })),
    startElection: assign(({ context }) => ({
      term: context.term + 1,
      votedFor: context.self,
      votes: [context.self],
      denials: [],
      leader: null,
    })),
    emitPreVote: emit(({ context }) => ({ type: 'campaign' as const, term: context.term + 1, preVote: true })),
    emitElection: emit(({ context }) => ({ type: 'campaign' as const, term: context.term, preVote: false })),
    countVote: assign(({ context, event }) => ({ votes: addOnce(context.votes, (event as { from: string }).from) })),
    countDenial: assign(({ context, event }) => ({ denials: addOnce(context.denials, (event as { from: string }).from) })),
    becomeLeader: assign(({ context }) => ({ leader: context.self, active: [context.self], votes: [], denials: [] })),
    emitBecameLeader: emit(({ context }) => ({ type: 'becameLeader' as const, term: context.term })),
    emitHeartbeat: emit(({ context }) => ({ type: 'heartbeat' as const, term: context.term })),
    markActive: assign(({ context, event }) => ({ active: addOnce(context.active, (event as { from: string }).from) })),
    resetActive: assign(({ context }) => ({ active: [context.self] })),
    emitHigherTerm: emit(({ context }) => ({ type: 'steppedDown' as const, term: context.term, reason: 'higherTerm' as const })),
    emitLostQuorum: emit(({ context }) => ({ type: 'steppedDown' as const, term: context.term, reason: 'lostQuorum' as const })),
    emitRequested: emit(({ context }) => ({ type: 'steppedDown' as const, term: context.term, reason: 'requested' as const })),
    forgetLeader: assign({ leader: null }),
    setConfig: assign(({ event }) => {
      const e = event as Extract<RaftRoleEvent, { type: 'CONFIG' }>;
      return { voters: e.voters, isVoter: e.isVoter };
    }),
  },
  guards: {
    higherTerm: ({ context, event }) => (event as { term: number }).term > context.term,
    termNotBehind: ({ context, event }) => (event as { term: number }).term >= context.term,
    currentTerm: ({ context, event }) => (event as { term: number }).term === context.term,
    preVoteTerm: ({ context, event }) => (event as { term: number }).term === context.term + 1,
    heardFromLeader: ({ context }) => context.contact,
    cannotCampaign: ({ context }) => !context.isVoter,
    demotedToLearner: ({ event }) => !(event as Extract<RaftRoleEvent, { type: 'CONFIG' }>).isVoter,
    canCampaign: ({ context }) => context.isVoter,
    leaderIsGone: ({ context, event }) => context.isVoter && context.leader !== null && (event as Extract<RaftRoleEvent, { type: 'LEADER_GONE' }>).leader === context.leader,
    preVoteEnabled: ({ context }) => context.preVote,
    wonVote: ({ context }) => context.votes.length >= quorumOf(context.voters),
    lostVote: ({ context }) => context.denials.length >= quorumOf(context.voters),
    quorumActive: ({ context }) => !context.checkQuorum || context.active.length >= quorumOf(context.voters),
  },
  delays: {
    electionTimeout: ({ context }) => context.electionTimeoutMin,
    // The Raft node staggers it by rank among the voters left (see RaftNode).
    failoverDelay: ({ context }) => Math.max(1, Math.round(context.heartbeatMs / 10)),
    heartbeatInterval: ({ context }) => context.heartbeatMs,
    quorumCheckInterval: ({ context }) => context.electionTimeoutMin,
  },
}).createMachine({
  id: 'raftRole',
  initial: 'follower',
  context: ({ input }) => ({
    self: input.self,
    term: input.term ?? 0,
    votedFor: input.votedFor ?? null,
    leader: null,
    voters: input.voters ?? 1,
    isVoter: input.isVoter ?? true,
    votes: [],
    denials: [],
    contact: false,
    active: [],
    preVote: input.preVote ?? true,
    checkQuorum: input.checkQuorum ?? true,
    electionTimeoutMin: input.electionTimeoutMin ?? 150,
    electionTimeoutMax: input.electionTimeoutMax ?? 300,
    heartbeatMs: input.heartbeatMs ?? 50,
  }),
  on: {
    CONFIG: { actions: 'setConfig' },
  },
  states: {
    follower: {
      entry: 'clearContact',
      initial: 'watching',
      states: {
        // The election timer runs from the last contact with the leader.
        watching: {
          after: {
            electionTimeout: [
              { guard: 'heardFromLeader', target: '#raftRole.follower', reenter: true },
              // A learner cannot campaign; one that heard nothing for a whole timeout
              // forgets its leader, which may be gone or may have removed it.
              { guard: 'cannotCampaign', target: '#raftRole.follower', reenter: true, actions: 'forgetLeader' },
              { guard: 'preVoteEnabled', target: '#raftRole.precandidate' },
              { target: '#raftRole.candidate' },
            ],
          },
          on: { LEADER_GONE: { guard: 'leaderIsGone', target: 'leaderGone', actions: 'forgetLeader' } },
        },
        // The leader's process ended: campaign after a short staggered delay
        // rather than a whole election timeout. PreVote still asks the others,
        // who grant only if they too lost the leader (or their lease ran out).
        leaderGone: {
          after: {
            failoverDelay: [
              { guard: 'preVoteEnabled', target: '#raftRole.precandidate' },
              { target: '#raftRole.candidate' },
            ],
          },
          on: {
            // The leader is back (the connection was reset, not its process ended), or another won.
            LEADER_SEEN: { guard: 'termNotBehind', target: 'watching', actions: 'followLeader' },
            // Granted a vote: that candidate is on its way; wait for it as usual.
            VOTED: { guard: 'termNotBehind', target: 'watching', actions: 'recordVote' },
          },
        },
      },
      on: {
        LEADER_SEEN: [
          { guard: 'higherTerm', target: 'follower', reenter: true, actions: 'followLeader' },
          { guard: 'currentTerm', actions: 'recordContact' },
        ],
        TERM_SEEN: { guard: 'higherTerm', target: 'follower', reenter: true, actions: 'adoptTerm' },
        VOTED: { guard: 'termNotBehind', actions: 'recordVote' },
        TIMEOUT_NOW: { guard: 'canCampaign', target: 'candidate' },
      },
    },
    precandidate: {
      entry: ['startPreVote', 'emitPreVote'],
      always: [
        { guard: 'wonVote', target: 'candidate' },
        { guard: 'lostVote', target: 'follower' },
      ],
      after: { electionTimeout: { target: 'precandidate', reenter: true } },
      on: {
        PREVOTE_GRANTED: { guard: 'preVoteTerm', actions: 'countVote' },
        PREVOTE_DENIED: { guard: 'preVoteTerm', actions: 'countDenial' },
        LEADER_SEEN: { guard: 'termNotBehind', target: 'follower', actions: 'followLeader' },
        TERM_SEEN: { guard: 'higherTerm', target: 'follower', actions: 'adoptTerm' },
        VOTED: { guard: 'termNotBehind', target: 'follower', actions: 'recordVote' },
        CONFIG: [{ guard: 'demotedToLearner', target: 'follower', actions: 'setConfig' }, { actions: 'setConfig' }],
      },
    },
    candidate: {
      entry: ['startElection', 'emitElection'],
      always: [
        { guard: 'wonVote', target: 'leader' },
        { guard: 'lostVote', target: 'follower' },
      ],
      after: {
        electionTimeout: [
          { guard: 'preVoteEnabled', target: 'precandidate' },
          { target: 'candidate', reenter: true },
        ],
      },
      on: {
        VOTE_GRANTED: { guard: 'currentTerm', actions: 'countVote' },
        VOTE_DENIED: { guard: 'currentTerm', actions: 'countDenial' },
        LEADER_SEEN: { guard: 'termNotBehind', target: 'follower', actions: 'followLeader' },
        TERM_SEEN: { guard: 'higherTerm', target: 'follower', actions: 'adoptTerm' },
        CONFIG: [{ guard: 'demotedToLearner', target: 'follower', actions: 'setConfig' }, { actions: 'setConfig' }],
      },
    },
    leader: {
      type: 'parallel',
      entry: ['becomeLeader', 'emitBecameLeader'],
      states: {
        heartbeat: {
          initial: 'waiting',
          states: {
            waiting: {
              after: { heartbeatInterval: { target: 'waiting', reenter: true, actions: 'emitHeartbeat' } },
            },
          },
        },
        quorum: {
          initial: 'watching',
          states: {
            watching: {
              after: {
                quorumCheckInterval: [
                  { guard: 'quorumActive', target: 'watching', reenter: true, actions: 'resetActive' },
                  { target: '#raftRole.follower', actions: ['forgetLeader', 'emitLostQuorum'] },
                ],
              },
            },
          },
        },
      },
      on: {
        PEER_ACTIVE: { actions: 'markActive' },
        LEADER_SEEN: { guard: 'higherTerm', target: 'follower', actions: ['followLeader', 'emitHigherTerm'] },
        TERM_SEEN: { guard: 'higherTerm', target: 'follower', actions: ['adoptTerm', 'emitHigherTerm'] },
        STEP_DOWN: { target: 'follower', actions: ['forgetLeader', 'emitRequested'] },
      },
    },
  },
});
