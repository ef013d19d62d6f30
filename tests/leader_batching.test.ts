/**
 * The leader batches client requests, not the client: requests that reach
 * it together, or while every follower's pipeline is full, become one log
 * entry. Each keeps its own session, answer and exactly-once guarantee.
 */
import { describe, expect, it } from 'vitest';
import { ClusterState, type ApplyResult, type BatchCommand, type SessionCommand } from '../actors/clusterState.js';
import { MAX_REQUESTS_PER_ENTRY, type ProposeOutcome } from '../actors/clusterNode.js';
import type { LogEntry } from '../actors/raftTypes.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import type { ApplyEvent } from '../system/trace.js';

const EXACT = { latency: { base: 5, jitter: 0, distribution: 'uniform' as const } };

const put = (client: string, seq: number, key: string, value: unknown): SessionCommand => ({ client, seq, cmd: { op: 'put', key, value } });

function entryAt(c: Cluster, node: string, index: number): LogEntry {
  const e = c.node(node).raft.log.entry(index);
  if (!e) throw new Error(`no entry ${index} on ${node}`);
  return e;
}

function batchOf(e: LogEntry): SessionCommand[] | null {
  const cmd = e.payload.kind === 'command' ? (e.payload.command as Partial<BatchCommand>) : null;
  return Array.isArray(cmd?.batch) ? cmd.batch : null;
}

describe('the leader folds client requests into entries', () => {
  it('requests that reach the leader at one instant share one entry; each gets its own answer, applied once on every node', async () => {
    const c = createTestCluster(3, { seed: 5, network: EXACT });
    const leader = (await c.waitForLeader()).id;
    const clients = Array.from({ length: 20 }, (_, i) => c.client({ id: `k${i}` }));
    for (const cl of clients) await c.drive(cl.submit({ op: 'put', key: `warm-${cl.id}`, value: 0 })); // each learns the leader
    await c.settle();
    const before = c.node(leader).raft.log.lastIndex;

    const answers = await c.drive(Promise.all(clients.map((cl, i) => cl.submit({ op: 'put', key: `k${i}`, value: i }))));
    const indexes = new Set(answers.map((a) => a.index));
    expect(indexes.size).toBe(1); // one entry for all twenty
    const [index] = indexes;
    expect(index).toBeGreaterThan(before);
    const batch = batchOf(entryAt(c, leader, index));
    expect(batch?.map((sc) => sc.client)).toEqual(clients.map((cl) => cl.id));
    await c.settle();
    for (const id of c.ids) for (let i = 0; i < 20; i++) expect(c.node(id).state.get(`k${i}`)).toBe(i);
  });

  it('while every follower pipeline is full, requests are held and go out as one entry when an answer frees a slot', async () => {
    // Heartbeats far apart: an answer to one also frees a slot (as in etcd), which would split the batch.
    const c = createTestCluster(3, { seed: 6, network: { latency: { base: 20, jitter: 0, distribution: 'uniform' } }, raft: { maxInflight: 1, heartbeatMs: 200, electionTimeoutMin: 1_000, electionTimeoutMax: 2_000 } });
    const leader = c.node((await c.waitForLeader()).id);
    const client = c.client({ id: 'h' });
    await c.drive(client.submit({ op: 'put', key: 'warm', value: 0 }));
    await c.settle();
    const before = leader.raft.log.lastIndex;

    // One request a millisecond for ten: the first leaves at once and fills
    // both pipelines (one append each, a round trip of tens of ms); the rest wait.
    const outcomes: ProposeOutcome[] = [];
    for (let i = 0; i < 10; i++) {
      leader.propose(put('h2', i + 1, `p${i}`, i), (o) => outcomes.push(o));
      if (i === 0) {
        await c.run(0.5);
        expect(leader.raft.replicationSaturated()).toBe(true);
      }
      await c.run(1);
    }
    expect(leader.raft.log.lastIndex).toBe(before + 1); // nine held, not proposed
    await c.runUntil(() => outcomes.length === 10, { within: 200, description: 'every answer' });
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const indexes = outcomes.map((o) => (o.ok ? o.index : 0));
    expect(indexes[0]).toBe(before + 1);
    expect(new Set(indexes.slice(1))).toEqual(new Set([before + 2])); // the nine, folded
    expect(batchOf(entryAt(c, leader.id, before + 2))).toHaveLength(9);
  });

  it('a held batch is bounded: at most MAX_REQUESTS_PER_ENTRY requests per entry, and never held past a heartbeat', async () => {
    const c = createTestCluster(3, { seed: 7, network: EXACT, raft: { maxInflight: 1 } });
    const leader = c.node((await c.waitForLeader()).id);
    await c.settle();
    const followers = c.ids.filter((id) => id !== leader.id);
    const before = leader.raft.log.lastIndex;
    let answered = 0;
    leader.propose(put('b', 1, 'first', 1), () => answered++);
    await c.run(0.5);
    // The first append is out on both links; cut them so no answer frees a slot.
    for (const f of followers) c.bus.cut(f, leader.id);
    const n = MAX_REQUESTS_PER_ENTRY + 10;
    for (let i = 0; i < n; i++) leader.propose(put('b', i + 2, `b${i}`, i), () => answered++);
    // A full batch is proposed at once; the rest are held.
    expect(leader.raft.log.lastIndex).toBe(before + 2);
    expect(batchOf(entryAt(c, leader.id, before + 2))).toHaveLength(MAX_REQUESTS_PER_ENTRY);
    await c.run(leader.raft.options.heartbeatMs - 1);
    expect(leader.raft.log.lastIndex).toBe(before + 2);
    await c.run(2);
    expect(leader.raft.log.lastIndex).toBe(before + 3); // the hold ended with no slot freed
    expect(batchOf(entryAt(c, leader.id, before + 3))).toHaveLength(10);
    for (const f of followers) c.bus.restore(f, leader.id);
    await c.runUntil(() => answered === n + 1, { within: 2_000, description: 'every answer' });
  });

  it('requests held while leadership moves away are refused (TransferInProgress), not lost', async () => {
    const c = createTestCluster(3, { seed: 8, network: EXACT, raft: { maxInflight: 1 } });
    const leader = c.node((await c.waitForLeader()).id);
    await c.settle();
    const target = c.ids.find((id) => id !== leader.id)!;
    const outcomes: Record<string, ProposeOutcome> = {};
    leader.propose(put('t', 1, 'first', 1), (o) => (outcomes.first = o));
    await c.run(0.5);
    leader.propose(put('t', 2, 'held', 2), (o) => (outcomes.held = o));
    expect(leader.raft.replicationSaturated()).toBe(true);
    leader.raft.transferLeadership(target);
    await c.runUntil(() => outcomes.first !== undefined && outcomes.held !== undefined, { within: 500, description: 'both answers' });
    expect(outcomes.first).toMatchObject({ ok: true });
    expect(outcomes.held).toMatchObject({ ok: false, code: expect.stringMatching(/^(TransferInProgress|NotLeader)$/) });
    await c.settle();
    for (const id of c.ids) expect(c.node(id).state.get('held')).toBeUndefined();
  });

  it('the trace names a batch by its op and how many requests it holds', async () => {
    const c = createTestCluster(3, { seed: 9, network: EXACT, keepTrace: true });
    await c.waitForLeader();
    const clients = Array.from({ length: 4 }, (_, i) => c.client({ id: `t${i}` }));
    for (const cl of clients) await c.drive(cl.submit({ op: 'put', key: `w${cl.id}`, value: 0 }));
    const answers = await c.drive(Promise.all(clients.map((cl, i) => cl.submit({ op: 'put', key: `x${i}`, value: i }))));
    await c.settle();
    const events = c.trace!.toJSONL().trim().split('\n').map((l) => JSON.parse(l) as ApplyEvent);
    const applies = events.filter((e) => e.type === 'apply' && e.index === answers[0].index);
    expect(applies).toHaveLength(3);
    for (const a of applies) expect(a).toMatchObject({ kind: 'put', requests: 4 });
    for (const a of applies) expect(a.client).toBeUndefined();
  });
});

