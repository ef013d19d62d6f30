/**
 * The Raft dissertation's extensions as Grey implements them: PreVote and
 * CheckQuorum (§9.6, §6.2), log compaction with InstallSnapshot (§5),
 * single-server membership changes (§4), leadership transfer (§3.10),
 * ReadIndex reads (§6.4) and client sessions (§6.3).
 */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../../actors/raftNode.js';
import { entriesOf, select, termsOf, world, World, PLAIN } from './harness.js';

function followersOf(w: World, leader: string): string[] {
  return w.ids.filter((id) => id !== leader);
}

describe('PreVote (§9.6)', () => {
  it('a partitioned node does not raise its term, and on rejoining does not disturb the leader', () => {
    const w = world(5, { seed: 4 });
    const leader = w.electLeader();
    const term = leader.currentTerm;
    const f = followersOf(w, leader.id)[0];
    w.isolate(f);
    w.run(3_000);
    // It kept trying (PreVote rounds), without ever bumping its term.
    expect(select(w.sent, { from: f, type: 'raft.vote' }).filter((m) => m.payload.preVote).length).toBeGreaterThan(5);
    expect(select(w.sent, { from: f, type: 'raft.vote' }).filter((m) => !m.payload.preVote)).toEqual([]);
    expect(w.node(f).currentTerm).toBe(term);
    w.heal();
    w.run(1_000);
    expect(w.leader()).toBe(leader);
    for (const id of w.ids) expect(w.node(id).status()).toMatchObject({ term, leader: leader.id });
  });

  it('without PreVote (and CheckQuorum) the same rejoin forces a new term and deposes the leader', () => {
    const w = world(5, { seed: 4, options: PLAIN });
    const leader = w.electLeader();
    const term = leader.currentTerm;
    const f = followersOf(w, leader.id)[0];
    w.isolate(f);
    w.run(3_000);
    expect(w.node(f).currentTerm).toBeGreaterThan(term + 5);
    w.heal();
    w.run(1_000);
    expect(w.leader()!.currentTerm).toBeGreaterThan(term);
    expect(leader.currentTerm).toBeGreaterThan(term);
  });
});

describe('CheckQuorum (§6.2)', () => {
  it('a leader that cannot reach a majority steps down within about an election timeout', () => {
    const w = world(3, { seed: 5 });
    const leader = w.electLeader();
    const term = leader.currentTerm;
    w.run(77); // somewhere inside a quorum-check interval
    w.isolate(leader.id);
    const took = w.runUntil(() => !leader.isLeader, 2_000, 'the isolated leader to step down');
    expect(took).toBeLessThanOrEqual(2 * leader.options.electionTimeoutMin);
    expect(leader.status()).toMatchObject({ role: 'follower', term, leader: null });
    // Meanwhile the majority elects a leader of its own.
    const next = w.electLeader();
    expect(next.id).not.toBe(leader.id);
    expect(next.currentTerm).toBeGreaterThan(term);
  });

  it('without CheckQuorum an isolated leader keeps believing it leads', () => {
    const w = world(3, { seed: 5, options: { checkQuorum: false } });
    const leader = w.electLeader();
    w.isolate(leader.id);
    w.run(3_000);
    expect(leader.isLeader).toBe(true);
  });
});

describe('log compaction (§7)', () => {
  it('a follower that was down while the log was compacted catches up through InstallSnapshot', () => {
    const w = world(3, { seed: 6, options: { snapshotThreshold: 5, snapshotKeep: 2 } });
    const leader = w.electLeader();
    const [up, down] = followersOf(w, leader.id);
    w.crash(down);
    const downLast = w.node(down).log.lastIndex;
    for (let i = 1; i <= 20; i++) w.propose(leader.id, `k${i}`);
    expect(leader.commitIndex).toBe(21);
    expect(leader.log.snapshotIndex).toBeGreaterThan(downLast); // what it missed is gone from the leader's log
    expect(w.node(up).log.snapshotIndex).toBeGreaterThan(0);

    const n = w.restart(down);
    w.run(1_000);
    expect(select(w.sent, { from: leader.id, to: down, type: 'raft.snapshot' }).length).toBeGreaterThan(0);
    expect(n.commitIndex).toBe(leader.commitIndex);
    expect(w.sm(down).commands).toEqual(w.sm(leader.id).commands);
    expect(w.sm(down).commands).toHaveLength(20);
    expect(entriesOf(n)).toEqual(entriesOf(leader, n.log.firstIndex));
    expect(n.log.lastIndex).toBe(leader.log.lastIndex);
  });
});

