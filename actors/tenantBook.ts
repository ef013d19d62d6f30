import { FINAL_TASK_STATUSES, type TaskStatus } from '../machines/taskLifecycle.js';
import type { NewTask, TaskRecord, TaskTable, TaskTransition } from './taskTable.js';
import { DEFAULT_TENANT_QUOTA, type TenantQuota } from './tenantQuota.js';
import { fullBucket, take, tokensAt, type TokenBucketState } from './tokenBucket.js';
import { valueBytes } from './valueSize.js';
import type { AuditEvent } from './auditLog.js';

/**
 * The replicated books of each tenant: admission against its quota (rate,
 * per-task CPU and memory, storage), and what its tasks hold, store and
 * did. Part of the replicated state: every replica folds the same entries
 * through it, so every replica admits and refuses the same submissions and
 * counts the same numbers; nothing here reads a clock (the rate limit's time
 * is the proposer's, written in the entry as each task's `submittedAt`).
 *
 * What a snapshot keeps: the rate buckets and the counters (they cannot be
 * recomputed). What is rebuilt from the task table after a restore: what
 * tasks hold and store now.
 */

/** Why a tenant's request was refused: the codes counted per tenant. */
export type TenantRejection = 'QuotaExceeded' | 'RateLimited' | 'Unauthorized';

/** Every {@link TenantRejection}, in a fixed order. */
export const TENANT_REJECTIONS: readonly TenantRejection[] = Object.freeze(['QuotaExceeded', 'RateLimited', 'Unauthorized']);

/** Upper bounds (ms) of the latency histograms' buckets; one more bucket counts what is above the last. */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000]);

/** A latency histogram on proposer times: `counts[i]` for values ≤ `LATENCY_BOUNDS_MS[i]` (and above the bound before), the last for the rest. */
export interface LatencyHistogram {
  counts: number[];
  sumMs: number;
  count: number;
}

/** What a tenant's tasks did, counted since the tenant's first task (replicated, kept in snapshots). */
export interface TenantCounters {
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  rejected: Record<TenantRejection, number>;
  /** Submission to the start of the first attempt. */
  queueWaitMs: LatencyHistogram;
  /** Start to end of the attempt that finished the task (completed or failed). */
  runTimeMs: LatencyHistogram;
}

/** What a tenant's tasks hold and store now (derived from the task table). */
export interface TenantUsage {
  /** Tasks not finished (pending, assigned, running, retrying, timed out). */
  live: number;
  /** Tasks assigned or running. */
  holding: number;
  /** CPU (in thousandths, exact) and memory its assigned and running tasks declare. */
  heldMilliCpu: number;
  heldMemoryBytes: number;
  /** Payload and result bytes of its tasks in the table, dead letters included. */
  storedBytes: number;
}

/** A refusal decided at apply, for the node's audit log and the tenant's counters. */
export interface TenantDenial {
  /** Log index of the entry refused. */
  index: number;
  tenant: string;
  code: TenantRejection;
  /** For a person reading the audit log. */
  reason: string;
  /** The session that sent it, when known. */
  client: string | null;
  /** The command (`submitTasks`, `taskChanges`) or query (`query:task`) refused. */
  op: string;
  retryAfterMs?: number;
}

/** The audit record of a refusal: `crossTenant` for a reach into another tenant's tasks, `quota` for quota and rate. */
export function auditEventOf(d: TenantDenial): AuditEvent {
  return {
    kind: d.code === 'Unauthorized' ? 'crossTenant' : 'quota',
    subject: d.client ?? d.tenant,
    outcome: 'denied',
    reason: `${d.code}: ${d.reason}`,
    detail: { index: d.index, tenant: d.tenant, code: d.code, op: d.op, ...(d.retryAfterMs !== undefined ? { retryAfterMs: d.retryAfterMs } : {}) },
  };
}

