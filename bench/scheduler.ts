/**
 * Scheduler benchmarks:
 * - one `next()` decision with 10,000 queued tasks (5 priority levels,
 *   3 tenants, varied resources) and 100 workers, in a steady state where
 *   each decision is applied (placed and started), the oldest running task
 *   finishes whenever nothing fits, and a new task arrives for each one
 *   placed, so the queue stays at 10,000 and the cluster stays full. Only
 *   the `next()` call is timed, each one on its own (`performance.now()`);
 *   the target, ≤ 50 µs per decision, is reported as ≥ 20,000 decisions/s;
 * - heap bytes per queued task, from `process.memoryUsage().heapUsed`
 *   around enqueueing 100,000 tasks (after a full GC on each side).
 *
 * Workload randomness comes from a fixed LCG, so every run schedules the
 * same sequence. Run: `npx tsx bench/scheduler.ts`
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Scheduler, type TaskSpec } from '../actors/scheduler.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const PRIORITIES = [-2, -1, 0, 1, 2];
const TENANTS = ['acme', 'globex', 'initech'];
const CPUS = [0.25, 0.5, 1, 2, 4];
const MEMORY = [256 * MiB, 512 * MiB, GiB, 2 * GiB, 4 * GiB];

/** A fixed pseudo-random source for the workload (the scheduler itself draws none). */
function lcg(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x >>> 8) % n;
  };
}

function makeTask(rand: (n: number) => number, id: string, enqueuedAt: number): TaskSpec {
  return {
    id,
    priority: PRIORITIES[rand(PRIORITIES.length)],
    tenant: TENANTS[rand(TENANTS.length)],
    resources: { cpu: CPUS[rand(CPUS.length)], memoryBytes: MEMORY[rand(MEMORY.length)] },
    enqueuedAt,
  };
}

/** Runs a full collection, when the runtime lets us ask for one. */
function collector(): () => void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    if (typeof gc === 'function') return gc;
  } catch {
    // fall through: measurements without a forced GC are noisier, not wrong
  }
  return () => {};
}

/** Time per `next()` decision in the steady state described in the module comment. */
export function benchDecision(queued = 10_000, workers = 100, decisions = 200_000, placement: 'binpack' | 'spread' = 'binpack', seed = 1): BenchResult {
  const rand = lcg(seed);
  const s = new Scheduler({ placement });
  for (let i = 0; i < workers; i++) s.addWorker(`w${i}`, i % 4 === 0 ? { cpu: 32, memoryBytes: 128 * GiB } : { cpu: 16, memoryBytes: 64 * GiB });
  let nextId = 0;
  for (; nextId < queued; nextId++) s.enqueue(makeTask(rand, `t${nextId}`, 0));
  // Running tasks, oldest first, as a ring buffer: finishing the oldest frees room.
  const running: string[] = [];
  let oldest = 0;
  const samples = new Float64Array(decisions);
  let nulls = 0;
  let nullUs = 0;
  const warmup = Math.min(20_000, decisions / 10);
  let now = 0;
  for (let i = -warmup; i < decisions; ) {
    now += 1; // virtual ms: tasks age while they wait
    const t0 = performance.now();
    const d = s.next(now);
    const dt = (performance.now() - t0) * 1000;
    if (d === null) {
      // Cluster full for everything in the lookahead: the oldest running task finishes.
      if (i >= 0) {
        nulls++;
        nullUs += dt;
      }
      s.release(running[oldest++]);
      continue;
    }
    if (i >= 0) samples[i] = dt;
    i++;
    s.place(d.taskId, d.worker);
    s.start(d.taskId);
    running.push(d.taskId);
    s.enqueue(makeTask(rand, `t${nextId++}`, now));
    if (oldest > 65_536) {
      running.splice(0, oldest);
      oldest = 0;
    }
  }
  const sorted = Float64Array.from(samples).sort();
  let total = 0;
  for (const x of samples) total += x;
  const mean = total / decisions;
  const stats = s.stats();
  return {
    name: `scheduler next() decision, ${queued.toLocaleString('en-US')} queued, ${workers} workers, ${placement}`,
    value: Math.round(1e6 / mean),
    unit: 'decisions/s',
    target: 20_000,
    config: {
      queuedTasks: queued,
      workers: `${workers} (1 in 4: 32 cpu/128 GiB, others 16 cpu/64 GiB)`,
      priorities: PRIORITIES.join(', '),
      tenants: TENANTS.length,
      taskCpu: CPUS.join(' | '),
      taskMemory: '256 MiB | 512 MiB | 1 GiB | 2 GiB | 4 GiB',
      placement,
      decisionsTimed: decisions,
      usPerDecisionP50: +sorted[Math.floor(decisions / 2)].toFixed(2),
      usPerDecisionMean: +mean.toFixed(2),
      usPerDecisionP99: +sorted[Math.floor(decisions * 0.99)].toFixed(2),
      usPerDecisionMax: +sorted[decisions - 1].toFixed(2),
      nullDecisions: nulls,
      usPerNullDecisionMean: nulls > 0 ? +(nullUs / nulls).toFixed(2) : 0,
      endState: `${stats.pending} pending, ${stats.running} running`,
      targetUsPerDecision: 50,
      seed,
    },
  };
}

