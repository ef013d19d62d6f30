import { DEFAULT_FORWARD_BREAKER } from '../actors/clusterNode.js';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../system/client.js';
import { createCluster, type Cluster, type ClusterOptions } from '../system/cluster.js';
import type { GreyEvent } from '../system/events.js';
import type { LinkConfigPatch } from '../system/network.js';
import type { PressureSignal } from '../system/bus.js';

/**
 * The seed's Network Stress workflow (003, section 5): real Grey clusters on
 * the modelled network under loss, jitter, partitions, congestion and
 * backpressure. Everything runs on virtual time; the online invariant
 * checker is on in every cluster (a violation throws from the step).
 */

const BASE = 5;
const JITTER = 1;
const healthy: LinkConfigPatch = { latency: { base: BASE, jitter: JITTER, distribution: 'uniform' } };

/** A closed-loop write workload: each client submits its next put as soon as the previous one is answered. */
interface Load {
  /** Keys whose put was acknowledged (committed and applied). */
  readonly acked: string[];
  /** Virtual time of each acknowledgement. */
  readonly ackTimes: number[];
  readonly errors: unknown[];
  /** Stops issuing new puts; the promise settles once every outstanding one is answered (drive it). */
  stop(): Promise<void>;
}

function startLoad(c: Cluster, clients: number, prefix = 'k'): Load {
  let stopped = false;
  const acked: string[] = [];
  const ackTimes: number[] = [];
  const errors: unknown[] = [];
  const loops = Array.from({ length: clients }, async (_, i) => {
    const client = c.client({ id: `${prefix}-client${i}` });
    for (let n = 0; !stopped; n++) {
      const key = `${prefix}${i}-${n}`;
      try {
        await client.submit({ op: 'put', key, value: n });
        acked.push(key);
        ackTimes.push(c.kernel.now());
      } catch (err) {
        errors.push(err);
      }
    }
  });
  return {
    acked,
    ackTimes,
    errors,
    stop: () => {
      stopped = true;
      return Promise.all(loops).then(() => undefined);
    },
  };
}

/** Acknowledgements per virtual second in [from, to). */
function rate(load: Load, from: number, to: number): number {
  return load.ackTimes.filter((t) => t >= from && t < to).length / ((to - from) / 1_000);
}

/** Runs `load` for `ms` of virtual time and returns its commits per virtual second over that window. */
async function measure(c: Cluster, load: Load, ms: number): Promise<number> {
  const from = c.kernel.now();
  await c.run(ms);
  return rate(load, from, from + ms);
}

/**
 * Quiet, then: every member applied the same log (equal digests) and holds
 * the same state, every acknowledged key is there, and the online checker
 * saw no violation.
 */
async function expectConverged(c: Cluster, acked: readonly string[], within = 10_000): Promise<void> {
  await c.settle(within);
  const leader = c.leader()!;
  const index = leader.raft.lastApplied;
  const reference = JSON.stringify(leader.state.snapshot());
  const { voters, learners } = leader.raft.config;
  const members = c.upNodes().filter((n) => voters.includes(n.id) || learners.includes(n.id));
  expect(members.length).toBe(voters.length + learners.length);
  for (const n of members) {
    expect(n.raft.lastApplied, n.id).toBe(index);
    expect(n.raft.digestAt(index), n.id).toBe(leader.raft.digestAt(index));
    expect(JSON.stringify(n.state.snapshot()) === reference, `${n.id} holds the leader's state`).toBe(true);
  }
  expect(acked.filter((k) => leader.state.get(k) === undefined)).toEqual([]); // nothing acknowledged lost
  expect(c.checker?.violation).toBeUndefined();
}

/** Registers the `work` handler (a short virtual sleep) and counts completions per task. */
function withTasks(c: Cluster): Map<string, number> {
  c.registerHandler('work', async (payload, ctx) => {
    await ctx.sleep(10);
    return payload;
  });
  const completions = new Map<string, number>();
  c.events$.subscribe((e: GreyEvent) => {
    if (e.type === 'task.completed') completions.set(e.taskId, (completions.get(e.taskId) ?? 0) + 1);
  });
  return completions;
}