/** What {@link TenantBook.admit} decided for a batch of submissions. */
export type Admission =
  | { ok: true }
  | { ok: false; code: 'UnknownTenant' | 'QuotaExceeded' | 'RateLimited'; tenant: string; message: string; retryAfterMs?: number };

/** The part of the books a snapshot holds: entry lists, in the order tenants were first seen. */
export interface TenantBookSnapshot {
  buckets: [string, TokenBucketState][];
  counters: [string, TenantCounters][];
}

const holds = (s: TaskStatus | null): boolean => s === 'assigned' || s === 'running';

function emptyHistogram(): LatencyHistogram {
  return { counts: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0), sumMs: 0, count: 0 };
}

function observe(h: LatencyHistogram, ms: number): void {
  const v = ms > 0 ? ms : 0;
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && v > LATENCY_BOUNDS_MS[i]) i++;
  h.counts[i]++;
  h.sumMs += v;
  h.count++;
}

function emptyCounters(): TenantCounters {
  return { submitted: 0, completed: 0, failed: 0, cancelled: 0, rejected: { QuotaExceeded: 0, RateLimited: 0, Unauthorized: 0 }, queueWaitMs: emptyHistogram(), runTimeMs: emptyHistogram() };
}

function emptyUsage(): TenantUsage {
  return { live: 0, holding: 0, heldMilliCpu: 0, heldMemoryBytes: 0, storedBytes: 0 };
}

/**
 * Bytes a payload or result is stored as: `null` (none, the common case)
 * counts nothing, so a task without data costs its tenant no storage and
 * the books no entry.
 */
function storedBytes(value: unknown): number {
  return value === null || value === undefined ? 0 : valueBytes(value);
}

/** One tenant's part of a batch being admitted. */
interface Tally {
  tenant: string;
  quota: Readonly<TenantQuota>;
  count: number;
  at: number;
  bytes: number;
}

/** The answer of every admission (shared: nothing changes it). */
const ADMITTED: Admission = Object.freeze({ ok: true });

/** A finished task the table still holds, and the bytes it counts for. */
interface Stored {
  tenant: string;
  bytes: number;
}

/** See the module comment. Owned by the cluster state; reads its task table. */
export class TenantBook {
  private buckets = new Map<string, TokenBucketState>();
  private counters = new Map<string, TenantCounters>();
  private usage = new Map<string, TenantUsage>();
  /** Completed and cancelled tasks still in the table: leave the account when a prune drops them. */
  private finished = new Map<string, Stored>();
  /** Dead letters, in the order the table keeps them (it drops the oldest first). */
  private dead = new Map<string, Stored>();
  /** Payload sizes measured at admission, for the submissions about to be applied (those with a payload). */
  private readonly admitted = new Map<string, number>();
  /** Bytes of the results admitted in the batch being applied, by tenant (see {@link TenantBook.admitResult}). */
  private readonly batchResults = new Map<string, number>();
  // The records of the tenant looked up last (cleared whenever the maps are replaced).
  private lastUsageTenant: string | null = null;
  private lastUsage: TenantUsage | null = null;
  private lastCountersTenant: string | null = null;
  private lastCounters: TenantCounters | null = null;

  constructor(private readonly table: TaskTable) {}

