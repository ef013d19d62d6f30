/**
 * Leader election (Raft paper §5.1, §5.2, §5.4.1), one test per claim, in the
 * manner of etcd's raft_paper_test.go. Claims about the algorithm as
 * published run with PreVote and CheckQuorum off (`PLAIN`).
 */
import { describe, expect, it } from 'vitest';
import type { RaftOptions } from '../../actors/raftNode.js';
import type { RaftMessageType, RaftMessages } from '../../actors/raftTypes.js';
import { PLAIN, World, select, world, type Msg } from './harness.js';

/** A world where only `n1` is real; its peers are phantoms whose mail the test reads and answers. */
function lone(n = 3, options: Partial<RaftOptions> = PLAIN, spec: ConstructorParameters<typeof World>[0]['specs'] = {}): World {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  return new World({ ids, nodes: ['n1'], options, specs: spec });
}

function becomeCandidate(w: World, id = 'n1'): void {
  w.runUntil(() => w.node(id).currentRole === 'candidate', 1_000, `${id} a candidate`);
}

/** Makes n1 a candidate, then grants it votes from phantom peers until it leads. */
function becomeLeader(w: World, voters: string[]): void {
  becomeCandidate(w);
  const n1 = w.node('n1');
  for (const v of voters) {
    if (n1.isLeader) break;
    w.send(v, 'n1', 'raft.voteResponse', { term: n1.currentTerm, granted: true, preVote: false });
  }
  w.settle();
  expect(n1.isLeader).toBe(true);
}

function voteRequest(term: number, candidate: string, lastIndex: number, lastTerm: number, preVote = false): RaftMessages['raft.vote'] {
  return { term, candidate, lastIndex, lastTerm, preVote, transfer: false };
}

describe('§5.1 terms', () => {
  type Role = 'follower' | 'candidate' | 'leader';
  const messages: Array<{ type: RaftMessageType; payload: (term: number) => unknown; leader: string | null }> = [
    { type: 'raft.append', payload: (term) => ({ term, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: [], commit: 0, readRound: 0 }), leader: 'n2' },
    { type: 'raft.vote', payload: (term) => voteRequest(term, 'n2', 0, 0), leader: null },
    { type: 'raft.appendResponse', payload: (term) => ({ term, success: false, match: 0, conflictIndex: 0, conflictTerm: 0, lastIndex: 0, readRound: 0 }), leader: null },
    { type: 'raft.voteResponse', payload: (term) => ({ term, granted: false, preVote: false }), leader: null },
  ];
  const cases = (['follower', 'candidate', 'leader'] as Role[]).flatMap((role) => messages.map((m) => ({ role, ...m })));

  it.each(cases)('a $role that sees $type with a higher term adopts the term and becomes a follower (§5.1)', ({ role, type, payload, leader }) => {
    const w = lone(3);
    const n1 = w.node('n1');
    if (role === 'candidate') becomeCandidate(w);
    if (role === 'leader') becomeLeader(w, ['n2']);
    expect(n1.currentRole).toBe(role);
    w.send('n2', 'n1', type, payload(2) as never);
    expect(n1.currentRole).toBe('follower');
    expect(n1.currentTerm).toBe(2);
    expect(n1.leader).toBe(leader);
    // The new term is durable, with no vote in it yet (unless this was a vote request it granted).
    expect(w.storage('n1').load().hardState.term).toBe(2);
  });

  it('a request with a stale term is rejected and answered with the current term (§5.1)', () => {
    const w = lone(3, PLAIN, { n1: { log: [1, 2], term: 3 } });
    const n1 = w.node('n1');
    w.send('n2', 'n1', 'raft.append', { term: 2, leader: 'n2', prevIndex: 2, prevTerm: 2, entries: [{ index: 3, term: 2, payload: { kind: 'noop' } }], commit: 3, readRound: 0 });
    w.send('n2', 'n1', 'raft.vote', voteRequest(2, 'n2', 9, 2));
    w.send('n2', 'n1', 'raft.snapshot', { term: 2, leader: 'n2', snapshot: { index: 5, term: 2, config: { voters: ['n1', 'n2', 'n3'], learners: [] }, data: [] } });
    const [appendReply, voteReply, snapReply] = w.take({ to: 'n2' }) as Msg[];
    expect(appendReply).toMatchObject({ type: 'raft.appendResponse', payload: { term: 3, success: false } });
    expect(voteReply).toMatchObject({ type: 'raft.voteResponse', payload: { term: 3, granted: false } });
    expect(snapReply).toMatchObject({ type: 'raft.appendResponse', payload: { term: 3, success: false } });
    // Nothing of the stale leader was taken.
    expect(n1.status()).toMatchObject({ term: 3, votedFor: null, leader: null, lastIndex: 2, commitIndex: 0, snapshotIndex: 0 });
  });

  it('a stale vote response does not count towards an election (§5.1)', () => {
    const w = lone(3, PLAIN, { n1: { term: 1 } });
    becomeCandidate(w); // term 2
    const n1 = w.node('n1');
    expect(n1.currentTerm).toBe(2);
    w.send('n2', 'n1', 'raft.voteResponse', { term: 1, granted: true, preVote: false });
    expect(n1.currentRole).toBe('candidate');
    w.send('n3', 'n1', 'raft.voteResponse', { term: 2, granted: true, preVote: false });
    expect(n1.currentRole).toBe('leader');
  });
});

