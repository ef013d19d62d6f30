import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ResourceLimits } from 'node:worker_threads';
import { NonRetryableError, type HandlerContext, type TaskHandler } from '../actors/taskHandlers.js';
import { TASK_DEFAULTS } from './taskSpec.js';

const MiB = 2 ** 20;

/**
 * The smallest V8 heap a pool thread gets (MiB), whatever its task
 * declares: a thread needs a few MiB of heap to start and to load the task
 * module, so a task declaring less than this runs with this much.
 */
export const MIN_THREAD_HEAP_MB = 32;

/**
 * The memory tier of a task that declares `memoryBytes`: its declared
 * memory in MiB (rounded up), raised to `floorMb`, rounded up to a power of
 * two. A {@link WorkerPool} runs the task in a thread whose V8 heap is
 * limited to that many MiB (see {@link heapLimitsOfTier}): at least what
 * it declared, less than twice that (or the floor).
 *
 * ```ts
 * memoryTierMb(64 * 2 ** 20); // 64
 * memoryTierMb(65 * 2 ** 20); // 128
 * memoryTierMb(1024);         // 32 (the floor)
 * ```
 * @throws RangeError when `memoryBytes` is not a positive safe integer or `floorMb` not a positive integer.
 */
export function memoryTierMb(memoryBytes: number, floorMb: number = MIN_THREAD_HEAP_MB): number {
  if (!Number.isSafeInteger(memoryBytes) || memoryBytes <= 0) throw new RangeError(`memoryTierMb: memoryBytes must be a positive safe integer, got ${String(memoryBytes)}`);
  if (!Number.isSafeInteger(floorMb) || floorMb <= 0) throw new RangeError(`memoryTierMb: floorMb must be a positive integer, got ${String(floorMb)}`);
  const wanted = Math.max(floorMb, Math.ceil(memoryBytes / MiB));
  let tier = 1;
  while (tier < wanted) tier *= 2;
  return tier;
}

/**
 * The V8 heap limits of a thread of tier `tierMb`: the young generation
 * (recently made objects) gets an eighth of it, between 2 and 16 MiB, and
 * the old generation the rest, so that the two together stay within the
 * tier. (Memory outside V8's heap, such as `ArrayBuffer` contents, is not
 * counted by these limits.)
 */
export function heapLimitsOfTier(tierMb: number): Required<Pick<ResourceLimits, 'maxOldGenerationSizeMb' | 'maxYoungGenerationSizeMb'>> {
  const young = Math.min(16, Math.max(2, Math.floor(tierMb / 8)));
  return { maxOldGenerationSizeMb: Math.max(1, tierMb - young), maxYoungGenerationSizeMb: young };
}

/**
 * A task stopped for using more than a resource limit allows; so far, a
 * pool thread whose V8 heap ran out (`ERR_WORKER_OUT_OF_MEMORY`). It is a
 * {@link NonRetryableError}: the same task would run out again, so the task
 * fails at once, with this message in its record. `declaredBytes` is what
 * the task declared (`resources.memoryBytes`), `limitMb` the heap limit of
 * its thread (null: Node's default).
 */
export class ResourceLimitExceededError extends NonRetryableError {
  readonly code = 'ResourceLimitExceeded';
  readonly resource = 'memory';

  constructor(
    message: string,
    readonly declaredBytes: number | null,
    readonly limitMb: number | null,
  ) {
    super(message);
    this.name = 'ResourceLimitExceededError';
  }
}

/** Options of a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The task module: a JavaScript file (or `file:` URL) that exports one
   * function per task, `(payload, { taskId, attempt, worker, resources }) =>
   * result`, sync or async. It runs in worker threads: it shares no memory
   * with the node, and gets and returns values that survive structured
   * cloning.
   */
  module: string | URL;
  /**
   * Threads started at once and kept warm (default 1; in `'declared'` mode
   * they are the tier of the default declared memory, 64 MiB, until that
   * tier is closed to make room for another), and tasks run at once, at
   * most, across tiers (default: the machine's parallelism less one, at
   * least 1).
   */
  minThreads?: number;
  maxThreads?: number;
  /** An idle thread above `minThreads` exits after this long (ms, default 10 s). */
  idleTimeoutMs?: number;
  /**
   * How a thread's V8 heap is limited:
   * - `'declared'` (the default): by the task it runs. Each task runs in a
   *   thread whose heap limit is its declared `resources.memoryBytes`,
   *   rounded up to its tier ({@link memoryTierMb}); a task that allocates
   *   past it fails with a {@link ResourceLimitExceededError}, and the pool
   *   goes on serving.
   * - `'fixed'`: one limit for every thread, `resourceLimits` (none given:
   *   Node's defaults); what a task declares is not enforced here. (The
   *   behaviour before per-task limits.)
   */
  memoryLimit?: 'declared' | 'fixed';
  /**
   * Other V8 limits of every thread (`stackSizeMb`, `codeRangeSizeMb`); in
   * `'fixed'` mode, the heap limits too (`maxOldGenerationSizeMb`, …). In
   * `'declared'` mode the heap limits come from each task, and giving them
   * here is refused.
   */
  resourceLimits?: ResourceLimits;
  /** In `'declared'` mode, the smallest heap of a thread, MiB (default {@link MIN_THREAD_HEAP_MB}). */
  minThreadHeapMb?: number;
}

