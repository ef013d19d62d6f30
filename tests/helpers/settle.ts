import { resolveTaskSpec, type TaskSpec } from '../../system/taskSpec.js';
import type { Cluster } from '../../system/cluster.js';

/**
 * Runs until the cluster is quiet: the leader has committed everything in
 * its log (an entry of its own term included) and every up member of the
 * configuration applied it.
 */
export async function settle(c: Cluster, within = 2_000): Promise<void> {
  await c.runUntil(() => {
    const l = c.leader()?.raft;
    if (!l || l.commitIndex !== l.log.lastIndex || l.log.term(l.commitIndex) !== l.currentTerm) return false;
    const members = new Set([...l.config.voters, ...l.config.learners]);
    return c.upNodes().every((n) => !members.has(n.id) || n.raft.lastApplied === l.commitIndex);
  }, { within, description: 'every node caught up' });
}

/** A one-task submission command, defaults filled in. */
export function taskCommand(id: string, spec: Partial<TaskSpec> = {}, submittedAt = 0) {
  return { op: 'submitTasks' as const, tasks: [{ id, spec: resolveTaskSpec({ type: 'noop', ...spec }), submittedAt }] };
}
