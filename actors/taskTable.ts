import { FifoMap } from './fifoMap.js';
import { resultHash } from './resultHash.js';
import type { ProofSignature } from './proofSignature.js';
import { taskStepper } from '../machines/taskTable.js';
import type { TableInspection } from './chartInspection.js';
import { FINAL_TASK_STATUSES, type TaskContext, type TaskEvent, type TaskStatus } from '../machines/taskLifecycle.js';

/** Resources a task needs, or a worker offers. */
export interface Resources {
  cpu: number;
  memoryBytes: number;
}

/** Retry backoff: delay = min(maxMs, initialMs × factor^(retry−1)), ± jitter (a fraction). */
export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
}

/**
 * The delay before retry number `retry` (1 for the first retry), with the
 * jitter drawn by the proposer as `random` in [0, 1): exponential, capped.
 */
export function backoffDelay(policy: BackoffPolicy, retry: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, retry - 1));
  return Math.max(0, Math.round(base * (1 + policy.jitter * (2 * random - 1))));
}

/** A task as submitted, with every default filled in (see `system/taskSpec.ts`). */
export interface ResolvedTaskSpec {
  type: string;
  payload: unknown;
  tenant: string;
  priority: number;
  resources: Resources;
  maxRetries: number;
  backoff: BackoffPolicy;
  timeoutMs: number;
  idempotencyKey?: string;
}

/** A submission as the proposer wrote it: id and time decided before the entry. */
export interface NewTask {
  id: string;
  spec: ResolvedTaskSpec;
  submittedAt: number;
  /** The dead-letter task this one resubmits, if any. */
  resubmitOf?: string;
}

/** The record of one completed execution (the seed's proof artifact), signed by its worker when the worker's node signs proofs. */
export interface ProofArtifact {
  taskId: string;
  workerId: string;
  attempt: number;
  /** When the attempt started and completed, on the worker's clock (virtual ms in simulation). */
  startedAt: number;
  completedAt: number;
  /**
   * Time the attempt took, in µs; {@link ProofArtifact.cpuTimeSource} says
   * which time. In simulation it is the virtual time elapsed from start to
   * completion (a simulated handler's CPU time is not virtual).
   */
  cpuTimeUs: number;
  /**
   * What `cpuTimeUs` measures: `thread`, the CPU time of the thread that ran
   * the handler (a worker-pool handler on a platform that measures it:
   * Node ≥ 23.9); `elapsed`, the time from start to completion on the
   * worker's clock (virtual in simulation, wall in real mode), when no CPU
   * time was measured. Absent in proofs from before it: `elapsed`.
   */
  cpuTimeSource?: 'thread' | 'elapsed';
  /** Hex SHA-256 of the canonical JSON of the result; checked against the result when the completion is applied. */
  resultHash: string;
  /**
   * The worker's signature over every other field (see `proofSignature.ts`),
   * when its node signs proofs. Never checked when a completion is applied:
   * anyone holding the cluster CA verifies it on demand (`verifyProof`).
   */
  signature?: ProofSignature;
}

/**
 * Why a completion's proof does not describe its own result and execution,
 * or null when it does. Pure (a hash of the entry's own data), so every
 * replica reaches the same verdict.
 */
function proofMismatch(c: CompletionChange): string | null {
  const p = c.proof;
  if (p === null || typeof p !== 'object') return 'no proof';
  if (p.taskId !== c.taskId) return `for task ${p.taskId}, not ${c.taskId}`;
  if (p.workerId !== c.worker) return `by ${p.workerId}, but reported by ${c.worker}`;
  if (p.attempt !== c.attempt) return `for attempt ${p.attempt}, but reported for attempt ${c.attempt}`;
  let actual: string;
  try {
    actual = resultHash(c.result);
  } catch {
    return 'the result is not JSON data';
  }
  return actual === p.resultHash ? null : `resultHash ${String(p.resultHash).slice(0, 12)}… does not match the result (${actual.slice(0, 12)}…)`;
}

