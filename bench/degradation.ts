/**
 * How replication degrades with message loss: committed writes per
 * simulated second and the commit latency clients see, at 0, 1, 5, 10, 20
 * and 30 % loss on every link, clients' included (trace and invariant
 * checking off; every message encoded).
 *
 * Each level: 5 nodes, 5 ± 2 ms one-way latency, 150–300 ms election
 * timeouts, 50 ms heartbeats; 64 closed-loop clients, each writing one key
 * and waiting for the answer before the next; 10 simulated seconds after a
 * 1 s warm-up. Latency is virtual ms from submit to acknowledgement,
 * retries included. Clients are on the network, so their requests and
 * answers are lost like replication, heartbeats, votes and forwarding: a
 * client sends a request again once a measured round trip passes without
 * an answer. Numbers are in simulated time, so they describe the
 * protocol, not this machine.
 *
 * Run: `npx tsx bench/degradation.ts`
 */
import { ClientError } from '../system/client.js';
import { createCluster } from '../system/cluster.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

export const LOSS_LEVELS = [0, 0.01, 0.05, 0.1, 0.2, 0.3] as const;
const CLIENTS = 64;
const WARMUP_MS = 1_000;
const MEASURE_MS = 10_000;

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** One loss level: throughput (writes acknowledged per simulated second) and latency quantiles. */
export async function benchDegradation(loss: number, seed = 1): Promise<BenchResult[]> {
  const c = createCluster({
    nodes: 5,
    seed,
    check: false,
    network: { latency: { base: 5, jitter: 2, distribution: 'uniform' }, loss },
    raft: { electionTimeoutMin: 150, electionTimeoutMax: 300, heartbeatMs: 50 },
  });
  await c.waitForLeader(30_000);
  const kernel = c.kernel;
  const measureFrom = kernel.now() + WARMUP_MS;
  const measureTo = measureFrom + MEASURE_MS;
  const latencies: number[] = [];
  let acked = 0;
  let timedOut = 0;
  let stop = false;
  const loop = async (i: number) => {
    const client = c.client({ id: `w${i}`, timeoutMs: 5_000 });
    let n = 0;
    while (!stop) {
      const t0 = kernel.now();
      try {
        await client.submit({ op: 'put', key: `k${i}`, value: ++n });
        const t1 = kernel.now();
        if (t0 >= measureFrom && t1 <= measureTo) {
          acked++;
          latencies.push(t1 - t0);
        }
      } catch (err) {
        if (!(err instanceof ClientError)) throw err;
        if (t0 >= measureFrom && t0 <= measureTo) timedOut++;
      }
    }
  };
  for (let i = 0; i < CLIENTS; i++) void loop(i);
  await c.run(measureTo - kernel.now());
  stop = true;
  latencies.sort((a, b) => a - b);
  const config = { loss: `${loss * 100} %`, nodes: 5, clients: CLIENTS, latencyMs: '5 ± 2', measuredVirtualMs: MEASURE_MS, timedOut, seed };
  return [
    { name: `replicated writes at ${loss * 100} % loss`, value: Math.round(acked / (MEASURE_MS / 1000)), unit: 'writes per simulated second', config },
    {
      name: `commit latency at ${loss * 100} % loss (p50 / p99)`,
      value: Math.round(quantile(latencies, 0.99)),
      unit: `virtual ms p99 (p50 ${quantile(latencies, 0.5).toFixed(0)} ms)`,
      config: { loss: `${loss * 100} %` },
    },
  ];
}

if (isMainModule(import.meta.url)) {
  const rows: string[] = ['loss   writes/s   p50 ms   p99 ms   timed out'];
  for (const loss of LOSS_LEVELS) {
    const [tp, lat] = await benchDegradation(loss);
    printResult(tp);
    printResult(lat);
    const p50 = /p50 (\d+)/.exec(lat.unit)?.[1] ?? '?';
    rows.push(`${`${loss * 100} %`.padEnd(6)} ${String(tp.value).padStart(8)}   ${p50.padStart(6)}   ${String(lat.value).padStart(6)}   ${String(tp.config.timedOut).padStart(9)}`);
  }
  console.log(`\n${rows.join('\n')}`);
}