  /**
   * Decides whether `tasks` may be submitted, all of them or none: every
   * task's tenant is registered and its declared CPU and memory are within
   * its tenant's quota; each tenant's storage stays within its quota; each
   * tenant's rate bucket, refilled to the latest `submittedAt` among its
   * tasks, holds a token per task. On success the tokens are taken; on a
   * refusal nothing changes. (A retried request is answered from its
   * session and never comes here; a task id sent again in a new request
   * costs a token, and no storage: that is counted as tasks enter the table.)
   */
  admit(tasks: readonly NewTask[], quotaOf: (tenant: string) => Readonly<TenantQuota> | undefined): Admission {
    // Per tenant, in the order first seen. Most requests name one tenant:
    // its tally needs no map (a second tenant makes one).
    let first: Tally | undefined;
    let more: Map<string, Tally> | undefined;
    if (this.admitted.size > 0) this.admitted.clear(); // (clear() allocates a new table even when empty)
    for (const t of tasks) {
      const tenant = t.spec.tenant;
      let b = first !== undefined && first.tenant === tenant ? first : more?.get(tenant);
      const quota = b !== undefined ? b.quota : quotaOf(tenant);
      if (quota === undefined) return { ok: false, code: 'UnknownTenant', tenant, message: `tenant '${tenant}' is not registered` };
      const { cpu, memoryBytes } = t.spec.resources;
      if (cpu > quota.maxCpuUnits) return this.refusal('QuotaExceeded', tenant, `task ${t.id} declares ${cpu} CPU; tenant '${tenant}' may hold ${quota.maxCpuUnits} CPU in all`);
      if (memoryBytes > quota.maxMemoryBytes) return this.refusal('QuotaExceeded', tenant, `task ${t.id} declares ${memoryBytes} bytes of memory; tenant '${tenant}' may hold ${quota.maxMemoryBytes} bytes in all`);
      const bytes = storedBytes(t.spec.payload);
      if (bytes > 0) this.admitted.set(t.id, bytes);
      if (b === undefined) {
        b = { tenant, quota, count: 1, at: t.submittedAt, bytes };
        if (first === undefined) first = b;
        else (more ??= new Map()).set(tenant, b);
      } else {
        b.count++;
        if (t.submittedAt > b.at) b.at = t.submittedAt;
        b.bytes += bytes;
      }
    }
    if (first === undefined) return ADMITTED;
    const refused = this.refusalFor(first);
    if (refused !== null) return refused;
    if (more !== undefined) {
      for (const b of more.values()) {
        const r = this.refusalFor(b);
        if (r !== null) return r;
      }
    }
    this.takeTokens(first);
    if (more !== undefined) for (const b of more.values()) this.takeTokens(b);
    return ADMITTED;
  }

  /** Why one tenant's share of a batch is refused (storage, burst, rate), or null. */
  private refusalFor(b: Tally): Admission | null {
    const tenant = b.tenant;
    const stored = this.usage.get(tenant)?.storedBytes ?? 0;
    if (stored + b.bytes > b.quota.maxStorageBytes) {
      return this.refusal('QuotaExceeded', tenant, `tenant '${tenant}' stores ${stored} bytes; ${b.bytes} more would pass its storage quota of ${b.quota.maxStorageBytes}`);
    }
    const rate = b.quota.maxTasksPerSecond;
    if (b.count > rate) return this.refusal('QuotaExceeded', tenant, `${b.count} tasks in one request exceed tenant '${tenant}'s burst of ${rate} (maxTasksPerSecond)`);
    const bucket = this.buckets.get(tenant);
    const tokens = bucket === undefined ? tokensAt(fullBucket(rate, b.at), rate, b.at) : tokensAt(bucket, rate, b.at);
    if (tokens < b.count) {
      const retryAfterMs = Math.ceil(((b.count - tokens) * 1000) / rate);
      return this.refusal('RateLimited', tenant, `tenant '${tenant}' is over its rate of ${rate} tasks/s; retry in ${retryAfterMs} ms`, retryAfterMs);
    }
    return null;
  }

  private takeTokens(b: Tally): void {
    let bucket = this.buckets.get(b.tenant);
    if (bucket === undefined) this.buckets.set(b.tenant, (bucket = fullBucket(b.quota.maxTasksPerSecond, b.at)));
    take(bucket, b.quota.maxTasksPerSecond, b.count, b.at);
  }

  private refusal(code: 'QuotaExceeded' | 'RateLimited', tenant: string, message: string, retryAfterMs?: number): Admission {
    if (this.admitted.size > 0) this.admitted.clear();
    return retryAfterMs === undefined ? { ok: false, code, tenant, message } : { ok: false, code, tenant, message, retryAfterMs };
  }

