/**
 * The configuration rules Grey's single-server membership changes rely on
 * (dissertation §4.1 and its errata), one test per rule, and the hand-built
 * schedule that breaks single-server changes when a new leader reconfigures
 * before committing an entry of its own term (Ongaro, raft-dev, 2015).
 */
import { describe, expect, it } from 'vitest';
import { RaftError } from '../../actors/raftNode.js';
import type { RaftConfig } from '../../actors/raftTypes.js';
import { select, World } from './harness.js';

const S = ['s1', 's2', 's3', 's4', 's5'];

/** Five nodes founded as voters s1–s4 and learner s5. */
function fourVotersAndALearner(seed: number): World {
  const founding: RaftConfig = { voters: ['s1', 's2', 's3', 's4'], learners: ['s5'] };
  return new World({ ids: S, seed, specs: Object.fromEntries(S.map((id) => [id, { bootstrap: founding }])) });
}

/**
 * s1 leads term 1, commits its no-op with everyone, then appends "promote
 * s5", which only s5 receives; then s1 is cut off. The stale configuration
 * change of a deposed leader, as the errata schedule needs it.
 */
function staleChangeOnlyS5Holds(w: World): void {
  w.campaign('s1');
  const s1 = w.node('s1');
  expect(s1.isLeader).toBe(true);
  expect(s1.commitIndex).toBe(1);
  const onlyToS5 = w.drop((m) => m.from === 's1' && m.type === 'raft.append' && m.to !== 's5');
  s1.changeConfig({ type: 'promote', node: 's5' });
  w.settle();
  expect(w.node('s5').config.voters).toContain('s5');
  expect(w.node('s2').config.voters).not.toContain('s5');
  onlyToS5.remove();
  w.isolate('s1');
}

/** Indexes at which two nodes have committed different entries (State Machine Safety says none). */
function committedConflicts(w: World): string[] {
  const out: string[] = [];
  const nodes = [...w.nodes.values()].map((n) => n.raft);
  for (const a of nodes) {
    for (const b of nodes) {
      if (a.id >= b.id) continue;
      const from = Math.max(a.log.firstIndex, b.log.firstIndex);
      const to = Math.min(a.commitIndex, b.commitIndex);
      for (let i = from; i <= to; i++) {
        const ta = a.log.term(i);
        const tb = b.log.term(i);
        if (ta !== undefined && tb !== undefined && ta !== tb) out.push(`index ${i}: ${a.id} committed term ${ta}, ${b.id} committed term ${tb}`);
      }
    }
  }
  return out;
}

/** The error code a call throws, or null when it does not throw. */
function refusal(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof RaftError) return err.code;
    throw err;
  }
}