/** Submits `n` tasks (one submission each), drives them to the end and checks each completed exactly once. */
async function runTasks(c: Cluster, completions: Map<string, number>, n: number): Promise<void> {
  const client = c.client();
  const handles = Array.from({ length: n }, (_, i) => client.submitTask({ type: 'work', payload: i, maxRetries: 3 }));
  const results = await c.drive(Promise.all(handles.map((h) => h.result)), 30_000);
  expect(results.map((r) => r.result)).toEqual(handles.map((_, i) => i));
  for (const h of handles) expect(completions.get(h.id), h.id).toBe(1);
}

/** Message delays (delivery time − send time) of every delivery on the bus. */
function recordDelays(c: Cluster): number[] {
  const delays: number[] = [];
  for (const id of c.ids) c.bus.inbox(id).subscribe((env) => delays.push(c.kernel.now() - env.sentAt));
  return delays;
}

/** Each term's leaders, from the trace's role events (needs the trace, which `check` turns on). */
function recordLeaders(c: Cluster): Map<number, Set<string>> {
  const leaders = new Map<number, Set<string>>();
  c.trace!.subscribe((e) => {
    if (e.type !== 'role' || e.role !== 'leader') return;
    const term = e.term as number;
    let set = leaders.get(term);
    if (!set) leaders.set(term, (set = new Set()));
    set.add(e.node as string);
  });
  return leaders;
}

function cluster(options: Partial<ClusterOptions> & { seed: number }): Cluster {
  return createCluster({ nodes: 5, network: healthy, ...options });
}

