import type { MemberStatus } from '../machines/membership.js';
import type { ProofArtifact, TaskRecord, TaskTransition } from '../actors/taskTable.js';

/**
 * What `cluster.events$` carries: one event per committed change (not one
 * per node), each stamped with the log index that made it, so a watch can
 * resume from an index. Leader elections carry the term instead.
 */
export type GreyEvent =
  | { type: 'task.submitted'; index: number; taskId: string; tenant: string; priority: number }
  | { type: 'task.assigned'; index: number; taskId: string; worker: string; attempt: number }
  | { type: 'task.started'; index: number; taskId: string; worker: string; attempt: number }
  | { type: 'task.progress'; index: number; taskId: string; worker: string; attempt: number; progress: number }
  | { type: 'task.completed'; index: number; taskId: string; worker: string; attempt: number; result: unknown; proof: ProofArtifact }
  | { type: 'task.failed'; index: number; taskId: string; attempt: number; error: string }
  | { type: 'task.retrying'; index: number; taskId: string; attempt: number; retryAt: number | null; reason: string | null }
  | { type: 'task.timedOut'; index: number; taskId: string; attempt: number; worker: string | null }
  | { type: 'task.cancelled'; index: number; taskId: string; reason: string | null }
  | { type: 'task.requeued'; index: number; taskId: string; reason: string | null }
  | { type: 'task.rejected'; index: number; taskId: string; change: string; reason: string | null }
  | { type: 'node.joined'; index: number; node: string; status: MemberStatus }
  | { type: 'node.left'; index: number; node: string; status: MemberStatus }
  | { type: 'member.changed'; index: number; node: string; status: MemberStatus }
  | { type: 'leader.elected'; index: number; term: number; leader: string };

/** Events about one task. */
export type TaskStreamEvent = Extract<GreyEvent, { taskId: string }>;

/** Whether an event ends its task's stream. */
export function isFinalTaskEvent(e: GreyEvent): boolean {
  return e.type === 'task.completed' || e.type === 'task.failed' || e.type === 'task.cancelled';
}

/** The event a task transition makes (none for an assignment a worker takes over, say, unless it matters). */
export function taskEventOf(t: TaskTransition, record: Readonly<TaskRecord> | undefined): TaskStreamEvent | null {
  const { index, taskId } = t;
  if (t.rejected) return { type: 'task.rejected', index, taskId, change: t.change, reason: t.reason };
  switch (t.to) {
    case 'pending':
      return t.from === null
        ? { type: 'task.submitted', index, taskId, tenant: record?.spec.tenant ?? 'default', priority: record?.spec.priority ?? 0 }
        : { type: 'task.requeued', index, taskId, reason: t.reason ?? t.change };
    case 'assigned':
      return { type: 'task.assigned', index, taskId, worker: t.worker!, attempt: t.attempt };
    case 'running':
      return t.change === 'progress'
        ? { type: 'task.progress', index, taskId, worker: t.worker!, attempt: t.attempt, progress: record?.progress ?? 0 }
        : { type: 'task.started', index, taskId, worker: t.worker!, attempt: t.attempt };
    case 'completed':
      return { type: 'task.completed', index, taskId, worker: t.worker!, attempt: t.attempt, result: record?.result, proof: record!.proof! };
    case 'failed':
      return { type: 'task.failed', index, taskId, attempt: t.attempt, error: record?.error ?? t.reason ?? 'failed' };
    case 'retrying':
      return { type: 'task.retrying', index, taskId, attempt: t.attempt, retryAt: record?.retryAt ?? null, reason: t.reason };
    case 'timedOut':
      return { type: 'task.timedOut', index, taskId, attempt: t.attempt, worker: t.worker };
    case 'cancelled':
      return { type: 'task.cancelled', index, taskId, reason: t.reason };
    default:
      return null;
  }
}

/** The events of one applied entry's changes, in order: task transitions, then member status changes. */
export function eventsOfChanges(
  c: { tasks: readonly TaskTransition[]; members: ReadonlyArray<{ index: number; node: string; status: MemberStatus }> },
  taskOf: (taskId: string) => Readonly<TaskRecord> | undefined,
): GreyEvent[] {
  const out: GreyEvent[] = [];
  for (const t of c.tasks) {
    const e = taskEventOf(t, taskOf(t.taskId));
    if (e) out.push(e);
  }
  for (const m of c.members) {
    const type = m.status === 'voter' || m.status === 'learner' ? 'node.joined' : m.status === 'removed' || m.status === 'blocked' ? 'node.left' : 'member.changed';
    out.push({ type, index: m.index, node: m.node, status: m.status });
  }
  return out;
}
