import type { ClusterCommand, SessionCommand } from './clusterState.js';

/**
 * Who sends a request, as its connection authenticated it: a cluster
 * node, an operator, or a client. (In-process and in the simulation every
 * sender is trusted and nothing is checked.) A client's certificate may
 * also bind a tenant: then its requests are scoped to that tenant too
 * ({@link scopeCommand}, {@link scopeQuery}); operators and nodes never are.
 */
export type Principal = 'node' | 'operator' | 'client';

/** Commands only nodes propose: the cluster's own bookkeeping. */
const NODE_ONLY: ReadonlySet<ClusterCommand['op']> = new Set(['bootstrap', 'registerWorker', 'pruneTasks']);

/**
 * Commands an operator may propose besides a client's: membership, its
 * approvals, blocking, tenants and quotas, and draining a worker (nothing
 * new is assigned to it, as before a shutdown: `grey cluster down`).
 */
const OPERATOR: ReadonlySet<ClusterCommand['op']> = new Set(['join', 'approve', 'reject', 'promote', 'demote', 'remove', 'block', 'unblock', 'setSecurityPolicy', 'registerTenant', 'drainWorker']);

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
    if (cmd.proofBatch !== undefined) return 'a proof batch comes from the node that ran the tasks; a client may only cancel';
    const other = cmd.changes.find((c) => c.kind !== 'cancel');
    return other ? `a '${other.kind}' task change comes from the node running the task; a client may only cancel` : null;
  }
  if (cmd.op === 'fence' && !own(cmd.client)) return `${from} may only settle requests of its own sessions, not of '${cmd.client}'`;
  return null;
}

/**
 * What a tenant-bound caller's request became: `ok` with the request to
 * serve (its tenant filled in where it named none), or refused with the
 * reason (`Unauthorized`, or `InvalidQuery` for arguments that cannot be
 * scoped).
 */
export type Scoped<T> = { ok: true; value: T } | { ok: false; code: 'Unauthorized' | 'InvalidQuery'; reason: string };

/** Commands a tenant-bound client may send: its tenant's tasks, settling its own requests, a no-op. */
const TENANT_COMMANDS: ReadonlySet<ClusterCommand['op']> = new Set(['submitTasks', 'taskChanges', 'fence', 'noop']);

/**
 * Named reads a tenant-bound client may run: those that take a `tenant`
 * (scoped to its own), and the cluster's shape (members, workers), which
 * holds nothing of any tenant. The key-value store has no tenants, so it
 * is closed to a tenant-bound client; so is any read not listed here.
 */
const TENANT_SCOPED_QUERIES: ReadonlySet<string> = new Set(['task', 'tenantTasks', 'tenantStats', 'deadLetters', 'tenants']);
const TENANT_OPEN_QUERIES: ReadonlySet<string> = new Set(['members', 'workers']);

/**
 * The command a client bound to `tenant` (by its certificate) may send
 * instead of `request`, or why it may not send it. A request acts for the
 * bound tenant: one that names none gets it filled in (`submitTasks` and
 * `taskChanges` acting for it, task specs without a tenant made its), one
 * that names another tenant (the request's `tenant`, or a task spec's) is
 * refused. What the command then touches is checked where the state is:
 * a cancel of another tenant's task is refused when applied, as for any
 * request acting for a tenant. The key-value store, membership and
 * tenants' registration are refused to a tenant-bound client.
 *
 * Pure: returns a new command, never changes `request`.
 */
export function scopeCommand(tenant: string, request: SessionCommand): Scoped<SessionCommand> {
  const cmd = request.cmd;
  const refuse = (reason: string): Scoped<SessionCommand> => ({ ok: false, code: 'Unauthorized', reason: `a client bound to tenant '${tenant}' ${reason}` });
  if (!TENANT_COMMANDS.has(cmd.op)) {
    return refuse(cmd.op === 'put' || cmd.op === 'delete' || cmd.op === 'cas' ? `may not use the key-value store ('${cmd.op}'): it is not scoped to tenants` : `may not send '${cmd.op}'`);
  }
  if (cmd.op === 'submitTasks') {
    if (cmd.tenant !== undefined && cmd.tenant !== tenant) return refuse(`may not act for tenant '${cmd.tenant}'`);
    const tasks = [];
    for (const t of cmd.tasks) {
      const spec = (t as { spec?: unknown } | null)?.spec;
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
        tasks.push(t); // malformed: the state machine refuses it as it is
        continue;
      }
      const named = (spec as { tenant?: unknown }).tenant;
      if (named === undefined) tasks.push({ ...t, spec: { ...(spec as object), tenant } } as typeof t);
      else if (named !== tenant) return refuse(`may not submit task ${String(t.id)} for tenant '${String(named)}'`);
      else tasks.push(t);
    }
    return { ok: true, value: { ...request, cmd: { ...cmd, tasks, tenant } } };
  }
  if (cmd.op === 'taskChanges') {
    if (cmd.tenant !== undefined && cmd.tenant !== tenant) return refuse(`may not act for tenant '${cmd.tenant}'`);
    const other = cmd.changes.find((c) => c?.kind !== 'cancel');
    if (other) return refuse(`may only cancel its tasks, not send a '${String(other?.kind)}' change`);
    return { ok: true, value: { ...request, cmd: { ...cmd, tenant } } };
  }
  return { ok: true, value: request };
}

/**
 * The arguments a named read of a client bound to `tenant` runs with, or
 * why it may not run: reads that take a `tenant` are scoped to the bound
 * one (filled in when absent, refused when another), `members` and
 * `workers` run as asked, anything else (the key-value store, a read
 * unknown here) is refused. Reading another tenant's task by id is
 * refused by the read itself, once scoped.
 */
export function scopeQuery(tenant: string, name: string, args: unknown): Scoped<unknown> {
  if (TENANT_OPEN_QUERIES.has(name)) return { ok: true, value: args };
  if (!TENANT_SCOPED_QUERIES.has(name)) {
    const what = name === 'get' || name === 'range' || name === 'changes' ? `the key-value store ('${name}'): it is not scoped to tenants` : `'${name}'`;
    return { ok: false, code: 'Unauthorized', reason: `a client bound to tenant '${tenant}' may not read ${what}` };
  }
  const a = args ?? {};
  if (typeof a !== 'object' || Array.isArray(a)) return { ok: false, code: 'InvalidQuery', reason: `the arguments of '${name}' must be an object` };
  const named = (a as { tenant?: unknown }).tenant;
  if (named !== undefined && named !== tenant) return { ok: false, code: 'Unauthorized', reason: `a client bound to tenant '${tenant}' may not read '${name}' of tenant '${String(named)}'` };
  return { ok: true, value: { ...(a as object), tenant } };
}
