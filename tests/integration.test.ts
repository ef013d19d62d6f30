import { describe, expect, it } from 'vitest';
import { ClientError } from '../system/client.js';
import { createCluster, createTestCluster } from '../system/cluster.js';
import { settle, taskCommand } from './helpers/settle.js';
import type { GreyEvent } from '../system/events.js';

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

  describe('Task Lifecycle', () => {
    it('Should submit task and track through completion', async () => {
      const c = createTestCluster(3, { seed: 41, network: fast });
      c.registerHandler('add', (p) => (p as number[]).reduce((a, b) => a + b, 0));
      await c.waitForLeader();
      const h = c.client().submitTask({ type: 'add', payload: [1, 2, 3] });
      const seen: string[] = [];
      h.status$.subscribe((e) => seen.push(e.type));
      expect((await c.drive(h.result)).result).toBe(6);
      expect(seen).toEqual(['task.submitted', 'task.assigned', 'task.started', 'task.completed']);
    });

    it('Should distribute task to appropriate node', async () => {
      const c = createTestCluster(3, { seed: 42, network: fast, workerCapacity: null });
      c.registerHandler('gpu', (_p, ctx) => ctx.worker);
      await c.waitForLeader();
      const client = c.client();
      // Only n3 has the memory this task asks for.
      await c.drive(client.submit({ op: 'registerWorker', worker: 'n1', capacity: { cpu: 4, memoryBytes: 2 ** 30 } }));
      await c.drive(client.submit({ op: 'registerWorker', worker: 'n2', capacity: { cpu: 4, memoryBytes: 2 ** 30 } }));
      await c.drive(client.submit({ op: 'registerWorker', worker: 'n3', capacity: { cpu: 4, memoryBytes: 2 ** 35 } }));
      const hs = client.submitTasks(Array.from({ length: 3 }, () => ({ type: 'gpu', resources: { cpu: 1, memoryBytes: 2 ** 34 } })));
      const ran = await c.drive(Promise.all(hs.map((h) => h.result)));
      expect(ran.map((r) => r.result)).toEqual(['n3', 'n3', 'n3']);
    });

    it('Should handle task failure and retry', async () => {
      const c = createTestCluster(3, { seed: 43, network: fast });
      let calls = 0;
      c.registerHandler('unstable', () => {
        if (++calls < 3) throw new Error('transient');
        return calls;
      });
      await c.waitForLeader();
      const h = c.client().submitTask({ type: 'unstable', maxRetries: 5, backoff: { initialMs: 50 } });
      const seen: string[] = [];
      h.status$.subscribe((e) => seen.push(e.type));
      const r = await c.drive(h.result);
      expect(r.result).toBe(3);
      expect(r.proof.attempt).toBe(3);
      expect(seen.filter((t) => t === 'task.retrying')).toHaveLength(2);
    });

    it('Should cancel running task', async () => {
      const c = createTestCluster(3, { seed: 44, network: fast });
      let aborted: unknown = null;
      c.registerHandler('long', async (_p, ctx) => {
        ctx.signal.addEventListener('abort', () => (aborted = ctx.signal.reason));
        await ctx.sleep(60_000);
        return 'finished';
      });
      await c.waitForLeader();
      const client = c.client();
      const h = client.submitTask({ type: 'long' });
      await c.runUntil(() => c.leader()!.state.task(h.id)?.status === 'running', { within: 2_000, description: 'running' });
      await c.drive(client.cancelTask(h.id, 'user asked'));
      await expect(c.drive(h.result)).rejects.toMatchObject({ code: 'TaskCancelled' });
      await c.run(50);
      expect(aborted).toBeInstanceOf(Error);
      // A pending task that is cancelled never runs; a finished one cannot be cancelled.
      const pending = client.submitTask({ type: 'long', resources: { cpu: 10_000 } }); // fits nowhere: stays pending
      await c.drive(pending.accepted);
      await c.drive(client.cancelTask(pending.id));
      expect((await c.drive(client.task(pending.id)))?.status).toBe('cancelled');
      await expect(c.drive(client.cancelTask(h.id))).rejects.toMatchObject({ code: 'InvalidTransition' });
      await expect(c.drive(client.cancelTask('task_nope'))).rejects.toMatchObject({ code: 'TaskNotFound' });
    });

    it('Should timeout stuck task', async () => {
      const c = createTestCluster(3, { seed: 45, network: fast });
      const attempts: number[] = [];
      c.registerHandler('stuck', (_p, ctx) => {
        attempts.push(ctx.now());
        return new Promise(() => {}); // never settles
      });
      await c.waitForLeader();
      const h = c.client().submitTask({ type: 'stuck', timeoutMs: 300, maxRetries: 1, backoff: { initialMs: 100, jitter: 0 } });
      const seen: string[] = [];
      h.status$.subscribe((e) => seen.push(e.type));
      await expect(c.drive(h.result)).rejects.toMatchObject({ code: 'TaskFailed' });
      expect(attempts).toHaveLength(2);
      expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(400); // deadline, then backoff
      expect(seen).toEqual(['task.submitted', 'task.assigned', 'task.started', 'task.timedOut', 'task.requeued', 'task.assigned', 'task.started', 'task.failed']);
    });
  });

  describe('Event Propagation', () => {
    it('Should emit events through component chain', async () => {
      const c = createTestCluster(3, { seed: 46, network: fast });
      c.registerHandler('noop', () => null);
      await c.waitForLeader();
      const events: GreyEvent[] = [];
      c.events$.subscribe((e) => events.push(e));
      const h = c.client().submitTask({ type: 'noop' });
      await c.drive(h.result);
      await settle(c);
      const mine = events.filter((e) => 'taskId' in e && e.taskId === h.id);
      // One event per committed change (not one per node), in log order.
      expect(mine.map((e) => e.type)).toEqual(['task.submitted', 'task.assigned', 'task.started', 'task.completed']);
      const indexes = mine.map((e) => e.index);
      expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
      // A watch resumes from a log index.
      const replay: GreyEvent[] = [];
      c.watch(mine[2].index).subscribe((e) => replay.push(e));
      expect(replay.filter((e) => 'taskId' in e && e.taskId === h.id).map((e) => e.type)).toEqual(['task.started', 'task.completed']);
    });

    it('Should propagate task completion to submitter', async () => {
      const c = createTestCluster(5, { seed: 47, network: fast });
      c.registerHandler('slow', async (_p, ctx) => {
        await ctx.sleep(500);
        return 'done';
      });
      const leader = await c.waitForLeader();
      const client = c.client();
      const h = client.submitTask({ type: 'slow' });
      await c.drive(h.accepted);
      // The node that took the submission crashes; the submitter still hears the result.
      c.crash(leader.id);
      expect((await c.drive(h.result, 10_000)).result).toBe('done');
    });

    it('Should notify on cluster state changes', async () => {
      const c = createTestCluster(3, { seed: 48, network: fast });
      const events: GreyEvent[] = [];
      c.events$.subscribe((e) => events.push(e));
      const first = await c.waitForLeader();
      c.addNode('n4');
      const client = c.client();
      await c.drive(client.submit({ op: 'join', node: 'n4' }));
      await c.drive(client.submit({ op: 'approve', node: 'n4' }));
      await c.drive(client.submit({ op: 'remove', node: 'n3' }));
      c.crash(first.id);
      await c.runUntil(() => events.some((e) => e.type === 'leader.elected' && e.leader !== first.id), { within: 3_000, description: 'a new leader' });
      const kinds = events.map((e) => (e.type === 'leader.elected' ? `leader:${e.leader}` : 'node' in e ? `${e.type}:${e.node}:${e.status}` : e.type));
      expect(kinds[0]).toBe(`leader:${first.id}`);
      expect(kinds).toContain('node.joined:n1:voter');
      expect(kinds).toContain('member.changed:n4:pendingApproval');
      expect(kinds).toContain('node.joined:n4:learner');
      expect(kinds).toContain('node.left:n3:removed');
      expect(kinds.filter((k) => k.startsWith('leader:'))).toHaveLength(2);
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
      // The restarted node finds what it was running when it crashed and sees it through.
      await c.runUntil(() => c.upNodes().every((n) => n.state.tasks().length === 11 && n.state.tasks().every((t) => t.status === 'completed')), {
        within: 5_000,
        description: 'every task completed on every node',
      });
      for (const n of c.upNodes()) {
        expect(n.state.tasks().map((t) => t.id)).toEqual([...Array.from({ length: 10 }, (_, i) => `t${i}`), 'after']);
        expect(n.state.tasks().every((t) => t.status === 'completed' && t.result === 'done')).toBe(true);
      }
      expect(c.node(first.id).raft.currentRole).toBe('follower');
      expect(c.incarnation(first.id)).toBe(1);
    });
  });

  describe('Failure Recovery', () => {
    it('Should detect offline node via heartbeat', async () => {
      const c = createTestCluster(3, { seed: 61, network: fast, health: { detector: 'heartbeat' }, keepTrace: true });
      const leader = await c.waitForLeader(2_000);
      await settle(c);
      const victim = c.ids.find((id) => id !== leader.id)!;
      const seen: string[] = [];
      leader.health.onChange((h) => h.peer === victim && seen.push(`${h.from}->${h.to}`));
      expect(leader.health.state(victim)).toBe('healthy');

      c.crash(victim);
      const crashedAt = c.kernel.now();
      await c.runUntil(() => leader.health.state(victim) === 'quarantined', { within: 2_000, description: `${victim} quarantined` });
      // Heartbeat timeout (300 ms) first, then the suspicion is confirmed (200 ms).
      expect(c.kernel.now() - crashedAt).toBeGreaterThanOrEqual(500);
      expect(seen).toEqual(['healthy->suspect', 'suspect->quarantined']);
      expect(c.health()[leader.id][victim]).toBe('quarantined');
      // Only an opinion: the crashed node is still a voter, and the leader still leads.
      expect(leader.raft.isLeader).toBe(true);
      expect(leader.raft.config.voters).toContain(victim);

      c.restart(victim);
      await c.runUntil(() => leader.health.state(victim) === 'healthy', { within: 5_000, description: `${victim} healthy again` });
      // Back only after its quarantine is served and its probation passed.
      expect(seen).toEqual(['healthy->suspect', 'suspect->quarantined', 'quarantined->probation', 'probation->healthy']);
      expect(leader.raft.isLeader).toBe(true);
      expect(c.node(victim).raft.leader).toBe(leader.id);
      // The trace tells the same story, as the leader's `health` events about the victim.
      const traced = c
        .trace!.toJSONL()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.type === 'health' && e.node === leader.id && e.peer === victim)
        .map((e) => `${e.from}->${e.to}`);
      expect(traced).toEqual(seen);
    });

    it('Should reassign tasks from failed node', async () => {
      const c = createTestCluster(3, { seed: 62, network: fast, health: { detector: 'heartbeat' } });
      c.registerHandler('long', async (_p, ctx) => {
        await ctx.sleep(1_000);
        return ctx.worker;
      });
      const leader = await c.waitForLeader(2_000);
      await settle(c);
      const events: GreyEvent[] = [];
      c.events$.subscribe((e) => events.push(e));
      const hs = c.client().submitTasks(Array.from({ length: 12 }, () => ({ type: 'long', resources: { cpu: 2 } })));
      await c.runUntil(() => hs.every((h) => leader.state.task(h.id)?.status === 'running'), { within: 2_000, description: 'every task running' });
      const victim = c.ids.find((id) => id !== leader.id)!;
      const stranded = hs.filter((h) => leader.state.task(h.id)!.worker === victim).map((h) => h.id);
      expect(stranded.length).toBeGreaterThan(0);

      c.crash(victim);
      const results = await c.drive(Promise.all(hs.map((h) => h.result)), 10_000);
      // The victim's tasks went back to pending under the same ids and finished elsewhere.
      const requeued = events.filter((e) => e.type === 'task.requeued');
      expect(requeued.map((e) => e.taskId).sort()).toEqual([...stranded].sort());
      for (const e of requeued) expect(e).toMatchObject({ reason: `worker ${victim} lost` });
      expect(results.map((r) => r.taskId)).toEqual(hs.map((h) => h.id));
      for (const r of results) expect(r.result).not.toBe(victim);
      expect(leader.recovery.actions.filter((a) => a.kind === 'requeue')).toMatchObject([{ peer: victim }]);

      // The victim comes back; nothing it was running completes a second time.
      c.restart(victim);
      await c.run(2_000);
      await settle(c);
      const completions = new Map<string, number>();
      for (const e of events) if (e.type === 'task.completed') completions.set(e.taskId, (completions.get(e.taskId) ?? 0) + 1);
      expect(hs.map((h) => completions.get(h.id))).toEqual(hs.map(() => 1));
      for (const n of c.upNodes()) expect(hs.map((h) => n.state.task(h.id)?.status)).toEqual(hs.map(() => 'completed'));
    });

    it('Should handle leader failure and re-election', async () => {
      const c = createTestCluster(5, { seed: 63, network: fast });
      const events: GreyEvent[] = [];
      c.events$.subscribe((e) => events.push(e));
      const old = await c.waitForLeader(2_000);
      const oldTerm = old.raft.currentTerm;
      const client = c.client();
      await c.drive(client.submit({ op: 'put', key: 'before', value: 1 }));

      c.crash(old.id);
      const fresh = await c.waitForLeader(2_000);
      expect(fresh.id).not.toBe(old.id);
      expect(fresh.raft.currentTerm).toBeGreaterThan(oldTerm);
      const elected = events.filter((e) => e.type === 'leader.elected');
      expect(elected.map((e) => [e.leader, e.term])).toEqual([
        [old.id, oldTerm],
        [fresh.id, fresh.raft.currentTerm],
      ]);
      // Writes continue, and what was committed before is still there.
      await c.drive(client.submit({ op: 'put', key: 'after', value: 2 }));
      expect(await c.drive(c.read((s) => [s.get('before'), s.get('after')]))).toEqual([1, 2]);

      c.restart(old.id);
      await settle(c);
      const back = c.node(old.id);
      expect(back.raft.currentRole).toBe('follower');
      expect(back.raft.leader).toBe(fresh.id);
      expect(back.raft.currentTerm).toBe(fresh.raft.currentTerm);
      expect([back.state.get('before'), back.state.get('after')]).toEqual([1, 2]);
      expect(c.leader()).toBe(fresh);
    });

    it('Should recover pending approvals after restart', async () => {
      const c = createTestCluster(3, { seed: 64, network: fast });
      const first = await c.waitForLeader(2_000);
      const client = c.client();
      c.addNode('n4');
      await c.drive(client.submit({ op: 'join', node: 'n4' }));
      await settle(c);
      for (const id of ['n1', 'n2', 'n3']) expect(c.node(id).state.member('n4')?.status).toBe('pendingApproval');

      // The whole cluster goes down and comes back from its storage.
      for (const id of c.ids) c.crash(id);
      await c.run(500);
      for (const id of c.ids) c.restart(id);
      for (const n of c.upNodes()) expect(n.state.member('n4')).toBeUndefined(); // nothing applied yet
      const leader = await c.waitForLeader(3_000);
      expect(leader.raft.currentTerm).toBeGreaterThan(first.raft.currentTerm);
      await settle(c);
      for (const id of ['n1', 'n2', 'n3']) {
        expect(c.node(id).state.member('n4')?.status, id).toBe('pendingApproval');
        expect(c.node(id).raft.config, id).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
      }

      // Approving it works as if nothing happened: learner first, then voter.
      const steps: string[] = [];
      c.events$.subscribe((e) => {
        if ('node' in e && e.node === 'n4') steps.push(`${e.type}:${e.status}`);
      });
      await c.drive(client.submit({ op: 'approve', node: 'n4' }));
      await c.runUntil(() => c.leader()?.raft.config.voters.includes('n4') === true, { within: 3_000, description: 'n4 a voter' });
      await settle(c);
      expect(steps).toEqual(['node.joined:learner', 'node.joined:voter']);
      for (const n of c.upNodes()) {
        expect(n.state.member('n4')?.status, n.id).toBe('voter');
        expect(n.raft.config, n.id).toEqual({ voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });
      }
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
