/**
 * Noisy neighbours (issue 15 §4), measured in the simulation: tenant B
 * submits well within its fair share while tenant A floods at 10× its
 * share. Reported: B's p99 queue wait (submission to start of the first
 * attempt, on the proposers' clocks) with and without A, the bound the
 * issue sets for it (`max(2 × its p99 without A, one task run time)`), and
 * how A was throttled (refused by its rate limit, and held to its share by
 * the scheduler).
 *
 * Each is measured with run times in lock step (spread 0: A's tasks start
 * and end together, so without headroom every slot is busy when B's task
 * arrives and B waits up to a run time plus two commits) and spread ±50 %,
 * and, as a negative control, with the scheduler's headroom off
 * (`headroomTasks: 0`, plain work-conserving DRF).
 *
 * Virtual time: the numbers are the simulation's, not a wall clock's.
 *
 * Run: `npx tsx bench/tenants.ts [--seed N]`
 */
import { createCluster } from '../system/cluster.js';
import { ClientError } from '../system/clientError.js';
import { percentile } from './peers/stats.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Parameters of {@link measureNoisyNeighbour}. */
export interface NoisyNeighbourOptions {
  seed?: number;
  /** How long both tenants submit (virtual ms). */
  durationMs?: number;
  /** What each task's handler sleeps on average (virtual ms). */
  runTimeMs?: number;
  /**
   * Spread of run times, a fraction: each task sleeps `runTimeMs × (1 ± spread)`,
   * drawn from the seed. 0 runs every task for exactly `runTimeMs`, which
   * keeps A's tasks in lock-step: slots free in bursts, the worst case for B.
   */
  spread?: number;
  /** B's submissions as a fraction of its fair share (0.33: a third). */
  bLoad?: number;
  /** A's submissions as a multiple of its fair share. */
  floodFactor?: number;
  /** The scheduler's headroom per active under-share tenant (default 1; 0: off, the negative control). */
  headroomTasks?: number;
}

/** One run's figures. */
export interface NoisyNeighbourRun {
  bTasks: number;
  bP50Ms: number;
  bP99Ms: number;
  aAttempted: number;
  aAdmitted: number;
  aRateLimited: number;
  aCompleted: number;
  /** Of the tasks started while both had work, the fraction that were B's. */
  bShareOfStarts: number;
}

/** Both runs and the verdict. */
export interface NoisyNeighbourResult {
  /** Tasks the cluster runs per second at most (slots / run time). */
  capacityPerSecond: number;
  fairSharePerSecond: number;
  alone: NoisyNeighbourRun;
  flooded: NoisyNeighbourRun;
  /** B's p99 with A must stay within this: max(2 × alone, run time). */
  boundMs: number;
  withinBound: boolean;
}

const WORKERS = 3;
const SLOTS_PER_WORKER = 4;

async function run(o: Required<NoisyNeighbourOptions>, flood: boolean): Promise<NoisyNeighbourRun> {
  const c = createCluster({
    nodes: WORKERS,
    seed: o.seed,
    network: { latency: { base: 1, jitter: 0.5, distribution: 'uniform' } },
    check: false,
    workerCapacity: { cpu: SLOTS_PER_WORKER, memoryBytes: 2 ** 30 },
    tasks: { headroomTasks: o.headroomTasks },
  });
  c.registerHandler('work', (p, ctx) => ctx.sleep(p as number));
  const draw = c.kernel.random('bench:run-times');
  const work = () => ({ type: 'work', payload: Math.round(o.runTimeMs * (1 + o.spread * (2 * draw.float() - 1)) * 1000) / 1000, resources: { cpu: 1, memoryBytes: 1 } });
  await c.waitForLeader(5_000);
  const capacity = (WORKERS * SLOTS_PER_WORKER * 1000) / o.runTimeMs;
  const share = capacity / 2;
  const operator = c.client({ id: 'operator' });
  // A may submit as fast as the cluster could run its tasks, no faster.
  await c.drive(operator.submit({ op: 'registerTenant', tenant: 'a', quota: { maxTasksPerSecond: capacity } }));
  await c.drive(operator.submit({ op: 'registerTenant', tenant: 'b' }));
  const a = c.tenant('a', { id: 'flooder' });
  const b = c.tenant('b', { id: 'modest' });
  const bIds: string[] = [];
  let aAttempted = 0;
  let aAdmitted = 0;
  let aRateLimited = 0;
  let stop = false;
  const tickMs = 10;
  const aLoop = async () => {
    const perTick = Math.round((o.floodFactor * share * tickMs) / 1000);
    while (!stop) {
      const hs = a.submitTasks(Array.from({ length: perTick }, work));
      aAttempted += perTick;
      hs[0].accepted.then(
        () => (aAdmitted += perTick),
        (e: unknown) => {
          if (e instanceof ClientError && e.code === 'RateLimited') aRateLimited += perTick;
        },
      );
      await c.kernel.sleep(tickMs);
    }
  };
  const bLoop = async () => {
    const gap = 1000 / (o.bLoad * share);
    while (!stop) {
      bIds.push(b.submitTask(work()).id);
      await c.kernel.sleep(gap);
    }
  };
  const loops = [bLoop(), ...(flood ? [aLoop()] : [])];
  await c.run(o.durationMs);
  stop = true;
  await c.drive(Promise.all(loops), 10_000);
  const state = c.leader()!.state;
  await c.runUntil(() => bIds.every((id) => state.task(id)?.startedAt != null), { within: 60_000, description: "B's tasks started" });
  const waits = bIds.map((id) => state.task(id)!.startedAt! - state.task(id)!.submittedAt).sort((x, y) => x - y);
  // Starts while both tenants had work: from A's first start to the end of submissions.
  const starts = state.tasks().filter((t) => t.startedAt !== null && t.startedAt <= o.durationMs + (state.tasks()[0]?.submittedAt ?? 0));
  const bStarts = starts.filter((t) => t.spec.tenant === 'b').length;
  return {
    bTasks: bIds.length,
    bP50Ms: percentile(waits, 50),
    bP99Ms: percentile(waits, 99),
    aAttempted,
    aAdmitted,
    aRateLimited,
    aCompleted: state.tenantStats('a')?.completed ?? 0,
    bShareOfStarts: starts.length === 0 ? 0 : bStarts / starts.length,
  };
}

