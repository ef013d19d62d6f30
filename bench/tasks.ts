/**
 * Task pipeline benchmarks (trace and invariant checking off):
 * - end-to-end throughput of no-op tasks through the whole replicated
 *   lifecycle on 3 nodes: submit, commit, assign, start, complete committed;
 * - memory per queued task, and memory over a 10-minute simulated steady load.
 *
 * Run: `npx tsx bench/tasks.ts`
 */
import { createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const NETWORK = { latency: { base: 1, jitter: 0.5, distribution: 'uniform' as const } };

/**
 * Keeps `window` tasks in flight (submitted in batches of `batch`) until
 * `warmup + total` completed; measures the last `total` (the first ones
 * run while the JIT is still compiling the hot paths).
 */
export async function benchTaskThroughput(total = 100_000, window = 8_000, batch = 1_000, seed = 1, async = false, warmup = 20_000): Promise<BenchResult> {
  const c = createCluster({ nodes: 3, seed, network: NETWORK, check: false, workerCapacity: { cpu: 100_000, memoryBytes: 2 ** 50 }, raft: { snapshotThreshold: 20_000 } });
  // A synchronous no-op finishes in the instant it starts (no lifecycle actor
  // needed); an async one sleeps 1 virtual ms and runs as a taskLifecycle actor.
  c.registerHandler('noop', async ? async (_p, ctx) => ctx.sleep(1) : () => null);
  await c.waitForLeader(10_000);
  const client = c.client();
  let completed = 0;
  let submitted = 0;
  c.events$.subscribe((e) => {
    if (e.type === 'task.completed') completed++;
  });
  const spec = { type: 'noop', resources: { cpu: 1, memoryBytes: 1 } };
  const end = warmup + total;
  let t0 = performance.now();
  let v0 = c.kernel.now();
  let measuring = warmup === 0;
  while (completed < end) {
    if (!measuring && completed >= warmup) {
      measuring = true;
      total = end - completed;
      t0 = performance.now();
      v0 = c.kernel.now();
    }
    while (submitted - completed < window && submitted < end) {
      const n = Math.min(batch, end - submitted);
      client.submitTasks(Array.from({ length: n }, () => spec));
      submitted += n;
    }
    await c.run(1);
  }
  const wall = (performance.now() - t0) / 1000;
  return {
    name: async ? 'end-to-end async tasks (1 ms sleep, one lifecycle actor each), 3 nodes' : 'end-to-end no-op tasks, 3 nodes',
    value: Math.round(total / wall),
    unit: 'tasks/s',
    ...(async ? {} : { target: 20_000 }),
    config: {
      nodes: 3,
      tasks: total,
      warmupTasks: end - total,
      inFlight: window,
      submitBatch: batch,
      lifecycle: 'submit, assign, start, complete — each committed through Raft and applied on every node',
      latencyMs: '1 ± 0.5',
      virtualMs: Math.round(c.kernel.now() - v0),
      wallMs: Math.round(wall * 1000),
      seed,
    },
  };
}

if (isMainModule(import.meta.url)) {
  printResult(await benchTaskThroughput());
  printResult(await benchTaskThroughput(50_000, 8_000, 1_000, 1, true));
}
