import type { ClusterState, MemberRecord, TenantRecord, TenantStats, WorkerRecord } from './clusterState.js';
import type { TaskRecord } from './taskTable.js';
import type { KvChange, KvCompacted, KvEntry, KvRead } from './kvStore.js';

/**
 * The reads a client can ask of a node across the network: each is a name,
 * plain-data arguments and a pure function of the replicated state, so a
 * node in another process (real mode) can serve it. A function passed to
 * `Cluster.read` runs only in the process that holds the node.
 *
 * Answers travel through the codec like every message: what a client gets
 * is a copy, never a live view into a replica.
 */
export interface Queries {
  /** One key: its value with its revisions, or a typed not-found. */
  get: { args: { key: string }; result: KvRead };
  /** Keys starting with `prefix`, in key order. */
  range: { args: { prefix: string; limit?: number }; result: { entries: KvEntry[]; more: boolean; storeRevision: number } };
  /** Changes to a key (or keys under a prefix) from revision `from` on: what a watch polls. */
  changes: { args: { key: string; prefix?: boolean; from: number; limit?: number }; result: { changes: KvChange[]; storeRevision: number } | KvCompacted };
  /**
   * A task record, dead letters included (`null` when unknown or pruned).
   * With `tenant`, only that tenant's: another tenant's task is refused
   * (`Unauthorized`), and the refusal reported to the node's audit log.
   */
  task: { args: { taskId: string; tenant?: string }; result: TaskRecord | null };
  /** One tenant's tasks in the table (dead letters included), oldest first, at most `limit` (default and cap 1,000). */
  tenantTasks: { args: { tenant: string; limit?: number }; result: { tasks: TaskRecord[]; more: boolean } };
  /** One tenant's books: counters, latency histograms, what it holds and stores, its dominant share (`null` for an unknown tenant). */
  tenantStats: { args: { tenant: string }; result: TenantStats | null };
  /** Tasks whose retries are exhausted; with `tenant`, that tenant's only. */
  deadLetters: { args: { tenant?: string }; result: TaskRecord[] };
  /** Members of the cluster and their status. */
  members: { args: Record<string, never>; result: MemberRecord[] };
  /** Registered tenants and their quotas; with `tenant`, that tenant's record only (none when unregistered). */
  tenants: { args: { tenant?: string }; result: TenantRecord[] };
  /** Registered workers and their capacity. */
  workers: { args: Record<string, never>; result: WorkerRecord[] };
}

/** The name of a query. */
export type QueryName = keyof Queries;

type QueryFns = { [K in QueryName]: (state: ClusterState, args: Queries[K]['args']) => Queries[K]['result'] };

const stringArg = (args: unknown, field: string): string => {
  const v = (args as Record<string, unknown> | null)?.[field];
  if (typeof v !== 'string' || v.length === 0) throw new QueryError('InvalidQuery', `argument '${field}' must be a non-empty string`);
  return v;
};

const intArg = (args: unknown, field: string, min: number, fallback?: number): number => {
  const v = (args as Record<string, unknown> | null)?.[field] ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new QueryError('InvalidQuery', `argument '${field}' must be an integer ≥ ${min}`);
  return v as number;
};

/** Tasks one `tenantTasks` answer lists at most. */
const MAX_TENANT_TASKS = 1_000;

/** The optional `tenant` argument of a read that a request acting for a tenant scopes. */
function optionalTenant(args: unknown): string | undefined {
  const tenant = (args as { tenant?: unknown } | null)?.tenant;
  if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) throw new QueryError('InvalidQuery', "argument 'tenant' must be a non-empty string when given");
  return tenant;
}

/** A task read, scoped to a tenant when the request acts for one. */
function scopedTask(s: ClusterState, args: unknown): TaskRecord | null {
  const taskId = stringArg(args, 'taskId');
  const tenant = optionalTenant(args);
  const t = (s.task(taskId) as TaskRecord | undefined) ?? null;
  if (t !== null && tenant !== undefined && t.spec.tenant !== tenant) {
    const reason = `a read acting for tenant '${tenant}' asks for task ${taskId} of another tenant`;
    s.denyRead({ index: s.appliedIndex, tenant, code: 'Unauthorized', reason, client: null, op: 'query:task' });
    throw new QueryError('Unauthorized', reason);
  }
  return t;
}

function tenantTasks(s: ClusterState, args: unknown): { tasks: TaskRecord[]; more: boolean } {
  const tenant = stringArg(args, 'tenant');
  const limit = Math.min(MAX_TENANT_TASKS, intArg(args, 'limit', 1, MAX_TENANT_TASKS));
  const tasks: TaskRecord[] = [];
  for (const list of [s.tasks(), s.taskTable.deadLetters()]) {
    for (const t of list) {
      if (t.spec.tenant !== tenant) continue;
      if (tasks.length === limit) return { tasks, more: true };
      tasks.push(t as TaskRecord);
    }
  }
  return { tasks, more: false };
}

/** Changes one poll of a watch returns at most. */
const MAX_CHANGES_PER_POLL = 1_000;

/** The query functions, by name. */
export const QUERIES: Readonly<QueryFns> = Object.freeze({
  get: (s, args) => s.kv.read(stringArg(args, 'key')),
  range: (s, args) => {
    const prefix = (args as { prefix?: unknown } | null)?.prefix;
    if (typeof prefix !== 'string') throw new QueryError('InvalidQuery', "argument 'prefix' must be a string ('' for every key)");
    return s.kv.range(prefix, intArg(args, 'limit', 1, Number.MAX_SAFE_INTEGER));
  },
  changes: (s, args) => {
    const prefix = (args as { prefix?: unknown }).prefix ?? false;
    if (typeof prefix !== 'boolean') throw new QueryError('InvalidQuery', "argument 'prefix' must be a boolean");
    const key = prefix ? (args as { key?: unknown }).key : stringArg(args, 'key');
    if (typeof key !== 'string') throw new QueryError('InvalidQuery', "argument 'key' must be a string");
    return s.kv.changesSince(key, prefix, intArg(args, 'from', 1), Math.min(MAX_CHANGES_PER_POLL, intArg(args, 'limit', 1, MAX_CHANGES_PER_POLL)));
  },
  task: scopedTask,
  tenantTasks,
  tenantStats: (s, args) => s.tenantStats(stringArg(args, 'tenant')) ?? null,
  deadLetters: (s, args) => {
    const tenant = optionalTenant(args);
    const dead = s.taskTable.deadLetters() as TaskRecord[];
    return tenant === undefined ? dead : dead.filter((t) => t.spec.tenant === tenant);
  },
  members: (s) => s.members() as MemberRecord[],
  tenants: (s, args) => {
    const tenant = optionalTenant(args);
    if (tenant === undefined) return s.tenants() as TenantRecord[];
    const one = s.tenant(tenant);
    return one ? [one as TenantRecord] : [];
  },
  workers: (s) => s.workers() as WorkerRecord[],
} satisfies QueryFns);

/** A query a node cannot run: an unknown name or bad arguments. */
export class QueryError extends Error {
  constructor(
    readonly code: 'UnknownQuery' | 'InvalidQuery' | 'Unauthorized',
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/** Runs query `name` against `state`; throws {@link QueryError} for an unknown name or bad arguments. */
export function runQuery(state: ClusterState, name: string, args: unknown): unknown {
  if (!Object.hasOwn(QUERIES, name)) throw new QueryError('UnknownQuery', `no query '${name}'; known: ${Object.keys(QUERIES).join(', ')}`);
  return (QUERIES[name as QueryName] as (s: ClusterState, a: unknown) => unknown)(state, args ?? {});
}