describe('a batch entry in the state machine', () => {
  const entry = (index: number, command: SessionCommand | BatchCommand) => ({ index, term: 1, payload: { kind: 'command' as const, command } });

  it('applies each request in order with its own session; a request repeated inside the batch applies once', () => {
    const s = new ClusterState();
    const out = s.apply(entry(1, { batch: [put('a', 1, 'x', 1), put('b', 1, 'x', 2), put('a', 1, 'x', 3), put('a', 2, 'y', 4)] })) as ApplyResult[];
    expect(out).toHaveLength(4);
    expect(out.every((r) => r.ok)).toBe(true);
    expect(out[2]).toBe(out[0]); // a#1 again: answered from the session, not applied
    expect(s.get('x')).toBe(2);
    expect(s.get('y')).toBe(4);
    // A later retry of b#1 gets the same answer, at the batch's index.
    expect(s.apply(entry(2, put('b', 1, 'x', 9)))).toMatchObject({ ok: true, appliedIndex: 1 });
    expect(s.get('x')).toBe(2);
  });

  it('answers a malformed request inside a batch with InvalidCommand and applies the others', () => {
    const s = new ClusterState();
    const out = s.apply(entry(1, { batch: [put('a', 1, 'x', 1), null as unknown as SessionCommand, put('b', 1, 'z', 3)] })) as ApplyResult[];
    expect(out.map((r) => r.ok)).toEqual([true, false, true]);
    expect(out[1]).toMatchObject({ code: 'InvalidCommand' });
    expect([s.get('x'), s.get('z')]).toEqual([1, 3]);
  });
});
