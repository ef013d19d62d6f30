import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { Piscina } from 'piscina';
import type { ResourceLimits } from 'node:worker_threads';
import { NonRetryableError, type HandlerContext, type TaskHandler } from '../actors/taskHandlers.js';

/** Options of a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The task module: a JavaScript file (or `file:` URL) that exports one
   * function per task, `(payload, { taskId, attempt, worker }) => result`,
   * sync or async. It runs in worker threads: it shares no memory with the
   * node, and gets and returns values that survive structured cloning.
   */
  module: string | URL;
  /** Threads kept (default 1) and at most (default: the machine's parallelism less one, at least 1). */
  minThreads?: number;
  maxThreads?: number;
  /** An idle thread above `minThreads` exits after this long (ms, default 10 s). */
  idleTimeoutMs?: number;
  /** Per-thread V8 heap limits (`maxOldGenerationSizeMb`, …): a task past them fails, the thread is replaced. */
  resourceLimits?: ResourceLimits;
}

/** What a pool thread answers. */
type Outcome = { ok: true; result: unknown; cpuTimeUs: number | null } | { ok: false; name: string; message: string; retryable: boolean };

/**
 * CPU-heavy task handlers in worker threads, through a Piscina pool: the
 * node's event loop (Raft heartbeats, elections) keeps running while they
 * compute. A task's `AbortSignal` (its timeout, a cancellation) stops the
 * thread running it, however busy; the pool starts another and keeps
 * serving. Where Node measures a thread's CPU time (Node ≥ 23.9), the
 * proof carries it (`cpuTimeSource: 'thread'`); elsewhere the proof says
 * it holds elapsed time.
 *
 * ```ts
 * const pool = new WorkerPool({ module: new URL('./tasks.js', import.meta.url) });
 * await startNode({ ..., handlers: pool.handlers(['resize', 'hash']) });
 * ```
 */
export class WorkerPool {
  private readonly piscina: Piscina;
  private readonly module: string;
  private aborted = 0;

  constructor(options: WorkerPoolOptions) {
    if (!options || (typeof options.module !== 'string' && !(options.module instanceof URL))) throw new TypeError('WorkerPool: module must be a path or file URL of a JavaScript task module');
    this.module = options.module instanceof URL ? options.module.href : options.module.startsWith('file:') ? options.module : pathToFileURL(isAbsolute(options.module) ? options.module : resolve(options.module)).href;
    this.piscina = new Piscina({
      filename: new URL('./poolWorker.js', import.meta.url).href,
      minThreads: options.minThreads ?? 1,
      ...(options.maxThreads !== undefined ? { maxThreads: options.maxThreads } : {}),
      idleTimeout: options.idleTimeoutMs ?? 10_000,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
  }

  /** A handler that runs the module's export `name` in the pool. */
  handler(name: string): TaskHandler {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('WorkerPool.handler: name must be a non-empty export name');
    return async (payload: unknown, ctx: HandlerContext) => {
      const signal = ctx.signal;
      signal.throwIfAborted();
      let out: Outcome;
      try {
        out = (await this.piscina.run({ module: this.module, name, payload, context: { taskId: ctx.taskId, attempt: ctx.attempt, worker: ctx.worker } }, { signal })) as Outcome;
      } catch (err) {
        if (signal.aborted) {
          this.aborted++;
          throw signal.reason;
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

  /** Threads running, tasks completed, tasks stopped by their signal, tasks queued. */
  get stats(): { threads: number; completed: number; aborted: number; queued: number } {
    return { threads: this.piscina.threads.length, completed: this.piscina.completed, aborted: this.aborted, queued: this.piscina.queueSize };
  }

  /** Stops every thread; tasks still running or queued reject. */
  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
