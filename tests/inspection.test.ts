/**
 * Inspection events from every chart of every node (`createCluster({ inspect })`):
 * the charts that run as XState actors (Raft role, each attempt's task
 * lifecycle, quarantine, circuit breakers) through XState's own `inspect`,
 * and those stepped through derived transition tables (replicated task
 * lifecycle, membership, replication progress) with the same event shapes.
 */
import { describe, expect, it } from 'vitest';
import type { GreyInspectionEvent } from '../actors/chartInspection.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster } from '../system/cluster.js';
import { startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { until } from './helpers/realTime.js';

type Snap = { value: unknown; status: string };

async function inspectedRun(seed: number): Promise<GreyInspectionEvent[]> {
  const seen: GreyInspectionEvent[] = [];
  const cluster = createCluster({ nodes: 3, seed, inspect: (e) => seen.push(e) });
  cluster.registerHandler('work', async (_p, ctx) => {
    await ctx.sleep(20);
    return 'done';
  });
  await cluster.waitForLeader();
  const client = cluster.client();
  await cluster.drive(Promise.all(Array.from({ length: 3 }, () => client.submitTask({ type: 'work' }).result)));
  const leader = (await cluster.waitForLeader()).id;
  cluster.crash(leader); // a new election: role charts move, followers' health charts judge the lost peer
  await cluster.run(3_000);
  return seen;
}

const snapOf = (e: GreyInspectionEvent): Snap => (e as unknown as { snapshot: Snap }).snapshot;
const kindOf = (e: GreyInspectionEvent) => (e.actorRef as { id?: string }).id?.replace(/\(.*$/, '') ?? '?';

describe('inspection events from every chart', () => {
  it('createCluster({ inspect }) sees every chart kind of every node, with XState event shapes and the node id', async () => {
    const seen = await inspectedRun(5);
    const kinds = new Set(seen.filter((e) => e.type === '@xstate.actor').map(kindOf));
    for (const k of ['raft', 'replicationProgress', 'membership', 'taskLifecycle', 'task', 'health', 'breaker']) expect(kinds, k).toContain(k);
    for (const e of seen) {
      expect(['n1', 'n2', 'n3']).toContain(e.node);
      expect(typeof e.rootId).toBe('string');
      expect(typeof e.actorRef.sessionId).toBe('string');
    }
    // Every snapshot follows its actor's announcement.
    const announced = new Set<string>();
    for (const e of seen) {
      if (e.type === '@xstate.actor') announced.add(e.actorRef.sessionId);
      if (e.type === '@xstate.snapshot') expect(announced.has(e.actorRef.sessionId), e.actorRef.sessionId).toBe(true);
    }
    // The role charts move: some node leads, and after the crash another does.
    const leads = seen.filter((e) => e.type === '@xstate.snapshot' && kindOf(e) === 'raft' && typeof snapOf(e).value === 'object' && 'leader' in (snapOf(e).value as object)).map((e) => e.node);
    expect(new Set(leads).size).toBeGreaterThanOrEqual(2);
    // A replicated task's chart, as each replica steps it, from pending to completed, then done.
    const tableTask = seen.find((e) => e.type === '@xstate.actor' && kindOf(e) === 'taskLifecycle')!;
    const path = seen.filter((e) => e.type === '@xstate.snapshot' && e.actorRef.sessionId === tableTask.actorRef.sessionId).map(snapOf);
    expect(path[0].value).toBe('pending');
    expect(path.at(-1)).toMatchObject({ value: 'completed', status: 'done' });
    expect(path.map((p) => p.value)).toContain('running');
    // Events name what moved the chart.
    const steps = seen.filter((e) => e.type === '@xstate.event' && e.actorRef.sessionId === tableTask.actorRef.sessionId).map((e) => (e as { event: { type: string } }).event.type);
    expect(steps[0]).toBe('xstate.init');
    expect(steps).toContain('COMPLETE');
    // Members: each founder's membership chart reaches voter.
    const voters = seen.filter((e) => e.type === '@xstate.snapshot' && kindOf(e) === 'membership' && snapOf(e).value === 'voter');
    expect(new Set(voters.map((e) => (e.actorRef as unknown as { id: string }).id)).size).toBe(3);
  });

  it('the same seed gives the same inspection stream', async () => {
    const digest = (events: GreyInspectionEvent[]) =>
      events.map((e) => `${e.node} ${e.type} ${(e.actorRef as { id?: string }).id} ${e.type === '@xstate.snapshot' ? JSON.stringify(snapOf(e).value) : ''}`);
    const [a, b] = [await inspectedRun(9), await inspectedRun(9)];
    expect(digest(a)).toEqual(digest(b));
    expect(a.length).toBeGreaterThan(100);
  });

  it('startNode({ inspect }) feeds the same events in real mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-inspect-'));
    const seen: GreyInspectionEvent[] = [];
    const node = await startNode({ id: 'solo', peers: ['solo'], network: new LocalNetwork(), dataDir: dir, raft: { heartbeatMs: 20, electionTimeoutMin: 100, electionTimeoutMax: 200 }, inspect: (e) => seen.push(e) });
    try {
      await until(() => seen.some((e) => e.type === '@xstate.snapshot' && kindOf(e) === 'membership' && snapOf(e).value === 'voter'), 'the node becomes a voting member');
      expect(seen.some((e) => kindOf(e) === 'raft' && e.type === '@xstate.snapshot')).toBe(true);
      expect(seen.every((e) => e.node === 'solo')).toBe(true);
    } finally {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
