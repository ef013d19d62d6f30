import { Observable } from 'rxjs';
import type { TaskRecord } from '../actors/taskTable.js';
import { FINAL_TASK_STATUSES } from '../machines/taskLifecycle.js';
import type { ClientClock } from './client.js';
import { taskEventOf, type TaskStreamEvent } from './events.js';

/** Reads a task and the log index the read was served at. */
export type TaskReader = (taskId: string) => Promise<{ index: number; value: Readonly<TaskRecord> | null }>;

/** Options of {@link pollTask}. */
export interface TaskPollOptions {
  /** First interval between reads (ms); it doubles while nothing changes, up to `maxMs`. */
  minMs?: number;
  maxMs?: number;
}

/**
 * A task's events for a client that is not inside the cluster: its status
 * read again and again (linearizable named queries), each change seen made
 * into the event it stands for. An event's `index` is the read index it was
 * seen at, which is at or after the entry that made it; changes between two
 * reads are seen as one (a retry that started and failed in between shows
 * as its outcome). Completes after a final status; errors when a read
 * fails (the client's own error: no node answered, say).
 */
export function pollTask(read: TaskReader, clock: ClientClock, taskId: string, options: TaskPollOptions = {}): Observable<TaskStreamEvent> {
  const minMs = options.minMs ?? 5;
  const maxMs = options.maxMs ?? 200;
  return new Observable<TaskStreamEvent>((sub) => {
    let stopped = false;
    let timer: unknown;
    let last: { status: string; attempt: number; progress: number } | null = null;
    let interval = minMs;
    const poll = async (): Promise<void> => {
      timer = undefined;
      try {
        const { index, value: t } = await read(taskId);
        if (stopped) return;
        if (t !== null) {
          const seen = { status: t.status, attempt: t.attempt, progress: t.progress };
          if (last === null || last.status !== seen.status || last.attempt !== seen.attempt || last.progress !== seen.progress) {
            const change = seen.status === 'running' && last?.status === 'running' ? 'progress' : 'start';
            const e = taskEventOf(
              { index, taskId, from: (last?.status ?? null) as never, to: t.status, attempt: t.attempt, worker: t.worker, reason: t.error ?? null, rejected: false, change },
              t,
            );
            if (e) sub.next(e);
            last = seen;
            interval = minMs;
          } else {
            interval = Math.min(maxMs, interval * 2);
          }
          if (FINAL_TASK_STATUSES.has(t.status)) {
            sub.complete();
            return;
          }
        }
        timer = clock.schedule(interval, () => void poll());
      } catch (err) {
        if (!stopped) sub.error(err);
      }
    };
    void poll();
    return () => {
      stopped = true;
      if (timer !== undefined) clock.cancel(timer);
    };
  });
}
