/**
 * `npm run bench`: every benchmark, each printing its configuration and
 * result. Numbers are wall-clock throughput on this machine; nothing here
 * passes or fails a build.
 */
import { benchBus } from './bus.js';
import { benchActorTimers, benchKernelBurst, benchKernelSteady } from './kernel.js';
import { printResult, type BenchResult } from './result.js';

const results: BenchResult[] = [];
const run = async (r: BenchResult | Promise<BenchResult>) => {
  const res = await r;
  results.push(res);
  printResult(res);
};

console.log(`Grey benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
await run(benchKernelSteady());
await run(benchKernelSteady(10_000, 2_000_000, 1, true));
await run(benchKernelBurst());
await run(benchActorTimers());
await run(benchBus());

const missed = results.filter((r) => r.target !== undefined && r.value < r.target);
console.log(`\n${results.length} benchmarks, ${missed.length} below target${missed.length ? `: ${missed.map((r) => r.name).join(', ')}` : ''}.`);