/** A task in the replicated table. Extends the chart's context, so the table steps it directly. */
export interface TaskRecord extends TaskContext {
  id: string;
  status: TaskStatus;
  spec: ResolvedTaskSpec;
  submittedAt: number;
  /** Log index of the submission. */
  index: number;
  startedAt: number | null;
  progress: number;
  result?: unknown;
  proof?: ProofArtifact;
  error?: string;
  /** When a retrying or timed-out task may run again (decided by the proposer). */
  retryAt: number | null;
  /** Proposer time of the change that made the task final. */
  finishedAt: number | null;
}

/**
 * One lifecycle change, as a proposer writes it. Every change carries the
 * proposer's time `at`; applying never reads a clock (DESIGN rule 5).
 * Changes that name a worker and attempt are only for that execution: a
 * late message from an older attempt or a presumed-lost worker is refused.
 */
export type TaskChange =
  | { kind: 'assign'; taskId: string; worker: string; at: number }
  | { kind: 'reassign'; taskId: string; worker: string; at: number }
  | { kind: 'start'; taskId: string; worker: string; attempt: number; at: number }
  | { kind: 'progress'; taskId: string; worker: string; attempt: number; progress: number; at: number }
  | { kind: 'complete'; taskId: string; worker: string; attempt: number; result: unknown; proof: ProofArtifact; at: number }
  | { kind: 'fail'; taskId: string; worker: string; attempt: number; error: string; retryable: boolean; retryAt: number; at: number }
  | { kind: 'timeout'; taskId: string; worker: string; attempt: number; retryAt: number; at: number }
  | { kind: 'retry'; taskId: string; at: number }
  | { kind: 'cancel'; taskId: string; reason: string; at: number }
  | { kind: 'lost'; taskId: string; worker: string; at: number; reason?: string };

/** Whether a completion's result may be stored: null, or why not (the completion then fails, not retried). */
export type ResultAdmission = (task: Readonly<TaskRecord>, result: unknown) => string | null;

/** A status change a node applied, or refused (`rejected`): the trace's `task` event. */
export interface TaskTransition {
  index: number;
  taskId: string;
  from: TaskStatus | null;
  to: TaskStatus;
  attempt: number;
  worker: string | null;
  reason: string | null;
  rejected: boolean;
  change: TaskChange['kind'] | 'submit';
}

/** A completion: the change that reports an attempt's result and proof. */
export type CompletionChange = Extract<TaskChange, { kind: 'complete' }>;

/** The completions of a batch of changes, in order: the proofs a report signs together. */
export function completionsOf(changes: readonly TaskChange[]): CompletionChange[] {
  const out: CompletionChange[] = [];
  for (const c of changes) if (c.kind === 'complete') out.push(c);
  return out;
}

/** Limits of the table; every collection is bounded. */
export interface TaskTableLimits {
  /** Finished tasks are dropped from the hot table once finished this long ago (proposer time), by a prune entry. */
  retentionMs: number;
  /** Failed tasks kept in the dead-letter set (oldest dropped first). */
  maxDeadLetters: number;
  /** Idempotency keys remembered (oldest dropped first). */
  maxIdempotencyKeys: number;
}

export const DEFAULT_TASK_LIMITS: TaskTableLimits = Object.freeze({ retentionMs: 60_000, maxDeadLetters: 10_000, maxIdempotencyKeys: 100_000 });

const CHANGE_EVENTS: Record<TaskChange['kind'], TaskEvent['type']> = {
  assign: 'ASSIGN',
  reassign: 'REASSIGN',
  start: 'START',
  progress: 'PROGRESS',
  complete: 'COMPLETE',
  fail: 'FAIL',
  timeout: 'TIMEOUT',
  retry: 'RETRY',
  cancel: 'CANCEL',
  lost: 'WORKER_LOST',
};

/** The table as it lives in memory: Maps, whose inserts and deletes stay cheap at any size (a plain object of 100,000 tasks is a slow dictionary). */
interface TableData {
  tasks: Map<string, TaskRecord>;
  /** idempotency key → task id, in insertion order. */
  keys: FifoMap<string, string>;
  deadLetters: FifoMap<string, TaskRecord>;
  pruned: number;
}

/**
 * The table in a snapshot, in the value domain: entry lists in insertion
 * order, which decides what is evicted next. (An object would not keep
 * it: its integer-like keys, a user's idempotency key "42" say, come first.)
 */
