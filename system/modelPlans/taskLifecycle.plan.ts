import { FINAL_TASK_STATUSES, taskLifecycle, type TaskEvent, type TaskStatus } from '../../machines/taskLifecycle.js';
import type { ModelPlan } from '../modelPaths.js';

/** Every event type, with both kinds of failure. */
export const TASK_SAMPLE_EVENTS: readonly TaskEvent[] = [
  { type: 'ASSIGN', worker: 'w1' },
  { type: 'REASSIGN', worker: 'w2' },
  { type: 'START' },
  { type: 'PROGRESS', progress: 0.5 },
  { type: 'COMPLETE' },
  { type: 'FAIL' },
  { type: 'FAIL', retryable: false },
  { type: 'TIMEOUT' },
  { type: 'RETRY' },
  { type: 'CANCEL' },
  { type: 'WORKER_LOST' },
];

/** One retry allowed: enough to reach both the retry and the exhausted branches. */
export const taskLifecyclePlan: ModelPlan<typeof taskLifecycle> = {
  machine: taskLifecycle,
  input: { maxRetries: 1, timeoutMs: 100, backoffMs: 40 },
  events: () => TASK_SAMPLE_EVENTS,
  invariant: (snap) => {
    const c = snap.context;
    if (c.attempt < 0 || c.attempt > c.maxRetries + 1) throw new Error(`attempt ${c.attempt} out of range`);
    if (snap.value === 'running' && c.attempt < 1) throw new Error('running without an attempt');
    if ((snap.value === 'assigned' || snap.value === 'running') && c.worker === null) throw new Error(`${snap.value} without a worker`);
    if (FINAL_TASK_STATUSES.has(snap.value as TaskStatus) && snap.status !== 'done') throw new Error('a final status must stop the actor');
  },
};