describe('configuration changes: the rules Grey relies on', () => {
  it('a new leader may not change the configuration before it has committed an entry of its own term (the single-server errata schedule stays safe)', () => {
    const w = fourVotersAndALearner(21);
    staleChangeOnlyS5Holds(w);

    // s2 wins term 2 with s3 and s4; its no-op reaches nobody yet.
    const held = w.hold({ from: 's2', type: 'raft.append' });
    w.campaign('s2');
    const s2 = w.node('s2');
    expect(s2.isLeader).toBe(true);
    expect(s2.currentTerm).toBe(2);
    expect(s2.committedOwnTerm).toBe(false);

    // Before its no-op commits, s2 tries to remove s1.
    const refused = refusal(() => s2.changeConfig({ type: 'remove', node: 's1' }));

    // The adversary goes on either way: s2 and s3 commit whatever s2's
    // configuration allows (nothing else hears from s2), then s1 returns
    // and campaigns with s4 and s5.
    held.remove();
    const onlyToS3 = w.hold((m) => m.from === 's2' && m.to !== 's3');
    w.settle();
    w.heal();
    onlyToS3.remove();
    w.isolate('s2');
    w.isolate('s3');
    // s1 comes back (a restart: it kept its log, "promote s5" included).
    w.crash('s1');
    w.restart('s1');
    w.campaign('s1'); // term 2: s4 already voted in it, s5 grants
    w.run(1_000); // s1 times out and tries again in term 3

    // No index holds two different committed entries…
    expect(committedConflicts(w)).toEqual([]);
    // …because the change was refused until s2 commits an entry of term 2.
    expect(refused).toBe('LeaderNotReady');
  });

  it('once the new leader commits its no-op the change is allowed, and the removed stale leader can no longer win', () => {
    const w = fourVotersAndALearner(22);
    staleChangeOnlyS5Holds(w);

    w.campaign('s2');
    const s2 = w.node('s2');
    expect(s2.committedOwnTerm).toBe(true); // s2, s3, s4: a majority of the four voters
    expect(refusal(() => s2.changeConfig({ type: 'remove', node: 's1' }))).toBeNull();
    w.settle();
    expect(s2.config.voters).toEqual(['s2', 's3', 's4']);

    w.heal();
    w.isolate('s2');
    w.isolate('s3');
    w.crash('s1');
    w.restart('s1');
    w.campaign('s1');
    w.run(1_000);
    // s4 holds term 2's entries, so it refuses the stale s1: one vote (s5) is not enough.
    expect(w.node('s1').isLeader).toBe(false);
    expect(committedConflicts(w)).toEqual([]);
  });

  it('a configuration takes effect on every node the moment it is appended, before it commits', () => {
    const w = fourVotersAndALearner(23);
    w.campaign('s1');
    const s1 = w.node('s1');
    // Hold s1's appends to s2 only: s3 and s4 receive the change, nobody acknowledges the commit to s2.
    const slow = w.hold({ from: 's1', to: 's2', type: 'raft.append' });
    const { index } = s1.changeConfig({ type: 'promote', node: 's5' });
    expect(s1.config.voters).toContain('s5'); // the leader, at once
    w.settle();
    expect(w.node('s3').config.voters).toContain('s5'); // a follower, on append
    expect(w.node('s2').config.voters).not.toContain('s5'); // not yet received
    expect(w.node('s3').commitIndex).toBeLessThanOrEqual(index);
    slow.remove();
    w.settle();
    expect(w.node('s2').config.voters).toContain('s5');
  });

  it('a configuration entry that is truncated away takes its configuration with it', () => {
    const w = fourVotersAndALearner(24);
    staleChangeOnlyS5Holds(w);
    const s5 = w.node('s5');
    // s2 leads term 2 without the change and overwrites s5's uncommitted entry.
    w.campaign('s2');
    w.settle();
    expect(s5.log.term(2)).toBe(2);
    expect(s5.config).toEqual({ voters: ['s1', 's2', 's3', 's4'], learners: ['s5'] });
  });

  it('a learner receives the log but never votes and never counts towards a quorum', () => {
    const w = fourVotersAndALearner(25);
    w.campaign('s1');
    const s1 = w.node('s1');
    // Two voters away: s1 and s5 are two of five nodes, but only one of the four voters… plus s1 itself.
    w.isolate('s3');
    w.isolate('s4');
    const { index } = s1.propose('x');
    w.settle();
    expect(w.node('s5').log.lastIndex).toBe(index); // the learner has it
    expect(s1.commitIndex).toBeLessThan(index); // s1 + s2 are 2 of 4 voters: no quorum, learner or not
    // The learner is never asked for a vote and never campaigns.
    w.heal();
    w.run(3_000);
    expect(select(w.sent, { to: 's5', type: 'raft.vote' })).toEqual([]);
    expect(select(w.sent, { from: 's5', type: 'raft.vote' })).toEqual([]);
    expect(s1.commitIndex).toBeGreaterThanOrEqual(index);
  });

  it('a node outside the configuration never campaigns, however long it hears nothing', () => {
    const inside: RaftConfig = { voters: ['s1', 's2', 's3', 's4'], learners: [] };
    const w = new World({ ids: S, seed: 26, specs: Object.fromEntries(S.map((id) => [id, { bootstrap: inside }])) });
    w.campaign('s1');
    w.isolate('s5');
    w.run(5_000);
    expect(select(w.sent, { from: 's5', type: 'raft.vote' })).toEqual([]);
    expect(w.node('s5').currentRole).toBe('follower');
    expect(w.node('s5').currentTerm).toBe(0);
  });

  it('a snapshot carries the configuration as of its index, and a node that installs it adopts that configuration', () => {
    const w = fourVotersAndALearner(27);
    w.campaign('s1');
    const s1 = w.node('s1');
    w.isolate('s5');
    s1.changeConfig({ type: 'remove', node: 's4' });
    w.settle();
    for (let i = 0; i < 5; i++) w.propose('s1', `c${i}`);
    const snap = s1.takeSnapshot()!;
    expect(snap.config).toEqual({ voters: ['s1', 's2', 's3'], learners: ['s5'] });
    w.heal();
    w.run(1_000);
    const s5 = w.node('s5');
    expect(s5.config).toEqual(snap.config);
    expect(s5.commitIndex).toBe(s1.commitIndex);
  });
});

describe('ReadIndex (§6.4): a new leader serves reads only once it knows what is committed', () => {
  it('a new leader whose no-op has not committed holds a read back, so the read still sees a write acknowledged by the old leader', () => {
    const w = new World({ ids: ['n1', 'n2', 'n3'], seed: 31 });
    w.campaign('n1');
    const n1 = w.node('n1');
    // n1 commits "x" with n2's help, but the commit notice never reaches n2 or n3.
    w.isolate('n3');
    const noCommitNotice = w.drop((m) => m.from === 'n1' && m.type === 'raft.append' && m.payload.entries.length === 0);
    const { index: written } = w.propose('n1', 'x');
    expect(n1.commitIndex).toBe(written); // acknowledged to the client here
    expect(w.node('n2').commitIndex).toBeLessThan(written);
    noCommitNotice.remove();

    // n1 goes away; n2 wins term 2 with n3, and its no-op is held back.
    w.crash('n1');
    w.heal();
    const held = w.hold({ from: 'n2', type: 'raft.append', to: 'n3' });
    w.campaign('n2');
    const n2 = w.node('n2');
    expect(n2.isLeader).toBe(true);
    expect(n2.commitIndex).toBeLessThan(written); // it does not know "x" is committed

    let served: number | null = null;
    n2.readIndex((err, index) => {
      if (!err) served = index;
    });
    // Heartbeats may confirm leadership, but the read must wait for the no-op.
    const beats = w.hold({ from: 'n2', to: 'n3' });
    held.remove();
    beats.remove();
    const heartbeatsOnly = w.hold((m) => m.from === 'n2' && m.type === 'raft.append' && m.payload.entries.length > 0);
    w.run(200);
    expect(served === null || served >= written).toBe(true);
    heartbeatsOnly.remove();
    w.run(200);
    expect(served).not.toBeNull();
    expect(served!).toBeGreaterThanOrEqual(written);
  });
});