  /** Starts a batch of task changes: results admitted in it count toward their tenants until it is accounted. */
  beginResults(): void {
    if (this.batchResults.size > 0) this.batchResults.clear();
  }

  /**
   * Why `task`'s result may not be stored, or null: a quota holds for
   * results as it does for payloads, rather than being found exceeded after
   * the fact. Asked only for completions that apply (see
   * {@link TaskTable.change}); one admitted counts toward its tenant for
   * the rest of the batch. A tenant without a storage quota costs no size
   * computation here.
   */
  admitResult(task: Readonly<TaskRecord>, result: unknown, quota: Readonly<TenantQuota> | undefined): string | null {
    if (result === null || result === undefined || quota === undefined || quota.maxStorageBytes >= DEFAULT_TENANT_QUOTA.maxStorageBytes) return null;
    const tenant = task.spec.tenant;
    const bytes = storedBytes(result);
    const stored = (this.usage.get(tenant)?.storedBytes ?? 0) + (this.batchResults.get(tenant) ?? 0);
    if (stored + bytes > quota.maxStorageBytes) {
      return `a result of ${bytes} bytes would take tenant '${tenant}' past its storage quota of ${quota.maxStorageBytes} (it stores ${stored})`;
    }
    this.batchResults.set(tenant, (this.batchResults.get(tenant) ?? 0) + bytes);
    return null;
  }

  /** Counts a refusal against `tenant` (a registered one: unknown names would grow the books without bound). */
  reject(tenant: string, code: TenantRejection): void {
    this.countersOf(tenant).rejected[code]++;
  }

  /**
   * Folds task transitions `transitions[from…]` (just applied) into the
   * books: submissions, what tasks hold, queue wait and run time, finished
   * tasks and what they store. `resubmitted` names dead letters a
   * submission took out of the table.
   */
  account(transitions: readonly TaskTransition[], from: number, resubmitted: readonly string[] = []): void {
    let failed = false;
    for (let i = from; i < transitions.length; i++) {
      const tr = transitions[i];
      if (tr.rejected) continue;
      const record = this.table.get(tr.taskId);
      if (record === undefined) continue;
      const tenant = record.spec.tenant;
      const u = this.usageRecord(tenant);
      if (tr.from === null) {
        this.countersOf(tenant).submitted++;
        u.live++;
        if (record.spec.payload !== null) u.storedBytes += this.admitted.get(tr.taskId) ?? storedBytes(record.spec.payload);
      }
      const was = holds(tr.from);
      if (was !== holds(tr.to)) {
        const sign = was ? -1 : 1;
        u.holding += sign;
        u.heldMilliCpu += sign * Math.round(record.spec.resources.cpu * 1000);
        u.heldMemoryBytes += sign * record.spec.resources.memoryBytes;
      }
      if (tr.to === 'running' && tr.from !== 'running' && record.attempt === 1 && record.startedAt !== null) {
        observe(this.countersOf(tenant).queueWaitMs, record.startedAt - record.submittedAt);
      }
      if (FINAL_TASK_STATUSES.has(tr.to) && (tr.from === null || !FINAL_TASK_STATUSES.has(tr.from))) {
        const c = this.countersOf(tenant);
        u.live--;
        let bytes = storedBytes(record.spec.payload);
        if (tr.to === 'completed') {
          c.completed++;
          const result = storedBytes(record.result);
          u.storedBytes += result;
          bytes += result;
        } else if (tr.to === 'failed') c.failed++;
        else c.cancelled++;
        if ((tr.to === 'completed' || tr.to === 'failed') && record.startedAt !== null && record.finishedAt !== null) observe(c.runTimeMs, record.finishedAt - record.startedAt);
        // Only what stores something has to leave the account later.
        if (tr.to === 'failed') {
          failed = true;
          if (bytes > 0) this.dead.set(tr.taskId, { tenant, bytes });
        } else if (bytes > 0) this.finished.set(tr.taskId, { tenant, bytes });
      }
    }
    if (this.admitted.size > 0) this.admitted.clear();
    for (const id of resubmitted) this.forgetIfGone(this.dead, id);
    if (failed) this.sweepDead();
  }

