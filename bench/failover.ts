/**
 * Leader failover downtime: from the leader's crash to the first leader of a
 * higher term, over many seeds (trace and invariant checking off).
 *
 * Each seed: 5 nodes, election timeouts 150–300 ms, heartbeats every 50 ms,
 * 7.5 ± 2.5 ms one-way latency; PreVote and CheckQuorum on (the defaults).
 * Once the first leader is elected, the cluster runs stable for a time drawn
 * uniformly in [1000, 1500) ms from the seeded stream `failover` (so the crash
 * lands at a random point of the heartbeat cycle), then the leader crashes
 * and the kernel runs, event by event, until some up node leads a higher term.
 *
 * Two ways to fail: the leader's process crashes and its peers see its
 * connections close (Grey's followers then campaign at once, staggered),
 * or it falls silent with its connections open (a hung process, a
 * partition: `crashClosesConnections: false`), where only the election
 * timeout tells. The targets below are the silent case's.
 *
 * Besides the downtime it splits each failover into its phases: crash → the
 * first follower's election timeout (it becomes a precandidate), → the first
 * real candidate (PreVote won), → the new leader; and counts elections that
 * needed more than one round (the new term is more than one above the old).
 *
 * Run: `npx tsx bench/failover.ts [seeds]`
 */
import { createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const NODES = 5;
const NETWORK = { latency: { base: 7.5, jitter: 2.5, distribution: 'uniform' as const } };
const RAFT = { electionTimeoutMin: 150, electionTimeoutMax: 300, heartbeatMs: 50 };
const STABLE_MIN = 1_000;
const STABLE_MAX = 1_500;
const BUCKET_MS = 50;

/** One failover, times in virtual ms from the crash. */
export interface FailoverSample {
  seed: number;
  /** Crash → first leader of a higher term. */
  downtime: number;
  /** Crash → the first follower's election timeout (first precandidate or candidate). */
  firstTimeout: number;
  /** Crash → the first node of a higher term campaigning for real (PreVote won). */
  firstCandidate: number;
  /** New term − old term: the rounds of real voting it took. */
  rounds: number;
}

/** Runs one seed's failover. */
export async function failoverOnce(seed: number, closes = false): Promise<FailoverSample> {
  const cluster = createCluster({ nodes: NODES, seed, network: NETWORK, raft: RAFT, check: false, crashClosesConnections: closes });
  const first = await cluster.waitForLeader();
  const stable = cluster.kernel.random('failover').uniform(STABLE_MIN, STABLE_MAX);
  cluster.kernel.advance(stable);
  const leader = cluster.leader() ?? first;
  const oldTerm = leader.raft.currentTerm;
  cluster.crash(leader.id);
  const crashedAt = cluster.kernel.now();
  let firstTimeout = Number.NaN;
  let firstCandidate = Number.NaN;
  await cluster.runUntil(
    () => {
      const nodes = cluster.upNodes();
      if (Number.isNaN(firstTimeout)) {
        for (const n of nodes) if (n.raft.currentRole !== 'follower') firstTimeout = cluster.kernel.now() - crashedAt;
      }
      if (Number.isNaN(firstCandidate)) {
        for (const n of nodes) if (n.raft.currentTerm > oldTerm && (n.raft.currentRole === 'candidate' || n.raft.currentRole === 'leader')) firstCandidate = cluster.kernel.now() - crashedAt;
      }
      const l = cluster.leader();
      return !!l && l.raft.currentTerm > oldTerm;
    },
    { within: 10_000, description: `a leader of a term above ${oldTerm} (seed ${seed})` },
  );
  const downtime = cluster.kernel.now() - crashedAt;
  return { seed, downtime, firstTimeout, firstCandidate, rounds: cluster.leader()!.raft.currentTerm - oldTerm };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { mean: round1(mean), p50: round1(percentile(s, 50)), p90: round1(percentile(s, 90)), p99: round1(percentile(s, 99)), max: round1(s[s.length - 1]), min: round1(s[0]) };
}

/** Counts per `BUCKET_MS` bucket, as `[from, to)` labels. */
export function histogram(values: number[], bucket = BUCKET_MS): Array<{ bucket: string; count: number }> {
  const counts = new Map<number, number>();
  for (const v of values) {
    const b = Math.floor(v / bucket);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  const keys = [...counts.keys()];
  const out: Array<{ bucket: string; count: number }> = [];
  for (let b = Math.min(...keys); b <= Math.max(...keys); b++) out.push({ bucket: `${b * bucket}–${(b + 1) * bucket}`, count: counts.get(b) ?? 0 });
  return out;
}

let lastSamples: FailoverSample[] = [];

/** The samples of the last {@link benchFailover} run. */
export function failoverSamples(): readonly FailoverSample[] {
  return lastSamples;
}

export async function benchFailover(seeds = 1000): Promise<BenchResult[]> {
  const t0 = performance.now();
  const samples: FailoverSample[] = [];
  const closed: FailoverSample[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    samples.push(await failoverOnce(seed));
    closed.push(await failoverOnce(seed, true));
  }
  const wallMs = Math.round(performance.now() - t0);
  lastSamples = samples;
  const down = summary(samples.map((s) => s.downtime));
  const downClosed = summary(closed.map((s) => s.downtime));
  const multiRound = samples.filter((s) => s.rounds > 1).length;
  const config = {
    nodes: NODES,
    seeds: `1–${seeds}`,
    electionTimeoutMs: `${RAFT.electionTimeoutMin}–${RAFT.electionTimeoutMax} (from the last contact with the leader)`,
    heartbeatMs: RAFT.heartbeatMs,
    latencyMs: `${NETWORK.latency.base} ± ${NETWORK.latency.jitter} (uniform), one way`,
    preVote: true,
    checkQuorum: true,
    crashAt: `uniform in [${STABLE_MIN}, ${STABLE_MAX}) ms after the first leader`,
    targets: 'p50 ≤ 250 ms, p99 ≤ 500 ms (etcd, 150 ms timeouts, 3 members: p50 186, p99 481)',
    downtimeMs: down,
    multiRoundElections: multiRound,
    wallMs,
  };
  return [
    { name: `leader failover downtime, ${NODES} nodes, ${seeds} seeds (p50)`, value: down.p50, unit: 'ms p50', config },
    { name: `leader failover downtime, ${NODES} nodes, ${seeds} seeds (p99)`, value: down.p99, unit: 'ms p99', config: { targets: 'p99 ≤ 500 ms', p90: down.p90, max: down.max } },
    {
      name: `leader failover downtime when the crashed leader's connections close, ${NODES} nodes, ${seeds} seeds (p50)`,
      value: downClosed.p50,
      unit: 'ms p50',
      config: { downtimeMs: downClosed, multiRoundElections: closed.filter((s) => s.rounds > 1).length, note: 'followers campaign after a delay staggered by rank (fastFailover)' },
    },
  ];
}

if (isMainModule(import.meta.url)) {
  const seeds = Number(process.argv[2] ?? 1000);
  // The per-phase breakdown below is of the silent case (connections left open).
  const results = await benchFailover(seeds);
  for (const r of results) printResult(r);
  const samples = failoverSamples();
  const downtimes = samples.map((s) => s.downtime);
  console.log(`\ndowntime histogram (${BUCKET_MS} ms buckets)`);
  const hist = histogram(downtimes);
  const widest = Math.max(...hist.map((h) => h.count));
  for (const h of hist) console.log(`  ${h.bucket.padStart(9)} ms ${String(h.count).padStart(5)} ${'#'.repeat(Math.ceil((h.count / widest) * 50))}`);
  console.log('\nphases (ms)');
  console.log('  crash → first election timeout   ', JSON.stringify(summary(samples.map((s) => s.firstTimeout))));
  console.log('  crash → first real candidate     ', JSON.stringify(summary(samples.map((s) => s.firstCandidate))));
  console.log('  first candidate → leader         ', JSON.stringify(summary(samples.map((s) => s.downtime - s.firstCandidate))));
  console.log('  first timeout → leader           ', JSON.stringify(summary(samples.map((s) => s.downtime - s.firstTimeout))));
  const byRounds = new Map<number, number[]>();
  for (const s of samples) byRounds.set(s.rounds, [...(byRounds.get(s.rounds) ?? []), s.downtime]);
  console.log('\nby vote rounds (new term − old term)');
  for (const [r, v] of [...byRounds].sort((a, b) => a[0] - b[0])) console.log(`  ${r}: ${v.length} elections, downtime ${JSON.stringify(summary(v))}`);
  const worst = [...samples].sort((a, b) => b.downtime - a.downtime).slice(0, 5);
  console.log('\nslowest seeds', JSON.stringify(worst));
}