/** What a pool thread answers. */
type Outcome = { ok: true; result: unknown; cpuTimeUs: number | null } | { ok: false; name: string; message: string; retryable: boolean };

/** The threads of one heap limit: one Piscina (its limits are set per pool, as Node sets them per thread at its start). */
interface Tier {
  /** Heap limit of its threads, MiB; null in `'fixed'` mode (the pool's `resourceLimits`, if any). */
  readonly mb: number | null;
  readonly piscina: Piscina;
  /** Tasks handed to it and not yet settled. */
  running: number;
}

/** A task waiting for one of the `maxThreads` slots. */
interface Waiter {
  start(): void;
  signal: AbortSignal;
  onAbort(): void;
}

/**
 * CPU-heavy task handlers in worker threads, through Piscina: the node's
 * event loop (Raft heartbeats, elections) keeps running while they
 * compute. A task's `AbortSignal` (its timeout, a cancellation) stops the
 * thread running it, however busy; the pool starts another and keeps
 * serving. Where Node measures a thread's CPU time (Node ≥ 23.9), the
 * proof carries it (`cpuTimeSource: 'thread'`); elsewhere the proof says
 * it holds elapsed time.
 *
 * **Declared memory is enforced** (`memoryLimit: 'declared'`, the
 * default). V8 fixes a thread's heap limit when the thread starts, so the
 * pool keeps one Piscina per memory tier ({@link memoryTierMb}: the
 * declared memory rounded up to a power of two MiB, at least
 * `minThreadHeapMb`), each made when a task of its tier first comes, and
 * runs each task in a thread of its tier. A task whose live objects
 * outgrow its tier: V8 stops its thread (`ERR_WORKER_OUT_OF_MEMORY`), the
 * task fails with a {@link ResourceLimitExceededError} (non-retryable,
 * naming the declared memory), and its tier starts a new thread for the
 * next task. Bounds across tiers: at most `maxThreads` tasks run at once,
 * whatever their tiers (the others wait in one queue, in order, and leave
 * it when their signal fires); when a task needs a new thread while the
 * pool already has `maxThreads`, the tiers with no task running are closed
 * first (their idle threads stop); idle threads of a tier still in use
 * stop after `idleTimeoutMs`. So the threads doing work never number more
 * than `maxThreads`, and idle ones beyond it do not outlive `idleTimeoutMs`.
 * What a limit does not cover: memory outside V8's heap (`ArrayBuffer`
 * and `Buffer` contents, native addons), and state a task module keeps
 * between tasks in a thread's globals, which counts against the next task
 * run there.
 *
 * ```ts
 * const pool = new WorkerPool({ module: new URL('./tasks.js', import.meta.url) });
 * await startNode({ ..., handlers: pool.handlers(['resize', 'hash']) });
 * ```
 */
export class WorkerPool {
  private readonly module: string;
  private readonly mode: 'declared' | 'fixed';
  private readonly minThreads: number;
  private readonly maxThreads: number;
  private readonly idleTimeoutMs: number;
  private readonly limits: ResourceLimits | undefined;
  private readonly floorMb: number;
  /** Tiers by heap limit (MiB; 0 for the one tier of `'fixed'` mode). */
  private readonly tiers = new Map<number, Tier>();
  private readonly waiting: Waiter[] = [];
  private running = 0;
  private aborted = 0;
  private outOfMemory = 0;
  private threadErrors = 0;
  /** Tasks completed by tiers since closed. */
  private closedCompleted = 0;
  private readonly closing = new Set<Promise<void>>();
  private destroyed = false;