  /** After a prune: every finished task the table dropped leaves the storage account. */
  pruned(): void {
    for (const id of this.finished.keys()) this.forgetIfGone(this.finished, id);
  }

  /** The table drops its oldest dead letters past its limit: they leave the account, oldest first. */
  private sweepDead(): void {
    for (const id of this.dead.keys()) if (!this.forgetIfGone(this.dead, id)) break;
  }

  private forgetIfGone(list: Map<string, Stored>, id: string): boolean {
    const s = list.get(id);
    if (s === undefined || this.table.get(id) !== undefined) return false;
    list.delete(id);
    this.usageRecord(s.tenant).storedBytes -= s.bytes;
    return true;
  }

  /** What tenant `tenant`'s tasks hold and store now (a copy). */
  usageOf(tenant: string): TenantUsage {
    return { ...(this.usage.get(tenant) ?? emptyUsage()) };
  }

  private usageRecord(tenant: string): TenantUsage {
    // Transitions come in runs of one tenant's tasks: skip the map for a repeat.
    if (tenant === this.lastUsageTenant) return this.lastUsage as TenantUsage;
    let u = this.usage.get(tenant);
    if (u === undefined) this.usage.set(tenant, (u = emptyUsage()));
    this.lastUsageTenant = tenant;
    this.lastUsage = u;
    return u;
  }

  /** The counters of `tenant` (live: callers copy before handing them out). */
  countersOf(tenant: string): TenantCounters {
    if (tenant === this.lastCountersTenant) return this.lastCounters as TenantCounters;
    let c = this.counters.get(tenant);
    if (c === undefined) this.counters.set(tenant, (c = emptyCounters()));
    this.lastCountersTenant = tenant;
    this.lastCounters = c;
    return c;
  }

  /** The rate bucket of `tenant`, if it ever submitted. */
  bucketOf(tenant: string): Readonly<TokenBucketState> | undefined {
    return this.buckets.get(tenant);
  }

  /** The replicated part, as a snapshot keeps it (copies). */
  snapshot(): TenantBookSnapshot {
    return { buckets: structuredClone([...this.buckets]), counters: structuredClone([...this.counters]) };
  }

  /** Takes the replicated part from a snapshot (absent in snapshots from before tenants were accounted) and rebuilds the rest from the task table. */
  restore(snapshot: TenantBookSnapshot | undefined): void {
    this.buckets = new Map(structuredClone(snapshot?.buckets ?? []));
    this.counters = new Map(structuredClone(snapshot?.counters ?? []));
    this.usage = new Map();
    this.lastUsageTenant = this.lastCountersTenant = null;
    this.lastUsage = null;
    this.lastCounters = null;
    this.finished = new Map();
    this.dead = new Map();
    for (const t of this.table.all()) {
      const u = this.usageRecord(t.spec.tenant);
      let bytes = storedBytes(t.spec.payload);
      if (t.status === 'completed') bytes += storedBytes(t.result);
      u.storedBytes += bytes;
      if (!FINAL_TASK_STATUSES.has(t.status)) u.live++;
      else if (bytes > 0) this.finished.set(t.id, { tenant: t.spec.tenant, bytes });
      if (holds(t.status)) {
        u.holding++;
        u.heldMilliCpu += Math.round(t.spec.resources.cpu * 1000);
        u.heldMemoryBytes += t.spec.resources.memoryBytes;
      }
    }
    for (const t of this.table.deadLetters()) {
      const bytes = storedBytes(t.spec.payload);
      this.usageRecord(t.spec.tenant).storedBytes += bytes;
      if (bytes > 0) this.dead.set(t.id, { tenant: t.spec.tenant, bytes });
    }
  }
}
