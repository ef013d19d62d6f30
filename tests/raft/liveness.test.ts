/**
 * Liveness under message loss: every state of the replication progress
 * chart has a way out when the message it waits for is lost.
 */
import { describe, expect, it } from 'vitest';
import { world } from './harness.js';

describe('replication progress gets out of every state when a message is lost', () => {
  it('a follower whose last known match lies inside the leader snapshot is probed again after the probe is lost', () => {
    const w = world(3, { seed: 41, options: { snapshotThreshold: 20, snapshotKeep: 5 } });
    w.campaign('n1');
    for (let i = 0; i < 30; i++) w.propose('n1', `a${i}`);
    w.run(200);
    // n3 falls behind; n2 takes over, knowing nothing of n3 (match 0), with a compacted log.
    w.isolate('n3');
    for (let i = 0; i < 3; i++) w.propose('n1', `b${i}`);
    w.campaign('n2');
    const leader = w.node('n2');
    expect(leader.isLeader).toBe(true);
    w.run(1_000); // the one probe to n3 is lost; heartbeats follow
    const pr = leader.progressOf('n3')!;
    expect(pr.state).toBe('probe');
    expect(pr.match).toBe(0);
    expect(leader.log.term(pr.match)).toBeUndefined(); // no heartbeat can carry a consistency check
    w.heal();
    w.runUntil(() => w.node('n3').commitIndex === leader.commitIndex, 2_000, 'n3 caught up');
    expect(w.node('n3').lastApplied).toBe(leader.lastApplied);
  });

  it('a snapshot that is lost is sent again', () => {
    const w = world(3, { seed: 42, options: { snapshotThreshold: 20, snapshotKeep: 0 } });
    const leader = w.electLeader();
    const lagging = w.ids.find((id) => id !== leader.id)!;
    w.isolate(lagging);
    for (let i = 0; i < 60; i++) w.propose(leader.id, `c${i}`);
    w.heal();
    const lost = w.drop({ from: leader.id, to: lagging, type: 'raft.snapshot' });
    w.run(500);
    expect(w.dropped.some((m) => m.type === 'raft.snapshot' && m.to === lagging)).toBe(true);
    lost.remove();
    w.runUntil(() => w.node(lagging).commitIndex === leader.commitIndex, 2_000, 'the lagging follower caught up');
  });
});

describe('a learner does not wait forever on a leader that is gone', () => {
  it('a learner that hears nothing from its leader for an election timeout forgets it, and learns the next one', () => {
    const config = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };
    const w = world(4, { seed: 7, specs: Object.fromEntries(['n1', 'n2', 'n3', 'n4'].map((id) => [id, { bootstrap: config }])) });
    w.campaign('n1');
    w.run(100);
    const learner = w.node('n4');
    expect(learner.leader).toBe('n1');
    // The leader goes silent for the learner (gone, or removed it without telling): a learner never campaigns, so only a timeout can tell it.
    w.isolate('n4');
    w.run(1_000);
    expect(learner.currentRole).toBe('follower');
    expect(learner.leader).toBeNull();
    w.heal();
    w.campaign('n2');
    w.run(200);
    expect(learner.leader).toBe('n2');
  });
});