describe('§5.2 leader election', () => {
  it('a server starts as a follower, and stays one while the election timeout runs', () => {
    const w = lone(3, {}, { n1: { log: [1, 3], term: 5, votedFor: 'n2' } });
    const fresh = new World({ ids: ['a', 'b', 'c'], nodes: ['a'] });
    expect(fresh.node('a').status()).toMatchObject({ role: 'follower', term: 0, leader: null, votedFor: null });
    expect(w.node('n1').status()).toMatchObject({ role: 'follower', term: 5, votedFor: 'n2', leader: null });
    w.run(w.node('n1').options.electionTimeoutMin - 1);
    fresh.run(fresh.node('a').options.electionTimeoutMin - 1);
    expect(w.node('n1').currentRole).toBe('follower');
    expect(fresh.node('a').currentRole).toBe('follower');
    expect(w.sent).toEqual([]);
  });

  it('a leader sends empty AppendEntries (heartbeats) to every peer each heartbeat interval', () => {
    const w = lone(3);
    becomeLeader(w, ['n2']);
    const n1 = w.node('n1');
    w.take(); // the new leader's first appends
    const t0 = w.kernel.now();
    const hb = n1.options.heartbeatMs;
    w.run(3 * hb);
    const sent = select(w.sent, { from: 'n1', type: 'raft.append' }).filter((m) => m.at > t0);
    for (const peer of ['n2', 'n3']) {
      const beats = sent.filter((m) => m.to === peer);
      expect(beats.map((m) => m.at - t0)).toEqual([hb, 2 * hb, 3 * hb]);
      for (const m of beats) expect(m.payload).toMatchObject({ term: n1.currentTerm, leader: 'n1', entries: [] });
    }
    expect(sent).toHaveLength(6);
  });

  it('a follower that hears nothing for an election timeout starts an election: new term, self-vote, RequestVote to every peer', () => {
    const w = lone(3, PLAIN, { n1: { log: [1, 1, 2], term: 2 } });
    becomeCandidate(w);
    const n1 = w.node('n1');
    expect(n1.status()).toMatchObject({ role: 'candidate', term: 3, votedFor: 'n1' });
    expect(w.storage('n1').load().hardState).toEqual({ term: 3, votedFor: 'n1' }); // the self-vote is durable
    const reqs = w.take({ type: 'raft.vote' });
    expect(reqs.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const m of reqs) expect(m.payload).toEqual(voteRequest(3, 'n1', 3, 2));
  });

  it('a candidate that neither wins nor loses starts a new election after another timeout', () => {
    const w = lone(5);
    becomeCandidate(w);
    const n1 = w.node('n1');
    w.send('n2', 'n1', 'raft.voteResponse', { term: 1, granted: true, preVote: false });
    w.send('n3', 'n1', 'raft.voteResponse', { term: 1, granted: false, preVote: false });
    w.take();
    w.runUntil(() => n1.currentTerm === 2, 1_000, 'a second election');
    expect(n1.status()).toMatchObject({ role: 'candidate', term: 2, votedFor: 'n1' });
    expect(select(w.take({ type: 'raft.vote' }), {}).map((m) => [m.to, m.payload.term])).toEqual([
      ['n2', 2],
      ['n3', 2],
      ['n4', 2],
      ['n5', 2],
    ]);
  });

  // etcd's TestLeaderElectionInOneRoundRPC.
  const oneRound: Array<{ size: number; votes: Record<string, boolean>; role: string }> = [
    { size: 1, votes: {}, role: 'leader' },
    { size: 3, votes: { n2: true, n3: true }, role: 'leader' },
    { size: 3, votes: { n2: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true, n4: true, n5: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true, n4: true }, role: 'leader' },
    { size: 5, votes: { n2: true, n3: true }, role: 'leader' },
    { size: 5, votes: { n2: false, n3: true, n4: false, n5: true }, role: 'leader' },
    // A majority refused: back to follower.
    { size: 3, votes: { n2: false, n3: false }, role: 'follower' },
    { size: 5, votes: { n2: false, n3: false, n4: false }, role: 'follower' },
    { size: 5, votes: { n2: true, n3: false, n4: false, n5: false }, role: 'follower' },
    // Neither: still campaigning.
    { size: 3, votes: {}, role: 'candidate' },
    { size: 5, votes: { n2: true }, role: 'candidate' },
    { size: 5, votes: { n2: false, n3: false }, role: 'candidate' },
    { size: 5, votes: {}, role: 'candidate' },
  ];
  it.each(oneRound)('a candidate with a majority of votes wins in one round: size $size, votes $votes → $role', ({ size, votes, role }) => {
    const w = lone(size);
    const n1 = w.node('n1');
    w.runUntil(() => n1.currentRole !== 'follower', 1_000, 'a campaign');
    expect(select(w.pending, { type: 'raft.vote' })).toHaveLength(size - 1);
    for (const [from, granted] of Object.entries(votes)) w.send(from, 'n1', 'raft.voteResponse', { term: 1, granted, preVote: false });
    expect(n1.currentRole).toBe(role);
    expect(n1.currentTerm).toBe(1);
  });

  it('each server votes for at most one candidate in a term, first come first served', () => {
    // etcd's TestVoter / TestFollowerVote: (voted for, candidate) → granted.
    const table: Array<[string | null, string, boolean]> = [
      [null, 'n2', true],
      [null, 'n3', true],
      ['n2', 'n2', true], // a repeated request from the same candidate
      ['n3', 'n3', true],
      ['n2', 'n3', false],
      ['n3', 'n2', false],
    ];
    for (const [votedFor, candidate, granted] of table) {
      const w = lone(3, PLAIN, { n1: { term: 1, votedFor } });
      w.send(candidate, 'n1', 'raft.vote', voteRequest(1, candidate, 0, 0));
      const [reply] = w.take({ to: candidate, type: 'raft.voteResponse' });
      expect({ votedFor, candidate, granted: reply.payload.granted }).toEqual({ votedFor, candidate, granted });
      expect(reply.payload.term).toBe(1);
      expect(w.node('n1').status().votedFor).toBe(votedFor ?? (granted ? candidate : null));
    }
    // Live: two candidates of the same term ask in turn; only the first gets the vote.
    const w = lone(3, PLAIN, { n1: { term: 1 } });
    w.send('n2', 'n1', 'raft.vote', voteRequest(2, 'n2', 0, 0));
    w.send('n3', 'n1', 'raft.vote', voteRequest(2, 'n3', 0, 0));
    const replies = w.take({ type: 'raft.voteResponse' });
    expect(replies.map((m) => [m.to, m.payload.granted])).toEqual([
      ['n2', true],
      ['n3', false],
    ]);
    expect(w.storage('n1').load().hardState).toEqual({ term: 2, votedFor: 'n2' });
  });

  it('a candidate that receives AppendEntries from a leader of its term or later becomes a follower', () => {
    for (const term of [1, 2]) {
      const w = lone(3);
      becomeCandidate(w);
      const n1 = w.node('n1');
      expect(n1.currentTerm).toBe(1);
      w.send('n2', 'n1', 'raft.append', { term, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: [], commit: 0, readRound: 0 });
      expect(n1.status()).toMatchObject({ role: 'follower', term, leader: 'n2' });
      expect(w.take({ to: 'n2', type: 'raft.appendResponse' })[0].payload).toMatchObject({ term, success: true });
    }
    // From an older term: stays a candidate.
    const w = lone(3, PLAIN, { n1: { term: 1 } });
    becomeCandidate(w);
    w.send('n2', 'n1', 'raft.append', { term: 1, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: [], commit: 0, readRound: 0 });
    expect(w.node('n1').status()).toMatchObject({ role: 'candidate', term: 2 });
  });

  it('election timeouts are randomized across [min, max], for followers and for candidates', () => {
    const follower: number[] = [];
    const candidate: number[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const w = new World({ ids: ['n1', 'n2', 'n3'], nodes: ['n1'], seed, options: PLAIN });
      const n1 = w.node('n1');
      follower.push(w.runUntil(() => n1.currentRole === 'candidate', 1_000));
      candidate.push(w.runUntil(() => n1.currentTerm === 2, 1_000));
    }
    const { electionTimeoutMin: min, electionTimeoutMax: max } = new World({ ids: ['x'] }).node('x').options;
    for (const samples of [follower, candidate]) {
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(min);
      expect(Math.max(...samples)).toBeLessThanOrEqual(max);
      // Spread over the whole range: every tenth of it is hit.
      const buckets = new Set(samples.map((s) => Math.min(9, Math.floor(((s - min) / (max - min)) * 10))));
      expect([...buckets].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('in a typical cluster only one server times out first (randomized timeouts rarely conflict)', () => {
    let conflicts = 0;
    const rounds = 200;
    for (let seed = 1; seed <= rounds; seed++) {
      const w = world(5, { seed, options: PLAIN });
      const nodes = [...w.nodes.values()].map((n) => n.raft);
      // Fire timers, delivering nothing, until someone campaigns; then everything due at that instant.
      while (nodes.every((n) => n.currentRole === 'follower')) w.kernel.step();
      w.advance(0);
      if (nodes.filter((n) => n.currentRole === 'candidate').length > 1) conflicts++;
    }
    expect(conflicts / rounds).toBeLessThanOrEqual(0.1);
  });

  it('dueling candidates (PreVote off) split the vote; a later round elects exactly one leader', () => {
    const w = world(4, { seed: 3, options: PLAIN });
    const nodes = [...w.nodes.values()].map((n) => n.raft);
    while (nodes.filter((n) => n.currentRole === 'candidate').length < 2) w.kernel.step();
    const [a, b] = nodes.filter((n) => n.currentRole === 'candidate');
    const [c, d] = nodes.filter((n) => n.currentRole === 'follower');
    expect([a.currentTerm, b.currentTerm]).toEqual([1, 1]);
    // c hears a first, d hears b first; then everything else in order.
    w.deliver(select(w.pending, { from: a.id, to: c.id, type: 'raft.vote' })[0]);
    w.deliver(select(w.pending, { from: b.id, to: d.id, type: 'raft.vote' })[0]);
    w.settle();
    expect([c.status().votedFor, d.status().votedFor]).toEqual([a.id, b.id]);
    expect(nodes.filter((n) => n.isLeader)).toEqual([]);
    expect([a.currentRole, b.currentRole]).toEqual(['candidate', 'candidate']);

    const leader = w.electLeader();
    expect(leader.currentTerm).toBeGreaterThanOrEqual(2);
    w.run(1_000);
    for (const n of nodes) expect(n.status()).toMatchObject({ term: leader.currentTerm, leader: leader.id });
    expect(w.leadersByTerm().get(1)).toBeUndefined();
    for (const [, leaders] of w.leadersByTerm()) expect(leaders).toHaveLength(1);
  });
});

describe('§5.4.1 election restriction', () => {
  // etcd's TestVoter: the voter's log against the candidate's (lastIndex, lastTerm).
  const table: Array<{ log: number[]; lastIndex: number; lastTerm: number; granted: boolean }> = [
    // Same last term: the longer or equal log wins.
    { log: [1], lastIndex: 1, lastTerm: 1, granted: true },
    { log: [1], lastIndex: 2, lastTerm: 1, granted: true },
    { log: [1, 1], lastIndex: 1, lastTerm: 1, granted: false },
    // A higher last term wins, whatever the length.
    { log: [1], lastIndex: 1, lastTerm: 2, granted: true },
    { log: [1], lastIndex: 2, lastTerm: 2, granted: true },
    { log: [1, 1], lastIndex: 1, lastTerm: 2, granted: true },
    // A lower last term loses, whatever the length.
    { log: [2], lastIndex: 1, lastTerm: 1, granted: false },
    { log: [2], lastIndex: 2, lastTerm: 1, granted: false },
    { log: [1, 2], lastIndex: 5, lastTerm: 1, granted: false },
    { log: [], lastIndex: 0, lastTerm: 0, granted: true },
  ];
  it.each(table)('a voter with log $log grants (pre)votes only to an up-to-date candidate ($lastIndex, $lastTerm) → $granted', ({ log, lastIndex, lastTerm, granted }) => {
    for (const preVote of [false, true]) {
      const w = lone(3, PLAIN, { n1: { log, term: 2 } });
      w.send('n2', 'n1', 'raft.vote', voteRequest(3, 'n2', lastIndex, lastTerm, preVote));
      const [reply] = w.take({ to: 'n2', type: 'raft.voteResponse' });
      expect(reply.payload).toMatchObject({ granted, preVote });
      expect(w.node('n1').status().votedFor).toBe(granted && !preVote ? 'n2' : null);
      expect(w.node('n1').currentTerm).toBe(preVote ? 2 : 3); // a PreVote request changes nothing on the voter
    }
  });
});
