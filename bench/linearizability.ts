/**
 * The linearizability checker on the histories a `--workload kv` sweep
 * produces: five clients with three requests in flight each on five keys,
 * 60 simulated seconds per seed under crashes, partitions, loss and
 * membership changes. The histories are generated first (not timed), then
 * each is checked: operations checked per wall second over all of them,
 * and the slowest single history.
 *
 * Run: `npx tsx bench/linearizability.ts`
 */
import { checkHistory, HistoryRecorder, type HistoryOperation } from '../system/linearizability.js';
import { runSimulation } from '../system/simulation.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Captures the history of one kv run by recording what its checker was given. */
async function historyOf(seed: number, durationMs: number): Promise<HistoryOperation[]> {
  let captured: HistoryOperation[] = [];
  const original = HistoryRecorder.prototype.operations;
  HistoryRecorder.prototype.operations = function (this: HistoryRecorder) {
    captured = original.call(this);
    return captured;
  };
  try {
    const r = await runSimulation({ seed, nodes: 5, durationMs, faults: ['crash', 'restart', 'partition', 'loss', 'membership'], latency: [5, 15], electionTimeout: [150, 300], rate: 200, workload: 'kv' });
    if (!r.history?.result.ok) throw new Error(`seed ${seed}: the history did not check (${JSON.stringify(r.history?.result)})`);
  } finally {
    HistoryRecorder.prototype.operations = original;
  }
  return captured;
}

export async function benchLinearizability(seeds = 8, durationMs = 60_000): Promise<BenchResult[]> {
  const histories: HistoryOperation[][] = [];
  for (let seed = 1; seed <= seeds; seed++) histories.push(await historyOf(seed, durationMs));
  let ops = 0;
  let unknown = 0;
  let steps = 0;
  let worst = 0;
  let wall = 0;
  for (const h of histories) {
    const t0 = performance.now();
    const r = checkHistory(h);
    const ms = performance.now() - t0;
    if (!r.ok) throw new Error('a history that checked in its run failed here');
    wall += ms;
    worst = Math.max(worst, ms);
    ops += h.length;
    steps += r.steps;
    unknown += h.filter((o) => !Number.isFinite(o.ret)).length;
  }
  const config = { seeds, simulatedSecondsEach: durationMs / 1000, clients: '5 × 3 requests in flight', keys: 5, operations: ops, unknownOutcome: unknown, searchSteps: steps, faults: 'crash,restart,partition,loss,membership' };
  return [
    { name: 'linearizability checker, kv sweep histories (60 s each)', value: Math.round(ops / (wall / 1000)), unit: 'operations checked/s', config },
    { name: 'linearizability checker, slowest single history', value: Math.round(worst), unit: 'ms', config: { operationsPerHistory: Math.round(ops / seeds) } },
  ];
}

if (isMainModule(import.meta.url)) for (const r of await benchLinearizability()) printResult(r);
