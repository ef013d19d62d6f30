/**
 * Real mode, one process: 3 nodes from `startNode` on the wall clock, each
 * with its log in LMDB (every vote, append and acknowledgement waits for
 * its fsync'd commit, with group commit), on the in-process transport
 * (every message encoded and decoded). `clients` clients each submit one
 * no-op task per request and the next as soon as it is accepted
 * (committed); the leader batches their requests. Counted: tasks
 * completed (submit, assign, start, complete: each committed on 3 nodes'
 * disks) per wall second over `measureMs`, after a warm-up; and the p50 and
 * p99 time from submit to accepted.
 *
 * Run: `npx tsx bench/embedded.ts`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const IDS = ['n1', 'n2', 'n3'];

export async function benchEmbeddedDurable(clients = 64, warmupMs = 1_000, measureMs = 4_000): Promise<BenchResult> {
  const root = mkdtempSync(join(tmpdir(), 'grey-bench-embedded-'));
  const network = new LocalNetwork();
  const nodes = await Promise.all(
    IDS.map((id) =>
      startNode({
        id,
        peers: IDS,
        network,
        dataDir: join(root, id),
        raft: { heartbeatMs: 50, electionTimeoutMin: 500, electionTimeoutMax: 1_000, snapshotThreshold: 20_000 },
        workerCapacity: { cpu: 100_000, memoryBytes: 2 ** 50 },
        handlers: { noop: () => null },
      }),
    ),
  );
  let completed = 0;
  nodes[0].events$.subscribe((e) => {
    if (e.type === 'task.completed') completed++;
  });
  const latencies: number[] = [];
  let measuring = false;
  let running = true;
  let errors = 0;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const client = connect({ network, endpoints: IDS, id: `bench-${i}`, timeoutMs: 10_000 });
    while (running) {
      const t0 = performance.now();
      try {
        await client.submitTask({ type: 'noop', resources: { cpu: 1, memoryBytes: 1 } }).accepted;
        if (measuring) latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  const c0 = completed;
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, measureMs));
  const wall = (performance.now() - t0) / 1000;
  const done = completed - c0;
  measuring = false;
  running = false;
  await Promise.all(loops);
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(root, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(2));
  return {
    name: `real mode: ${clients} clients, one task per request, 3 embedded nodes with durable logs`,
    value: Math.round(done / wall),
    unit: 'tasks/s',
    config: {
      nodes: '3 startNode nodes in one process, wall clock, in-process transport (codec on)',
      storage: 'LmdbStorage per node: each sync an fsync-flushed LMDB commit (group commit)',
      lifecycle: 'submit, assign, start, complete — each committed on every node',
      clients,
      completed: done,
      acceptedLatencyP50Ms: pct(50),
      acceptedLatencyP99Ms: pct(99),
      errors,
      wallMs: Math.round(wall * 1000),
    },
  };
}

if (isMainModule(import.meta.url)) printResult(await benchEmbeddedDurable());
