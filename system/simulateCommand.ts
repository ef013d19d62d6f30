import type { CliIO } from './cli.js';
import { parseDuration, parseFlags, parsePositiveInt, parseRange, UsageError } from './cliArgs.js';
import { parseFaults } from './nemesis.js';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_CONVERGE_MS, DEFAULT_SIMULATION, runSimulation, seedFailed, type SimulationOptions, type SimulationResult } from './simulation.js';
import { MAX_CLUSTER_NODES } from './cluster.js';

/** The workload's rate, at most (operations per virtual second): past it one simulated second would take hours. */
const MAX_RATE = 100_000;

const FLAGS = {
  seed: 'value',
  seeds: 'value',
  nodes: 'value',
  duration: 'value',
  faults: 'value',
  latency: 'value',
  'election-timeout': 'value',
  rate: 'value',
  trace: 'value',
  workload: 'value',
  'trace-dir': 'value',
  converge: 'value',
  'clock-drift': 'value',
  'lease-reads': 'bool',
  'sync-latency': 'value',
} as const;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** `grey simulate`: one seed, or a sweep with a progress bar and a summary. */
export async function simulateCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, FLAGS);
  const get = (k: keyof typeof FLAGS) => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
  if (get('seed') && get('seeds')) throw new UsageError('give --seed or --seeds, not both');
  const [first, last] = get('seeds') ? parseRange(get('seeds')!, 'seeds') : [Number(get('seed') ?? 1), Number(get('seed') ?? 1)];
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) throw new UsageError('seeds must be integers');
  const base: Omit<SimulationOptions, 'seed'> = {
    ...DEFAULT_SIMULATION,
    nodes: get('nodes') ? parsePositiveInt(get('nodes')!, 'nodes') : DEFAULT_SIMULATION.nodes,
    durationMs: get('duration') ? parseDuration(get('duration')!, 'duration') : DEFAULT_SIMULATION.durationMs,
    faults: get('faults') ? parseFaultsOrUsage(get('faults')!) : DEFAULT_SIMULATION.faults,
    latency: get('latency') ? parseRange(get('latency')!, 'latency') : DEFAULT_SIMULATION.latency,
    electionTimeout: get('election-timeout') ? parseRange(get('election-timeout')!, 'election-timeout') : DEFAULT_SIMULATION.electionTimeout,
    rate: get('rate') !== undefined ? Number(get('rate')) : DEFAULT_SIMULATION.rate,
    workload: parseWorkload(get('workload')),
    convergeMs: get('converge') ? parseDuration(get('converge')!, 'converge') : DEFAULT_CONVERGE_MS,
    clockDrift: get('clock-drift') !== undefined ? parseDrift(get('clock-drift')!) : 0,
    leaseReads: f['lease-reads'] === true,
    ...(get('sync-latency') !== undefined ? { syncLatency: parseSyncLatency(get('sync-latency')!) } : {}),
  };
  if (!(base.rate >= 0 && base.rate <= MAX_RATE)) throw new UsageError(`--rate must be a number of operations per second in [0, ${MAX_RATE}]`);
  if (base.nodes > MAX_CLUSTER_NODES) throw new UsageError(`--nodes must be at most ${MAX_CLUSTER_NODES}`);
  const heartbeat = base.heartbeatMs ?? 50;
  if (!(base.electionTimeout[0] > heartbeat)) {
    throw new UsageError(`--election-timeout: the minimum (${base.electionTimeout[0]} ms) must be above the heartbeat interval (${heartbeat} ms), or no follower would ever hear its leader in time`);
  }
  const trace = get('trace');
  if (trace !== undefined) {
    if (/[\\/]$/.test(trace) || (existsSync(trace) && statSync(trace).isDirectory())) throw new UsageError(`--trace: '${trace}' is a folder; give a file (for one file per seed, --trace-dir FOLDER)`);
    if (!existsSync(dirname(resolve(trace)))) throw new UsageError(`--trace: the folder '${dirname(resolve(trace))}' does not exist`);
  }
  const sweep = last > first;
  if (sweep && get('trace')) throw new UsageError('--trace writes one run; use it with --seed, or --trace-dir for a sweep');
  if (get('trace') && get('trace-dir')) throw new UsageError('give --trace or --trace-dir, not both');
  const traceDir = get('trace-dir');
  if (traceDir !== undefined) {
    if (existsSync(traceDir) && !statSync(traceDir).isDirectory()) throw new UsageError(`--trace-dir: '${traceDir}' is a file, not a folder`);
    try {
      mkdirSync(traceDir, { recursive: true });
    } catch (err) {
      throw new UsageError(`--trace-dir: cannot create '${traceDir}': ${(err as Error).message}`);
    }
  }
  const traceOf = (seed: number) => (traceDir !== undefined ? join(traceDir, `seed-${seed}.jsonl`) : get('trace'));

  const results: SimulationResult[] = [];
  const total = last - first + 1;
  const wall0 = performance.now();
  for (let seed = first; seed <= last; seed++) {
    const r = await runSimulation({ ...base, seed, tracePath: traceOf(seed) });
    results.push(r);
    if (sweep) {
      const done = seed - first + 1;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const bad = results.filter(seedFailed).length;
      io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} seeds, ${bad} failing`);
    }
  }
  if (sweep) io.err('\n');

  const failing = results.filter(seedFailed);
  const failovers = results.flatMap((r) => r.failovers).sort((a, b) => a - b);
  const virtual = results.reduce((a, r) => a + r.virtualMs, 0);
  const commits = results.reduce((a, r) => a + r.commits, 0);
  const wall = (performance.now() - wall0) / 1000;
  io.out(
    `seeds          ${total} (${first}${sweep ? `-${last}` : ''}), ${base.nodes} nodes, ${base.durationMs / 1000}s each, faults: ${base.faults.join(',') || 'none'}` +
      `${base.clockDrift ? `, clocks ±${+(base.clockDrift * 100).toFixed(3)} %` : ''}${base.leaseReads ? ', lease reads' : ''}${base.syncLatency ? `, disks syncing in ${base.syncLatency.join('-')} ms` : ''}`,
  );
  io.out(`violations     ${results.filter((r) => r.violation).length}`);
  io.out(`lost writes    ${results.reduce((a, r) => a + r.lost, 0)} (acknowledged: ${results.reduce((a, r) => a + r.acknowledged, 0)}, unknown outcome: ${results.reduce((a, r) => a + r.unknown, 0)}, settled after recovery: ${results.reduce((a, r) => a + r.settled.applied, 0)} applied, ${results.reduce((a, r) => a + r.settled.fenced, 0)} never)`);
  io.out(`diverged       ${results.reduce((a, r) => a + r.diverged, 0)} nodes`);
  if (base.workload === 'tasks') {
    const sum = (k: keyof NonNullable<SimulationResult['tasks']>) => results.reduce((a, r) => a + (r.tasks?.[k] ?? 0), 0);
    io.out(`tasks          ${sum('accepted')} accepted: ${sum('completed')} completed, ${sum('failed')} failed (dead letters), ${sum('lost')} lost, ${sum('completedTwice')} completed twice, ${sum('unfinished')} unfinished`);
  }
  if (base.workload === 'kv') {
    const checked = results.filter((r) => r.history);
    const ops = checked.reduce((a, r) => a + r.history!.operations, 0);
    const ms = checked.reduce((a, r) => a + r.history!.checkMs, 0);
    const worst = Math.max(0, ...checked.map((r) => r.history!.checkMs));
    const bad = checked.filter((r) => !r.history!.result.ok).length;
    io.out(`linearizable   ${checked.length - bad} of ${checked.length} histories (${ops} operations, ${checked.reduce((a, r) => a + r.history!.unknown, 0)} with unknown outcome; checked at ${ms > 0 ? Math.round(ops / (ms / 1000)) : ops} ops/s, slowest ${worst.toFixed(0)} ms)`);
  }
  io.out(`liveness       ${results.filter((r) => r.liveness).length} seeds did not converge within ${base.convergeMs} ms of the last fault`);
  const errored = results.filter((r) => r.error).length;
  if (errored > 0) io.out(`errors         ${errored} seeds ended with an error`);
  io.out(`elections      ${results.reduce((a, r) => a + r.elections, 0)}`);
  io.out(
    `failover       ${failovers.length ? `n=${failovers.length} p50 ${quantile(failovers, 0.5).toFixed(0)} ms, p99 ${quantile(failovers, 0.99).toFixed(0)} ms, max ${failovers[failovers.length - 1].toFixed(0)} ms` : 'none measured'}`,
  );
  io.out(`commits        ${commits} (${(commits / (virtual / 1000)).toFixed(0)} per simulated second)`);
  io.out(`speed          ${(virtual / 1000 / wall).toFixed(0)}x real time (${wall.toFixed(1)} s wall)`);
  for (const r of failing.slice(0, 10)) {
    io.out(`FAIL seed ${r.seed}: ${whyFailed(r)}`);
    io.out(`  reproduce: ${reproduce(r.seed, base)}`);
  }
  return failing.length === 0 ? 0 : 1;
}

/** One line on why a seed failed (the liveness report follows on its own lines). */
export function whyFailed(r: SimulationResult): string {
  if (r.violation) return r.violation.message;
  if (r.error) return r.error;
  const h = r.history?.result;
  if (h && !h.ok) return h.kind === 'violation' ? `the clients' history is not linearizable: ${h.witness}` : `the linearizability check did not finish: ${h.message}`;
  const counts = `${r.lost} lost, ${r.diverged} diverged nodes${r.tasks ? `, ${r.tasks.completedTwice} completed twice, ${r.tasks.unfinished} unfinished` : ''}`;
  return r.liveness ? `${counts}; ${r.liveness}` : counts;
}