describe('Network Stress', () => {
  it('test_normal_network_operation: writes and tasks flow, nothing is dropped, and latency is the link latency', async () => {
    const c = cluster({ seed: 301 });
    const completions = withTasks(c);
    const delays = recordDelays(c);
    await c.waitForLeader(3_000);
    await c.settle();

    // One write on a quiet cluster: client → leader, one replication round trip, leader → client (four link delays).
    const client = c.client();
    await c.drive(client.submit({ op: 'put', key: 'warm-up', value: 1 })); // the client learns who leads
    const t0 = c.kernel.now();
    await c.drive(client.submit({ op: 'put', key: 'probe', value: 1 }));
    const commitLatency = c.kernel.now() - t0;
    expect(commitLatency).toBeGreaterThanOrEqual(4 * (BASE - JITTER));
    expect(commitLatency).toBeLessThanOrEqual(4 * (BASE + JITTER) + 1);

    const load = startLoad(c, 16);
    const perSecond = await measure(c, load, 1_000);
    await c.drive(load.stop());
    await runTasks(c, completions, 20);

    expect(perSecond).toBeGreaterThan(500);
    expect(load.errors).toEqual([]);
    const stats = c.bus.stats();
    expect(stats.dropped).toEqual({ loss: 0, partition: 0, cut: 0, down: 0, backpressure: 0 });
    expect(stats.duplicated).toBe(0);
    // Every message took the link latency: within base ± jitter, centred on base (FIFO never adds beyond the bound).
    expect(delays.length).toBe(stats.links.filter((l) => c.ids.includes(l.to)).reduce((n, l) => n + l.delivered, 0)); // deliveries to nodes (clients are on the bus too)
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(BASE - JITTER);
    expect(Math.max(...delays)).toBeLessThanOrEqual(BASE + JITTER);
    expect(Math.abs(delays.reduce((a, b) => a + b, 0) / delays.length - BASE)).toBeLessThan(0.25);
    await expectConverged(c, [...load.acked, 'warm-up', 'probe']);
  });

  it('test_packet_loss_handling: with 10% loss on every link, writes and tasks complete and nothing acknowledged is lost', async () => {
    const c = cluster({ seed: 302, network: { ...healthy, loss: 0.1 } });
    const completions = withTasks(c);
    await c.waitForLeader(3_000);
    const load = startLoad(c, 16);
    const perSecond = await measure(c, load, 1_000);
    await c.drive(load.stop());
    await runTasks(c, completions, 20);

    expect(perSecond).toBeGreaterThan(100);
    expect(load.errors).toEqual([]);
    const stats = c.bus.stats();
    // The losses are real, about one message in ten, and nothing else dropped anything.
    expect(stats.dropped.loss / stats.sent).toBeGreaterThan(0.07);
    expect(stats.dropped.loss / stats.sent).toBeLessThan(0.13);
    expect({ ...stats.dropped, loss: 0 }).toEqual({ loss: 0, partition: 0, cut: 0, down: 0, backpressure: 0 });
    // Every link lost some of its traffic (the loss is on every link, not on one).
    for (const link of stats.links.filter((l) => l.sent >= 50)) expect(link.dropped.loss, `${link.from}→${link.to}`).toBeGreaterThan(0);
    expect(stats.sent + stats.duplicated).toBe(stats.delivered + stats.dropped.loss + stats.inFlight);
    await expectConverged(c, load.acked);
  });

  it('test_latency_jitter: under heavy jitter there is still one leader per term, and progress', async () => {
    // Delays from 10 ms to well past the election timeout (exponential tail, mean 70 ms).
    const c = cluster({ seed: 303, network: { latency: { base: 10, jitter: 60, distribution: 'exponential' } } });
    const leaders = recordLeaders(c);
    const delays = recordDelays(c);
    await c.waitForLeader(5_000);
    const load = startLoad(c, 16);
    const perSecond = await measure(c, load, 2_000);
    // Late heartbeats cost elections sooner or later: keep the load on until
    // one happened, so there are several terms to check.
    await c.runUntil(() => leaders.size >= 2, { within: 300_000, description: 'an election under jitter' });
    await c.drive(load.stop(), 20_000);

    expect(Math.min(...delays)).toBeLessThan(12);
    expect(Math.max(...delays)).toBeGreaterThan(100); // the jitter is real
    for (const [term, who] of leaders) expect([...who], `leaders of term ${term}`).toHaveLength(1);
    expect(perSecond).toBeGreaterThan(20);
    expect(load.acked.length).toBeGreaterThan(40);
    await expectConverged(c, load.acked);
  });

  it('test_network_partition: the majority side progresses, the minority cannot commit, and healing converges', async () => {
    const c = cluster({ seed: 304 });
    const old = await c.waitForLeader(3_000);
    const client = c.client();
    await c.drive(client.submit({ op: 'put', key: 'before', value: 0 }));
    await c.settle();
    const others = c.ids.filter((id) => id !== old.id);
    const minority = [old.id, others[0]];
    const majority = others.slice(1);
    const oldTerm = old.raft.currentTerm;
    c.partition([minority, majority]);
    const minorityCommit = new Map(minority.map((id) => [id, c.node(id).raft.commitIndex]));

    // The old leader still believes it leads for a moment: it takes a write it can never commit.
    let stranded: unknown = null;
    old.propose({ cmd: { op: 'put', key: 'stranded', value: 1 } }, (o) => (stranded = o));
    await c.run(1); // proposed at the end of the instant, with whatever else arrived in it
    expect(old.raft.log.lastIndex).toBeGreaterThan(old.raft.commitIndex);

    await c.runUntil(() => majority.some((id) => c.node(id).raft.isLeader), { within: 3_000, description: 'a majority leader' });
    const fresh = c.leader()!;
    expect(majority).toContain(fresh.id);
    expect(fresh.raft.currentTerm).toBeGreaterThan(oldTerm);
    const acked: string[] = ['before'];
    for (let i = 0; i < 20; i++) {
      await c.drive(client.submit({ op: 'put', key: `during${i}`, value: i }));
      acked.push(`during${i}`);
    }
    await c.run(500);
    // The minority commits nothing, and its old leader has stepped down (CheckQuorum).
    for (const id of minority) expect(c.node(id).raft.commitIndex, id).toBe(minorityCommit.get(id));
    expect(old.raft.isLeader).toBe(false);
    expect(stranded).toBeNull();
    for (const id of minority) expect(c.node(id).state.get('during0'), id).toBeUndefined();
    expect(c.bus.stats().dropped.partition).toBeGreaterThan(0);

    c.heal();
    await expectConverged(c, acked);
    for (const n of c.upNodes()) {
      expect(n.state.get('during19'), n.id).toBe(19);
      expect(n.state.get('stranded'), n.id).toBeUndefined(); // never committed: overwritten
    }
    expect(stranded).toMatchObject({ ok: false, code: 'ProposalDropped' });
  });

  it('test_backpressure_propagation: full links signal backpressure and the system converges; the task pipeline sheds load with Backpressure', async () => {
    // Part 1: the network. Two messages in flight per link at most.
    const c = cluster({ seed: 305, nodes: 3, network: { ...healthy, capacity: 2 } });
    const refusals: Array<{ depth: number; capacity: number }> = [];
    const edges: PressureSignal[] = [];
    c.bus.backpressure$.subscribe((s) => refusals.push(s));
    c.bus.pressure$.subscribe((s) => edges.push(s));
    await c.waitForLeader(3_000);
    const load = startLoad(c, 16);
    await c.run(1_000);
    await c.drive(load.stop());

    expect(refusals.length).toBeGreaterThan(0);
    expect(c.bus.stats().dropped.backpressure).toBe(refusals.length);
    for (const r of refusals) expect(r.depth).toBeGreaterThanOrEqual(r.capacity);
    // Pressure edges alternate per link, on first, and each is at the threshold it claims.
    const byLink = new Map<string, PressureSignal[]>();
    for (const e of edges) byLink.set(`${e.from}→${e.to}`, [...(byLink.get(`${e.from}→${e.to}`) ?? []), e]);
    expect(byLink.size).toBeGreaterThan(0);
    for (const [link, list] of byLink) {
      list.forEach((e, i) => expect(e.pressured, `${link} edge ${i}`).toBe(i % 2 === 0));
      for (const e of list) expect(e.pressured ? e.depth >= e.capacity : e.depth <= e.capacity / 2, link).toBe(true);
    }
    expect(load.errors).toEqual([]);
    expect(load.acked.length).toBeGreaterThan(100);
    await expectConverged(c, load.acked);
    await c.run(200);
    // Drained: every link that came under pressure has been released (idle traffic never fills two slots).
    for (const [link, list] of byLink) expect(list[list.length - 1].pressured, link).toBe(false);

    // Part 2: the pipeline's own shedding. No workers yet, so submitted tasks wait.
    const t = createCluster({ nodes: 3, seed: 306, network: healthy, workerCapacity: null, tasks: { maxPendingTasks: 5 } });
    t.registerHandler('work', (p) => p);
    await t.waitForLeader(3_000);
    const tc = t.client();
    const first = tc.submitTasks(Array.from({ length: 3 }, (_, i) => ({ type: 'work', payload: i })));
    await t.drive(Promise.all(first.map((h) => h.accepted)));
    const second = tc.submitTasks([{ type: 'work', payload: 3 }, { type: 'work', payload: 4 }]);
    await t.drive(Promise.all(second.map((h) => h.accepted)));
    const refused = tc.submitTask({ type: 'work', payload: 5 });
    const err = await t.drive(refused.accepted).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'Backpressure', outcome: 'failed' });
    await t.settle();
    expect(t.leader()!.state.tasks()).toHaveLength(5); // refused before the log: nothing of it was applied
    expect(t.leader()!.state.task(refused.id)).toBeUndefined();
    // Capacity arrives, the queue drains, and submissions are accepted again.
    await t.drive(tc.submit({ op: 'registerWorker', worker: 'n1', capacity: { cpu: 8, memoryBytes: 2 ** 32 } }));
    const done = await t.drive(Promise.all([...first, ...second].map((h) => h.result)));
    expect(done.map((r) => r.result)).toEqual([0, 1, 2, 3, 4]);
    const later = tc.submitTask({ type: 'work', payload: 6 });
    expect((await t.drive(later.result)).result).toBe(6);
    expect(t.checker?.violation).toBeUndefined();
  });

  it('test_circuit_breaker_activation: a follower whose leader stops answering opens its forwarding breaker, fails fast, half-opens and closes when the link recovers', async () => {
    // A long removal grace: this test is about the breaker, not about reconfiguration.
    const c = cluster({ seed: 306, keepTrace: true, recovery: { removeAfterMs: 60_000 } });
    const leader = await c.waitForLeader(3_000);
    await c.settle();
    const follower = c.upNodes().find((n) => n.id !== leader.id)!;
    const key = `forward:${leader.id}`;
    const changes: string[] = [];
    follower.onBreaker((b) => changes.push(`${b.from}->${b.to}`));
    let forwardsSent = 0;
    c.bus.drops$.subscribe((d) => {
      if (d.envelope.type === 'grey.forward' && d.envelope.from === follower.id) forwardsSent++;
    });
    c.bus.inbox(leader.id).subscribe((env) => {
      if (env.type === 'grey.forward' && env.from === follower.id) forwardsSent++;
    });
    expect(c.breakers()[follower.id]).toEqual({ [key]: 'closed' }); // its boot-time registration went through

    // The leader keeps leading (heartbeats still reach the follower) but never hears the follower's requests.
    c.bus.cut(follower.id, leader.id);
    follower.forward({ op: 'put', key: 'via-follower', value: follower.id });
    await c.runUntil(() => c.breakers()[follower.id][key] === 'open', { within: 5_000, description: 'the breaker open' });
    expect(changes).toEqual(['closed->open']);
    expect(forwardsSent).toBe(DEFAULT_FORWARD_BREAKER.failureThreshold); // the failure threshold: that many unanswered calls in a row
    expect(follower.raft.leader).toBe(leader.id);

    // Open: fail fast. The command stays queued, and nothing is sent to the leader.
    const sentWhenOpened = forwardsSent;
    await c.run(900);
    expect(c.breakers()[follower.id][key]).toBe('open');
    expect(forwardsSent).toBe(sentWhenOpened);
    expect(follower.forwardsPending).toBe(1);

    // After the reset timeout it half-opens and lets one trial through, which fails: open again.
    await c.runUntil(() => c.breakers()[follower.id][key] === 'halfOpen', { within: 500, description: 'half-open' });
    await c.runUntil(() => changes.length === 3, { within: 1_000, description: 'the trial answered' });
    expect(changes).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->open']);
    expect(forwardsSent).toBe(sentWhenOpened + 1);

    // The link recovers: the next trial succeeds and closes the breaker; the command is applied everywhere.
    c.bus.restore(follower.id, leader.id);
    await c.runUntil(() => c.breakers()[follower.id][key] === 'closed', { within: 3_000, description: 'the breaker closed' });
    expect(changes).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->open', 'open->halfOpen', 'halfOpen->closed']);
    await c.runUntil(() => follower.forwardsPending === 0, { within: 2_000, description: 'the forward applied' });
    await expectConverged(c, []);
    for (const n of c.upNodes()) expect(n.state.get('via-follower'), n.id).toBe(follower.id);
    expect(leader.raft.isLeader).toBe(true);
    // The trace has the same story, as `breaker` events of the follower.
    const traced = c
      .trace!.toJSONL()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.type === 'breaker' && e.node === follower.id)
      .map((e) => `${e.from}->${e.to}`);
    expect(traced).toEqual(changes);
  });

  it('test_recovery_after_congestion: once the congestion clears the queues drain and throughput returns', async () => {
    const c = cluster({ seed: 307, nodes: 3 });
    const refusals: number[] = [];
    c.bus.backpressure$.subscribe((s) => refusals.push(s.at));
    await c.waitForLeader(3_000);
    const load = startLoad(c, 16);
    await c.run(200); // warm up
    const before = await measure(c, load, 1_000);

    // Congestion: slow links that hold two messages at most.
    c.bus.configureDefaults({ latency: { base: 40 }, capacity: 2 });
    const congestedFrom = c.kernel.now();
    const during = await measure(c, load, 1_000);
    expect(refusals.filter((t) => t >= congestedFrom).length).toBeGreaterThan(0);
    expect(during).toBeLessThan(before / 2);

    // Clear: the queues drain, and throughput comes back to what it was.
    c.bus.configureDefaults({ latency: { base: BASE }, capacity: 10_000 });
    const clearedAt = c.kernel.now();
    await c.run(200);
    const after = await measure(c, load, 1_000);
    // Strictly after: a refusal at the clearing instant came from an event that ran before the clear.
    expect(refusals.filter((t) => t > clearedAt)).toEqual([]);
    expect(after).toBeGreaterThan(before * 0.8);
    await c.drive(load.stop());
    expect(load.errors).toEqual([]);
    await expectConverged(c, load.acked);
    await c.run(100);
    expect(c.bus.inFlight).toBeLessThanOrEqual(c.ids.length * (c.ids.length - 1)); // at most a heartbeat or its answer per link
  });

  it('test_queue_depth_monitoring: depth$ reports a link queue rising under a burst and falling as it drains', async () => {
    // Small batches and a deep pipeline, so a burst puts many messages on the wire at once.
    const c = createCluster({ nodes: 3, seed: 308, network: { latency: { base: 20, jitter: 0, distribution: 'uniform' } }, raft: { maxBatch: 4, maxInflight: 32 } });
    const leader = await c.waitForLeader(3_000);
    await c.settle();
    const follower = c.ids.find((id) => id !== leader.id)!;
    const samples: number[] = [];
    c.bus.depth$(leader.id, follower).subscribe((d) => {
      samples.push(d);
      expect(d).toBe(c.bus.depth(leader.id, follower)); // the stream is the link's live depth
    });
    expect(samples).toHaveLength(1); // the current depth, on subscription
    expect(samples[0]).toBeLessThanOrEqual(1);

    // One write a millisecond: each reaches the leader alone, so each is its
    // own entry and its own append (requests arriving together share one).
    const client = c.client({ id: 'burst' });
    const writes: Promise<unknown>[] = [];
    for (let k = 0; k < 60; k++) {
      writes.push(client.submit({ op: 'put', key: `burst-${k}`, value: k }));
      await c.run(1);
    }
    await c.drive(Promise.all(writes));
    const peak = Math.max(...samples);
    expect(peak).toBeGreaterThanOrEqual(16);
    // Each change is one message sent or delivered.
    for (let i = 1; i < samples.length; i++) expect(Math.abs(samples[i] - samples[i - 1])).toBe(1);
    const peakAt = samples.indexOf(peak);
    expect(samples.slice(peakAt)).toContain(0); // drained back to empty
    expect(c.bus.linkStats(leader.id, follower).inFlight).toBe(c.bus.depth(leader.id, follower));
    await c.run(500);
    expect(Math.max(...samples.slice(-10))).toBeLessThanOrEqual(1); // idle: a heartbeat at most
    await expectConverged(c, Array.from({ length: 60 }, (_, k) => `burst-${k}`));
  });

  it('test_throughput_under_stress: under loss, jitter and duplication throughput degrades gracefully, with no violation', async () => {
    const run = async (network: LinkConfigPatch) => {
      const c = cluster({ seed: 309, network });
      await c.waitForLeader(5_000);
      await c.settle(5_000);
      const load = startLoad(c, 16);
      const perSecond = await measure(c, load, 2_000);
      await c.drive(load.stop(), 20_000);
      await expectConverged(c, load.acked);
      return { perSecond, errors: load.errors, stats: c.bus.stats() };
    };
    const baseline = await run(healthy);
    const stressed = await run({ latency: { base: BASE, jitter: 5, distribution: 'uniform' }, loss: 0.1, duplicate: 0.05, reorder: 0.05 });

    expect(stressed.stats.dropped.loss).toBeGreaterThan(0);
    expect(stressed.stats.duplicated).toBeGreaterThan(0);
    expect(stressed.perSecond).toBeLessThan(baseline.perSecond);
    expect(stressed.perSecond).toBeGreaterThan(0.3 * baseline.perSecond);
    expect(baseline.errors).toEqual([]);
    expect(stressed.errors).toEqual([]);
  });
});
