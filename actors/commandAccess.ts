import type { ClusterCommand, SessionCommand } from './clusterState.js';

/**
 * Who sends a request, as its connection authenticated it: a cluster
 * node, an operator, or a client. (In-process and in the simulation every
 * sender is trusted and nothing is checked.)
 */
export type Principal = 'node' | 'operator' | 'client';

/** Commands only nodes propose: the cluster's own bookkeeping. */
const NODE_ONLY: ReadonlySet<ClusterCommand['op']> = new Set(['bootstrap', 'registerWorker', 'drainWorker', 'pruneTasks']);

/** Commands an operator may propose besides a client's: membership, its approvals, blocking, tenants and quotas. */
const OPERATOR: ReadonlySet<ClusterCommand['op']> = new Set(['join', 'approve', 'reject', 'promote', 'demote', 'remove', 'block', 'unblock', 'setSecurityPolicy', 'registerTenant']);

/**
 * Why `principal`, connected as `from`, may not send `request`, or null
 * when it may. A client submits tasks, cancels them, uses the key-value
 * store and settles its own requests (`fence`), in sessions of its own
 * name (`from`, or `from~N` after a session expired); an operator may also
 * change membership and tenants; task state changes other than a cancel
 * come from the nodes that run tasks, never from a client.
 */
export function refusalOf(principal: Principal, from: string, request: SessionCommand): string | null {
  if (principal === 'node') return null;
  const own = (session: string) => session === from || session.startsWith(`${from}~`);
  if (request.client !== undefined && !own(request.client)) return `${from} may not send in session '${request.client}'`;
  const cmd = request.cmd;
  if (NODE_ONLY.has(cmd.op)) return `'${cmd.op}' is proposed by cluster nodes only`;
  // An attested identity is the word of the member that ran the handshake, never a client's or an operator's.
  if (cmd.op === 'join' && cmd.identity !== undefined) return 'a join with an attested identity is proposed by the member that authenticated the node';
  if (OPERATOR.has(cmd.op)) return principal === 'operator' ? null : `'${cmd.op}' needs an operator certificate`;
  if (cmd.op === 'taskChanges') {
    const other = cmd.changes.find((c) => c.kind !== 'cancel');
    return other ? `a '${other.kind}' task change comes from the node running the task; a client may only cancel` : null;
  }
  if (cmd.op === 'fence' && !own(cmd.client)) return `${from} may only settle requests of its own sessions, not of '${cmd.client}'`;
  return null;
}