/** Runs B alone, then B beside A's flood, on the same seed. */
export async function measureNoisyNeighbour(options: NoisyNeighbourOptions = {}): Promise<NoisyNeighbourResult> {
  const o: Required<NoisyNeighbourOptions> = { seed: 1, durationMs: 2_000, runTimeMs: 20, spread: 0, bLoad: 1 / 3, floodFactor: 10, headroomTasks: 1, ...options };
  const capacityPerSecond = (WORKERS * SLOTS_PER_WORKER * 1000) / o.runTimeMs;
  const alone = await run(o, false);
  const flooded = await run(o, true);
  // The issue's bound: within 2× B's value without A, or one (nominal) task run time, whichever is larger.
  const boundMs = Math.max(2 * alone.bP99Ms, o.runTimeMs);
  return { capacityPerSecond, fairSharePerSecond: capacityPerSecond / 2, alone, flooded, boundMs, withinBound: flooded.bP99Ms <= boundMs };
}

/** The measurement as a benchmark result: B's p99 queue wait under A's flood. */
export async function benchNoisyNeighbour(options: NoisyNeighbourOptions = {}): Promise<BenchResult> {
  const r = await measureNoisyNeighbour(options);
  const spread = options.spread ?? 0;
  const headroom = options.headroomTasks ?? 1;
  return {
    name: `noisy neighbour: B's p99 queue wait while A floods at 10× its fair share (virtual ms; ${spread === 0 ? 'run times in lock step' : `run times ±${Math.round(spread * 100)} %`}${headroom === 0 ? '; headroom off: negative control' : ''})`,
    value: r.flooded.bP99Ms,
    unit: 'ms',
    config: {
      cluster: `${WORKERS} nodes × ${SLOTS_PER_WORKER} one-CPU slots, tasks of ${options.runTimeMs ?? 20} ms`,
      seed: options.seed ?? 1,
      headroomTasks: headroom,
      capacityPerSecond: r.capacityPerSecond,
      fairSharePerSecond: r.fairSharePerSecond,
      alone: r.alone,
      flooded: r.flooded,
      boundMs: r.boundMs,
      withinBound: r.withinBound,
    },
  };
}

if (isMainModule(import.meta.url)) {
  const at = process.argv.indexOf('--seed');
  const seed = at > 0 ? Number(process.argv[at + 1]) : 1;
  if (!Number.isSafeInteger(seed)) throw new Error(`bench/tenants: --seed must be an integer, got ${process.argv[at + 1]}`);
  const rows: string[] = [];
  for (const headroomTasks of [1, 0]) {
    for (const spread of [0, 0.5]) {
      const r = await benchNoisyNeighbour({ seed, spread, headroomTasks });
      printResult(r);
      const c = r.config as { alone: NoisyNeighbourRun; boundMs: number; withinBound: boolean };
      rows.push(`  ${spread === 0 ? 'lock step' : '±50 %    '}  headroom ${headroomTasks === 0 ? 'off' : 'on '}  B p99 alone ${c.alone.bP99Ms.toFixed(1)} ms → beside A ${r.value.toFixed(1)} ms  (bound ${c.boundMs.toFixed(1)} ms: ${c.withinBound ? 'met' : 'MISSED'})`);
    }
  }
  console.log(`\nSummary (seed ${seed}):\n${rows.join('\n')}`);
}
