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

/** A task submission command with defaults. */
export function taskCommand(id: string, over: Partial<{ type: string; tenant: string; priority: number; payload: unknown; maxRetries: number; timeoutMs: number; backoffMs: number; submittedAt: number }> = {}) {
  return {
    op: 'submitTask' as const,
    task: { id, type: 'noop', tenant: 'default', priority: 0, payload: null, maxRetries: 3, timeoutMs: 30_000, backoffMs: 1_000, submittedAt: 0, ...over },
  };
}
