import { describe, expect, it } from 'vitest';
import { DEFAULT_FORWARD_BREAKER, type ClusterNode } from '../actors/clusterNode.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';

/*
 * Liveness scenarios the long sweeps found: each is a way a lost message, a
 * deposed leader or a membership change could leave a command, a task or a
 * node stuck for good. Every test builds its scenario by hand, so it fails
 * on the code before the fix, and passes with it.
 */

type Drop = (from: string, type: string) => boolean;

/** Makes `node` deaf to whatever `drop` selects (the node, not the network, loses it). */
function deafen(c: Cluster, id: string, drop: Drop): { restore(): void } {
  const node = c.node(id);
  const handle = node.handle.bind(node);
  node.handle = (from: string, type: string, payload: unknown) => {
    if (!drop(from, type)) handle(from, type, payload);
  };
  return { restore: () => (node.handle = handle) };
}

function followers(c: Cluster, leader: ClusterNode): string[] {
  return c.ids.filter((id) => id !== leader.id);
}

describe('liveness: nothing stays stuck after the message it waits for is lost', () => {
  it('a forwarded command whose leader was deposed before replicating it is sent again and applied', async () => {
    const c = createTestCluster(3, { seed: 51 });
    const old = await c.waitForLeader();
    await c.settle();
    const [a, b] = followers(c, old);
    expect(c.node(a).raft.leader).toBe(old.id);
    // The followers stop hearing the leader's appends; its answers still arrive.
    const deaf = [a, b].map((id) => deafen(c, id, (from, type) => from === old.id && type.startsWith('raft.')));
    // The old leader takes a few entries of its own first, so the forwarded
    // command lands at an index a new leader need never reach.
    for (let i = 0; i < 20; i++) old.propose({ cmd: { op: 'put', key: `local${i}`, value: i } }, () => {});
    c.node(a).forward({ op: 'put', key: 'forwarded', value: 1 });
    await c.run(20);
    expect(c.node(a).state.get('forwarded')).toBeUndefined(); // accepted by the old leader, replicated nowhere
    c.crash(old.id);
    for (const d of deaf) d.restore();
    await c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== old.id, { within: 2_000, description: 'a new leader' });
    await c.runUntil(() => c.node(a).state.get('forwarded') === 1, { within: 2_000, description: 'the forwarded command applied' });
  });

  it('work held by a worker that is removed from the membership goes back to pending and completes elsewhere', async () => {
    const c = createTestCluster(5, { seed: 52 });
    c.registerHandler('slow', async (payload, ctx) => {
      await ctx.sleep(200);
      return payload;
    });
    const leader = await c.waitForLeader();
    const victim = followers(c, leader).at(-1)!;
    const client = c.client();
    const handles = Array.from({ length: 40 }, (_, i) => client.submitTask({ type: 'slow', payload: i }));
    await c.runUntil(() => leader.state.tasks().some((t) => t.worker === victim && (t.status === 'assigned' || t.status === 'running')), {
      within: 2_000,
      description: 'work on the victim',
    });
    // The victim goes silent, and an operator removes it before the leader's detectors judge it.
    c.isolate(victim);
    await c.drive(client.submit({ op: 'remove', node: victim, reason: 'decommissioned' }), 2_000);
    const ids = await c.drive(Promise.all(handles.map((h) => h.accepted.then((a) => a.taskId))), 2_000);
    const results = await c.drive(Promise.all(handles.map((h) => h.result)), 10_000);
    expect(results).toHaveLength(40);
    for (const id of ids) expect(c.leader()!.state.task(id)?.status).toBe('completed');
    expect(c.leader()!.state.tasks().filter((t) => t.worker === victim && t.status !== 'completed')).toEqual([]);
  });

  it('a node that knows it was removed as unreachable greets the voters and is re-admitted', async () => {
    const c = createTestCluster(5, { seed: 53 });
    const leader = await c.waitForLeader();
    const victim = leader.id;
    // The leader itself is removed: it appends the change, so it knows it is out, steps down
    // once it commits, and from then on no leader replicates to it or asks for its vote.
    const client = c.client();
    await c.drive(client.submit({ op: 'remove', node: victim, reason: 'unreachable' }), 3_000);
    await c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== victim, { within: 3_000, description: 'a new leader' });
    expect(c.node(victim).raft.config.voters).not.toContain(victim);
    await c.runUntil(() => c.leader()!.raft.config.voters.includes(victim), { within: 5_000, description: 'the victim a voter again' });
    expect(c.leader()!.state.member(victim)?.status).toBe('voter');
    expect(c.leader()!.recovery.actions.some((a) => a.kind === 'rejoin' && a.peer === victim)).toBe(true);
  });

  it('a learner removed by an entry it never received greets the voters once it knows no leader, and is re-admitted', async () => {
    const c = createTestCluster(5, { seed: 56 });
    const leader = await c.waitForLeader();
    const victim = c.ids.find((id) => id !== leader.id)!;
    const client = c.client();
    // Removed as unreachable while it hears it: it greets, and comes back as a learner.
    await c.drive(client.submit({ op: 'remove', node: victim, reason: 'unreachable' }), 3_000);
    await c.runUntil(() => c.node(victim).raft.config.learners.includes(victim), { within: 5_000, description: 'the victim a learner in its own log' });
    // Cut off at once, and removed again: this time the entry never reaches it.
    c.isolate(victim);
    await c.drive(client.submit({ op: 'remove', node: victim, reason: 'unreachable' }), 3_000);
    await c.runUntil(() => !c.leader()!.raft.config.learners.includes(victim) && !c.leader()!.raft.config.voters.includes(victim), { within: 3_000, description: 'the victim out' });
    expect(c.node(victim).raft.config.learners).toContain(victim); // it still believes it is a learner
    // It restarts knowing no leader, and the network heals: no leader replicates
    // to a non-member, and a learner never campaigns, so only its greeting can bring it back.
    await c.run(3_000); // past the leader's pause between re-admissions of one node
    c.crash(victim);
    c.restart(victim);
    c.heal();
    await c.runUntil(() => [...c.leader()!.raft.config.voters, ...c.leader()!.raft.config.learners].includes(victim), { within: 5_000, description: 'the victim a member again' });
    expect(c.leader()!.recovery.actions.filter((a) => a.kind === 'rejoin' && a.peer === victim)).toHaveLength(2);
  });

  it('a voter removed while cut off, whose only way back is a leader it knew as a learner, greets every member it knew and is re-admitted', async () => {
    const c = createTestCluster(5, { seed: 61 });
    const first = await c.waitForLeader();
    const [w, v] = followers(c, first);
    const client = c.client();
    // w is removed and comes back as a learner; v learns of w as a learner, then is cut off.
    await c.drive(client.submit({ op: 'remove', node: w, reason: 'unreachable' }), 3_000);
    await c.runUntil(() => c.node(v).raft.config.learners.includes(w), { within: 5_000, description: 'v knows w as a learner' });
    c.isolate(v);
    await c.runUntil(() => c.leader()!.raft.config.voters.includes(w), { within: 10_000, description: 'w a voter again' });
    // v is removed without hearing of it, and w takes the lead: the one leader v never asks for a vote.
    await c.drive(client.submit({ op: 'remove', node: v, reason: 'unreachable' }), 3_000);
    await c.runUntil(() => !c.leader()!.raft.config.voters.includes(v), { within: 3_000, description: 'v out' });
    c.leader()!.raft.transferLeadership(w);
    await c.runUntil(() => c.leader()?.id === w, { within: 3_000, description: 'w leads' });
    expect(c.node(v).raft.config.voters).toContain(v); // it still believes it votes
    expect(c.node(v).raft.config.voters).not.toContain(w); // and the leader is no voter it would ask
    c.heal();
    await c.runUntil(() => [...c.leader()!.raft.config.voters, ...c.leader()!.raft.config.learners].includes(v), { within: 8_000, description: 'v a member again' });
    expect(c.leader()!.recovery.actions.some((a) => a.kind === 'rejoin' && a.peer === v)).toBe(true);
  });

  it('a forwarding call abandoned for a new leader ends as a failure, so a half-open breaker is never left waiting for it', async () => {
    const c = createTestCluster(3, { seed: 54 });
    const L = (await c.waitForLeader()).id;
    const [a, b] = c.ids.filter((id) => id !== L);
    const node = c.node(a);
    const breaker = () => node.breakerStates()[`forward:${L}`];
    // L stops answering a: enough unanswered calls open a's breaker to L.
    const deaf = deafen(c, L, (from, type) => from === a && type === 'grey.forward');
    const calls = DEFAULT_FORWARD_BREAKER.failureThreshold!;
    for (let i = 0; i < calls; i++) node.forward({ op: 'put', key: `k${i}`, value: i });
    await c.runUntil(() => breaker() === 'open', { within: 2_000, description: 'the breaker open' });
    await c.runUntil(() => breaker() === 'halfOpen', { within: 2_000, description: 'half-open' });
    // The trial call reaches L (which ignores it)…
    let trialAt = Number.POSITIVE_INFINITY;
    const sub = c.bus.inbox(L).subscribe((env) => {
      if (env.from === a && env.type === 'grey.forward') trialAt = Math.min(trialAt, c.kernel.now());
    });
    await c.runUntil(() => trialAt < Number.POSITIVE_INFINITY, { within: 1_000, description: 'a trial call' });
    sub.unsubscribe();
    // …and before it times out, leadership moves to b: a sends its calls there instead.
    c.node(L).raft.transferLeadership(b);
    await c.runUntil(() => c.leader()?.id === b && node.raft.leader === b, { within: 1_000, description: 'b leads' });
    await c.runUntil(() => Array.from({ length: calls }, (_, i) => i).every((i) => node.state.get(`k${i}`) === i), { within: 2_000, description: 'the calls applied through b' });
    // Leadership comes back to L, which answers again: a's calls must reach it.
    deaf.restore();
    c.node(b).raft.transferLeadership(L);
    await c.runUntil(() => c.leader()?.id === L && node.raft.leader === L, { within: 1_000, description: 'L leads again' });
    node.forward({ op: 'put', key: 'after', value: 1 });
    await c.runUntil(() => node.state.get('after') === 1, { within: 3_000, description: 'a call through L applied' });
    expect(breaker()).toBe('closed');
  });

  it('a forwarded command whose answer is lost is settled when the follower sees it applied, and lost answers never open the breaker', async () => {
    const c = createTestCluster(3, { seed: 56 });
    const L = (await c.waitForLeader()).id;
    await c.settle();
    const a = c.ids.find((id) => id !== L)!;
    const node = c.node(a);
    // Every answer from L to a's forwards is lost; L's appends still arrive.
    deafen(c, a, (from, type) => from === L && type === 'grey.forwarded');
    let reached = 0;
    c.bus.inbox(L).subscribe((env) => env.from === a && env.type === 'grey.forward' && reached++);
    const calls = 3 * DEFAULT_FORWARD_BREAKER.failureThreshold!;
    for (let i = 0; i < calls; i++) node.forward({ op: 'put', key: `k${i}`, value: i });
    await c.runUntil(() => node.forwardsPending === 0, { within: 2_000, description: 'every forward settled' });
    for (let i = 0; i < calls; i++) expect(node.state.get(`k${i}`)).toBe(i);
    expect(reached).toBe(calls); // settled before any retry: each sent once
    await c.run(5 * 300); // five retry periods (forwardRetryMs defaults to 300 ms)
    expect(node.breakerStates()[`forward:${L}`]).toBe('closed');
    expect(reached).toBe(calls);
  });

  it('a late answer to a send from a session the cluster has since forgotten does not settle the command sent again under the new one', async () => {
    const c = createTestCluster(3, { seed: 57 });
    const L = (await c.waitForLeader()).id;
    await c.settle();
    const a = c.ids.find((id) => id !== L)!;
    const node = c.node(a);
    // Nothing a forwards reaches L for now.
    const deaf = deafen(c, L, (from, type) => from === a && type === 'grey.forward');
    const sent: number[] = [];
    const sub = c.bus.inbox<{ id: number }>(L).subscribe((env) => env.from === a && env.type === 'grey.forward' && sent.push(env.payload.id));
    node.forward({ op: 'put', key: 'renumbered', value: 1 });
    await c.runUntil(() => sent.length > 0, { within: 100, description: 'the forward on the wire' });
    sub.unsubscribe();
    expect(node.forwardsPending).toBe(1);
    // An answer from L to the same request number, but sent in an older session of a's, pointing at an entry that is applied here.
    const applied = node.raft.lastApplied;
    node.handle(L, 'grey.forwarded', { id: sent[0], client: `${node.sessionId}-before`, ok: true, index: applied, term: node.raft.log.term(applied) ?? 0, leaderHint: L });
    expect(node.forwardsPending).toBe(1); // not this session's answer: the command is still to be delivered
    deaf.restore();
    await c.runUntil(() => node.state.get('renumbered') === 1, { within: 2_000, description: 'the command applied' });
    expect(node.forwardsPending).toBe(0);
  });

  it('a worker that learns of its assignment only through an installed snapshot still runs it', async () => {
    const c = createTestCluster(3, {
      seed: 55,
      raft: { snapshotThreshold: 50, snapshotKeep: 0 },
      // Slow verdicts: the leader must not requeue the work while the worker is away.
      health: { detector: 'heartbeat', heartbeat: { timeoutMs: 60_000 } },
    });
    c.registerHandler('t', async (payload, ctx) => {
      await ctx.sleep(100);
      return payload;
    });
    const leader = await c.waitForLeader();
    const worker = followers(c, leader)[0];
    await c.runUntil(() => leader.state.workers().length === 3, { within: 2_000, description: 'every worker registered' });
    // The worker hears nothing from the leader for a while: assignments and
    // starts pile up in the log, and the log is compacted past them.
    const deaf = deafen(c, worker, (from, type) => from === leader.id && type.startsWith('raft.'));
    const client = c.client();
    const handles = Array.from({ length: 60 }, (_, i) => client.submitTask({ type: 't', payload: i }));
    await c.runUntil(() => leader.state.tasks().some((t) => t.worker === worker && t.status === 'assigned'), { within: 2_000, description: 'work for the worker' });
    for (let i = 0; i < 120; i++) await c.drive(client.submit({ op: 'put', key: `fill${i}`, value: i }));
    expect(leader.raft.latestSnapshot!.index).toBeGreaterThan(c.node(worker).raft.lastApplied);
    deaf.restore();
    const ids = await c.drive(Promise.all(handles.map((h) => h.accepted.then((a) => a.taskId))), 2_000);
    await c.drive(Promise.all(handles.map((h) => h.result)), 5_000);
    for (const id of ids) expect(leader.state.task(id)?.status).toBe('completed');
  });
});
