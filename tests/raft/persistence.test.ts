/**
 * Persistent state (Raft paper Figure 2: "updated on stable storage before
 * responding to RPCs"): what a node promised survives a crash that loses
 * every unsynced write (MemoryStorage.crash('unsynced')).
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessages } from '../../actors/raftTypes.js';
import { PLAIN, World, entriesOf, logOf, termsOf } from './harness.js';

function lone(spec: ConstructorParameters<typeof World>[0]['specs'] = {}): World {
  return new World({ ids: ['n1', 'n2', 'n3'], nodes: ['n1'], options: PLAIN, specs: spec });
}

function voteRequest(term: number, candidate: string): RaftMessages['raft.vote'] {
  return { term, candidate, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false };
}

describe('persistence across crashes', () => {
  it('a granted vote survives a crash, so a node never votes twice in a term across a restart', () => {
    const w = lone();
    w.send('n2', 'n1', 'raft.vote', voteRequest(1, 'n2'));
    expect(w.take({ type: 'raft.voteResponse' })[0].payload.granted).toBe(true);
    w.crash('n1', 'unsynced');
    const n1 = w.restart('n1');
    expect(n1.status()).toMatchObject({ term: 1, votedFor: 'n2', role: 'follower' });
    w.send('n3', 'n1', 'raft.vote', voteRequest(1, 'n3'));
    w.send('n2', 'n1', 'raft.vote', voteRequest(1, 'n2')); // the same candidate again: still yes
    expect(w.take({ type: 'raft.voteResponse' }).map((m) => [m.to, m.payload.granted])).toEqual([
      ['n3', false],
      ['n2', true],
    ]);
  });

  it("a candidate's vote for itself survives a crash: restarted, it refuses other candidates of that term", () => {
    const w = lone();
    w.runUntil(() => w.node('n1').currentRole === 'candidate', 1_000);
    w.crash('n1', 'unsynced');
    const n1 = w.restart('n1');
    expect(n1.status()).toMatchObject({ term: 1, votedFor: 'n1', role: 'follower' });
    w.take();
    w.send('n2', 'n1', 'raft.vote', voteRequest(1, 'n2'));
    expect(w.take({ type: 'raft.voteResponse' })[0].payload).toMatchObject({ term: 1, granted: false });
  });

  it('a term learned from a message survives a crash: a restarted node still rejects the deposed leader', () => {
    const w = lone({ n1: { log: [1], term: 1 } });
    w.send('n3', 'n1', 'raft.append', { term: 5, leader: 'n3', prevIndex: 1, prevTerm: 1, entries: [], commit: 0, readRound: 0 });
    w.crash('n1', 'unsynced');
    const n1 = w.restart('n1');
    expect(n1.currentTerm).toBe(5);
    w.take();
    w.send('n2', 'n1', 'raft.append', { term: 4, leader: 'n2', prevIndex: 1, prevTerm: 1, entries: logOf([1, 4]).slice(1), commit: 2, readRound: 0 });
    expect(w.take({ to: 'n2' })[0].payload).toMatchObject({ term: 5, success: false });
    expect(termsOf(n1)).toEqual([1]);
  });

  it('entries a follower acknowledged survive a crash; those it never acknowledged may not', () => {
    const w = lone();
    w.send('n2', 'n1', 'raft.append', { term: 2, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: logOf([1, 2, 2]), commit: 1, readRound: 0 });
    const [ack] = w.take({ type: 'raft.appendResponse' });
    expect(ack.payload).toMatchObject({ success: true, match: 3 });
    w.crash('n1', 'unsynced');
    const n1 = w.restart('n1');
    expect(entriesOf(n1)).toEqual(logOf([1, 2, 2]));
    expect(n1.status()).toMatchObject({ term: 2, lastIndex: 3, lastTerm: 2 });
    // The commit index is volatile: it comes back from the leader, and with it the applied commands.
    expect(n1.commitIndex).toBe(0);
    w.send('n2', 'n1', 'raft.append', { term: 2, leader: 'n2', prevIndex: 3, prevTerm: 2, entries: [], commit: 3, readRound: 0 });
    expect(w.sm('n1').applied.map((a) => a.index)).toEqual([1, 2, 3]);
  });

  it('a committed entry survives a crash of every server, and is applied once they are back', () => {
    const w = new World({ ids: ['n1', 'n2', 'n3'], options: PLAIN });
    w.campaign('n1');
    const { index } = w.propose('n1', 'x');
    expect(w.node('n1').commitIndex).toBe(index);
    for (const id of w.ids) {
      w.crash(id, 'unsynced');
      expect(w.storage(id).load().entries.map((e) => e.index)).toContain(index);
    }
    for (const id of w.ids) w.restart(id);
    const leader = w.electLeader();
    w.propose(leader.id, 'y');
    w.run(leader.options.heartbeatMs);
    for (const id of w.ids) expect(w.sm(id).commands).toEqual(['x', 'y']);
  });
});
