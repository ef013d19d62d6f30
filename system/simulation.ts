import type { ClusterClient } from './client.js';
import { ClientError } from './client.js';
import { createCluster } from './cluster.js';
import { describeStuck, isConverged } from './convergence.js';
import { InvariantViolation } from './invariants.js';
import { SimulationTimeoutError } from './kernel.js';
import { Nemesis, type FaultKind } from './nemesis.js';
import type { LinkConfigPatch } from './network.js';
import { checkHistory, HistoryRecorder, type CheckResult, type KvOperation } from './linearizability.js';

/** Options of one simulated run (`grey simulate`). */
export interface SimulationOptions {
  seed: number;
  nodes: number;
  /** Virtual ms of workload and faults; a recovery period follows. */
  durationMs: number;
  faults: readonly FaultKind[];
  /** One-way latency range, ms. */
  latency: [number, number];
  electionTimeout: [number, number];
  heartbeatMs?: number;
  /** Client requests per virtual second. */
  rate: number;
  /** Write the trace (JSONL) here. */
  tracePath?: string;
  /** Keep the trace in memory (for determinism checks). */
  keepTrace?: boolean;
  /** Mean quiet time between fault episodes. */
  meanGapMs?: number;
  /**
   * Liveness bound: after the last fault ends (everything healed and
   * restarted), virtual ms within which every member must be caught up and
   * every accepted task terminal. Default 5 000.
   */
  convergeMs?: number;
  /**
   * `writes` (default): each request writes a new key; none acknowledged may
   * be lost. `kv`: concurrent clients, several requests in flight each, doing
   * puts, reads, deletes and compare-and-sets on a few keys; the history they
   * observe must be linearizable. `tasks`: task submissions run by handlers
   * that sleep and sometimes fail.
   */
  workload?: 'writes' | 'kv' | 'tasks';
  /** Clock drift bound (0.01: each node's clock within ±1 % of true time); the `clock` fault skews within it. Default 0. */
  clockDrift?: number;
  /** Serve linearizable reads on the leader's lease (safe within `clockDrift`), not a ReadIndex round. */
  leaseReads?: boolean;
  /** Disks whose syncs take this many virtual ms (min-max): nodes hold messages until their writes are durable. Default: instant. */
  syncLatency?: [number, number];
  /** kv workload: search steps the linearizability checker may take per key before it fails the seed. */
  checkBudget?: number;
}

/** What a run found. */
export interface SimulationResult {
  seed: number;
  violation: InvariantViolation | null;
  /** Distinct terms that had a leader. */
  elections: number;
  /** Virtual ms from each loss of the leader (crash, isolation) to the next leader of a higher term. */
  failovers: number[];
  commits: number;
  acknowledged: number;
  /** Requests whose outcome is unknown (timed out). */
  unknown: number;
  /**
   * Of the writes with an unknown outcome, those settled after recovery with
   * `client.outcome` (kv workload): applied ones must be there with their
   * value, fenced ones must not (`wrong` counts those that are not).
   */
  settled: { applied: number; fenced: number; wrong: number };
  /** Requests refused with a typed error. */
  failed: number;
  /** Acknowledged writes missing after recovery: must be 0. */
  lost: number;
  /** Nodes whose state differs from the leader's after recovery: must be 0. */
  diverged: number;
  /** Why the run did not converge within the bound after the last fault (null: it did). */
  liveness: string | null;
  /** Any other error that ended the run early (null: none). */
  error: string | null;
  /** kv workload: what the linearizability checker found, and how long it took (wall ms). */
  history?: { operations: number; unknown: number; keys: number; result: CheckResult; checkMs: number };
  /** Tasks workload: accepted tasks, and how they ended. */
  tasks?: { accepted: number; completed: number; failed: number; lost: number; completedTwice: number; unfinished: number };
  virtualMs: number;
  wallMs: number;
  episodes: string[];
  trace?: string;
}

export const DEFAULT_SIMULATION: Omit<SimulationOptions, 'seed'> = {
  nodes: 5,
  durationMs: 60_000,
  faults: [],
  latency: [5, 15],
  electionTimeout: [150, 300],
  rate: 200,
};

const MAX_CLIENTS = 64;

/** Default liveness bound (virtual ms from the last fault to convergence). */
export const DEFAULT_CONVERGE_MS = 5_000;

