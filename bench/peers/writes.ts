/**
 * Replicated writes per second with `inFlight` writes outstanding.
 *
 * One client in the benchmark's process keeps `inFlight` puts outstanding
 * (a new one as each is acknowledged) to keys `k/0`…`k/9999` in turn, each
 * value `valueBytes` long. A put is acknowledged once it is committed: on
 * a majority's disks (fsync'd) and applied by the leader. Counted: puts
 * acknowledged in `measureMs` after `warmupMs`, per second.
 *
 * - Grey: `client.put` on the replicated key-value store, one client (one
 *   TLS connection per node; it sends to the leader, follows NotLeader hints).
 * - etcd: `put` through the `etcd3` package over gRPC (one HTTP/2 channel)
 *   to the leader, as etcd's own `benchmark put` does with one client.
 */
import type { Etcd3 } from 'etcd3';
import { GREY_SYNC_METRIC, type GreyCluster } from './greyCluster.js';
import { ETCD_SYNC_METRIC, type EtcdCluster } from './etcd.js';
import { parseHistogram, scrape, type Histogram } from './metrics.js';
import { sleep } from './procs.js';

export interface WriteWorkload {
  inFlight: number;
  valueBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface WriteRun {
  writesPerSec: number;
  acknowledged: number;
  errors: number;
  /** Acknowledgement latency of the measured puts, ms. */
  p50Ms: number;
  p99Ms: number;
  /** CPU the benchmark's process (the client) used per wall second while measuring: 1.0 is one core busy. */
  clientCpu: number;
  /** Disk syncs of every member over the run, as each reports them. */
  syncs: Histogram;
}

const KEYS = 10_000;

/** Runs `inFlight` loops of `put` for warm-up + measurement; counts what completes in the measured window. */
async function drive(w: WriteWorkload, put: (key: string, value: string) => Promise<unknown>): Promise<Omit<WriteRun, 'syncs'>> {
  const value = 'v'.repeat(w.valueBytes);
  let next = 0;
  let running = true;
  let measuring = false;
  let acknowledged = 0;
  let errors = 0;
  const latencies: number[] = [];
  const loops = Array.from({ length: w.inFlight }, async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await put(`k/${next++ % KEYS}`, value);
        if (measuring) {
          acknowledged++;
          latencies.push(performance.now() - t0);
        }
      } catch {
        errors++;
        await sleep(10);
      }
    }
  });
  await sleep(w.warmupMs);
  measuring = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await sleep(w.measureMs);
  measuring = false;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  running = false;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { writesPerSec: acknowledged / (wall / 1000), acknowledged, errors, p50Ms: pct(50), p99Ms: pct(99), clientCpu: (cpu.user + cpu.system) / 1000 / wall };
}

export async function greyWrites(cluster: GreyCluster, w: WriteWorkload): Promise<WriteRun> {
  await cluster.waitConverged();
  const client = await cluster.client('bench-writes', { timeoutMs: 10_000 });
  await client.put('warm', 1);
  try {
    const run = await drive(w, (key, value) => client.put(key, value));
    const texts = await Promise.all(cluster.ids.map((id) => scrape(cluster.metricsUrl(id))));
    return { ...run, syncs: parseHistogram(texts, GREY_SYNC_METRIC) };
  } finally {
    await client.close();
  }
}

export async function etcdWrites(cluster: EtcdCluster, w: WriteWorkload): Promise<WriteRun> {
  const leader = await cluster.waitConverged();
  const client: Etcd3 = cluster.makeClient([leader]);
  await client.put('warm').value('1');
  try {
    const run = await drive(w, (key, value) => client.put(key).value(value).exec());
    const texts = await Promise.all(cluster.ids.map((id) => scrape(cluster.metricsUrl(id))));
    return { ...run, syncs: parseHistogram(texts, ETCD_SYNC_METRIC) };
  } finally {
    client.close();
  }
}
