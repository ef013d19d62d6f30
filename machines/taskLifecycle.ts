import { assign, setup } from 'xstate';

/**
 * The lifecycle of one task, the single source of truth for task status.
 *
 * ```
 * pending ─ASSIGN→ assigned ─START→ running ─COMPLETE→ completed
 *    ▲                │  ▲            │ ├─FAIL [canRetry]→ retrying ─RETRY / after(backoff)→ pending
 *    │                │  └REASSIGN    │ ├─FAIL [else]→ failed
 *    └─WORKER_LOST────┘               │ ├─TIMEOUT / after(deadline)→ timedOut ─[exhausted]→ failed
 *    └─WORKER_LOST (attempt refunded)─┘ │                                  └─RETRY / after(backoff)→ pending
 *                                       └─CANCEL (also from pending, assigned, retrying, timedOut)→ cancelled
 * ```
 *
 * `attempt` counts runs started (START); a worker lost mid-run gives its
 * attempt back. A run may be retried while `attempt <= maxRetries`, so a
 * task runs at most `1 + maxRetries` times. completed, failed and cancelled
 * are final.
 *
 * The replicated state applies status changes through a table derived from
 * this definition (see `transitionTable.ts`); the executor runs it as an
 * actor, where the deadline and backoff are real (virtual-time) timers.
 */
export interface TaskContext {
  /** Runs started so far (1 during the first run). */
  attempt: number;
  /** Retries allowed after the first run. */
  maxRetries: number;
  /** Deadline of one run, in ms (decided by the proposer). */
  timeoutMs: number;
  /** Delay before the next retry, in ms (decided by the proposer, jitter included). */
  backoffMs: number;
  /** The worker the task is assigned to, if any. */
  worker: string | null;
}

/** Every event the task lifecycle understands. */
export type TaskEvent =
  | { type: 'ASSIGN'; worker: string }
  | { type: 'REASSIGN'; worker: string }
  | { type: 'START' }
  | { type: 'PROGRESS'; progress: number }
  | { type: 'COMPLETE' }
  | { type: 'FAIL'; retryable?: boolean; error?: string }
  | { type: 'TIMEOUT' }
  | { type: 'RETRY' }
  | { type: 'CANCEL'; reason?: string }
  | { type: 'WORKER_LOST' };

/** Input of a task lifecycle actor. */
export interface TaskInput {
  maxRetries?: number;
  timeoutMs?: number;
  backoffMs?: number;
}

/** The status names of a task: the states of the chart. */
export type TaskStatus = 'pending' | 'assigned' | 'running' | 'retrying' | 'timedOut' | 'completed' | 'failed' | 'cancelled';

/** Every task status, in lifecycle order (a fixed set: safe as a metric label or a table's columns). */
export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'assigned', 'running', 'retrying', 'timedOut', 'completed', 'failed', 'cancelled'];

/** Statuses a task never leaves. */
export const FINAL_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/**
 * The context updates of the chart as plain functions, shared by the chart's
 * `assign` actions and the hot-path table, so both change a task the same way.
 */
export const taskContextUpdates = {
  assignWorker: (_c: TaskContext, e: TaskEvent): Partial<TaskContext> =>
    e.type === 'ASSIGN' || e.type === 'REASSIGN' ? { worker: e.worker } : {},
  clearWorker: (): Partial<TaskContext> => ({ worker: null }),
  beginAttempt: (c: TaskContext): Partial<TaskContext> => ({ attempt: c.attempt + 1 }),
  refundAttempt: (c: TaskContext): Partial<TaskContext> => ({ attempt: Math.max(0, c.attempt - 1), worker: null }),
} as const;

/** The guards of the chart as plain predicates (shared with the table). */
export const taskGuards = {
  canRetry: (c: TaskContext, e: TaskEvent): boolean => !(e.type === 'FAIL' && e.retryable === false) && c.attempt <= c.maxRetries,
  retriesExhausted: (c: TaskContext): boolean => c.attempt > c.maxRetries,
} as const;

export const taskLifecycle = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as TaskInput,
  },
  actions: {
    assignWorker: assign(({ context, event }) => taskContextUpdates.assignWorker(context, event)),
    clearWorker: assign(() => taskContextUpdates.clearWorker()),
    beginAttempt: assign(({ context }) => taskContextUpdates.beginAttempt(context)),
    refundAttempt: assign(({ context }) => taskContextUpdates.refundAttempt(context)),
  },
  guards: {
    canRetry: ({ context, event }) => taskGuards.canRetry(context, event),
    retriesExhausted: ({ context }) => taskGuards.retriesExhausted(context),
  },
  delays: {
    taskDeadline: ({ context }) => context.timeoutMs,
    retryBackoff: ({ context }) => context.backoffMs,
  },
}).createMachine({
  id: 'taskLifecycle',
  initial: 'pending',
  context: ({ input }) => ({
    attempt: 0,
    maxRetries: input?.maxRetries ?? 3,
    timeoutMs: input?.timeoutMs ?? 30_000,
    backoffMs: input?.backoffMs ?? 1_000,
    worker: null,
  }),
  states: {
    pending: {
      on: {
        ASSIGN: { target: 'assigned', actions: 'assignWorker' },
        CANCEL: { target: 'cancelled' },
      },
    },
    assigned: {
      on: {
        START: { target: 'running', actions: 'beginAttempt' },
        REASSIGN: { actions: 'assignWorker' },
        WORKER_LOST: { target: 'pending', actions: 'clearWorker' },
        CANCEL: { target: 'cancelled' },
      },
    },
    running: {
      after: { taskDeadline: { target: 'timedOut' } },
      on: {
        PROGRESS: {},
        COMPLETE: { target: 'completed' },
        FAIL: [{ guard: 'canRetry', target: 'retrying' }, { target: 'failed' }],
        TIMEOUT: { target: 'timedOut' },
        WORKER_LOST: { target: 'pending', actions: 'refundAttempt' },
        CANCEL: { target: 'cancelled' },
      },
    },
    retrying: {
      after: { retryBackoff: { target: 'pending', actions: 'clearWorker' } },
      on: {
        RETRY: { target: 'pending', actions: 'clearWorker' },
        CANCEL: { target: 'cancelled' },
      },
    },
    timedOut: {
      always: { guard: 'retriesExhausted', target: 'failed' },
      after: { retryBackoff: { target: 'pending', actions: 'clearWorker' } },
      on: {
        RETRY: { target: 'pending', actions: 'clearWorker' },
        CANCEL: { target: 'cancelled' },
      },
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});
