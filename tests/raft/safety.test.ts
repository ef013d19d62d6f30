/**
 * Safety (Raft paper §5.4, Figure 3, Figure 8), in the manner of etcd's
 * raft_paper_test.go, plus a randomized run checking the Figure 3
 * properties under message loss, partitions and crashes.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../system/random.js';
import { PLAIN, World, termsOf, type Msg } from './harness.js';

describe('§5.4.2 committing entries from previous terms', () => {
  // etcd's TestLeaderOnlyCommitsLogFromCurrentTerm: leader log [1@1, 2@2], elected in term 3 (noop at 3).
  const table = [
    { match: 1, commit: 0 },
    { match: 2, commit: 0 },
    { match: 3, commit: 3 },
  ];
  it.each(table)('a leader commits by counting replicas only entries of its own term: a follower matching $match → commit $commit', ({ match, commit }) => {
    const w = new World({ ids: ['n1', 'n2', 'n3'], nodes: ['n1'], options: PLAIN, specs: { n1: { log: [1, 2], term: 2 } } });
    const n1 = w.node('n1');
    w.runUntil(() => n1.currentRole === 'candidate', 1_000);
    w.send('n2', 'n1', 'raft.voteResponse', { term: 3, granted: true, preVote: false });
    w.settle();
    expect(n1.status()).toMatchObject({ role: 'leader', term: 3, lastIndex: 3 });
    w.send('n2', 'n1', 'raft.appendResponse', { term: 3, success: true, match, conflictIndex: 0, conflictTerm: 0, lastIndex: match, readRound: 0 });
    expect(n1.progressOf('n2')!.match).toBe(match);
    expect(n1.commitIndex).toBe(commit);
  });

  /**
   * Figure 8 at (c): S1, leader of term 2, replicated index 2 to S2 and
   * crashed; S5 led term 3 with index 2 of term 3 and crashed; S1 restarts
   * and is elected in term 4 (its noop of term 4 at index 3). One entry per
   * AppendEntries, and the network is slow to carry the term-4 entry, so
   * index 2 reaches S3 and S4 before index 3 reaches anyone.
   */
  function figure8c(): { w: World; slow: { remove(): void } } {
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    const w = new World({
      ids,
      options: { ...PLAIN, maxBatch: 1 },
      specs: {
        s1: { log: [1, 2], term: 3 },
        s2: { log: [1, 2], term: 2 },
        s3: { log: [1], term: 3, votedFor: 's5' },
        s4: { log: [1], term: 3, votedFor: 's5' },
        s5: { log: [1, 3], term: 3, votedFor: 's5' },
      },
    });
    w.crash('s5');
    const carriesTerm4 = (m: Msg) => m.type === 'raft.append' && m.payload.entries.some((e) => !(e instanceof Uint8Array) && e.term === 4);
    const slow = w.hold((m) => carriesTerm4(m) && m.to !== 's1' && w.node(m.to).log.term((m as Extract<Msg, { type: 'raft.append' }>).payload.prevIndex) !== undefined);
    w.campaign('s1');
    const s1 = w.node('s1');
    expect(s1.status()).toMatchObject({ role: 'leader', term: 4 });
    expect(termsOf(s1)).toEqual([1, 2, 4]);
    for (const id of ['s2', 's3', 's4']) expect(termsOf(w.node(id))).toEqual([1, 2]);
    return { w, slow };
  }

  it('Figure 8 (c)→(d): an old-term entry on a majority is not committed by counting — and could indeed still be overwritten', () => {
    const { w } = figure8c();
    const s1 = w.node('s1');
    // The leader knows index 2 is on s1, s3 and s4: a majority of five...
    expect([s1.progressOf('s3')!.match, s1.progressOf('s4')!.match]).toEqual([2, 2]);
    // ...and still does not commit it.
    expect(s1.commitIndex).toBeLessThan(2);
    expect(w.sm('s1').applied).toEqual([]);

    // (d) Why: s1 crashes, s5 comes back and wins term 5 with the votes of s2, s3, s4 (its last term, 3, beats their 2).
    w.crash('s1');
    w.take({ from: 's1' });
    w.restart('s5');
    const s5 = w.node('s5');
    w.campaign('s5'); // term 4: they already voted in term 4
    w.campaign('s5'); // term 5
    expect(s5.status()).toMatchObject({ role: 'leader', term: 5 });
    for (const id of ['s2', 's3', 's4']) expect(termsOf(w.node(id))).toEqual([1, 3, 5]);
    expect(s5.commitIndex).toBe(3);
  });

  it('Figure 8 (c)→(e): once an entry of the current term is on a majority it commits, with everything before it, and can no longer be lost', () => {
    const { w, slow } = figure8c();
    const s1 = w.node('s1');
    expect(s1.commitIndex).toBeLessThan(2);
    slow.remove();
    w.settle();
    expect(s1.commitIndex).toBe(3);
    expect(w.sm('s1').applied.map((a) => [a.index, a.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    // s1 crashes; s5 cannot win: a majority holds a log more up to date than its own.
    w.crash('s1');
    w.take({ from: 's1' });
    w.restart('s5');
    const s5 = w.node('s5');
    for (let i = 0; i < 3; i++) w.campaign('s5');
    expect(s5.isLeader).toBe(false);
    for (const id of ['s2', 's3', 's4']) expect(termsOf(w.node(id))).toEqual([1, 2, 4]);
  });
});

describe('Figure 3 safety properties under faults', () => {
  /**
   * A randomized run: five nodes with PreVote and CheckQuorum, 10% message
   * loss, nodes isolated, healed, crashed and restarted, a stream of
   * proposals to whoever leads. Checked throughout: Election Safety (the
   * harness throws on two leaders in a term), Log Matching, Leader
   * Completeness and State Machine Safety.
   */
  function chaos(seed: number): { applied: number; leaders: number } {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const w = new World({ ids, seed });
    const rng = new Random(seed * 7919);
    w.drop(() => rng.chance(0.1));
    let proposals = 0;
    const check = () => {
      const live = w.live().map((n) => n.raft);
      // State Machine Safety: no two servers apply different commands at an index.
      const byIndex = new Map<number, unknown>();
      for (const n of w.live()) {
        for (const a of n.sm.applied) {
          const seen = byIndex.get(a.index);
          if (seen === undefined) byIndex.set(a.index, a.command);
          else if (seen !== a.command) expect(a.command, `${n.id} applied at ${a.index}`).toEqual(seen);
        }
      }
      // Log Matching: same index and term ⇒ same entry, and same prefix.
      for (let i = 0; i < live.length; i++) {
        for (let j = i + 1; j < live.length; j++) {
          const a = live[i];
          const b = live[j];
          const last = Math.min(a.log.lastIndex, b.log.lastIndex);
          let k = last;
          while (k > 0 && (a.log.term(k) === undefined || a.log.term(k) !== b.log.term(k))) k--;
          for (let x = Math.max(a.log.firstIndex, b.log.firstIndex); x <= k; x++) {
            if (JSON.stringify(a.log.entry(x)) !== JSON.stringify(b.log.entry(x))) expect(a.log.entry(x), `${a.id} vs ${b.id} at ${x}`).toEqual(b.log.entry(x));
          }
        }
      }
      // Leader Completeness: the newest leader holds every entry any server applied.
      const maxTerm = Math.max(...live.map((n) => n.currentTerm));
      const leader = live.find((n) => n.isLeader && n.currentTerm === maxTerm);
      if (leader) {
        for (const [index, command] of byIndex) {
          if (index <= leader.log.snapshotIndex) continue;
          const p = leader.log.entry(index)?.payload;
          if (p?.kind !== 'command' || p.command !== command) expect(p, `leader ${leader.id}, entry ${index}`).toEqual({ kind: 'command', command });
        }
      }
    };
    for (let step = 0; step < 80; step++) {
      const roll = rng.float();
      const id = rng.pick(ids);
      if (roll < 0.1 && w.live().length > 3) w.crash(rng.float() < 0.5 ? (w.leader()?.id ?? id) : id);
      else if (roll < 0.2) {
        for (const n of w.nodes.values()) if (!n.up) w.restart(n.id);
      } else if (roll < 0.3) w.isolate(id);
      else if (roll < 0.4) w.isolate(w.leader()?.id ?? id);
      else if (roll < 0.55) {
        w.heal();
        w.drop(() => rng.chance(0.1));
      }
      const leader = w.leader();
      if (leader) {
        try {
          leader.propose(`p${++proposals}`);
        } catch {
          // NotLeader / TransferInProgress: fine, nothing was appended.
        }
      }
      w.run(rng.int(10, 120));
      check();
    }
    const applied = Math.max(...w.live().map((n) => n.sm.applied.length));
    return { applied, leaders: w.leadersByTerm().size };
  }

  it('Election Safety, Log Matching, Leader Completeness and State Machine Safety hold through loss, partitions and crashes', () => {
    let applied = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = chaos(seed);
      applied += r.applied;
      expect(r.leaders).toBeGreaterThan(0);
    }
    expect(applied).toBeGreaterThan(30); // the runs did make progress
  });
});
