import { resolveTaskSpec, type TaskSpec } from '../../system/taskSpec.js';
import type { Cluster } from '../../system/cluster.js';

/** Runs until the cluster is quiet (see {@link Cluster.settle}). */
export async function settle(c: Cluster, within = 2_000): Promise<void> {
  await c.settle(within);
}

/** A one-task submission command, defaults filled in. */
export function taskCommand(id: string, spec: Partial<TaskSpec> = {}, submittedAt = 0) {
  return { op: 'submitTasks' as const, tasks: [{ id, spec: resolveTaskSpec({ type: 'noop', ...spec }), submittedAt }] };
}