interface TableSnapshot {
  tasks: [string, TaskRecord][];
  keys: [string, string][];
  deadLetters: [string, TaskRecord][];
  pruned: number;
}

/**
 * The replicated task table: submissions and lifecycle changes folded in
 * log order through the task chart's derived transition table. Pure: the
 * same entries give the same table on every node.
 */
export class TaskTable {
  private d: TableData;
  /** Bumped by every snapshot: records made before it may be shared with that snapshot. */
  /**
   * Stamped on each record this table made (or copied) since its last
   * snapshot: those are changed in place, others copied first. A fresh
   * object per snapshot, so no stamp from before, or from another table,
   * can match. (A stamp on the record, not a WeakMap: the GC's ephemeron
   * work on a map of every live task cost more than the copies it saved.)
   */
  private owner: object = {};

  private readonly limits: TaskTableLimits;

  /** Where each record's lifecycle steps are reported, when the node is inspected. */
  inspection: TableInspection | null = null;

  /** @param limits merged over {@link DEFAULT_TASK_LIMITS}; the two table sizes are integers ≥ 1 (a RangeError otherwise). */
  constructor(limits: Partial<TaskTableLimits> = {}) {
    this.limits = { ...DEFAULT_TASK_LIMITS, ...limits };
    for (const k of ['maxDeadLetters', 'maxIdempotencyKeys'] as const) {
      const v = this.limits[k];
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`task limit ${k} must be an integer ≥ 1, got ${v}`);
    }
    this.d = { tasks: new Map(), keys: new FifoMap(this.limits.maxIdempotencyKeys), deadLetters: new FifoMap(this.limits.maxDeadLetters), pruned: 0 };
  }

  get(id: string): Readonly<TaskRecord> | undefined {
    return this.d.tasks.get(id) ?? this.d.deadLetters.get(id);
  }

  all(): Readonly<TaskRecord>[] {
    return [...this.d.tasks.values()];
  }

  deadLetters(): Readonly<TaskRecord>[] {
    return [...this.d.deadLetters.values()];
  }

  /** Finished tasks dropped from the hot table so far. */
  get pruned(): number {
    return this.d.pruned;
  }

  get size(): number {
    return this.d.tasks.size;
  }

  /** Applies a batch of submissions; returns the task id each resolves to (an existing one for a known idempotency key). */
  submit(tasks: readonly NewTask[], index: number, out: TaskTransition[]): string[] {
    const ids: string[] = [];
    for (const t of tasks) {
      const key = t.spec.idempotencyKey === undefined ? undefined : scopedKey(t.spec.tenant, t.spec.idempotencyKey);
      const known = key === undefined ? undefined : this.d.keys.get(key);
      if (known !== undefined) {
        ids.push(known);
        continue;
      }
      if (this.d.tasks.has(t.id)) {
        ids.push(t.id);
        continue;
      }
      const record: TaskRecord = {
        id: t.id,
        status: 'pending',
        spec: t.spec,
        submittedAt: t.submittedAt,
        index,
        startedAt: null,
        progress: 0,
        retryAt: null,
        finishedAt: null,
        attempt: 0,
        maxRetries: t.spec.maxRetries,
        timeoutMs: t.spec.timeoutMs,
        backoffMs: t.spec.backoff.initialMs,
        worker: null,
      };
      record.status = taskStepper.initial(record) as TaskStatus;
      this.d.tasks.set(t.id, record);
      this.inspection?.created(t.id, record.status, record);
      stamp(record, this.owner);
      if (key !== undefined) this.rememberKey(key, t.id);
      if (t.resubmitOf !== undefined) {
        const dead = this.d.deadLetters.get(t.resubmitOf);
        this.d.deadLetters.delete(t.resubmitOf);
        if (dead) this.forgetKey(dead);
      }
      out.push({ index, taskId: t.id, from: null, to: record.status, attempt: 0, worker: null, reason: null, rejected: false, change: 'submit' });
      ids.push(t.id);
    }
    return ids;
  }

  /**
   * Applies a batch of lifecycle changes; each applied or refused one is
   * reported in `out`. `admitResult`, when given, is asked about each
   * completion that would apply (its execution, proof and step all valid):
   * a reason makes it a failure, not retried, that stores nothing (a
   * tenant's storage quota, say).
   */
  change(changes: readonly TaskChange[], index: number, out: TaskTransition[], admitResult?: ResultAdmission): void {
    for (const c of changes) this.applyChange(c, index, out, admitResult);
  }

  /** Drops finished tasks (not dead letters) finished before `before` (proposer time). Returns how many. */
  prune(before: number): number {
    let n = 0;
    for (const [id, t] of this.d.tasks) {
      if (t.finishedAt !== null && t.finishedAt < before && FINAL_TASK_STATUSES.has(t.status)) {
        this.d.tasks.delete(id);
        this.forgetKey(t);
        n++;
      }
    }
    this.d.pruned += n;
    return n;
  }

  /**
   * The table as of now, sharing its records with the live table: records
   * are copied on write (a change replaces the record), so a snapshot costs
   * a copy of the indexes, not of every task.
   */
  snapshot(): unknown {
    this.owner = {};
    const d = this.d;
    const out: TableSnapshot = { tasks: [...d.tasks], keys: [...d.keys], deadLetters: [...d.deadLetters], pruned: d.pruned };
    return out;
  }

  restore(data: unknown): void {
    this.owner = {};
    const s = data as TableSnapshot;
    const keys = new FifoMap<string, string>(this.limits.maxIdempotencyKeys);
    for (const [k, id] of s.keys) keys.set(k, id);
    const deadLetters = new FifoMap<string, TaskRecord>(this.limits.maxDeadLetters);
    for (const [id, t] of s.deadLetters) deadLetters.set(id, t);
    this.d = { tasks: new Map(s.tasks), keys, deadLetters, pruned: s.pruned };
  }

  /** The record to change: itself when only this table holds it, else a copy (copy on write). */
  private writable(t: TaskRecord): TaskRecord {
    if ((t as Stamped)[OWNER] === this.owner) return t;
    const copy = { ...t };
    stamp(copy, this.owner);
    return copy;
  }

  private refuse(out: TaskTransition[], index: number, c: TaskChange, t: TaskRecord | undefined, reason: string): void {
    out.push({ index, taskId: c.taskId, from: t?.status ?? null, to: t?.status ?? 'pending', attempt: t?.attempt ?? 0, worker: t?.worker ?? null, reason, rejected: true, change: c.kind });
  }

  private applyChange(change: TaskChange, index: number, out: TaskTransition[], admitResult?: ResultAdmission): void {
    let c = change;
    const current = this.d.tasks.get(c.taskId);
    if (current === undefined) return this.refuse(out, index, c, undefined, 'unknown task');
    const t = this.writable(current);
    // Changes from an execution apply only to that execution (a late result is refused, never forced).
    if ('worker' in c && c.kind !== 'assign' && c.kind !== 'reassign' && t.worker !== c.worker) {
      this.refuse(out, index, c, t, `from ${c.worker}, but the task is with ${t.worker ?? 'no worker'}`);
      return;
    }
    if ('attempt' in c && c.kind !== 'start' && c.attempt !== t.attempt) {
      this.refuse(out, index, c, t, `for attempt ${c.attempt}, but the task is on attempt ${t.attempt}`);
      return;
    }
    if (c.kind === 'start' && c.attempt !== t.attempt + 1) {
      this.refuse(out, index, c, t, `start of attempt ${c.attempt}, expected ${t.attempt + 1}`);
      return;
    }
    if (c.kind === 'complete') {
      const bad = proofMismatch(c);
      if (bad !== null) {
        this.refuse(out, index, c, t, `proof refused: ${bad}`);
        return;
      }
    }
    const from = t.status;
    let event = toEvent(c);
    let next = taskStepper.step(from, t, event);
    if (next === null) {
      this.refuse(out, index, c, t, `${event.type} not allowed in ${from}`);
      return;
    }
    if (c.kind === 'complete' && admitResult !== undefined) {
      const refused = admitResult(t, c.result);
      if (refused !== null) {
        c = { kind: 'fail', taskId: c.taskId, worker: c.worker, attempt: c.attempt, error: refused, retryable: false, retryAt: c.at, at: c.at };
        event = toEvent(c);
        next = taskStepper.step(from, t, event);
        if (next === null) throw new Error(`task table: a failure must be possible wherever a completion is (${from})`);
      }
    }
    if (t !== current) this.d.tasks.set(t.id, t); // (a copy, when the old record is shared with a snapshot)
    t.status = next as TaskStatus;
    this.inspection?.stepped(t.id, event, next, t);
    let reason: string | null = null;
    switch (c.kind) {
      case 'start':
        t.startedAt = c.at;
        t.progress = 0;
        break;
      case 'progress':
        t.progress = c.progress;
        break;
      case 'complete':
        t.result = c.result;
        t.proof = c.proof;
        t.progress = 1;
        break;
      case 'fail':
        t.error = c.error;
        reason = c.error;
        t.retryAt = next === 'retrying' ? c.retryAt : null;
        break;
      case 'timeout':
        reason = 'timeout';
        t.error = `attempt ${c.attempt} timed out after ${t.timeoutMs} ms`;
        t.retryAt = next === 'timedOut' ? c.retryAt : null;
        break;
      case 'cancel':
        reason = c.reason;
        break;
      case 'lost':
        reason = c.reason ?? `worker ${c.worker} lost`;
        break;
      case 'retry':
        t.retryAt = null;
        break;
    }
    if (FINAL_TASK_STATUSES.has(t.status)) {
      t.finishedAt = c.at;
      if (t.status === 'failed') this.addDeadLetter(t);
    }
    if (from !== t.status || c.kind === 'reassign' || c.kind === 'progress') {
      out.push({ index, taskId: t.id, from, to: t.status, attempt: t.attempt, worker: t.worker, reason, rejected: false, change: c.kind });
    }
  }

  private addDeadLetter(t: TaskRecord): void {
    this.d.tasks.delete(t.id);
    this.d.deadLetters.set(t.id, t); // the oldest goes past the limit
  }

  private rememberKey(key: string, id: string): void {
    this.d.keys.set(key, id); // the oldest goes past the limit
  }

  /**
   * A task gone from the table (pruned, or a dead letter resubmitted) frees
   * its idempotency key, as a queue that removes a job frees its id: a later
   * submission with the key runs, rather than resolving to a task nobody
   * can read any more.
   */
  private forgetKey(t: Readonly<TaskRecord>): void {
    const key = t.spec.idempotencyKey;
    if (key === undefined) return;
    const scoped = scopedKey(t.spec.tenant, key);
    if (this.d.keys.get(scoped) === t.id) this.d.keys.delete(scoped);
  }
}