/**
 * The worst case of one decision: fragmented free space. Half the workers
 * have CPUs free but no memory, the other half memory but no CPUs, so every
 * task passes the quick "largest free space" test yet fits no worker, and
 * the decision scans every worker for each of the `lookahead` tasks it looks
 * at before returning null.
 */
export function benchFragmented(queued = 10_000, workers = 100, decisions = 100_000, distinctShapes = false, seed = 1): BenchResult {
  const rand = lcg(seed);
  const s = new Scheduler();
  for (let i = 0; i < workers; i++) {
    s.addWorker(`w${i}`, { cpu: 16, memoryBytes: 64 * GiB });
    const filler: TaskSpec = { id: `filler${i}`, priority: 0, tenant: 'ops', resources: i % 2 === 0 ? { cpu: 16, memoryBytes: 0 } : { cpu: 0, memoryBytes: 64 * GiB }, enqueuedAt: 0 };
    s.enqueue(filler);
    s.place(filler.id, `w${i}`);
    s.start(filler.id);
  }
  for (let i = 0; i < queued; i++) {
    const t = makeTask(rand, `t${i}`, 0);
    // Anti-correlated demands (more cpu, less memory): no task needs at least
    // as much as another in both, so no failed scan can be reused.
    if (distinctShapes) t.resources = { cpu: 1 + (i % 64) / 1000, memoryBytes: GiB + (64 - (i % 64)) * 16 * MiB };
    s.enqueue(t);
  }
  for (let i = 0; i < 10_000; i++) s.next(1);
  const t0 = performance.now();
  let placed = 0;
  for (let i = 0; i < decisions; i++) if (s.next(1) !== null) placed++;
  const us = ((performance.now() - t0) * 1000) / decisions;
  if (placed !== 0) throw new Error('bench: fragmented cluster placed a task');
  return {
    name: `scheduler next() worst case (fragmented, nothing fits${distinctShapes ? ', every demand distinct' : ''}), ${queued.toLocaleString('en-US')} queued, ${workers} workers`,
    value: Math.round(1e6 / us),
    unit: 'decisions/s',
    target: 20_000,
    config: {
      queuedTasks: queued,
      workers: `${workers}: even ones cpu-full, odd ones memory-full`,
      taskShapes: distinctShapes ? 'pairwise incomparable (cpu up, memory down)' : '25 (5 cpu × 5 memory sizes)',
      lookahead: 32,
      decisionsTimed: decisions,
      usPerDecisionMean: +us.toFixed(2),
      targetUsPerDecision: 50,
      seed,
    },
  };
}

/** Heap bytes per queued task, for `n` tasks. */
export function benchMemory(n = 100_000, seed = 1): BenchResult {
  const rand = lcg(seed);
  const gc = collector();
  // Specs (ids included) exist before and after, so the delta is the scheduler's own.
  const specs: TaskSpec[] = [];
  for (let i = 0; i < n; i++) specs.push(makeTask(rand, `task-${i}`, i));
  const s = new Scheduler();
  for (let i = 0; i < 100; i++) s.addWorker(`w${i}`, { cpu: 16, memoryBytes: 64 * GiB });
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const t of specs) s.enqueue(t);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  // Touch the specs after measuring: a local no longer used may be collected
  // early, and its bytes would be subtracted from the scheduler's.
  if (s.stats().pending !== n || specs.length !== n) throw new Error('bench: tasks went missing');
  return {
    name: `scheduler heap per queued task, ${n.toLocaleString('en-US')} tasks`,
    value: Math.round((after - before) / n),
    unit: 'bytes/task',
    config: {
      tasks: n,
      heapDeltaMiB: +((after - before) / MiB).toFixed(2),
      forcedGc: gc.toString() !== (() => {}).toString(),
      counts: 'task record + task-table map entry (id strings and specs belong to the caller, excluded)',
      seed,
    },
  };
}

/** Every scheduler benchmark. */
export function benchScheduler(): BenchResult[] {
  return [benchDecision(), benchDecision(10_000, 100, 200_000, 'spread'), benchFragmented(), benchFragmented(10_000, 100, 100_000, true), benchMemory()];
}

if (isMainModule(import.meta.url)) {
  console.log(`Scheduler benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
  for (const r of benchScheduler()) printResult(r);
}
