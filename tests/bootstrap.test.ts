import { describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_QUOTA } from '../actors/clusterState.js';
import { createCluster, createTestCluster } from '../system/cluster.js';
import { settle } from './helpers/settle.js';

/** The seed's cluster bootstrapping workflow (003, section 1). */
describe('Cluster bootstrapping workflow', () => {
  it('test_single_node_bootstrap: a single node becomes leader in term 1 by an ordinary election', async () => {
    const c = createCluster({ nodes: ['n1'], seed: 11 });
    expect(c.node('n1').raft.currentRole).toBe('follower'); // never leader by fiat
    const leader = await c.waitForLeader(1_000);
    expect(leader.id).toBe('n1');
    expect(leader.raft.currentTerm).toBe(1);
    expect(leader.raft.status().votedFor).toBe('n1');
    await settle(c);
    expect(leader.state.member('n1')?.status).toBe('voter');
  });

  it('test_multi_node_cluster_formation: founders elect one leader; joiners are approved into voters', async () => {
    const c = createCluster({ nodes: ['n1', 'n2', 'n3'], seed: 12, bootstrap: 'first', network: { latency: { base: 3, jitter: 1, distribution: 'uniform' } } });
    await c.waitForLeader(1_000);
    const client = c.client();
    for (const n of ['n2', 'n3']) {
      await c.drive(client.submit({ op: 'join', node: n }));
      await c.drive(client.submit({ op: 'approve', node: n }));
    }
    await c.runUntil(() => c.leader()!.raft.config.voters.length === 3, { within: 3_000, description: 'three voters' });
    await settle(c);
    for (const n of c.upNodes()) {
      expect(n.raft.config).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
      expect(n.state.members().map((m) => [m.node, m.status])).toEqual([['n1', 'voter'], ['n2', 'voter'], ['n3', 'voter']]);
    }
    expect(c.upNodes().filter((n) => n.raft.isLeader)).toHaveLength(1);
  });

  it('test_leader_election_mechanics: a majority of persisted votes elects exactly one leader per term', async () => {
    const c = createTestCluster(5, { seed: 13, keepTrace: true });
    const leader = await c.waitForLeader(2_000);
    await c.run(500);
    const events = c.trace!.toJSONL().trim().split('\n').slice(1).map((l) => JSON.parse(l));
    const term = leader.raft.currentTerm;
    const votes = events.filter((e) => e.type === 'vote' && e.term === term && e.votedFor === leader.id);
    expect(votes.length).toBeGreaterThanOrEqual(3); // self-vote included
    const leadersOfTerm = new Set(events.filter((e) => e.type === 'role' && e.role === 'leader' && e.term === term).map((e) => e.node));
    expect([...leadersOfTerm]).toEqual([leader.id]);
    for (const n of c.upNodes()) {
      expect(n.raft.currentTerm).toBe(term);
      expect(n.raft.leader).toBe(leader.id);
    }
  });

  it('test_reject_stale_term_votes: a vote request of an old term is refused with the current term', async () => {
    const c = createTestCluster(3, { seed: 14 });
    const leader = await c.waitForLeader(2_000);
    const follower = c.upNodes().find((n) => n !== leader)!;
    const term = follower.raft.currentTerm;
    const answers: unknown[] = [];
    c.bus.addNode('intruder');
    c.bus.inbox('intruder').subscribe((env) => answers.push(env.payload));
    c.bus.send('intruder', follower.id, 'raft.vote', { term: term - 1, candidate: 'intruder', lastIndex: 99, lastTerm: 99, preVote: false, transfer: false });
    await c.run(50);
    expect(answers).toEqual([{ term, granted: false, preVote: false }]);
    expect(follower.raft.currentTerm).toBe(term);
    expect(follower.raft.status().votedFor).not.toBe('intruder');
  });

  it('test_quota_initialization: the bootstrap entry registers the system and default tenants with quotas on every node, and the quotas are enforced', async () => {
    const c = createTestCluster(3, { seed: 15 });
    await c.waitForLeader(2_000);
    await settle(c);
    for (const n of c.upNodes()) {
      expect(n.state.tenants().map((t) => t.tenant)).toEqual(['system', 'default']);
      for (const t of n.state.tenants()) expect(t.quota).toEqual(DEFAULT_TENANT_QUOTA);
      expect(n.state.tenantStats('default')).toMatchObject({ submitted: 0, live: 0, storedBytes: 0, dominantShare: 0 });
    }
    // The stored quota is the one admission reads: past it, a task is refused on every node alike.
    const client = c.client();
    const err = await c.drive(client.submitTask({ type: 'x', resources: { cpu: DEFAULT_TENANT_QUOTA.maxCpuUnits + 1 } }).accepted.catch((e: unknown) => e));
    expect(err).toMatchObject({ code: 'QuotaExceeded', outcome: 'failed' });
    await settle(c);
    for (const n of c.upNodes()) expect(n.state.tenantStats('default')!.rejected.QuotaExceeded).toBe(1);
  });

  it('test_worker_registration: registered workers and their capacities are replicated to every node', async () => {
    const c = createTestCluster(3, { seed: 16, workerCapacity: null });
    await c.waitForLeader(2_000);
    const client = c.client();
    await c.drive(client.submit({ op: 'registerWorker', worker: 'n2', capacity: { cpu: 4, memoryBytes: 8 * 2 ** 30 } }));
    await c.drive(client.submit({ op: 'registerWorker', worker: 'n3', capacity: { cpu: 8, memoryBytes: 16 * 2 ** 30 } }));
    await settle(c);
    for (const n of c.upNodes()) {
      expect(n.state.workers().map((w) => [w.worker, w.capacity.cpu])).toEqual([['n2', 4], ['n3', 8]]);
    }
  });

  it('test_complete_bootstrap_workflow: create nodes, bootstrap a leader, governance, workers, verify', async () => {
    // 1. Create nodes
    const c = createCluster({ nodes: ['n1', 'n2', 'n3'], seed: 17, bootstrap: 'first', workerCapacity: null, network: { latency: { base: 3, jitter: 1, distribution: 'uniform' } } });
    // 2. Bootstrap leader: n1 alone elects itself in term 1
    const leader = await c.waitForLeader(1_000);
    expect([leader.id, leader.raft.currentRole, leader.raft.currentTerm]).toEqual(['n1', 'leader', 1]);
    const client = c.client();
    for (const n of ['n2', 'n3']) {
      await c.drive(client.submit({ op: 'join', node: n }));
      await c.drive(client.submit({ op: 'approve', node: n }));
    }
    // 3. Governance: the bootstrap tenants exist
    // 4. Register workers
    await c.drive(client.submit({ op: 'registerWorker', worker: 'n2', capacity: { cpu: 4, memoryBytes: 2 ** 33 } }));
    await c.drive(client.submit({ op: 'registerWorker', worker: 'n3', capacity: { cpu: 4, memoryBytes: 2 ** 33 } }));
    await c.runUntil(() => c.leader()?.raft.config.voters.length === 3, { within: 3_000, description: 'three voters' });
    await settle(c);
    // 5. Verify: single leader, terms monotonic (checked online), quorum, quotas, workers
    expect(c.upNodes().filter((n) => n.raft.isLeader).map((n) => n.id)).toEqual(['n1']);
    for (const n of c.upNodes()) {
      expect(n.state.tenants().length).toBe(2);
      expect(n.state.workers().length).toBe(2);
      expect(n.raft.config.voters).toEqual(['n1', 'n2', 'n3']);
    }
    expect(c.checker!.violation).toBeUndefined();
    expect(c.checker!.summary().events).toBeGreaterThan(50);
  });
});
