/**
 * Clocks that drift: each node's clock runs at its own rate, the nemesis
 * skews it, and lease reads stay safe within the bound they assume; past
 * it, the linearizability checker catches the stale read they serve.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../system/kernel.js';
import { DriftingClock } from '../system/driftingClock.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import { checkHistory, HistoryRecorder } from '../system/linearizability.js';
import { parseFaults } from '../system/nemesis.js';
import { runSimulation, seedFailed } from '../system/simulation.js';
import { whyFailed } from '../system/simulateCommand.js';

const EXACT = { latency: { base: 5, jitter: 0, distribution: 'uniform' as const } };

describe('a drifting clock', () => {
  it('reads local time at its rate, scales its timers, and stays continuous when the rate changes', async () => {
    const k = new Kernel({ seed: 1 });
    const fast = new DriftingClock(k, 1.5);
    let fired = -1;
    fast.setTimeout(() => (fired = k.now()), 30); // 30 local ms = 20 true ms
    k.advance(10);
    expect(fast.now()).toBe(15);
    k.advance(10);
    expect(fired).toBe(20);
    fast.setRate(0.5);
    expect(fast.now()).toBe(30);
    k.advance(10);
    expect(fast.now()).toBe(35);
    expect(() => fast.setRate(0)).toThrow(RangeError);
    expect(new DriftingClock(k).now()).toBe(k.now()); // rate 1: the kernel's own time
  });

  it('a cluster draws each node’s rate from the seed within its bound; none without one', () => {
    const rates = (c: Cluster) => c.ids.map((id) => c.clockRate(id));
    const a = createTestCluster(5, { seed: 3, clockDrift: 0.01 });
    expect(rates(a).every((r) => r >= 0.99 && r <= 1.01)).toBe(true);
    expect(new Set(rates(a)).size).toBe(5);
    expect(rates(createTestCluster(5, { seed: 3, clockDrift: 0.01 }))).toEqual(rates(a));
    expect(rates(createTestCluster(3, { seed: 3 }))).toEqual([1, 1, 1]);
    expect(() => createTestCluster(3, { clockDrift: 1.5 })).toThrow(/clockDrift must be a number in \[0, 1\)/);
    expect(() => createTestCluster(3, { raft: { clockDriftBound: -1 } })).toThrow(/clockDriftBound/);
  });

  it('the nemesis skews clocks within the bound (fault kind clock), and runs stay safe', async () => {
    expect(parseFaults('clock')).toEqual(['clock']);
    const r = await runSimulation({ seed: 4, nodes: 5, durationMs: 10_000, faults: ['clock', 'partition', 'crash', 'restart'], latency: [5, 15], electionTimeout: [150, 300], rate: 100, clockDrift: 0.01 });
    expect(seedFailed(r), whyFailed(r)).toBe(false);
    expect(r.episodes.some((e) => e.startsWith('clock'))).toBe(true);
  });
});

describe('lease reads', () => {
  /** Reads from the old leader after a partition, while a new leader takes a write: the history the clients saw, checked. */
  async function staleReadScenario(leaderRate: number) {
    const c = createTestCluster(3, { seed: 21, network: EXACT, raft: { leaseReads: true } });
    const old = (await c.waitForLeader()).id;
    const history = new HistoryRecorder(() => c.kernel.now());
    const w = c.client({ id: 'w' });
    const first = history.invoke('w', { f: 'put', key: 'x', value: 1 });
    history.ok(first, await c.drive(w.put('x', 1)));
    await c.settle();
    await c.run(100); // heartbeats acknowledged: the leader holds a lease
    c.setClockRate(old, leaderRate);
    const others = c.ids.filter((id) => id !== old);
    c.partition([[old], others]);
    await c.runUntil(() => others.some((id) => c.node(id).raft.isLeader), { within: 3_000, description: 'a new leader' });
    const fresh = others.find((id) => c.node(id).raft.isLeader)!;
    const b = c.client({ id: 'b', endpoints: [fresh] });
    const second = history.invoke('b', { f: 'put', key: 'x', value: 2 });
    history.ok(second, await c.drive(b.put('x', 2)));
    await c.run(1); // strictly after the write returned (at one instant the two would count as concurrent)
    // A client that still talks to the old leader reads x.
    const a = c.client({ id: 'a', endpoints: [old], timeoutMs: 300 });
    const read = history.invoke('a', { f: 'read', key: 'x' });
    let answer: unknown;
    try {
      const r = await c.drive(a.get('x'));
      answer = r.found ? r.value : undefined;
      history.ok(read, r.found ? { found: true, value: r.value, revision: r.revision } : { found: false });
    } catch {
      history.fail(read); // no answer: a read that did not happen
      answer = 'no answer';
    }
    return { answer, result: checkHistory(history.operations()) };
  }

  it('within the drift bound the old leader’s lease ends before a new leader exists: no stale read', async () => {
    const { answer, result } = await staleReadScenario(0.99);
    expect(answer).not.toBe(1);
    expect(result.ok).toBe(true);
  });

  it('negative control: a leader clock far slower than the bound keeps serving its lease, and the checker finds the stale read', async () => {
    const { answer, result } = await staleReadScenario(0.05);
    expect(answer).toBe(1);
    expect(result).toMatchObject({ ok: false, kind: 'violation', key: 'x' });
  });

  it('a lease read answers without a heartbeat round: one client round trip instead of two', async () => {
    const latency = async (leaseReads: boolean) => {
      const c = createTestCluster(3, { seed: 22, network: EXACT, raft: { leaseReads } });
      await c.waitForLeader();
      const cl = c.client({ id: 'r' });
      await c.drive(cl.put('k', 1));
      await c.run(100); // a heartbeat round acknowledged: the lease is fresh
      const t0 = c.kernel.now();
      expect((await c.drive(cl.get('k'))).found).toBe(true);
      return c.kernel.now() - t0;
    };
    const withLease = await latency(true);
    const without = await latency(false);
    expect(withLease).toBeLessThanOrEqual(11);
    expect(without).toBeGreaterThanOrEqual(19);
  });
});
