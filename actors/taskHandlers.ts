import type { Resources } from './taskTable.js';

/** What a handler gets besides its payload. */
export interface HandlerContext {
  taskId: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  /** The node running it. */
  worker: string;
  /**
   * What the task declared it needs (`resources` of its spec, defaults
   * filled in: `{ cpu, memoryBytes }`), as admission and placement counted
   * it. A copy: changing it changes nothing. A `WorkerPool` handler runs the
   * task in a thread whose heap limit follows `memoryBytes`.
   */
  readonly resources: Readonly<Resources>;
  /** Fires on cancellation, timeout, or when the worker gives the task up. */
  signal: AbortSignal;
  /** Reports progress in [0, 1]; replicated, throttled. */
  progress(fraction: number): void;
  /** Waits `ms` (virtual time in simulation). Rejects if the signal fires. */
  sleep(ms: number): Promise<void>;
  /** Current time of the node's clock. */
  now(): number;
  /**
   * Reports the CPU time the attempt used, in µs, as measured where it ran
   * (a worker-pool handler does, where the platform measures a thread's
   * CPU). The proof then carries it, marked `cpuTimeSource: 'thread'`.
   */
  reportCpuTime(us: number): void;
}

/**
 * A task handler: ordinary async code. Its resolved value (JSON) is the
 * result; throwing fails the attempt (retried by the task's policy unless
 * the error is a {@link NonRetryableError}).
 */
export type TaskHandler = (payload: unknown, ctx: HandlerContext) => unknown | Promise<unknown>;

/** Throw this from a handler to fail the task without retrying (as BullMQ's UnrecoverableError). */
export class NonRetryableError extends Error {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'NonRetryableError';
  }
}

/** Handlers by task type. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, TaskHandler>();

  /**
   * Registers the handler of a task type. A type that has one already is
   * refused (two pieces of code claiming one type is almost always a
   * mistake) unless `options.replace` says to swap it.
   * @throws TypeError for an empty type or a non-function; Error for a duplicate.
   */
  register(type: string, handler: TaskHandler, options: { replace?: boolean } = {}): void {
    if (typeof type !== 'string' || type.length === 0) throw new TypeError('a handler needs a non-empty type name');
    if (typeof handler !== 'function') throw new TypeError(`handler for '${type}' must be a function`);
    if (this.handlers.has(type) && !options.replace) {
      throw new Error(`a handler for task type '${type}' is already registered; pass { replace: true } to replace it`);
    }
    this.handlers.set(type, handler);
  }

  get(type: string): TaskHandler | undefined {
    return this.handlers.get(type);
  }

  has(type: string): boolean {
    return this.handlers.has(type);
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }
}
