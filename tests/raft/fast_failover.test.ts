/**
 * Fast failover: when a leader's process ends, its peers see its
 * connections close (the simulation models what TCP peers see when the
 * operating system closes a dead process's sockets) and campaign after a
 * short staggered delay instead of a whole election timeout. A partition
 * closes nothing, and a connection reset while the leader lives deposes
 * no one: PreVote asks the other voters, who still hear from it.
 */
import { describe, expect, it } from 'vitest';
import { createCluster, type ClusterOptions } from '../../system/cluster.js';

const HEARTBEAT = 50;
const ELECTION_MIN = 150;

async function steadyCluster(options: Partial<ClusterOptions> = {}) {
  const c = createCluster({ nodes: 3, seed: 7, workerCapacity: null, ...options });
  const leader = await c.waitForLeader(5_000);
  await c.settle();
  await c.run(500); // several heartbeats: every follower knows the leader
  return { c, leader };
}

/** Crashes the leader and returns how long until another node leads, and its term. */
async function failover(c: ReturnType<typeof createCluster>, leaderId: string) {
  const term = c.node(leaderId).raft.currentTerm;
  const t0 = c.kernel.now();
  c.crash(leaderId);
  const took = await c.runUntil(() => c.leader() !== undefined, { within: 5_000, description: 'a new leader' });
  return { took, t0, oldTerm: term, leader: c.leader()! };
}

describe('fast failover on a closed connection', () => {
  it('a crashed leader is replaced within a heartbeat, not an election timeout, in the next term', async () => {
    const { c, leader } = await steadyCluster();
    const { took, oldTerm, leader: next } = await failover(c, leader.id);
    expect(next.id).not.toBe(leader.id);
    expect(took).toBeLessThan(HEARTBEAT);
    expect(next.raft.currentTerm).toBe(oldTerm + 1); // one election, no split vote
    // And it serves: a write commits under the new leader.
    const client = c.client();
    await c.drive(client.submit({ op: 'put', key: 'k', value: 1 }));
  });

  it('without the news of closed connections, the survivors wait out an election timeout', async () => {
    const { c, leader } = await steadyCluster({ crashClosesConnections: false });
    const { took } = await failover(c, leader.id);
    // The last heartbeat came at most one interval before the crash.
    expect(took).toBeGreaterThanOrEqual(ELECTION_MIN - HEARTBEAT);
  });

  it('with fastFailover off, a closed connection changes nothing', async () => {
    const { c, leader } = await steadyCluster({ raft: { fastFailover: false } });
    const { took } = await failover(c, leader.id);
    expect(took).toBeGreaterThanOrEqual(ELECTION_MIN - HEARTBEAT);
  });

  it('with lease reads on it is off: a follower waits out its timeout, so the lease holds', async () => {
    const { c, leader } = await steadyCluster({ raft: { leaseReads: true } });
    const { took } = await failover(c, leader.id);
    expect(took).toBeGreaterThanOrEqual(ELECTION_MIN - HEARTBEAT);
  });

  it('a partitioned leader closes no connection: the majority elects after an election timeout', async () => {
    const { c, leader } = await steadyCluster();
    const t0 = c.kernel.now();
    c.isolate(leader.id);
    await c.runUntil(() => c.upNodes().some((n) => n.id !== leader.id && n.raft.isLeader), { within: 5_000, description: 'a leader in the majority' });
    expect(c.kernel.now() - t0).toBeGreaterThanOrEqual(ELECTION_MIN - HEARTBEAT);
  });

  it('a connection reset at one follower while the leader lives deposes no one (PreVote is refused)', async () => {
    const { c, leader } = await steadyCluster();
    const term = leader.raft.currentTerm;
    const follower = c.upNodes().find((n) => n.id !== leader.id)!;
    follower.peerDisconnected(leader.id);
    await c.run(2_000);
    expect(c.leader()?.id).toBe(leader.id);
    for (const n of c.upNodes()) expect(n.raft.currentTerm).toBe(term);
  });

  it('a follower that hears from the leader again after a reset goes back to watching, and campaigns no more', async () => {
    const { c, leader } = await steadyCluster();
    const term = leader.raft.currentTerm;
    for (const n of c.upNodes()) if (n.id !== leader.id) n.peerDisconnected(leader.id);
    // Both followers saw the reset; the leader's next heartbeat (≤ 50 ms) may come before or after their short delay.
    await c.run(2_000);
    const leaders = c.upNodes().filter((n) => n.raft.isLeader);
    expect(leaders).toHaveLength(1);
    // Whoever leads, the cluster settled in at most one new term and commits.
    expect(leaders[0].raft.currentTerm).toBeLessThanOrEqual(term + 1);
    const client = c.client();
    await c.drive(client.submit({ op: 'put', key: 'k', value: 2 }));
  });

  it('over 40 seeds of five nodes, every crashed leader is replaced within 100 ms and one election', async () => {
    const slow: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const c = createCluster({ nodes: 5, seed, workerCapacity: null });
      const leader = await c.waitForLeader(5_000);
      await c.settle();
      await c.run(300);
      const { took, oldTerm, leader: next } = await failover(c, leader.id);
      if (took >= 100 || next.raft.currentTerm !== oldTerm + 1) slow.push(`seed ${seed}: ${took} ms, term ${oldTerm} → ${next.raft.currentTerm}`);
    }
    expect(slow).toEqual([]);
  });
});
