import { describe, expect, it } from 'vitest';
import { EventLog } from '../actors/eventLog.js';
import { DEFAULT_FORWARD_BREAKER, type BreakerChange, type ClusterNode } from '../actors/clusterNode.js';
import { DEFAULT_PEER_HEALTH, type HealthChange } from '../actors/peerHealth.js';
import { accrualPhi, PhiAccrualDetector } from '../actors/phiAccrualDetector.js';
import { quorumOf } from '../machines/raftRole.js';
import { ClientError, type TaskHandle } from '../system/client.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import { rejection } from './helpers/rejection.js';
import type { GreyEvent } from '../system/events.js';

/*
 * The seed's Failure & Recovery workflow (003, section 3): detect a failure,
 * quarantine the peer, reconfigure the membership, replay its incomplete
 * tasks, restore it when it comes back, and keep one failure from becoming
 * many. Everything runs on virtual time: bounds below are computed from the
 * options, not guessed from a wall clock.
 */

const fast = { latency: { base: 2, jitter: 1, distribution: 'uniform' as const } };
/** Largest one-way latency of `fast`. */
const FAST_MAX_LATENCY = 3;

/** The forwarding breaker every node uses (ClusterNode's defaults; the cluster passes none). */
const BREAKER = DEFAULT_FORWARD_BREAKER as Required<typeof DEFAULT_FORWARD_BREAKER>;
/** ClusterNode's default: a forwarded command unanswered this long counts as a failed call. */
const FORWARD_RETRY_MS = 300;

type TraceLine = Record<string, any>;

/** The kept trace's events, optionally of one type. */
function traceEvents(c: Cluster, type?: string): TraceLine[] {
  const lines = c.trace!.toJSONL().trim().split('\n').map((l) => JSON.parse(l) as TraceLine);
  return type === undefined ? lines : lines.filter((e) => e.type === type);
}

/** Every health change a node reports, from now on. */
function recordHealth(node: ClusterNode): HealthChange[] {
  const out: HealthChange[] = [];
  node.health.onChange((h) => out.push(h));
  return out;
}

/** Every committed event, from now on. */
function recordEvents(c: Cluster): GreyEvent[] {
  const out: GreyEvent[] = [];
  c.events$.subscribe((e) => out.push(e));
  return out;
}

/** The time a node last received anything from `peer` (kept up to date). */
function lastHeard(c: Cluster, at: string, peer: string): { at: number } {
  const box = { at: Number.NEGATIVE_INFINITY };
  c.bus.inbox(at).subscribe((env) => {
    if (env.from === peer) box.at = c.kernel.now();
  });
  return box;
}

function followersOf(c: Cluster, leader: ClusterNode): string[] {
  return c.ids.filter((id) => id !== leader.id && c.isUp(id));
}

