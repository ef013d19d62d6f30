/**
 * Raft benchmarks (trace and invariant checking off, as a production run):
 * - committed entries per wall second with batching, for 3, 5, 7 and 9 voters;
 * - simulation speed (simulated seconds per wall second) of an idle 5-node
 *   cluster and of one under 1,000 proposals per second.
 *
 * Run: `npx tsx bench/raft.ts`
 */
import { Cluster, createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const NETWORK = { latency: { base: 1, jitter: 0.5, distribution: 'uniform' as const } };

async function leaderOf(c: Cluster) {
  return c.waitForLeader(10_000);
}

/**
 * Keeps `window` proposals outstanding on the leader (each virtual ms it tops
 * up to that many uncommitted entries), so entries batch as they would under
 * a steady stream of clients; measures entries committed per wall second.
 */
export async function benchCommitThroughput(voters = 3, entries = 300_000, window = 4_096, seed = 1): Promise<BenchResult> {
  const c = createCluster({ nodes: voters, seed, network: NETWORK, check: false, raft: { snapshotThreshold: 50_000, snapshotKeep: 5_000 } });
  const leader = (await leaderOf(c)).raft;
  await c.run(100);
  const start = leader.commitIndex;
  const command = { cmd: { op: 'noop' } };
  const t0 = performance.now();
  const v0 = c.kernel.now();
  while (leader.commitIndex - start < entries) {
    const outstanding = leader.log.lastIndex - leader.commitIndex;
    for (let i = outstanding; i < window; i++) leader.propose(command);
    c.kernel.advance(1);
  }
  const wall = (performance.now() - t0) / 1000;
  const committed = leader.commitIndex - start;
  return {
    name: `committed entries, ${voters} voters`,
    value: Math.round(committed / wall),
    unit: 'entries/s',
    ...(voters === 3 ? { target: 100_000 } : {}),
    config: {
      voters,
      committed,
      outstandingWindow: window,
      maxBatch: 1024,
      maxInflight: 4,
      latencyMs: '1 ± 0.5',
      virtualMs: Math.round(c.kernel.now() - v0),
      wallMs: Math.round(wall * 1000),
      perEntryUs: +((wall * 1e6) / committed).toFixed(2),
      seed,
    },
  };
}

/** Simulated seconds per wall second of a cluster, idle or under `rate` proposals per second. */
export async function benchSimulationSpeed(rate: number, virtualSeconds = rate === 0 ? 600 : 60, seed = 1): Promise<BenchResult> {
  const c = createCluster({ nodes: 5, seed, network: { latency: { base: 10, jitter: 5, distribution: 'uniform' } }, check: false });
  await leaderOf(c);
  const rng = c.kernel.random('bench');
  const command = { cmd: { op: 'noop' } };
  let proposed = 0;
  const propose = () => {
    c.leader()?.raft.propose(command);
    proposed++;
    c.kernel.schedule(rng.exponential(1_000 / rate), propose);
  };
  if (rate > 0) propose();
  // Warm up (JIT) before measuring, as the other benchmarks do: the first
  // wall second of an idle cluster runs at half its steady speed, still
  // being compiled. So: 1.5 wall seconds of warm-up, in slices.
  const warm0 = performance.now();
  let warmupMs = 0;
  while (performance.now() - warm0 < 1_500) {
    c.kernel.advance(5_000);
    warmupMs += 5_000;
  }
  const t0 = performance.now();
  c.kernel.advance(virtualSeconds * 1_000);
  const wall = (performance.now() - t0) / 1000;
  return {
    name: rate === 0 ? 'simulation speed, idle 5-node cluster' : `simulation speed, 5 nodes under ${rate} proposals/s`,
    value: Math.round(virtualSeconds / wall),
    unit: '× real time',
    target: rate === 0 ? 1_000 : 50,
    config: { nodes: 5, latencyMs: '10 ± 5', heartbeatMs: 50, virtualSeconds, warmupVirtualSeconds: warmupMs / 1_000, warmupWallMs: 1_500, proposed, committed: c.leader()?.raft.commitIndex, wallMs: Math.round(wall * 1000), seed },
  };
}

if (isMainModule(import.meta.url)) {
  for (const voters of [3, 5, 7, 9]) printResult(await benchCommitThroughput(voters));
  printResult(await benchSimulationSpeed(0));
  printResult(await benchSimulationSpeed(1_000));
}
