/**
 * Many clients, one task per request: 256 clients, each on the network,
 * each submitting one no-op task per request and the next as soon as the
 * last is accepted (committed). The leader batches the proposals it
 * receives; no client batches. Counted: tasks completed (the whole
 * replicated lifecycle: submit, assign, start, complete, each committed on
 * 3 nodes) per wall second, after a warm-up. Trace and invariant checks off.
 *
 * Run: `npx tsx bench/clients.ts`
 */
import { createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const NETWORK = { latency: { base: 1, jitter: 0.5, distribution: 'uniform' as const } };

/** Runs the benchmark and returns completed tasks per wall second. */
export async function benchManyClients(clients = 256, warmupMs = 500, measureMs = 2_000, seed = 1): Promise<BenchResult> {
  const c = createCluster({ nodes: 3, seed, network: NETWORK, check: false, workerCapacity: { cpu: 100_000, memoryBytes: 2 ** 50 }, raft: { snapshotThreshold: 20_000 } });
  c.registerHandler('noop', () => null);
  await c.waitForLeader(10_000);
  let completed = 0;
  let accepted = 0;
  let errors = 0;
  c.events$.subscribe((e) => {
    if (e.type === 'task.completed') completed++;
  });
  const spec = { type: 'noop', resources: { cpu: 1, memoryBytes: 1 } };
  let running = true;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const client = c.client({ id: `b${i}` });
    while (running) {
      try {
        await client.submitTask(spec).accepted;
        accepted++;
      } catch {
        errors++;
      }
    }
  });
  await c.run(warmupMs);
  const c0 = completed;
  const a0 = accepted;
  const t0 = performance.now();
  await c.run(measureMs);
  const wall = (performance.now() - t0) / 1000;
  const done = completed - c0;
  running = false;
  await c.drive(Promise.all(loops), 30_000);
  return {
    name: `${clients} concurrent clients, one task per request, 3 nodes`,
    value: Math.round(done / wall),
    unit: 'tasks/s',
    target: 10_000,
    config: {
      nodes: 3,
      clients,
      lifecycle: 'submit, assign, start, complete — each committed through Raft and applied on every node',
      clientsOnTheNetwork: 'every request and answer encoded and sent over the simulated network',
      latencyMs: '1 ± 0.5',
      measuredVirtualMs: measureMs,
      completed: done,
      accepted: accepted - a0,
      errors,
      wallMs: Math.round(wall * 1000),
      seed,
    },
  };
}

if (isMainModule(import.meta.url)) printResult(await benchManyClients());
