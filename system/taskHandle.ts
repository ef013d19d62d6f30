import { defer, from, lastValueFrom, shareReplay, switchMap, type Observable } from 'rxjs';
import { ClientError } from './clientError.js';
import type { TaskStreamEvent } from './events.js';
import type { Applied, ClientClock, ClientNetwork, TaskHandle, TaskResult } from './client.js';

/**
 * One task of a submission, as its submitter holds it. Everything is made
 * on first use and shared by the batch until then: a submitter of a
 * million tasks who watches the event stream instead pays for one small
 * object per task, not for promises it never awaits.
 */
export class SubmittedTask implements TaskHandle {
  private acceptedPromise: Promise<{ taskId: string; index: number }> | undefined;
  private status: Observable<TaskStreamEvent> | undefined;
  private resultPromise: Promise<TaskResult> | undefined;

  constructor(
    readonly id: string,
    /** This task's place in its batch (the submission answers with every task id, in order). */
    private readonly position: number,
    /** The batch's submission, shared by its tasks. */
    private readonly applied: Promise<Applied>,
    private readonly net: ClientNetwork,
  ) {}

  get accepted(): Promise<{ taskId: string; index: number }> {
    return (this.acceptedPromise ??= quiet(this.committed()));
  }

  get status$(): Observable<TaskStreamEvent> {
    return (this.status ??= defer(() => from(this.committed())).pipe(
      // A submission an idempotency key resolved to an earlier task: that task's events are older than this entry.
      switchMap(({ taskId, index }) => this.net.watchTask(taskId, taskId === this.id ? index : 0)),
      shareReplay(),
    ));
  }

  get result(): Promise<TaskResult> {
    return (this.resultPromise ??= wake(
      this.net.kernel,
      lastValueFrom(this.status$).then((last): TaskResult => {
        if (last.type === 'task.completed') return { taskId: last.taskId, result: last.result, proof: last.proof };
        if (last.type === 'task.cancelled') throw new ClientError('TaskCancelled', `task ${last.taskId} was cancelled: ${last.reason ?? ''}`, 'failed');
        throw new ClientError('TaskFailed', `task ${last.taskId} failed: ${last.type === 'task.failed' ? last.error : last.type}`, 'failed');
      }),
    ));
  }

  private committed(): Promise<{ taskId: string; index: number }> {
    return this.applied.then((a) => ({ taskId: (a.value as string[])[this.position], index: a.index }));
  }
}

/** `p`, and when it settles the kernel drains what it resumed. Rejections reach whoever awaits it, not the unhandled-rejection hook. */
function wake<T>(kernel: ClientClock, p: Promise<T>): Promise<T> {
  const woken = p.finally(() => kernel.wake());
  woken.catch(() => {});
  return woken;
}

/** `p`, whose rejection reaches whoever awaits it, not the unhandled-rejection hook. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