describe('membership changes (§4, one server at a time)', () => {
  it('add a learner, promote it, remove the leader: one change at a time, the removed leader steps down, one leader per term', () => {
    const w = world(3, { seed: 7 });
    const leader = w.electLeader();
    w.add('n4', { bootstrap: null });
    const n4 = w.node('n4');

    // Add n4 as a learner; a second change before it commits is refused.
    leader.changeConfig({ type: 'addLearner', node: 'n4' });
    expect(() => leader.changeConfig({ type: 'promote', node: 'n4' })).toThrow(expect.objectContaining({ code: 'ConfigChangeInProgress' }));
    w.settle();
    expect(leader.config).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    expect(n4.config).toEqual(leader.config);
    w.propose(leader.id, 'x');
    w.run(1_000);
    expect(entriesOf(n4)).toEqual(entriesOf(leader));
    expect(w.sm('n4').commands).toEqual(['x']);
    expect(select(w.sent, { from: 'n4', type: 'raft.vote' })).toEqual([]); // a learner never campaigns

    // Promote: now four voters, quorum three.
    leader.changeConfig({ type: 'promote', node: 'n4' });
    w.settle();
    expect(leader.config).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
    const [a, b] = followersOf(w, leader.id).filter((id) => id !== 'n4');
    w.isolate(a);
    w.isolate(b);
    const { index } = w.propose(leader.id, 'y');
    expect(leader.commitIndex).toBeLessThan(index); // two of four is no majority
    w.heal();
    w.run(200);
    expect(leader.commitIndex).toBeGreaterThanOrEqual(index);

    // Remove the leader itself: it steps down once the change commits, and the others elect a leader.
    const { index: removal } = leader.changeConfig({ type: 'remove', node: leader.id });
    expect(() => leader.changeConfig({ type: 'remove', node: 'n4' })).toThrow(expect.objectContaining({ code: 'ConfigChangeInProgress' }));
    w.settle();
    expect(leader.commitIndex).toBeGreaterThanOrEqual(removal);
    expect(leader.isLeader).toBe(false);
    const next = w.electLeader();
    expect(next.id).not.toBe(leader.id);
    expect(next.config.voters).toEqual(['n1', 'n2', 'n3', 'n4'].filter((id) => id !== leader.id));
    w.run(2_000);
    expect(leader.isLeader).toBe(false);
    expect(select(w.sent, { from: leader.id, type: 'raft.vote' }).filter((m) => m.at > w.kernel.now() - 2_000)).toEqual([]);
    for (const [, leaders] of w.leadersByTerm()) expect(leaders).toHaveLength(1);
  });

  it('a configuration change is refused while the previous one is uncommitted, and accepted once it commits', () => {
    const w = world(3, { seed: 8 });
    const leader = w.electLeader();
    const slow = w.hold({ from: leader.id, type: 'raft.append' });
    const { index } = leader.changeConfig({ type: 'addLearner', node: 'n9' });
    w.settle();
    expect(leader.config.learners).toEqual(['n9']); // in effect once appended
    expect(leader.commitIndex).toBeLessThan(index);
    let err: unknown;
    try {
      leader.changeConfig({ type: 'addLearner', node: 'n8' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RaftError);
    expect((err as RaftError).code).toBe('ConfigChangeInProgress');
    slow.remove();
    w.settle();
    expect(leader.commitIndex).toBeGreaterThanOrEqual(index);
    expect(() => leader.changeConfig({ type: 'addLearner', node: 'n8' })).not.toThrow();
    w.settle();
    expect(leader.config).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n8', 'n9'] });
  });
});

describe('leadership transfer (§3.10)', () => {
  it('transferLeadership(target) makes the target leader in the next term; proposals meanwhile are refused', () => {
    const w = world(3, { seed: 9 });
    const leader = w.electLeader();
    const term = leader.currentTerm;
    const target = followersOf(w, leader.id)[1];
    w.propose(leader.id, 'x');
    leader.transferLeadership(target);
    expect(() => leader.propose('y')).toThrow(expect.objectContaining({ code: 'TransferInProgress', leaderHint: target }));
    w.settle();
    const t = w.node(target);
    expect(t.status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(leader.status()).toMatchObject({ role: 'follower', term: term + 1, leader: target });
    expect(select(w.sent, { from: leader.id, to: target, type: 'raft.timeoutNow' })).toHaveLength(1);
    w.propose(target, 'y');
    w.run(100);
    for (const id of w.ids) expect(w.sm(id).commands).toEqual(['x', 'y']);
  });

  it('a lagging target is first brought up to date, then told to campaign', () => {
    const w = world(3, { seed: 10 });
    const leader = w.electLeader();
    const target = followersOf(w, leader.id)[0];
    const slow = w.hold({ from: leader.id, to: target, type: 'raft.append' });
    for (const c of ['a', 'b', 'c']) w.propose(leader.id, c);
    expect(w.node(target).log.lastIndex).toBeLessThan(leader.log.lastIndex);
    leader.transferLeadership(target);
    w.settle();
    expect(select(w.sent, { type: 'raft.timeoutNow' })).toEqual([]); // not while it lags
    slow.remove();
    w.settle();
    expect(select(w.sent, { from: leader.id, to: target, type: 'raft.timeoutNow' })).toHaveLength(1);
    expect(w.node(target).isLeader).toBe(true);
    expect(termsOf(w.node(target)).length).toBeGreaterThanOrEqual(5);
  });
});