/**
 * One deterministic run: a cluster under a write workload and a nemesis,
 * then a recovery period (faults healed, crashed nodes restarted), then the
 * checks: no invariant broken (online, throughout), nothing acknowledged
 * lost, every node's state equal to the leader's. A pure function of the
 * options: the same seed writes the same trace.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const wall0 = performance.now();
  const o = { ...DEFAULT_SIMULATION, ...options };
  const convergeMs = o.convergeMs ?? DEFAULT_CONVERGE_MS;
  const faults = new Set(o.faults);
  const [lmin, lmax] = o.latency;
  const network: LinkConfigPatch = {
    latency: { base: (lmin + lmax) / 2, jitter: (lmax - lmin) / 2, distribution: 'uniform' },
    loss: faults.has('loss') ? 0.05 : 0,
    duplicate: faults.has('duplicate') ? 0.05 : 0,
    reorder: faults.has('reorder') ? 0.1 : 0,
  };
  const cluster = createCluster({
    nodes: o.nodes,
    seed: o.seed,
    network,
    raft: {
      electionTimeoutMin: o.electionTimeout[0],
      electionTimeoutMax: o.electionTimeout[1],
      heartbeatMs: o.heartbeatMs ?? 50,
      leaseReads: o.leaseReads ?? false,
      clockDriftBound: o.clockDrift && o.clockDrift > 0 ? o.clockDrift : 0.01,
    },
    clockDrift: o.clockDrift ?? 0,
    ...(o.syncLatency ? { syncLatency: { min: o.syncLatency[0], max: o.syncLatency[1] } } : {}),
    tracePath: o.tracePath,
    keepTrace: o.keepTrace,
    check: true,
    tasks: { retentionMs: 0 }, // keep finished tasks: the run checks every one of them
    workerCapacity: { cpu: 64, memoryBytes: 64 * 2 ** 30 },
  });
  const leaderTerms = new Set<number>();
  const failovers: number[] = [];
  let lossAt: { t: number; term: number } | null = null;
  cluster.trace!.subscribe((e) => {
    if (e.type !== 'role' || e.role !== 'leader') return;
    leaderTerms.add(e.term as number);
    if (lossAt && (e.term as number) > lossAt.term) {
      failovers.push((e.t as number) - lossAt.t);
      lossAt = null;
    }
  });
  const nemesis = new Nemesis(cluster, {
    faults: o.faults,
    meanGapMs: o.meanGapMs,
    onLeaderLoss: (term) => {
      if (!lossAt) lossAt = { t: cluster.kernel.now(), term };
    },
  });

  const tasksMode = o.workload === 'tasks';
  const accepted = new Set<string>();
  const completions = new Map<string, number>();
  if (tasksMode) {
    const handlerRng = cluster.kernel.random('handlers');
    cluster.registerHandler('sim', async (payload, ctx) => {
      await ctx.sleep(handlerRng.int(5, 50));
      if (handlerRng.chance(0.05)) throw new Error('simulated failure');
      return payload;
    });
    cluster.events$.subscribe((e) => {
      if (e.type === 'task.completed') completions.set(e.taskId, (completions.get(e.taskId) ?? 0) + 1);
    });
  }
  const stats = { acknowledged: 0, unknown: 0, failed: 0 };
  let startKv: (() => void) | null = null;
  let finalKv: (() => Promise<void>) | null = null;
  const settled = { applied: 0, fenced: 0, wrong: 0 };
  const acked: string[] = [];
  /** Writes that timed out, to settle after recovery. */
  const doubts: Array<{ client: ClusterClient; requestId: string; key: string; value: number }> = [];
  const idle: ClusterClient[] = [];
  let clients = 0;
  const rng = cluster.kernel.random('workload');
  let stopWorkload = false;
  let seq = 0;
  const arrive = () => {
    if (stopWorkload) return;
    const client = idle.pop() ?? (clients < MAX_CLIENTS ? cluster.client({ id: `c${++clients}`, timeoutMs: 2_000 }) : null);
    if (client && tasksMode) {
      const h = client.submitTask({ type: 'sim', payload: ++seq, maxRetries: 5, backoff: { initialMs: 20, factor: 2, maxMs: 500, jitter: 0.2 } });
      h.accepted.then(
        (a) => {
          stats.acknowledged++;
          accepted.add(a.taskId);
          idle.push(client);
        },
        (err: unknown) => {
          if (err instanceof ClientError && err.outcome === 'unknown') stats.unknown++;
          else stats.failed++;
          idle.push(client);
        },
      );
    } else if (client) {
      const key = `k${++seq}`;
      const value = seq;
      client.submit({ op: 'put', key, value }).then(
        () => {
          stats.acknowledged++;
          acked.push(key);
          idle.push(client);
        },
        (err: unknown) => {
          if (err instanceof ClientError && err.outcome === 'unknown') {
            stats.unknown++;
            if (err.requestId) doubts.push({ client, requestId: err.requestId, key, value });
          } else stats.failed++;
          idle.push(client);
        },
      );
    }
    if (o.rate > 0) cluster.kernel.schedule(rng.exponential(1_000 / o.rate), arrive);
  };

  // The kv workload: a few clients, each with several requests in flight, on a few keys.
  const kvMode = o.workload === 'kv';
  const history = new HistoryRecorder(() => cluster.kernel.now());
  const kvClients: ClusterClient[] = [];
  if (kvMode) {
    const KEYS = 5;
    const CLIENTS = 5;
    const IN_FLIGHT = 3;
    const meanGap = (CLIENTS * IN_FLIGHT * 1_000) / Math.max(o.rate, 1);
    let n = 0;
    for (let c = 0; c < CLIENTS; c++) kvClients.push(cluster.client({ id: `kv${c + 1}`, timeoutMs: 2_000 }));
    const lastSeen = new Map<string, number>();
    const pick = (client: ClusterClient): KvOperation => {
      const key = `x${rng.int(0, KEYS - 1)}`;
      const roll = rng.float();
      const value = `${client.id}:${++n}`;
      return roll < 0.35 ? { f: 'read', key }
        : roll < 0.65 ? { f: 'put', key, value }
        : roll < 0.75 ? { f: 'delete', key }
        : rng.chance(0.5) ? { f: 'cas', key, expect: { revision: lastSeen.get(key) ?? 0 }, value }
        : { f: 'cas', key, expect: { value: `kv${rng.int(1, CLIENTS)}:${rng.int(Math.max(1, n - 20), n)}` }, value };
    };
    const once = async (client: ClusterClient, op: KvOperation): Promise<void> => {
      const key = op.key;
      const id = history.invoke(client.id, op);
      try {
        let output: NonNullable<KvOperation['output']>;
        if (op.f === 'read') {
          const r = await client.get(key);
          output = r.found ? { found: true, value: r.value, revision: r.revision } : { found: false };
          if (r.found) lastSeen.set(key, r.revision);
        } else if (op.f === 'put') {
          output = await client.put(key, op.value);
          lastSeen.set(key, output.revision);
        } else if (op.f === 'delete') {
          output = await client.delete(key);
        } else {
          output = await client.cas(key, op.expect, op.value);
          lastSeen.set(key, output.revision);
        }
        history.ok(id, output);
        stats.acknowledged++;
      } catch (err) {
        if (!(err instanceof ClientError)) throw err;
        // A read changes nothing: one without an answer is simply left out.
        if (err.outcome === 'unknown' && op.f !== 'read') {
          history.unknown(id);
          stats.unknown++;
        } else {
          history.fail(id);
          stats.failed++;
        }
      }
    };
    const loop = async (client: ClusterClient): Promise<void> => {
      while (!stopWorkload) {
        await once(client, pick(client));
        await cluster.kernel.sleep(rng.exponential(meanGap));
      }
    };
    const loops: Promise<void>[] = [];
    startKv = () => {
      for (const client of kvClients) for (let k = 0; k < IN_FLIGHT; k++) loops.push(loop(client));
    };
    finalKv = async () => {
      // The requests still in flight end (answered or timed out), then every
      // key is read once more, then every replica catches up before the
      // states are compared.
      await cluster.drive(Promise.all(loops), 10_000);
      for (let k = 0; k < KEYS; k++) await cluster.drive(once(kvClients[0], { f: 'read', key: `x${k}` }), 10_000);
      await cluster.settle(convergeMs);
    };
  }

  let violation: InvariantViolation | null = null;
  let historyReport: SimulationResult['history'];
  let taskReport: SimulationResult['tasks'];
  let diverged = 0;
  let lost = 0;
  let liveness: string | null = null;
  let error: string | null = null;
  try {
    await cluster.waitForLeader(10_000);
    nemesis.start();
    if (startKv) startKv();
    else arrive();
    await cluster.run(o.durationMs);
    // Recovery: stop the faults and the load, bring everyone back. From here
    // the cluster has `convergeMs` to converge: a seed that misses it fails.
    stopWorkload = true;
    nemesis.stop();
    cluster.heal();
    for (const id of cluster.ids) if (!cluster.isUp(id)) cluster.restart(id);
    try {
      await cluster.runUntil(() => isConverged(cluster, { tasks: accepted, members: cluster.ids }), { within: convergeMs, description: 'convergence' });
    } catch (err) {
      if (!(err instanceof SimulationTimeoutError)) throw err;
      liveness = `did not converge within ${convergeMs} ms of the last fault:\n${describeStuck(cluster, accepted)}`;
    }
    if (!liveness) {
      // Settle what timed out: each answer is final (a request not applied
      // is fenced and can never apply), so the state must agree with it.
      const answers: Array<{ key: string; value: number; applied: boolean }> = [];
      for (const d of doubts) {
        if (!d.client.inDoubt().includes(d.requestId)) continue; // forgotten: more in doubt than the client keeps
        let outcome: Awaited<ReturnType<ClusterClient['outcome']>>;
        try {
          outcome = await cluster.drive(d.client.outcome(d.requestId), 10_000);
        } catch (err) {
          if (err instanceof ClientError && err.outcome === 'unknown') continue; // the session was forgotten: nothing to hold it to
          throw err;
        }
        if (outcome.applied) settled.applied++;
        else settled.fenced++;
        answers.push({ key: d.key, value: d.value, applied: outcome.applied });
      }
      // Compare once every member has caught up with one leader: the answer
      // may come just as its leader steps down (a late membership change
      // demoting it), and a new leader may not have applied it yet.
      if (doubts.length > 0) await cluster.settle(convergeMs);
      const holder = cluster.leader();
      for (const a of answers) {
        const present = holder?.state.get(a.key);
        if (a.applied ? present !== a.value : present !== undefined) settled.wrong++;
      }
      if (finalKv) {
        await finalKv();
        const t0 = performance.now();
        const ops = history.operations();
        const result = checkHistory(ops, { budget: o.checkBudget });
        historyReport = { operations: ops.length, unknown: ops.filter((x) => !Number.isFinite(x.ret)).length, keys: new Set(ops.map((x) => x.op.key)).size, result, checkMs: performance.now() - t0 };
      }
    }
    let leader = cluster.leader();
    if (!leader && !liveness) {
      // A late membership change can leave the cluster between leaders here; the final check needs one, so wait for it rather than skip the check.
      try {
        await cluster.runUntil(() => cluster.leader() !== undefined, { within: convergeMs, description: 'a leader for the final check' });
      } catch (err) {
        if (!(err instanceof SimulationTimeoutError)) throw err;
        liveness = `no leader for the final check within ${convergeMs} ms`;
      }
      leader = cluster.leader();
    }
    if (leader) {
      lost = acked.filter((k) => leader.state.get(k) === undefined).length + settled.wrong;
      if (tasksMode) {
        let completed = 0;
        let failed = 0;
        let unfinished = 0;
        let missing = 0;
        for (const id of accepted) {
          const t = leader.state.task(id);
          if (!t) missing++;
          else if (t.status === 'completed') completed++;
          else if (t.status === 'failed') failed++;
          else if (t.status !== 'cancelled') unfinished++;
        }
        const twice = [...completions.values()].filter((n) => n > 1).length;
        taskReport = { accepted: accepted.size, completed, failed, lost: missing, completedTwice: twice, unfinished };
        lost += missing;
      }
      if (!liveness) {
        const reference = JSON.stringify(leader.state.snapshot());
        const config = leader.raft.config;
        // Members of the configuration must hold the leader's state; a node
        // removed (say, for being unreachable) legitimately stops following.
        for (const n of cluster.upNodes()) {
          if (!config.voters.includes(n.id) && !config.learners.includes(n.id)) continue;
          if (JSON.stringify(n.state.snapshot()) !== reference) diverged++;
        }
      }
    }
  } catch (err) {
    if (err instanceof InvariantViolation) violation = err;
    else if (cluster.checker?.violation) violation = cluster.checker.violation;
    else error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  cluster.end();
  return {
    seed: o.seed,
    violation,
    elections: leaderTerms.size,
    failovers,
    commits: cluster.leader()?.raft.commitIndex ?? Math.max(0, ...cluster.upNodes().map((n) => n.raft.commitIndex)),
    ...stats,
    settled,
    lost,
    diverged,
    liveness,
    error,
    virtualMs: cluster.kernel.now(),
    wallMs: performance.now() - wall0,
    episodes: nemesis.log.filter((e) => e.phase === 'start').map((e) => e.episode),
    ...(taskReport ? { tasks: taskReport } : {}),
    ...(historyReport ? { history: historyReport } : {}),
    ...(o.keepTrace ? { trace: cluster.trace!.toJSONL() } : {}),
  };
}

/** Whether a seed failed: any violation, error, lost write, divergence, task completed twice or left open, a history not shown linearizable, or no convergence. */
export function seedFailed(r: SimulationResult): boolean {
  return (
    r.violation !== null ||
    (r.history !== undefined && !r.history.result.ok) ||
    r.error !== null ||
    r.liveness !== null ||
    r.lost > 0 ||
    r.diverged > 0 ||
    (r.tasks !== undefined && (r.tasks.completedTwice > 0 || r.tasks.unfinished > 0))
  );
}

