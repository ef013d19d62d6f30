import { describe, expect, it } from 'vitest';
import { ClientError } from '../system/client.js';
import { createCluster, createTestCluster } from '../system/cluster.js';
import { settle, taskCommand } from './helpers/settle.js';

const fast = { latency: { base: 3, jitter: 2, distribution: 'uniform' as const } };

/** The seed's multi-node integration tests (000): real components on the simulated bus. */
describe('Integration Tests', () => {
  describe('Cluster Formation', () => {
    it('Should elect leader when cluster starts', async () => {
      const c = createTestCluster(5, { seed: 21, network: fast });
      const leader = await c.waitForLeader(2_000);
      await settle(c);
      expect(c.upNodes().filter((n) => n.raft.isLeader)).toEqual([leader]);
      for (const n of c.upNodes()) expect([n.raft.currentTerm, n.raft.leader]).toEqual([leader.raft.currentTerm, leader.id]);
    });

    it('Should add follower node to existing cluster', async () => {
      const c = createTestCluster(3, { seed: 22, network: fast });
      await c.waitForLeader(2_000);
      const client = c.client();
      await c.drive(client.submit({ op: 'put', key: 'before', value: 1 }));
      const n4 = c.addNode('n4');
      expect(n4.raft.config.voters).toEqual([]); // knows nothing until added
      await c.drive(client.submit({ op: 'join', node: 'n4' }));
      await c.drive(client.submit({ op: 'approve', node: 'n4' }));
      await c.runUntil(() => c.leader()!.raft.config.voters.includes('n4'), { within: 3_000, description: 'n4 a voter' });
      await settle(c);
      expect(n4.raft.currentRole).toBe('follower');
      expect(n4.raft.leader).toBe(c.leader()!.id);
      expect(n4.state.get('before')).toBe(1); // caught up on what came before it
    });

    it('Should handle node approval workflow', async () => {
      const c = createTestCluster(3, { seed: 23, network: fast });
      await c.waitForLeader(2_000);
      const client = c.client();
      c.addNode('n4');
      c.addNode('n5');
      await c.drive(client.submit({ op: 'join', node: 'n4' }));
      await c.drive(client.submit({ op: 'join', node: 'n5' }));
      await settle(c);
      // Pending approval: replicated, but not in the configuration.
      expect(c.leader()!.state.member('n4')?.status).toBe('pendingApproval');
      expect(c.leader()!.raft.config.learners).toEqual([]);
      await c.drive(client.submit({ op: 'approve', node: 'n4' }));
      const rejected = await c.drive(client.submit({ op: 'reject', node: 'n5', reason: 'unknown key' }));
      expect(rejected.value).toBe('rejected');
      // A rejected node cannot be approved; the refusal is typed and recorded.
      await expect(c.drive(client.submit({ op: 'approve', node: 'n5' }))).rejects.toMatchObject({ code: 'InvalidTransition', outcome: 'failed' });
      // Member status first (the leader's decision, replicated), then the Raft configuration follows.
      await c.runUntil(() => c.leader()!.raft.config.voters.includes('n4'), { within: 3_000, description: 'n4 promoted' });
      await settle(c);
      const l = c.leader()!;
      expect(l.raft.config).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
      expect(l.state.member('n5')).toMatchObject({ status: 'rejected', context: { reason: 'unknown key' } });
      expect(l.state.rejected.map((r) => [r.id, r.from, r.event])).toEqual([['n5', 'rejected', 'APPROVE']]);
    });

    it('Should update membership on node join', async () => {
      const c = createTestCluster(3, { seed: 24, network: fast, keepTrace: true });
      await c.waitForLeader(2_000);
      const client = c.client();
      c.addNode('n4');
      await c.drive(client.submit({ op: 'join', node: 'n4' }));
      await c.drive(client.submit({ op: 'approve', node: 'n4' }));
      await c.runUntil(() => c.leader()!.raft.config.voters.length === 4, { within: 3_000, description: 'four voters' });
      await settle(c);
      for (const n of c.upNodes()) {
        expect(n.state.members().map((m) => `${m.node}:${m.status}`)).toEqual(['n1:voter', 'n2:voter', 'n3:voter', 'n4:voter']);
        expect(n.raft.config.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
      }
      // Every node adopted the learner step, then the voter step, through the log.
      const configs = c.trace!.toJSONL().trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'config' && e.node === 'n1');
      expect(configs.map((e) => `${e.voters.length}v/${e.learners.length}l`)).toEqual(['3v/0l', '3v/1l', '4v/0l']);
    });
  });

  describe('State Synchronization', () => {
    it('Should replicate task submission via Raft', async () => {
      const c = createTestCluster(3, { seed: 25, network: fast });
      c.registerHandler('noop', () => null);
      await c.waitForLeader(2_000);
      const r = await c.drive(c.client().submit(taskCommand('t1', { priority: 5 })));
      expect(r.value).toEqual(['t1']);
      await settle(c);
      for (const n of c.upNodes()) expect(n.state.task('t1')).toMatchObject({ id: 't1', spec: { priority: 5 }, index: r.index });
      // Every node followed it through the same lifecycle to the same end.
      await settle(c);
      for (const n of c.upNodes()) expect(n.state.task('t1')).toMatchObject({ status: 'completed', attempt: 1 });
    });

    it('Should sync membership changes across nodes', async () => {
      const c = createTestCluster(5, { seed: 26, network: fast });
      await c.waitForLeader(2_000);
      const client = c.client();
      await c.drive(client.submit({ op: 'remove', node: 'n5', reason: 'decommissioned' }));
      await c.runUntil(() => !c.leader()!.raft.config.voters.includes('n5'), { within: 3_000, description: 'n5 removed' });
      await c.drive(client.submit({ op: 'block', node: 'n6', reason: 'compromised' }));
      await settle(c);
      for (const n of c.upNodes().filter((x) => x.id !== 'n5')) {
        expect(n.raft.config.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
        expect(n.state.member('n5')).toMatchObject({ status: 'removed', context: { reason: 'decommissioned' } });
        expect(n.state.member('n6')?.status).toBe('blocked');
      }
    });

    it('Should maintain consistent task status', async () => {
      const c = createTestCluster(3, { seed: 27, network: { ...fast, loss: 0.05, duplicate: 0.05, reorder: 0.1 } });
      c.registerHandler('noop', async (_p, ctx) => ctx.sleep(5));
      await c.waitForLeader(2_000);
      const client = c.client();
      for (let i = 0; i < 20; i++) await c.drive(client.submit(taskCommand(`t${i}`)));
      await settle(c, 5_000);
      const l = c.leader()!;
      const index = l.raft.lastApplied;
      for (const n of c.upNodes()) {
        expect(n.raft.lastApplied).toBe(index);
        expect(n.raft.digestAt(index)).toBe(l.raft.digestAt(index));
        expect(n.state.tasks().map((t) => `${t.id}:${t.status}`)).toEqual(l.state.tasks().map((t) => `${t.id}:${t.status}`));
      }
      expect(l.state.tasks()).toHaveLength(20);
    });

    it('Should recover state after leader change', async () => {
      const c = createTestCluster(5, { seed: 28, network: fast });
      c.registerHandler('noop', () => 'done');
      const first = await c.waitForLeader(2_000);
      const client = c.client();
      for (let i = 0; i < 10; i++) await c.drive(client.submit(taskCommand(`t${i}`)));
      c.crash(first.id);
      const second = await c.waitForLeader(2_000);
      expect(second.id).not.toBe(first.id);
      expect(second.raft.currentTerm).toBeGreaterThan(first.raft.currentTerm);
      await c.drive(client.submit(taskCommand('after')));
      c.restart(first.id);
      await settle(c, 3_000);
      for (const n of c.upNodes()) {
        expect(n.state.tasks().map((t) => t.id)).toEqual([...Array.from({ length: 10 }, (_, i) => `t${i}`), 'after']);
        expect(n.state.tasks().every((t) => t.status === 'completed' && t.result === 'done')).toBe(true);
      }
      expect(c.node(first.id).raft.currentRole).toBe('follower');
      expect(c.incarnation(first.id)).toBe(1);
    });
  });
});

describe('Client errors', () => {
  it('a timeout is reported as an unknown outcome, not a failure', async () => {
    const c = createCluster({ nodes: 3, seed: 29, network: fast });
    await c.waitForLeader(2_000);
    c.partition([['n1'], ['n2'], ['n3']]);
    const err = await c.drive(c.client({ timeoutMs: 1_000 }).submit({ op: 'put', key: 'k', value: 1 })).catch((e) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'Timeout', outcome: 'unknown' });
  });
});