function parseWorkload(text: string | undefined): 'writes' | 'kv' | 'tasks' {
  if (text === undefined || text === 'writes' || text === 'kv' || text === 'tasks') return text ?? 'writes';
  throw new UsageError(`--workload must be writes, kv or tasks, got '${text}'`);
}

/** `0.5-3` (virtual ms) → [0.5, 3]. */
function parseSyncLatency(text: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  const r: [number, number] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [Number.NaN, Number.NaN];
  if (!(r[0] >= 0 && r[1] >= r[0])) throw new UsageError(`--sync-latency: '${text}' is not a range of virtual ms like 0.5-3`);
  return r;
}

/** `0.01` or `1%` → 0.01. */
function parseDrift(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%)?$/.exec(text.trim());
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
  if (!(v >= 0 && v < 1)) throw new UsageError(`--clock-drift: '${text}' is not a bound in [0, 1) (like 0.01 or 1%)`);
  return v;
}

function parseFaultsOrUsage(text: string) {
  try {
    return parseFaults(text);
  } catch (err) {
    throw new UsageError(`--faults: ${(err as Error).message}`);
  }
}

/** The one command that replays a seed, with the options of the sweep and a trace. */
function reproduce(seed: number, o: Omit<SimulationOptions, "seed">): string {
  return [
    'npx grey simulate',
    `--seed ${seed}`,
    `--nodes ${o.nodes}`,
    `--duration ${o.durationMs}ms`,
    o.faults.length ? `--faults ${o.faults.join(',')}` : '',
    `--latency ${o.latency.join('-')}`,
    `--election-timeout ${o.electionTimeout.join('-')}`,
    `--rate ${o.rate}`,
    o.workload === 'tasks' || o.workload === 'kv' ? `--workload ${o.workload}` : '',
    o.convergeMs !== undefined && o.convergeMs !== DEFAULT_CONVERGE_MS ? `--converge ${o.convergeMs}ms` : '',
    o.clockDrift ? `--clock-drift ${o.clockDrift}` : '',
    o.leaseReads ? '--lease-reads' : '',
    o.syncLatency ? `--sync-latency ${o.syncLatency.join('-')}` : '',
    `--trace seed-${seed}.jsonl`,
  ]
    .filter(Boolean)
    .join(' ');
}