  /**
   * @throws TypeError for a missing module, a `memoryLimit` other than
   * `'declared'` or `'fixed'`, or heap limits in `resourceLimits` in
   * `'declared'` mode; RangeError for thread counts or a heap floor out of range.
   */
  constructor(options: WorkerPoolOptions) {
    if (!options || (typeof options.module !== 'string' && !(options.module instanceof URL))) throw new TypeError('WorkerPool: module must be a path or file URL of a JavaScript task module');
    this.module = options.module instanceof URL ? options.module.href : options.module.startsWith('file:') ? options.module : pathToFileURL(isAbsolute(options.module) ? options.module : resolve(options.module)).href;
    const mode = options.memoryLimit ?? 'declared';
    if (mode !== 'declared' && mode !== 'fixed') throw new TypeError(`WorkerPool: memoryLimit must be 'declared' or 'fixed', got ${String(mode)}`);
    this.mode = mode;
    const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1);
    const minThreads = Math.min(options.minThreads ?? 1, maxThreads);
    if (!Number.isSafeInteger(maxThreads) || maxThreads < 1) throw new RangeError(`WorkerPool: maxThreads must be an integer ≥ 1, got ${String(maxThreads)}`);
    if (!Number.isSafeInteger(minThreads) || minThreads < 0) throw new RangeError(`WorkerPool: minThreads must be an integer ≥ 0, got ${String(minThreads)}`);
    this.maxThreads = maxThreads;
    this.minThreads = minThreads;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
    this.limits = options.resourceLimits;
    this.floorMb = options.minThreadHeapMb ?? MIN_THREAD_HEAP_MB;
    if (!Number.isSafeInteger(this.floorMb) || this.floorMb < 8) throw new RangeError(`WorkerPool: minThreadHeapMb must be an integer ≥ 8, got ${String(options.minThreadHeapMb)}`);
    if (mode === 'declared' && this.limits && (this.limits.maxOldGenerationSizeMb !== undefined || this.limits.maxYoungGenerationSizeMb !== undefined)) {
      throw new TypeError("WorkerPool: in memoryLimit 'declared' mode (the default) each task's declared memory sets its thread's heap limits; pass memoryLimit: 'fixed' to give one heap limit to every thread");
    }
    // The warm threads: where tasks that declare nothing run.
    this.tier(mode === 'fixed' ? 0 : memoryTierMb(TASK_DEFAULTS.resources.memoryBytes, this.floorMb), this.minThreads);
  }

  /**
   * A handler that runs the module's export `name` in the pool, in a thread
   * whose heap limit follows the task's declared memory (`ctx.resources`;
   * a context without it counts as declaring the default, 64 MiB).
   */
  handler(name: string): TaskHandler {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('WorkerPool.handler: name must be a non-empty export name');
    return async (payload: unknown, ctx: HandlerContext) => {
      const signal = ctx.signal;
      signal.throwIfAborted();
      if (this.destroyed) throw new Error('WorkerPool: destroyed');
      const declared = ctx.resources?.memoryBytes ?? TASK_DEFAULTS.resources.memoryBytes;
      const cpu = ctx.resources?.cpu ?? TASK_DEFAULTS.resources.cpu;
      if (!Number.isSafeInteger(declared) || declared <= 0) throw new NonRetryableError(`WorkerPool: resources.memoryBytes must be a positive integer, got ${String(declared)}`);
      const key = this.mode === 'fixed' ? 0 : memoryTierMb(declared, this.floorMb);
      const task = { module: this.module, name, payload, context: { taskId: ctx.taskId, attempt: ctx.attempt, worker: ctx.worker, resources: { cpu, memoryBytes: declared } } };
      let out: Outcome;
      try {
        out = await this.run(key, task, signal);
      } catch (err) {
        if (signal.aborted) {
          this.aborted++;
          throw signal.reason;
        }
        if ((err as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          this.outOfMemory++;
          throw this.outOfMemoryError(ctx, declared, key);
        }
        throw err;
      }
      if (!out.ok) {
        if (!out.retryable) throw new NonRetryableError(out.message);
        const e = new Error(out.message);
        e.name = out.name;
        throw e;
      }
      if (out.cpuTimeUs !== null) ctx.reportCpuTime(out.cpuTimeUs);
      return out.result;
    };
  }

  /** Handlers for several exports, by name (task type = export name). */
  handlers(names: readonly string[]): Record<string, TaskHandler> {
    return Object.fromEntries(names.map((n) => [n, this.handler(n)]));
  }

  /**
   * Threads running (all tiers), tasks completed (or failed) in a thread,
   * tasks stopped by their signal, tasks stopped for running out of heap,
   * tasks queued, the heap limits (MiB) of the tiers open now (`'fixed'`
   * mode: none), and threads that failed between tasks (an error the task
   * module left behind, such as a timer's).
   */
  get stats(): { threads: number; completed: number; aborted: number; outOfMemory: number; queued: number; tiersMb: number[]; threadErrors: number } {
    let threads = 0;
    let completed = this.closedCompleted;
    let queued = this.waiting.length;
    for (const t of this.tiers.values()) {
      threads += t.piscina.threads.length;
      completed += t.piscina.completed;
      queued += t.piscina.queueSize;
    }
    const tiersMb = [...this.tiers.values()].flatMap((t) => (t.mb === null ? [] : [t.mb])).sort((a, b) => a - b);
    return { threads, completed, aborted: this.aborted, outOfMemory: this.outOfMemory, queued, tiersMb, threadErrors: this.threadErrors };
  }

  /** Stops every thread; tasks still running or queued reject. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    // Each waiting task is handed a slot, finds the pool destroyed, and rejects.
    while (this.waiting.length > 0) {
      this.running++;
      this.release();
    }
    const tiers = [...this.tiers.values()];
    this.tiers.clear();
    await Promise.all([...tiers.map((t) => t.piscina.destroy()), ...this.closing]);
  }

  /** Runs a task in tier `key` once it holds one of the `maxThreads` slots. */
  private async run(key: number, task: unknown, signal: AbortSignal): Promise<Outcome> {
    if (this.running < this.maxThreads && this.waiting.length === 0) this.running++;
    else await this.slot(signal);
    let tier: Tier | undefined;
    try {
      if (this.destroyed) throw new Error('WorkerPool: destroyed');
      const t = this.tier(key);
      if (t.piscina.threads.length <= t.running) this.makeRoom(t);
      tier = t;
      t.running++;
      return (await t.piscina.run(task, { signal })) as Outcome;
    } finally {
      if (tier) tier.running--;
      this.release();
    }
  }

  /** Waits, in order, for a slot (handed over by {@link release}); rejects with the signal's reason if it fires first. */
  private slot(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolveSlot, rejectSlot) => {
      const waiter: Waiter = {
        signal,
        start: resolveSlot,
        onAbort: () => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          rejectSlot(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Frees a slot: it passes straight to the first waiting task, if any (so no later task overtakes it). */
  private release(): void {
    const w = this.waiting.shift();
    if (!w) {
      this.running--;
      return;
    }
    w.signal.removeEventListener('abort', w.onAbort);
    w.start();
  }

  /**
   * Before `tier` starts one more thread: while the pool has `maxThreads`
   * threads or more, closes tiers with no task running or queued (their
   * threads are idle).
   */
  private makeRoom(tier: Tier): void {
    let threads = 0;
    for (const t of this.tiers.values()) threads += t.piscina.threads.length;
    for (const [key, t] of this.tiers) {
      if (threads < this.maxThreads) return;
      if (t === tier || t.running > 0 || t.piscina.queueSize > 0) continue;
      threads -= t.piscina.threads.length;
      this.tiers.delete(key);
      this.closedCompleted += t.piscina.completed;
      const closed = t.piscina.destroy().catch(() => {});
      this.closing.add(closed);
      void closed.then(() => this.closing.delete(closed));
    }
  }

  /**
   * The tier of heap limit `key` MiB (0: the one tier of `'fixed'` mode),
   * made on first use; `warm` threads are started at once and kept.
   */
  private tier(key: number, warm = 0): Tier {
    const known = this.tiers.get(key);
    if (known) return known;
    const heap = this.mode === 'fixed' ? null : key;
    const resourceLimits = heap === null ? this.limits : { ...this.limits, ...heapLimitsOfTier(heap) };
    const piscina = new Piscina({
      filename: new URL('./poolWorker.js', import.meta.url).href,
      minThreads: warm,
      maxThreads: this.maxThreads,
      idleTimeout: this.idleTimeoutMs,
      ...(resourceLimits ? { resourceLimits } : {}),
    });
    // A thread that fails with no task on it (an error its module left
    // behind) is replaced; unheard, the 'error' would end the process.
    piscina.on('error', () => {
      this.threadErrors++;
    });
    const tier: Tier = { mb: heap, piscina, running: 0 };
    this.tiers.set(key, tier);
    return tier;
  }

  private outOfMemoryError(ctx: HandlerContext, declared: number, key: number): ResourceLimitExceededError {
    const who = `task ${ctx.taskId} (attempt ${ctx.attempt})`;
    const mib = (n: number) => `${Math.round((n / MiB) * 100) / 100} MiB`;
    if (this.mode === 'declared') {
      return new ResourceLimitExceededError(
        `ResourceLimitExceeded: ${who} ran out of memory: it declared resources.memoryBytes ${declared} (${mib(declared)}), and its thread's heap limit, ${key} MiB, was reached; the thread was stopped. Declare more memory to run it`,
        declared,
        key,
      );
    }
    const limit = this.limits?.maxOldGenerationSizeMb;
    return new ResourceLimitExceededError(
      `ResourceLimitExceeded: ${who} ran out of memory: its thread's heap limit, ${limit !== undefined ? `${limit} MiB (the pool's resourceLimits)` : "Node's default"}, was reached; the thread was stopped (it declared resources.memoryBytes ${declared}, ${mib(declared)})`,
      declared,
      limit ?? null,
    );
  }
}
