/**
 * `npm run bench`: every benchmark, each printing its configuration and
 * result. Numbers are wall-clock throughput on this machine; nothing here
 * passes or fails a build. `npm run bench` compiles with tsc first
 * (tsconfig.bench.json) and runs the JavaScript, as the package ships it;
 * a single file run through tsx (`npx tsx bench/tasks.ts`) is 5–15 %
 * slower (tsx wraps every closure it creates to keep its name).
 */
import { benchBus } from './bus.js';
import { benchActorTimers, benchKernelBurst, benchKernelSteady } from './kernel.js';
import { benchCommitThroughput, benchSimulationSpeed } from './raft.js';
import { printResult, type BenchResult } from './result.js';
import { benchScheduler } from './scheduler.js';
import { benchTaskThroughput } from './tasks.js';
import { benchManyClients } from './clients.js';
import { benchQueuedTaskMemory, benchSteadyLoadMemory } from './memory.js';
import { benchDetectors } from './detectors.js';
import { benchFailover } from './failover.js';
import { benchDegradation, LOSS_LEVELS } from './degradation.js';
import { benchModelPaths } from './modelPaths.js';
import { benchLinearizability } from './linearizability.js';
import { benchSyncedAppends } from './storage.js';
import { benchEmbeddedDurable } from './embedded.js';
import { benchSecurity } from './security.js';
import { benchJoins } from './joins.js';
import { benchNoisyNeighbour } from './tenants.js';

const results: BenchResult[] = [];
const run = async (r: BenchResult | BenchResult[] | Promise<BenchResult | BenchResult[]>) => {
  const res = await r;
  for (const one of Array.isArray(res) ? res : [res]) {
    results.push(one);
    printResult(one);
  }
};

console.log(`Grey benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
await run(benchKernelSteady());
await run(benchKernelSteady(10_000, 2_000_000, 1, true));
await run(benchKernelBurst());
await run(benchActorTimers());
await run(benchBus());
await run(benchBus({ codec: null })); // what the wire costs: the same traffic, payload objects handed over
for (const voters of [3, 5, 7, 9]) await run(benchCommitThroughput(voters));
await run(benchSimulationSpeed(0));
await run(benchSimulationSpeed(1_000));
await run(benchScheduler());
await run(benchTaskThroughput());
await run(benchTaskThroughput(50_000, 8_000, 1_000, 1, true));
await run(benchManyClients());
await run(benchNoisyNeighbour({ spread: 0 }));
await run(benchNoisyNeighbour({ spread: 0.5 }));
await run(benchQueuedTaskMemory());
await run(benchSteadyLoadMemory());
await run(benchDetectors());
await run(benchFailover());
for (const loss of LOSS_LEVELS) await run(benchDegradation(loss));
await run(benchModelPaths());
await run(benchLinearizability());
await run(benchSyncedAppends(1));
await run(benchSyncedAppends(64));
await run(benchEmbeddedDurable());
await run(benchSecurity());
await run(benchJoins());

const missed = results.filter((r) => r.target !== undefined && r.value < r.target);
console.log(`\n${results.length} benchmarks, ${missed.length} below target${missed.length ? `: ${missed.map((r) => r.name).join(', ')}` : ''}.`);