/** The silence (ms after the last heartbeat) at which phi reaches `threshold` for this mean and deviation. */
function silenceToThreshold(threshold: number, meanMs: number, sdMs: number): number {
  let lo = 0;
  let hi = 100_000;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (accrualPhi(mid, meanMs, sdMs) >= threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

describe('Failure & Recovery workflow', () => {
  it('test_heartbeat_failure_detection: a crashed follower is suspected after the heartbeat timeout, quarantined after the suspect timeout; a live one never is', async () => {
    const heartbeat = { timeoutMs: 250, acceptablePauseMs: 0 };
    const quarantine = { suspectTimeoutMs: 150, baseQuarantineMs: 10_000 };
    const checkIntervalMs = 40;
    const c = createTestCluster(3, { seed: 101, network: fast, keepTrace: true, health: { detector: 'heartbeat', heartbeat, quarantine, checkIntervalMs } });
    const leader = await c.waitForLeader();
    const changes = recordHealth(leader);
    const [victim, bystander] = followersOf(c, leader);
    const heard = lastHeard(c, leader.id, victim);

    // A long quiet run: nobody is ever suspected, by anyone.
    await c.run(20_000);
    expect(c.leader()).toBe(leader);
    expect(traceEvents(c, 'health')).toEqual([]);
    expect(c.health()[leader.id]).toEqual({ [victim]: 'healthy', [bystander]: 'healthy' });

    const crashAt = c.kernel.now();
    c.crash(victim);
    // The bound, from the options: last message + timeout + one check interval + suspect timeout.
    const bound = FAST_MAX_LATENCY + heartbeat.timeoutMs + checkIntervalMs + quarantine.suspectTimeoutMs;
    await c.runUntil(() => leader.health.state(victim) === 'quarantined', { within: bound, description: 'the crashed follower quarantined' });
    const quarantinedAt = c.kernel.now();

    const mine = changes.filter((h) => h.peer === victim);
    expect(mine.map((h) => `${h.from}→${h.to}`)).toEqual(['healthy→suspect', 'suspect→quarantined']);
    const suspectAt = mine[0].at;
    expect(mine[0].reason).toBe('heartbeat timeout');
    // The last sign of life was the follower's answer to the last heartbeat before the crash.
    expect(heard.at).toBeGreaterThanOrEqual(crashAt - 60);
    expect(heard.at).toBeLessThanOrEqual(crashAt + FAST_MAX_LATENCY);
    // Suspected at the first check strictly after lastHeard + timeout, not before.
    expect(suspectAt).toBeGreaterThan(heard.at + heartbeat.timeoutMs);
    expect(suspectAt).toBeLessThanOrEqual(heard.at + heartbeat.timeoutMs + checkIntervalMs);
    // Quarantined exactly when the suspicion went unanswered for the suspect timeout.
    expect(quarantinedAt - suspectAt).toBe(quarantine.suspectTimeoutMs);
    expect(quarantinedAt - crashAt).toBeLessThanOrEqual(bound);

    // The live follower stays healthy through a long run after the crash too (shorter than the quarantine).
    await c.run(5_000);
    expect(changes.filter((h) => h.peer === bystander)).toEqual([]);
    expect(leader.health.state(bystander)).toBe('healthy');
    // The trace tells the same story.
    const traced = traceEvents(c, 'health').filter((e) => e.node === leader.id);
    expect(traced.map((e) => `${e.peer}:${e.from}→${e.to}`)).toEqual([`${victim}:healthy→suspect`, `${victim}:suspect→quarantined`]);
  });

  it('test_phi_accrual_detection: on jittery links live peers stay healthy with low phi; a crashed peer\'s phi rises past the threshold and it is quarantined within the bound', async () => {
    const jittery = { latency: { base: 8, jitter: 6, distribution: 'uniform' as const }, loss: 0.01 };
    const maxLatency = 14;
    const c = createTestCluster(5, { seed: 102, network: jittery, keepTrace: true }); // default health: phi accrual
    const leader = await c.waitForLeader();
    await c.settle();
    const changes = recordHealth(leader);
    const peers = followersOf(c, leader);

    // Shadow detectors with the node's configuration, fed by what the leader receives.
    const phiConfig = { ...DEFAULT_PEER_HEALTH.phi };
    const shadow = new Map(peers.map((p) => [p, new PhiAccrualDetector(phiConfig)]));
    for (const d of shadow.values()) d.heartbeat(c.kernel.now());
    c.bus.inbox(leader.id).subscribe((env) => shadow.get(env.from)?.heartbeat(c.kernel.now()));

    // 20 s of jitter and a little loss: no false suspicion, phi stays low throughout.
    let maxPhi = 0;
    for (let t = 0; t < 20_000; t += 10) {
      await c.run(10);
      for (const d of shadow.values()) maxPhi = Math.max(maxPhi, d.phi(c.kernel.now()));
    }
    expect(c.leader()).toBe(leader);
    expect(traceEvents(c, 'health')).toEqual([]);
    expect(Object.values(c.health()).flatMap((v) => Object.values(v)).every((s) => s === 'healthy')).toBe(true);
    expect(maxPhi).toBeLessThan(phiConfig.threshold / 2);

    const [victim, ...live] = peers;
    const crashAt = c.kernel.now();
    c.crash(victim);
    // Bound: mean interval ≤ one Raft heartbeat, plus the acceptable pause, σ at its floor.
    const silence = silenceToThreshold(phiConfig.threshold, 50 + phiConfig.acceptableHeartbeatPauseMs, phiConfig.minStdDeviationMs);
    const bound = maxLatency + silence + DEFAULT_PEER_HEALTH.checkIntervalMs + DEFAULT_PEER_HEALTH.quarantine.suspectTimeoutMs;
    const victimPhi: number[] = [];
    await c.runUntil(
      () => {
        victimPhi.push(shadow.get(victim)!.phi(c.kernel.now()));
        return leader.health.state(victim) === 'quarantined';
      },
      { within: bound, description: 'the crashed peer quarantined' },
    );
    const quarantinedAt = c.kernel.now();
    expect(quarantinedAt - crashAt).toBeLessThanOrEqual(bound);

    // The crashed peer's phi only rises, and crosses the threshold; the live ones' stays low.
    for (let i = 1; i < victimPhi.length; i++) expect(victimPhi[i]).toBeGreaterThanOrEqual(victimPhi[i - 1]);
    expect(victimPhi.at(-1)!).toBeGreaterThan(phiConfig.threshold);
    for (const p of live) expect(shadow.get(p)!.phi(c.kernel.now())).toBeLessThan(1);

    // The node suspected it with phi over the threshold, then quarantined it.
    const mine = changes.filter((h) => h.peer === victim);
    expect(mine.map((h) => h.to)).toEqual(['suspect', 'quarantined']);
    const m = /^phi (\d+(?:\.\d+)?) over threshold$/.exec(mine[0].reason ?? '');
    expect(m, `reason: ${mine[0].reason}`).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(phiConfig.threshold);
    expect(mine[1].at - mine[0].at).toBe(DEFAULT_PEER_HEALTH.quarantine.suspectTimeoutMs);
    expect(changes.filter((h) => h.peer !== victim)).toEqual([]);
    const traced = traceEvents(c, 'health').filter((e) => e.node === leader.id);
    expect(traced.map((e) => [e.peer, e.to])).toEqual([[victim, 'suspect'], [victim, 'quarantined']]);
    expect(traced[0].reason).toBe(mine[0].reason);
  });

  it('test_quarantine_after_failure: a failed worker is quarantined for the configured time with its reason, gets no tasks meanwhile, then probation and healthy after it restarts', async () => {
    const q = { suspectTimeoutMs: 100, baseQuarantineMs: 1_500, probationPeriodMs: 300, probationHeartbeats: 3 };
    const c = createTestCluster(3, { seed: 103, network: fast, keepTrace: true, health: { quarantine: q } });
    c.registerHandler('work', async (_p, ctx) => {
      await ctx.sleep(20);
      return ctx.worker;
    });
    const leader = await c.waitForLeader();
    await c.settle();
    const client = c.client();
    const changes = recordHealth(leader);
    const assignedTo: Array<{ at: number; worker: string }> = [];
    c.events$.subscribe((e) => e.type === 'task.assigned' && assignedTo.push({ at: c.kernel.now(), worker: e.worker }));
    // Before the failure, the victim works like everyone else.
    const victim = followersOf(c, leader)[0];
    const warmup = await c.drive(Promise.all(client.submitTasks(Array.from({ length: 30 }, (_, i) => ({ type: 'work', payload: i }))).map((h) => h.result)));
    expect(warmup.some((r) => r.result === victim)).toBe(true);

    c.crash(victim);
    await c.runUntil(() => leader.health.state(victim) === 'quarantined', { within: 1_000, description: 'victim quarantined' });
    const quarantinedAt = c.kernel.now();
    const q1 = changes.find((h) => h.peer === victim && h.to === 'quarantined')!;
    expect(q1.reason).toMatch(/^phi \d+(\.\d+)? over threshold$/);

    // While quarantined: tasks are submitted and run, none on the victim (down, then back up but still quarantined).
    const during = client.submitTasks(Array.from({ length: 20 }, (_, i) => ({ type: 'work', payload: `d${i}` })));
    expect((await c.drive(Promise.all(during.map((h) => h.result)))).every((r) => r.result !== victim)).toBe(true);
    await c.runUntil(() => c.kernel.now() >= quarantinedAt + 500, { within: 1_000, description: 'half a second into the quarantine' });
    c.restart(victim);
    await c.run(200); // it is back, answering heartbeats, and re-registered as a worker
    expect(leader.health.state(victim)).toBe('quarantined'); // a quarantine is served in full
    const duringBack = client.submitTasks(Array.from({ length: 20 }, (_, i) => ({ type: 'work', payload: `b${i}` })));
    expect((await c.drive(Promise.all(duringBack.map((h) => h.result)))).every((r) => r.result !== victim)).toBe(true);

    await c.runUntil(() => leader.health.state(victim) === 'probation', { within: q.baseQuarantineMs, description: 'probation' });
    const probationAt = c.kernel.now();
    expect(probationAt - quarantinedAt).toBe(q.baseQuarantineMs); // the configured duration (first strike)
    await c.runUntil(() => leader.health.state(victim) === 'healthy', { within: q.probationPeriodMs, description: 'healthy again' });
    const healthyAt = c.kernel.now();
    expect(healthyAt - probationAt).toBe(q.probationPeriodMs);
    expect(changes.filter((h) => h.peer === victim).map((h) => h.to)).toEqual(['suspect', 'quarantined', 'probation', 'healthy']);
    // Each change says why it happened then, not why the peer was first suspected.
    expect(changes.filter((h) => h.peer === victim && (h.to === 'probation' || h.to === 'healthy')).map((h) => h.reason)).toEqual([`quarantine of ${q.baseQuarantineMs} ms served`, 'probation passed']);
    // No assignment to the victim from the moment it was quarantined until it was healthy again.
    expect(assignedTo.filter((a) => a.worker === victim && a.at >= quarantinedAt && a.at < healthyAt)).toEqual([]);

    // Healthy again: it gets work again.
    const after = client.submitTasks(Array.from({ length: 30 }, (_, i) => ({ type: 'work', payload: `a${i}` })));
    expect((await c.drive(Promise.all(after.map((h) => h.result)))).some((r) => r.result === victim)).toBe(true);
  });

  it('test_circuit_breaker_activation: a follower\'s forwarding breaker opens when the leader stops answering, fails fast, goes half-open after its reset timeout and closes once answers return', async () => {
    // Long election timeouts: the follower keeps believing in its leader while the leader's answers are lost.
    const c = createTestCluster(3, { seed: 104, network: fast, keepTrace: true, raft: { electionTimeoutMin: 5_000, electionTimeoutMax: 6_000 } });
    const leader = await c.waitForLeader(15_000);
    await c.settle();
    const f = followersOf(c, leader)[0];
    const follower = c.node(f);
    const key = `forward:${leader.id}`;
    const changes: BreakerChange[] = [];
    follower.onBreaker((b) => changes.push(b));
    let forwards = 0; // forwarded commands that reached the leader
    c.bus.inbox(leader.id).subscribe((env) => env.from === f && env.type === 'grey.forward' && forwards++);
    const breaker = () => c.breakers()[f]?.[key];

    // The leader → follower link drops everything: the leader gets the commands, its answers are lost.
    c.bus.cut(leader.id, f);
    follower.forward({ op: 'put', key: 'via-follower', value: 'ok' });
    await c.runUntil(() => breaker() === 'open', { within: (BREAKER.failureThreshold + 1) * FORWARD_RETRY_MS, description: 'breaker open' });
    const openedAt = c.kernel.now();
    expect(forwards).toBe(BREAKER.failureThreshold); // each unanswered call counted once
    expect(follower.raft.leader).toBe(leader.id);

    // Open: the command stays queued and nothing is sent, whatever the retry timer says.
    await c.run(BREAKER.resetTimeoutMs - 1);
    expect(breaker()).toBe('open');
    expect(forwards).toBe(BREAKER.failureThreshold);
    expect(follower.forwardsPending).toBe(1);

    // After the reset timeout: half-open, one trial call; it fails too (still cut), so open again.
    await c.runUntil(() => breaker() === 'halfOpen', { within: 1, description: 'half-open' });
    expect(c.kernel.now() - openedAt).toBe(BREAKER.resetTimeoutMs);
    await c.runUntil(() => breaker() === 'open', { within: 2 * FORWARD_RETRY_MS, description: 'failed trial reopens' });
    expect(forwards).toBe(BREAKER.failureThreshold + 1);

    // The link comes back. The leader's appends reach the follower again, and
    // the follower sees its command applied: that settles it, reply or not.
    c.bus.restore(leader.id, f);
    await c.runUntil(() => follower.forwardsPending === 0, { within: 1_000, description: 'forward applied' });
    expect(follower.state.get('via-follower')).toBe('ok');
    expect(breaker()).toBe('open'); // settling through the log is no trial call
    // The next command is the trial: answered, it closes the breaker.
    follower.forward({ op: 'put', key: 'after', value: 'ok' });
    await c.runUntil(() => breaker() === 'closed', { within: BREAKER.resetTimeoutMs + 2 * FORWARD_RETRY_MS, description: 'breaker closed' });
    expect(forwards).toBe(BREAKER.failureThreshold + 2);
    await c.runUntil(() => follower.forwardsPending === 0, { within: 1_000, description: 'trial applied' });
    expect(follower.state.get('after')).toBe('ok');

    const seq = ['closed→open', 'open→halfOpen', 'halfOpen→open', 'open→halfOpen', 'halfOpen→closed'];
    expect(changes.map((b) => `${b.from}→${b.to}`)).toEqual(seq);
    expect(changes.every((b) => b.peer === leader.id && b.link === 'forward')).toBe(true);
    const traced = traceEvents(c, 'breaker').filter((e) => e.node === f);
    expect(traced.map((e) => `${e.from}→${e.to}`)).toEqual(seq);
    expect(traced.every((e) => e.peer === leader.id && e.link === 'forward')).toBe(true);
    expect(c.breakers()[leader.id]).toEqual({}); // the leader forwards nothing
  });

  it('test_membership_reconfiguration: a voter down past the grace period is removed (5 nodes), never below the minimum (3 nodes), and rejoins as a voter through the learner path', async () => {
    const removeAfterMs = 1_000;
    // Five voters: the dead one is removed as unreachable.
    const c = createTestCluster(5, { seed: 105, network: fast, keepTrace: true, recovery: { removeAfterMs } });
    const leader = await c.waitForLeader();
    await c.settle();
    const changes = recordHealth(leader);
    const victim = followersOf(c, leader)[0];
    c.crash(victim);
    await c.runUntil(() => leader.state.member(victim)?.status === 'removed' && leader.raft.config.voters.length === 4, {
      within: 3_000,
      description: 'the dead voter removed',
    });
    const quarantinedAt = changes.find((h) => h.peer === victim && h.to === 'quarantined')!.at;
    const remove = leader.recovery.actions.find((a) => a.kind === 'remove' && a.peer === victim)!;
    expect(remove).toBeDefined();
    expect(remove.at - quarantinedAt).toBe(removeAfterMs); // after the grace period, not before
    expect(leader.state.member(victim)).toMatchObject({ status: 'removed', context: { reason: 'unreachable' } });
    await c.settle();
    for (const n of c.upNodes()) expect(n.raft.config).toEqual({ voters: c.ids.filter((id) => id !== victim), learners: [] });

    // It comes back: the leader hears from it and it rejoins as a learner, then is promoted.
    c.restart(victim);
    await c.runUntil(() => c.leader()?.state.member(victim)?.status === 'voter' && c.leader()!.raft.config.voters.includes(victim), {
      within: 5_000,
      description: 'the node a voter again',
    });
    await c.settle();
    const l = c.leader()!;
    expect(l.recovery.actions.some((a) => a.kind === 'rejoin' && a.peer === victim)).toBe(true);
    expect(l.raft.config.voters).toHaveLength(5);
    const configs = traceEvents(c, 'config').filter((e) => e.node === l.id).map((e) => `${e.voters.length}v/${e.learners.length}l`);
    expect(configs.slice(-3)).toEqual(['4v/0l', '4v/1l', '5v/0l']); // removed, learner, voter
    expect(c.node(victim).raft.lastApplied).toBe(l.raft.commitIndex);

    // The next voter to die is removed too, by the same leader: a removal that applied is over, though the node came back.
    const second = followersOf(c, l).find((id) => id !== victim)!;
    c.crash(second);
    await c.runUntil(() => l.state.member(second)?.status === 'removed', { within: 3_000, description: 'the second dead voter removed' });
    expect(l.raft.isLeader).toBe(true);
    expect(l.recovery.actions.filter((a) => a.kind === 'remove').map((a) => a.peer)).toEqual(l === leader ? [victim, second] : [second]);

    // Three voters: one down is never removed (that would go below minVoters).
    const small = createTestCluster(3, { seed: 106, network: fast, recovery: { removeAfterMs: 500 } });
    const sl = await small.waitForLeader();
    await small.settle();
    const down = followersOf(small, sl)[0];
    small.crash(down);
    await small.run(3_000);
    expect(sl.raft.isLeader).toBe(true);
    expect(sl.raft.config.voters).toHaveLength(3);
    expect(sl.state.member(down)?.status).toBe('voter');
    expect(sl.recovery.actions.filter((a) => a.kind === 'remove')).toEqual([]);
    const skips = sl.recovery.actions.filter((a) => a.kind === 'skip-remove' && a.peer === down);
    expect(skips.length).toBeGreaterThan(0);
    expect(skips[0].detail).toBe('would leave 2 voters (minimum 3)');
    // Still available: the two live voters are a quorum.
    await small.drive(small.client().submit({ op: 'put', key: 'still', value: 'up' }));
  });

  it('a voter still quarantined but answering again is not removed: removal is for a voter gone now, not for one with a long quarantine', async () => {
    const removeAfterMs = 1_000;
    // A long quarantine (as after several strikes): it outlasts the node's absence by far.
    const c = createTestCluster(5, { seed: 107, network: fast, recovery: { removeAfterMs }, health: { quarantine: { baseQuarantineMs: 10_000 } } });
    const leader = await c.waitForLeader();
    await c.settle();
    const changes = recordHealth(leader);
    const victim = followersOf(c, leader)[0];
    c.crash(victim);
    await c.runUntil(() => changes.some((h) => h.peer === victim && h.to === 'quarantined'), { within: 2_000, description: 'the victim quarantined' });
    c.restart(victim);
    await c.run(removeAfterMs * 4);
    expect(leader.raft.isLeader).toBe(true);
    expect(leader.health.state(victim)).toBe('quarantined');
    expect(leader.state.member(victim)?.status).toBe('voter');
    expect(leader.raft.config.voters).toContain(victim);
    expect(leader.recovery.actions.filter((a) => a.kind === 'remove')).toEqual([]);
    const skips = leader.recovery.actions.filter((a) => a.kind === 'skip-remove' && a.peer === victim);
    expect(skips.length).toBeGreaterThanOrEqual(3);
    for (const s of skips) expect(s.detail).toMatch(/^it answered \d+ ms ago: reachable, though still quarantined$/);
    // And it catches up meanwhile: it is a voter in every sense.
    await c.settle();
    expect(c.node(victim).raft.lastApplied).toBe(leader.raft.commitIndex);
  });

  it('test_task_replay_after_recovery: a crashed worker\'s incomplete tasks are found from the checkpoint, requeued under the same id and completed elsewhere on a fresh run, once', async () => {
    const c = createTestCluster(3, { seed: 107, network: fast });
    const runs = new Map<string, Array<{ worker: string; attempt: number }>>();
    c.registerHandler('long', async (p, ctx) => {
      const list = runs.get(ctx.taskId) ?? [];
      list.push({ worker: ctx.worker, attempt: ctx.attempt });
      runs.set(ctx.taskId, list);
      await ctx.sleep(1_500);
      return p;
    });
    const leader = await c.waitForLeader();
    await c.settle();
    const events = recordEvents(c);
    const client = c.client();
    const handles = client.submitTasks(Array.from({ length: 12 }, (_, i) => ({ type: 'long', payload: i })));
    await c.runUntil(() => handles.every((h) => leader.state.task(h.id)?.status === 'running'), { within: 1_000, description: 'all running' });
    await c.settle();
    const victim = followersOf(c, leader).sort((a, b) => onWorker(b) - onWorker(a))[0];
    function onWorker(w: string) {
      return leader.state.tasks().filter((t) => t.worker === w && (t.status === 'assigned' || t.status === 'running')).length;
    }
    const expected = new Map(leader.state.tasks().filter((t) => t.worker === victim && (t.status === 'assigned' || t.status === 'running')).map((t) => [t.id, t.attempt]));
    expect(expected.size).toBeGreaterThan(0);

    c.crash(victim);
    // Replaying the last checkpoint finds exactly the tasks the victim left incomplete.
    const found = new EventLog(leader.raft).incompleteTasks(victim);
    expect(new Set(found.map((t) => t.id))).toEqual(new Set(expected.keys()));
    expect(found.every((t) => t.worker === victim && t.attempt === expected.get(t.id))).toBe(true);

    const results = await c.drive(Promise.all(handles.map((h) => h.result)), 10_000);
    // Each went back to pending under the same id (no new task), then ran again on another worker.
    const requeued = events.filter((e): e is Extract<GreyEvent, { type: 'task.requeued' }> => e.type === 'task.requeued');
    expect(new Set(requeued.map((e) => e.taskId))).toEqual(new Set(expected.keys()));
    expect(requeued.every((e) => e.reason === `worker ${victim} lost`)).toBe(true);
    for (const r of results) {
      const ran = runs.get(r.taskId)!;
      if (!expected.has(r.taskId)) {
        expect(ran).toHaveLength(1);
        continue;
      }
      // Two runs: the lost one on the victim, the one that completed elsewhere.
      expect(ran.map((x) => x.worker)).toEqual([victim, r.proof.workerId]);
      expect(r.proof.workerId).not.toBe(victim);
      // taskLifecycle: a worker lost mid-run gives its attempt back, so the replay runs as the same
      // attempt number (it does not eat into maxRetries).
      expect(r.proof.attempt).toBe(expected.get(r.taskId)!);
      expect(ran[1].attempt).toBe(r.proof.attempt);
    }
    expect(leader.recovery.actions.some((a) => a.kind === 'requeue' && a.peer === victim)).toBe(true);
    expect(leader.state.tasks()).toHaveLength(12);
    // No task completes twice.
    await c.run(3_000);
    const completed = events.filter((e) => e.type === 'task.completed').map((e) => (e as { taskId: string }).taskId);
    expect(completed.sort()).toEqual(handles.map((h) => h.id).sort());
    expect(new EventLog(leader.raft).incompleteTasks()).toEqual([]);
  });

  it('test_leader_failover: the leader crashes under load; a leader of a higher term takes over within a second and every acknowledged task completes', async () => {
    const c = createTestCluster(5, { seed: 108, network: fast });
    c.registerHandler('job', async (p, ctx) => {
      await ctx.sleep(40);
      return p;
    });
    const first = await c.waitForLeader();
    await c.settle();
    const oldTerm = first.raft.currentTerm;
    const events = recordEvents(c);
    let electedAt = Number.NaN;
    c.events$.subscribe((e) => e.type === 'leader.elected' && e.term > oldTerm && Number.isNaN(electedAt) && (electedAt = c.kernel.now()));
    const client = c.client();
    const handles: TaskHandle[] = [];
    const outcome = new Map<string, string>();
    let crashAt = Number.NaN;
    for (let i = 0; i < 80; i++) {
      const h = client.submitTask({ type: 'job', payload: i });
      h.accepted.then(
        () => outcome.set(h.id, 'acked'),
        (e: ClientError) => outcome.set(h.id, `${e.code}/${e.outcome}`),
      );
      handles.push(h);
      if (i === 40) {
        // Crash mid-replication: this submission's entry is on a majority, but the leader has not seen it
        // committed, so the client never hears back (a new leader will commit it).
        const isMine = (e: { payload: unknown } | undefined) => JSON.stringify(e?.payload ?? null).includes(h.id);
        await c.runUntil(
          () => {
            const last = first.raft.log.lastIndex;
            return isMine(first.raft.log.entry(last)) && first.raft.commitIndex < last && c.upNodes().filter((n) => n.raft.log.lastIndex >= last).length >= 3;
          },
          { within: 50, description: 'the submission replicated to a majority, not yet committed' },
        );
        crashAt = c.kernel.now();
        c.crash(first.id);
      }
      await c.run(10);
    }
    const elected = events.find((e): e is Extract<GreyEvent, { type: 'leader.elected' }> => e.type === 'leader.elected' && e.term > oldTerm);
    expect(elected, 'a new leader').toBeDefined();
    expect(elected!.leader).not.toBe(first.id);
    expect(c.leader()!.raft.currentTerm).toBeGreaterThan(oldTerm);
    // Election timeout at most 300 ms after the last heartbeat, plus a PreVote and a vote round: well within a second.
    expect(electedAt - crashAt).toBeGreaterThan(0);
    expect(electedAt - crashAt).toBeLessThanOrEqual(1_000);

    await c.drive(Promise.allSettled(handles.map((h) => h.accepted)), 10_000);
    const acked = handles.filter((h) => outcome.get(h.id) === 'acked').map((h) => h.id);
    expect(acked.length).toBeGreaterThan(40);
    // Every acknowledged task is in the replicated table and completes, once.
    const results = await c.drive(Promise.all(handles.filter((h) => outcome.get(h.id) === 'acked').map((h) => h.result)), 15_000);
    expect(results.map((r) => r.taskId).sort()).toEqual([...acked].sort());
    await c.settle();
    const l = c.leader()!;
    for (const id of acked) expect(l.state.task(id)?.status).toBe('completed');
    const completed = events.filter((e) => e.type === 'task.completed').map((e) => (e as { taskId: string }).taskId);
    expect(new Set(completed).size).toBe(completed.length);

    // The client's contract through a failover (README: `failed` means it did not and will not take effect):
    // a submission reported failed must not be in the table, and with a leader back within a second and a
    // 5 s client timeout, no submission should fail definitively at all.
    const failedButApplied = handles.filter((h) => outcome.get(h.id)?.endsWith('/failed') && l.state.task(h.id) !== undefined).map((h) => `${h.id}: ${outcome.get(h.id)}`);
    expect.soft(failedButApplied, 'reported failed, yet applied').toEqual([]);
    const notAcked = handles.filter((h) => outcome.get(h.id) !== 'acked').map((h) => `#${handles.indexOf(h)} ${outcome.get(h.id)}`);
    expect.soft(notAcked, 'submissions refused although the cluster recovered').toEqual([]);
  });

  it('test_recovery_after_partition: a minority (with the leader) is cut off, the cluster heals, converges, loses no acknowledged write and clears its quarantine verdicts', async () => {
    const c = createTestCluster(5, { seed: 109, network: fast, keepTrace: true, recovery: { removeAfterMs: 60_000 } });
    const old = await c.waitForLeader();
    await c.settle();
    const client = c.client({ attemptTimeoutMs: 300 });
    const acked = new Map<string, number>();
    let n = 0;
    const write = async () => {
      const key = `k${n++}`;
      try {
        await c.drive(client.submit({ op: 'put', key, value: n }), 10_000);
        acked.set(key, n);
      } catch (err) {
        expect(err).toBeInstanceOf(ClientError);
      }
    };
    for (let i = 0; i < 5; i++) await write();

    const minority = [old.id, followersOf(c, old)[0]];
    const majority = c.ids.filter((id) => !minority.includes(id));
    c.partition([minority, majority]);
    const partitionAt = c.kernel.now();
    while (c.kernel.now() < partitionAt + 2_500) await write();
    // The majority went on under a new leader of a higher term, and quarantined the minority meanwhile.
    const mid = c.leader()!;
    expect(majority).toContain(mid.id);
    expect(mid.raft.currentTerm).toBeGreaterThan(old.raft.currentTerm);
    for (const p of minority) expect(mid.health.state(p)).toBe('quarantined');
    expect(old.raft.isLeader).toBe(false); // CheckQuorum: it stepped down
    const during = acked.size;
    expect(during).toBeGreaterThan(5);

    c.heal();
    await c.settle(5_000);
    for (let i = 0; i < 5; i++) await write();
    await c.settle(5_000);
    const l = c.leader()!;
    for (const node of c.upNodes()) {
      expect(node.raft.lastApplied).toBe(l.raft.commitIndex);
      expect(node.raft.digestAt(l.raft.commitIndex)).toBe(l.raft.digestAt(l.raft.commitIndex));
      for (const [key, value] of acked) expect(node.state.get(key), `${node.id}: ${key}`).toBe(value);
    }
    // The verdicts clear: after quarantine and probation, every node sees every peer it judges healthy.
    await c.runUntil(() => Object.values(c.health()).every((v) => Object.values(v).every((s) => s === 'healthy')), {
      within: DEFAULT_PEER_HEALTH.quarantine.baseQuarantineMs + DEFAULT_PEER_HEALTH.quarantine.probationPeriodMs + 1_000,
      description: 'every verdict healthy',
    });
    for (const p of minority) expect(c.leader()!.health.state(p)).toBe('healthy');
    expect(c.leader()!.raft.config.voters).toHaveLength(5); // nobody removed
  });

  it('test_cascading_failure_prevention: requeue is rate-bounded, removals never lose quorum, and overload is shed with Backpressure', async () => {
    // (a) A crashed worker with 50 tasks: they come back at most 10 per entry, over several entries.
    {
      const c = createTestCluster(3, { seed: 110, network: fast, workerCapacity: null, recovery: { maxRequeuePerEntry: 10 } });
      c.registerHandler('slow', async (p, ctx) => {
        await ctx.sleep(5_000);
        return p;
      });
      const leader = await c.waitForLeader();
      await c.settle();
      const events = recordEvents(c);
      const client = c.client();
      const [w, spare] = followersOf(c, leader);
      await c.drive(client.submit({ op: 'registerWorker', worker: w, capacity: { cpu: 64, memoryBytes: 2 ** 36 } }));
      const hs = client.submitTasks(Array.from({ length: 50 }, (_, i) => ({ type: 'slow', payload: i, resources: { cpu: 1 } })));
      await c.runUntil(() => hs.every((h) => leader.state.task(h.id)?.status === 'running'), { within: 2_000, description: '50 running on one worker' });
      c.crash(w);
      await c.runUntil(() => events.filter((e) => e.type === 'task.requeued').length === 50, { within: 3_000, description: '50 requeued' });
      const byIndex = new Map<number, number>();
      for (const e of events) if (e.type === 'task.requeued') byIndex.set(e.index, (byIndex.get(e.index) ?? 0) + 1);
      expect(Math.max(...byIndex.values())).toBeLessThanOrEqual(10);
      expect(byIndex.size).toBeGreaterThanOrEqual(5);
      // Nothing is lost: another worker takes them, next attempt.
      await c.drive(client.submit({ op: 'registerWorker', worker: spare, capacity: { cpu: 64, memoryBytes: 2 ** 36 } }));
      const rs = await c.drive(Promise.all(hs.map((h) => h.result)), 20_000);
      expect(rs.map((r) => r.result)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(rs.every((r) => r.proof.workerId === spare && r.proof.attempt === 1)).toBe(true); // the lost run was refunded
    }

    // (b) Two of five voters die at once: removals go one at a time, never below minVoters, never losing quorum.
    {
      const c = createTestCluster(5, { seed: 111, network: fast, keepTrace: true, recovery: { removeAfterMs: 500 } });
      const leader = await c.waitForLeader();
      await c.settle();
      const [a, b, x] = followersOf(c, leader);
      const violations: string[] = [];
      const checkQuorum = () => {
        const l = c.leader();
        if (l) {
          const voters = l.raft.config.voters;
          const live = voters.filter((v) => c.isUp(v)).length;
          if (live < quorumOf(voters.length)) violations.push(`t=${c.kernel.now()}: ${live} of ${voters.join(',')} up`);
          if (voters.length < 3) violations.push(`t=${c.kernel.now()}: ${voters.length} voters`);
        }
        return false;
      };
      c.crash(a);
      c.crash(b);
      await c.runUntil(() => {
        checkQuorum();
        return leader.raft.config.voters.length === 3;
      }, { within: 5_000, description: 'two removals' });
      await c.settle();
      expect(leader.raft.isLeader).toBe(true);
      expect(leader.state.member(a)).toMatchObject({ status: 'removed', context: { reason: 'unreachable' } });
      expect(leader.state.member(b)).toMatchObject({ status: 'removed', context: { reason: 'unreachable' } });
      const configs = traceEvents(c, 'config').filter((e) => e.node === leader.id).map((e) => e.voters.length as number);
      for (let i = 1; i < configs.length; i++) expect(configs[i - 1] - configs[i]).toBeLessThanOrEqual(1); // one at a time
      // A third failure: nothing more is removed (minVoters), and the two live voters still commit.
      c.crash(x);
      for (let t = 0; t < 3_000; t += 50) {
        await c.run(50);
        checkQuorum();
      }
      expect(leader.raft.config.voters).toHaveLength(3);
      expect(leader.recovery.actions.filter((r) => r.kind === 'remove').map((r) => r.peer).sort()).toEqual([a, b].sort());
      expect(leader.recovery.actions.some((r) => r.kind === 'skip-remove' && r.peer === x)).toBe(true);
      await c.drive(c.client().submit({ op: 'put', key: 'alive', value: true }));
      expect(violations).toEqual([]);
    }

    // (c) Load shedding: with no worker to drain the queue, submissions past maxPendingTasks fail fast; nothing acknowledged is lost.
    {
      const max = 20;
      const c = createTestCluster(3, { seed: 112, network: fast, workerCapacity: null, tasks: { maxPendingTasks: max } });
      c.registerHandler('noop', (p) => p);
      const leader = await c.waitForLeader();
      await c.settle();
      const client = c.client();
      const accepted: TaskHandle[] = client.submitTasks(Array.from({ length: 15 }, (_, i) => ({ type: 'noop', payload: i })));
      await c.drive(Promise.all(accepted.map((h) => h.accepted)));
      for (let i = 15; i < max; i++) {
        const h = client.submitTask({ type: 'noop', payload: i });
        await c.drive(h.accepted);
        accepted.push(h);
      }
      const t0 = c.kernel.now();
      const over = client.submitTask({ type: 'noop', payload: 'over' });
      const err = await c.drive(over.accepted).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect(err).toMatchObject({ code: 'Backpressure', outcome: 'failed' });
      expect(c.kernel.now() - t0).toBeLessThanOrEqual(5); // fast: one round trip to the leader, no retries
      await expect(c.drive(over.result)).rejects.toMatchObject({ code: 'Backpressure' });
      const batch = client.submitTasks([{ type: 'noop' }, { type: 'noop' }]);
      await expect(c.drive(batch[0].accepted)).rejects.toMatchObject({ code: 'Backpressure' });
      expect(await c.drive(client.task(over.id))).toBeUndefined();
      expect(leader.state.tasks().filter((t) => t.status === 'pending')).toHaveLength(max);
      // A worker arrives: every acknowledged task runs, and the cluster takes work again.
      await c.drive(client.submit({ op: 'registerWorker', worker: leader.id, capacity: { cpu: 8, memoryBytes: 2 ** 30 } }));
      const rs = await c.drive(Promise.all(accepted.map((h) => h.result)));
      expect(rs.map((r) => r.result)).toEqual(Array.from({ length: max }, (_, i) => i));
      const later = client.submitTask({ type: 'noop', payload: 'later' });
      expect((await c.drive(later.result)).result).toBe('later');
    }
  });
});

describe('load shedding and retries', () => {
  it('a retry of an accepted submission whose answer was lost is answered as accepted, not refused with Backpressure; the task exists once', async () => {
    const max = 20;
    const c = createTestCluster(3, { seed: 112, network: { latency: { base: 1, jitter: 0, distribution: 'uniform' } }, workerCapacity: null, tasks: { maxPendingTasks: max } });
    c.registerHandler('noop', (p) => p);
    const leader = await c.waitForLeader();
    await c.settle();
    const client = c.client({ attemptTimeoutMs: 200, endpoints: [leader.id] });
    const first = client.submitTasks(Array.from({ length: max - 1 }, (_, i) => ({ type: 'noop', payload: i })));
    await c.drive(Promise.all(first.map((h) => h.accepted)));
    // The leader's answers to this client are lost for a while: the last
    // free slot goes to X, and every retransmission of X arrives after it.
    c.setLink(leader.id, client.id, { loss: 1 }, false);
    const x = client.submitTask({ type: 'noop', payload: 'X' });
    await c.run(150);
    c.setLink(leader.id, client.id, { loss: 0 }, false);
    const accepted = await c.drive(x.accepted);
    expect(accepted.taskId).toBe(x.id);
    expect(leader.state.tasks().filter((t) => t.spec.payload === 'X').map((t) => t.id)).toEqual([x.id]);
    // A new submission is still shed: the table is full.
    await expect(c.drive(client.submitTask({ type: 'noop', payload: 'Y' }).accepted)).rejects.toMatchObject({ code: 'Backpressure', outcome: 'failed' });
  });

  it('Backpressure after an attempt that went unanswered is outcome unknown, and the request is kept in doubt', async () => {
    const max = 20;
    const c = createTestCluster(3, { seed: 113, network: { latency: { base: 1, jitter: 0, distribution: 'uniform' } }, workerCapacity: null, tasks: { maxPendingTasks: max } });
    c.registerHandler('noop', (p) => p);
    const leader = await c.waitForLeader();
    await c.settle();
    const follower = c.upNodes().find((n) => n.id !== leader.id)!;
    // The first attempt goes to a follower that never answers; the next reaches the leader, whose table is full.
    const client = c.client({ attemptTimeoutMs: 50, endpoints: [follower.id, leader.id] });
    const filler = c.client();
    await c.drive(Promise.all(filler.submitTasks(Array.from({ length: max }, (_, i) => ({ type: 'noop', payload: i }))).map((h) => h.accepted)));
    c.setLink(client.id, follower.id, { loss: 1 }, false);
    const err = await c.drive(client.submitTask({ type: 'noop', payload: 'X' }).accepted).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'Backpressure', outcome: 'unknown' });
    expect((err as ClientError).requestId).toBeDefined();
    // In doubt: its outcome can be asked, and a retry under its own number is allowed.
    const requestId = (err as ClientError).requestId!;
    // A retry shed again settles nothing: still unknown, still in doubt.
    await expect(c.drive(client.retry(requestId))).rejects.toMatchObject({ code: 'Backpressure', outcome: 'unknown', requestId });
    expect(client.inDoubt()).toContain(requestId);
    // Its outcome settles it for good: never applied, and now it never will be.
    expect(await c.drive(client.outcome(requestId))).toEqual({ applied: false });
  });
});

describe('client circuit breakers', () => {
  it('a leader hint whose breaker is open does not make the client bounce between followers without a pause', async () => {
    const c = createTestCluster(3, { seed: 5 });
    const leader = await c.waitForLeader();
    await c.settle();
    const client = c.client({ attemptTimeoutMs: 100, timeoutMs: 5_000 });
    await c.drive(client.put('a', 1));
    const followers = c.upNodes().filter((n) => n.id !== leader.id).map((n) => n.id);
    const sentToFollowers = () => followers.reduce((n, f) => n + c.bus.linkStats(client.id, f).sent, 0);
    const before = sentToFollowers();
    c.setLink(leader.id, client.id, { loss: 1 }, false); // the client cannot hear the leader
    const p = client.put('b', 2);
    await c.run(1_000);
    const toFollowers = sentToFollowers() - before;
    // One request each retry pause (50 ms) at most, not one per round trip (about 170 before).
    expect(toFollowers).toBeLessThanOrEqual(25);
    c.setLink(leader.id, client.id, { loss: 0 }, false);
    expect((await c.drive(p)).revision).toBeGreaterThan(0);
  });

  it('a query whose arguments are not values is refused at once as InvalidQuery, and no breaker hears of it', async () => {
    const c = createTestCluster(3, { seed: 6 });
    await c.waitForLeader();
    const client = c.client();
    for (let i = 0; i < 5; i++) {
      const err = await rejection(client.query('get', { key: 1n } as never));
      expect(err).toBeInstanceOf(ClientError);
      expect(err).toMatchObject({ code: 'InvalidQuery', outcome: 'failed' });
      expect((err as Error).message).toMatch(/\$\.args\.key is a bigint/);
    }
    await c.run(2_000);
    expect(Object.values(client.breakerStates()).every((s) => s === 'closed')).toBe(true);
    expect((await c.drive(client.get('nothing'))).found).toBe(false);
  });

  it('test_circuit_breaker_activation (client side): a node that keeps timing out is skipped fast, then probed again', async () => {
    const c = createTestCluster(3, { seed: 121, network: { latency: { base: 2, jitter: 1, distribution: 'uniform' } } });
    const leader = await c.waitForLeader();
    const client = c.client({ attemptTimeoutMs: 200, timeoutMs: 5_000 });
    await c.drive(client.submit({ op: 'put', key: 'a', value: 1 }));
    // The leader goes silent (isolated, still "up"): the two calls in flight to it time out and trip the breaker.
    c.isolate(leader.id);
    await c.drive(Promise.all([client.submit({ op: 'put', key: 'b', value: 2 }), client.submit({ op: 'put', key: 'b2', value: 2 })]), 10_000);
    expect(client.breakerStates()[leader.id]).toMatch(/open|halfOpen/);
    // Once open, the client no longer waits on that node: the next write goes straight elsewhere.
    const t0 = c.kernel.now();
    await c.drive(client.submit({ op: 'put', key: 'c', value: 3 }), 10_000);
    expect(c.kernel.now() - t0).toBeLessThan(200);
    c.heal();
    await c.run(2_000);
    await c.drive(client.get('c'));
    expect(Object.values(client.breakerStates()).every((s) => s !== 'open')).toBe(true);
  });

  /**
   * The one node a client can talk to goes silent long enough to open the
   * client's breaker towards it. (One node: in a larger cluster a leader
   * hint would take the client to another node.)
   */
  async function silencedNode(options: Parameters<Cluster['client']>[0]) {
    const c = createTestCluster(1, { seed: 122 });
    const node = (await c.waitForLeader()).id;
    const client = c.client({ attemptTimeoutMs: 100, timeoutMs: 250, retryMs: 10, ...options });
    await c.drive(client.put('a', 1));
    c.isolate(node);
    for (const key of ['b', 'c']) await expect(c.drive(client.put(key, 2), 5_000)).rejects.toMatchObject({ code: 'Timeout' });
    return { c, client, node };
  }

  it('with every breaker open the client still tries its endpoints (panic), and an answer closes the breaker', async () => {
    const { c, client, node } = await silencedNode({});
    expect(client.breakerStates()[node]).toBe('open');
    c.heal();
    // Well inside the breaker's 1 000 ms reset timeout: skipping the only endpoint would time out instead.
    const t0 = c.kernel.now();
    await c.drive(client.put('d', 4), 5_000);
    expect(c.kernel.now() - t0).toBeLessThan(50);
    expect(client.breakerStates()[node]).toBe('closed');
  });

  it('the client breaker is configurable: a higher threshold stays closed, false disables it', async () => {
    const tolerant = await silencedNode({ breaker: { failureThreshold: 100, minimumVolume: 20 } });
    expect(tolerant.client.breakerStates()[tolerant.node]).toBe('closed');
    const none = await silencedNode({ breaker: false });
    expect(none.client.breakerStates()[none.node]).toBe('disabled');
    const quick = await silencedNode({ breaker: { resetTimeoutMs: 30 } });
    await quick.c.run(40);
    expect(quick.client.breakerStates()[quick.node]).toBe('halfOpen');
    // A setting given as undefined keeps the client's default (2 timeouts open it).
    const unset = await silencedNode({ breaker: { failureThreshold: undefined } });
    expect(unset.client.breakerStates()[unset.node]).toBe('open');
  });

  it('with every breaker open, concurrent requests share one probe at a time instead of each sending', async () => {
    const { c, client, node } = await silencedNode({});
    expect(client.breakerStates()[node]).toBe('open');
    const before = c.bus.linkStats(client.id, node).sent;
    const puts = Array.from({ length: 8 }, (_, i) => client.put(`k${i}`, i).catch((e: unknown) => e));
    const outcomes = await c.drive(Promise.all(puts), 5_000);
    expect(outcomes.every((o) => o instanceof ClientError && o.code === 'Timeout')).toBe(true);
    const sent = c.bus.linkStats(client.id, node).sent - before;
    // One probe (and its retransmissions) at a time over the 250 ms each request waits: 8 messages here;
    // the 8 requests each sending on their own made 64.
    expect(sent).toBeLessThanOrEqual(12);
  });

  it('bad client breaker settings are a RangeError naming the setting', () => {
    const c = createTestCluster(3, { seed: 123 });
    expect(() => c.client({ breaker: { failureThreshold: 0 } })).toThrow(/breaker.failureThreshold must be an integer ≥ 1, got 0/);
    expect(() => c.client({ breaker: { resetTimeoutMs: -1 } })).toThrow(/breaker.resetTimeoutMs/);
    expect(() => c.client({ breaker: { failureRateThreshold: 2 } })).toThrow(/breaker.failureRateThreshold must be a number in \(0, 1\]/);
    expect(() => c.client({ breaker: { threshold: 2 } as never })).toThrow(/unknown breaker setting 'threshold'/);
    expect(() => c.client({ breaker: true as never })).toThrow(TypeError);
    expect(() => c.client({ breaker: { resetTimeoutMs: '5' as never } })).toThrow(/breaker.resetTimeoutMs must be a number, got "5"/);
    expect(() => c.client({ breaker: { windowSize: 5 } })).toThrow(/minimumVolume \(10\) must not exceed breaker.windowSize \(5\)/);
    // A refused client leaves nothing behind: its id is free.
    expect(() => c.client({ id: 'app', breaker: { failureThreshold: 0 } })).toThrow(RangeError);
    expect(c.client({ id: 'app' }).id).toBe('app');
  });
});