/**
 * An idempotency key as the table remembers it: within its tenant, so that
 * one tenant's key never resolves another tenant's submission to its task
 * (which would hand the second tenant the first one's result). The
 * tenant's length first, so no tenant and key can spell another pair.
 */
function scopedKey(tenant: string, key: string): string {
  return `${tenant.length}:${tenant}:${key}`;
}

const OWNER = Symbol('taskTable.owner');
type Stamped = TaskRecord & { [OWNER]?: object };

/** Marks `record` as changeable in place by the table whose stamp is `owner`; not enumerable, so it never reaches a copy, an encoding or a comparison. */
function stamp(record: TaskRecord, owner: object): void {
  Object.defineProperty(record, OWNER, { value: owner, writable: true, enumerable: false, configurable: true });
}


function toEvent(c: TaskChange): TaskEvent {
  switch (c.kind) {
    case 'assign':
    case 'reassign':
      return { type: CHANGE_EVENTS[c.kind] as 'ASSIGN' | 'REASSIGN', worker: c.worker };
    case 'progress':
      return { type: 'PROGRESS', progress: c.progress };
    case 'fail':
      return { type: 'FAIL', retryable: c.retryable, error: c.error };
    case 'cancel':
      return { type: 'CANCEL', reason: c.reason };
    default:
      return { type: CHANGE_EVENTS[c.kind] } as TaskEvent;
  }
}
