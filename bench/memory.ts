/**
 * Memory benchmarks of the task pipeline (trace and checking off):
 * - heap per queued task: a 3-node cluster with no workers, so submitted
 *   tasks stay pending, replicated on every node;
 * - heap over a 10-minute simulated steady load: tasks arrive, run and
 *   finish at a steady rate; finished tasks leave the hot tables after the
 *   retention window, so the heap must stay flat.
 *
 * Run with GC exposed for exact numbers: `node --expose-gc --import tsx bench/memory.ts`.
 */
import { createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};

export async function benchQueuedTaskMemory(tasks = 50_000, seed = 1): Promise<BenchResult> {
  const c = createCluster({ nodes: 3, seed, check: false, workerCapacity: null, network: { latency: { base: 1, jitter: 0.5, distribution: 'uniform' } }, raft: { snapshotThreshold: 0 } });
  await c.waitForLeader(10_000);
  const client = c.client();
  await c.run(200);
  const before = heap();
  for (let i = 0; i < tasks; i += 1_000) {
    client.submitTasks(Array.from({ length: 1_000 }, (_, k) => ({ type: 'job', payload: { n: i + k }, priority: k % 5 })));
    await c.run(5);
  }
  await c.run(500);
  const queued = c.leader()!.state.tasks().filter((t) => t.status === 'pending').length;
  const after = heap();
  const perTask = (after - before) / queued;
  return {
    name: 'heap per queued task (3-node cluster, every replica and index counted)',
    value: Math.round(perTask / 3),
    unit: 'bytes per task per node',
    target: undefined,
    config: { nodes: 3, queued, wholeClusterBytesPerTask: Math.round(perTask), limit: 'at most 2,048 bytes per task per node', replicas: 'share nothing: each decoded its own copy from the wire', payload: '{ n }', gcExposed: gc !== undefined, seed },
  };
}

export async function benchSteadyLoadMemory(minutes = 10, ratePerSecond = 200, seed = 1): Promise<BenchResult> {
  const c = createCluster({ nodes: 3, seed, check: false, network: { latency: { base: 1, jitter: 0.5, distribution: 'uniform' } }, tasks: { retentionMs: 30_000 }, eventHistory: 10_000 });
  c.registerHandler('work', async (_p, ctx) => ctx.sleep(20));
  await c.waitForLeader(10_000);
  const client = c.client();
  const samples: number[] = [];
  let submitted = 0;
  for (let minute = 0; minute < minutes; minute++) {
    for (let s = 0; s < 60; s++) {
      client.submitTasks(Array.from({ length: ratePerSecond }, () => ({ type: 'work' })));
      submitted += ratePerSecond;
      await c.run(1_000);
    }
    samples.push(heap());
  }
  // After the retention window has filled, the heap is a sawtooth (the Raft
  // log grows, then compacts behind a snapshot): judge its trend, not two points.
  const warm = samples.slice(2).map((b) => b / 2 ** 20);
  const n = warm.length;
  const mx = (n - 1) / 2;
  const my = warm.reduce((a, b) => a + b, 0) / n;
  const slope = warm.reduce((a, y, x) => a + (x - mx) * (y - my), 0) / warm.reduce((a, _y, x) => a + (x - mx) ** 2, 0);
  const l = c.leader()!;
  return {
    name: `heap trend over a ${minutes}-minute simulated steady load (after minute 2)`,
    value: +slope.toFixed(2),
    unit: 'MB per simulated minute (least squares)',
    config: {
      nodes: 3,
      ratePerSecond,
      submitted,
      retentionMs: 30_000,
      hotTasksAtEnd: l.state.tasks().length,
      prunedByLeader: l.state.taskTable.pruned,
      heapMBPerMinute: samples.map((b) => +(b / 2 ** 20).toFixed(1)),
      warmRangeMB: [+Math.min(...warm).toFixed(1), +Math.max(...warm).toFixed(1)],
      gcExposed: gc !== undefined,
      seed,
    },
  };
}

if (isMainModule(import.meta.url)) {
  printResult(await benchQueuedTaskMemory());
  printResult(await benchSteadyLoadMemory());
}
