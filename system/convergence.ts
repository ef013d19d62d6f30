import type { ClusterNode } from '../actors/clusterNode.js';
import type { RaftStatus } from '../actors/raftNode.js';

/** What convergence reads of a cluster (the simulated `Cluster` is one). */
export interface ConvergenceView {
  readonly ids: readonly string[];
  leader(): ClusterNode | undefined;
  upNodes(): ClusterNode[];
  status(): Record<string, (RaftStatus & { up: true; inc: number }) | { up: false; inc: number }>;
}

/** Task statuses from which a task never moves again. */
export const TERMINAL_TASK_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** What convergence requires besides a caught-up configuration. */
export interface ConvergenceGoals {
  /** Tasks that must be terminal on the leader. */
  tasks?: Iterable<string>;
  /** Nodes that must be members (voters or learners) of the leader's configuration. */
  members?: Iterable<string>;
}

/**
 * Whether a cluster has converged: one leader has committed everything in its
 * log (an entry of its own term included), every up member of its
 * configuration has applied it, every node in `goals.members` is a member,
 * and every task in `goals.tasks` is terminal on the leader. The liveness
 * half of a simulation's checks.
 */
export function isConverged(cluster: ConvergenceView, goals: ConvergenceGoals = {}): boolean {
  const leader = cluster.leader();
  if (!leader) return false;
  const l = leader.raft;
  if (l.commitIndex !== l.log.lastIndex || l.log.term(l.commitIndex) !== l.currentTerm) return false;
  const c = l.config;
  for (const id of goals.members ?? []) if (!c.voters.includes(id) && !c.learners.includes(id)) return false;
  for (const n of cluster.upNodes()) {
    const member = c.voters.includes(n.id) || c.learners.includes(n.id);
    if (member && n.raft.lastApplied !== l.commitIndex) return false;
  }
  for (const id of goals.tasks ?? []) if (!TERMINAL_TASK_STATUSES.has(leader.state.task(id)?.status ?? '')) return false;
  return true;
}

/**
 * What a cluster that failed to converge looks like: every node's Raft
 * status, the leader's view of each peer's replication, and the tasks still
 * open. Printed with a failing seed so that a post-mortem starts from facts.
 */
export function describeStuck(cluster: ConvergenceView, tasks: Iterable<string> = []): string {
  const lines: string[] = [];
  const leader = cluster.leader();
  for (const [id, s] of Object.entries(cluster.status())) {
    if (!s.up) {
      lines.push(`${id}: down (inc ${s.inc})`);
      continue;
    }
    lines.push(
      `${id}: ${s.role} term ${s.term} leader ${s.leader ?? '-'} commit ${s.commitIndex} applied ${s.lastApplied} last ${s.lastIndex}/${s.lastTerm} ` +
        `snap ${s.snapshotIndex} voters [${s.config.voters.join(',')}] learners [${s.config.learners.join(',')}]`,
    );
  }
  if (leader) {
    for (const peer of cluster.ids) {
      const pr = leader.raft.progressOf(peer);
      if (!pr) continue;
      lines.push(`  ${leader.id}→${peer}: ${pr.state} match ${pr.match} next ${pr.next} inflight ${pr.inflight.length} probeSent ${pr.probeSent}`);
    }
    const members = leader.state.members().map((m) => `${m.node}=${m.status}${m.context.reason ? `(${m.context.reason})` : ''}`);
    lines.push(`  members: ${members.join(' ')}`);
    const open: string[] = [];
    for (const id of tasks) {
      const t = leader.state.task(id);
      if (!TERMINAL_TASK_STATUSES.has(t?.status ?? '')) open.push(`${id}=${t?.status ?? 'missing'}${t?.worker ? `@${t.worker}` : ''}`);
    }
    if (open.length > 0) lines.push(`  open tasks (${open.length}): ${open.slice(0, 12).join(' ')}${open.length > 12 ? ' …' : ''}`);
  } else {
    lines.push('  no leader');
  }
  return lines.join('\n');
}
