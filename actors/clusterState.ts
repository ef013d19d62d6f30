import { membershipStepper } from '../machines/membershipTable.js';
import type { MemberStatus, MembershipContext, MembershipEvent } from '../machines/membership.js';
import type { LogEntry } from './raftTypes.js';
import type { TableInspection } from './chartInspection.js';
import { DEFAULT_KV_LIMITS, KvStore, type KvExpectation, type KvLimits, type KvSnapshot } from './kvStore.js';
import { expandTasks, type WireTask } from './wireTaskSpec.js';
import { completionsOf, DEFAULT_TASK_LIMITS, TaskTable, type ResultAdmission, type TaskChange, type TaskRecord, type TaskTableLimits, type TaskTransition } from './taskTable.js';
import { SessionAnswers } from './sessionAnswers.js';
import type { JoinTrust, MemberIdentity } from './joinAuthenticator.js';
import { DEFAULT_TENANT_QUOTA, quotaProblem, type TenantQuota } from './tenantQuota.js';
import { TenantBook, type TenantBookSnapshot, type TenantCounters, type TenantDenial, type TenantRejection, type TenantUsage } from './tenantBook.js';
import { dominantShare } from './drf.js';
import { expandProofBatch, type ProofBatchSignature } from './proofSignature.js';
import { commandShapeProblem } from '../system/commandCheck.js';

export { DEFAULT_TENANT_QUOTA, type TenantQuota } from './tenantQuota.js';

/** A tenant's books as a query answers them: its quota, what it did, what it holds and stores now, and its dominant share. */
export interface TenantStats extends TenantCounters, TenantUsage {
  tenant: string;
  quota: TenantQuota;
  /** Weighted dominant share of the registered workers' capacity its assigned and running tasks hold. */
  dominantShare: number;
}

/** The tenants registered at bootstrap. */
export const BOOTSTRAP_TENANTS = ['system', 'default'] as const;

/** Capacity a worker offers. */
export interface WorkerCapacity {
  cpu: number;
  memoryBytes: number;
}

export interface MemberRecord {
  node: string;
  status: MemberStatus;
  context: MembershipContext;
  /** Log index of the entry that last changed the member. */
  since: number;
  /**
   * Where the node accepts connections from its peers (`host:port`), as the
   * operator gave it with the join: how nodes that never heard of it reach
   * it. Absent for founding members (their peers are configured) and joins
   * without one.
   */
  address?: string;
  /** The key and attestation it joined with, when it joined through the join handshake. */
  identity?: MemberIdentity;
}

/**
 * The cluster's security policy and revocations, replicated: the least
 * trust a joining node's attestation must earn, whether a join must come
 * through the handshake, and the keys of blocked members (a blocked key
 * cannot come back under another name).
 */
export interface SecurityRecord {
  minTrust: JoinTrust;
  requireAuthenticatedJoin: boolean;
  /** Fingerprints of blocked keys, with why, in the order they were blocked. */
  blockedKeys: Array<{ fingerprint: string; node: string; reason: string | null }>;
}

/** The policy of a cluster that never set one: software attestation at least; joins without the handshake are allowed (as before Grey had one). */
export const DEFAULT_SECURITY: Readonly<Omit<SecurityRecord, 'blockedKeys'>> = Object.freeze({ minTrust: 'software', requireAuthenticatedJoin: false });

export interface TenantRecord {
  tenant: string;
  quota: TenantQuota;
  since: number;
}

export interface WorkerRecord {
  worker: string;
  capacity: WorkerCapacity;
  since: number;
  /** The worker is shutting down: it takes no new tasks (until it registers again, after a restart). */
  draining?: boolean;
}

/** Commands of the replicated state machine (the `command` of a log entry). */
export type ClusterCommand =
  | { op: 'bootstrap'; voters: string[]; security?: { minTrust: JoinTrust; requireAuthenticatedJoin: boolean }; identities?: Record<string, MemberIdentity> }
  /** A node asks to join; `address` (`host:port`) is where the other nodes can reach it. */
  | { op: 'join'; node: string; address?: string; identity?: MemberIdentity }
  | { op: 'approve'; node: string }
  | { op: 'reject'; node: string; reason?: string }
  | { op: 'promote'; node: string }
  | { op: 'demote'; node: string }
  | { op: 'remove'; node: string; reason?: string }
  | { op: 'block'; node: string; reason?: string }
  /** Sets the security policy (operators); fields left out keep their value. */
  | { op: 'setSecurityPolicy'; minTrust?: JoinTrust; requireAuthenticatedJoin?: boolean }
  | { op: 'unblock'; node: string }
  | { op: 'registerTenant'; tenant: string; quota?: Partial<TenantQuota> }
  | { op: 'registerWorker'; worker: string; capacity: WorkerCapacity }
  /**
   * Submissions; admitted all or none (tenant registered, within its quota
   * and rate). With `tenant`, the request acts for that tenant only: a task
   * of another tenant refuses the whole request (`Unauthorized`). Specs
   * travel in their wire form (see `wireTaskSpec.ts`).
   */
  | { op: 'submitTasks'; tasks: WireTask[]; tenant?: string }
  /**
   * Lifecycle changes. With `tenant`, every task changed must be that
   * tenant's, or nothing applies (`Unauthorized`). With `proofBatch` (from
   * the worker that ran the tasks), the completions' proofs come unsigned
   * and one batch signature covers them all: each is stored with its
   * signature and inclusion path, rebuilt here (see `ProofBatchSignature`).
   */
  | { op: 'taskChanges'; changes: TaskChange[]; tenant?: string; proofBatch?: ProofBatchSignature }
  | { op: 'pruneTasks'; before: number }
  /** A worker going away gracefully: no new tasks for it; what it runs finishes or is handed back. */
  | { op: 'drainWorker'; worker: string }
  | { op: 'put'; key: string; value: unknown }
  /** Removes a key; answers `{ deleted, revision }`. */
  | { op: 'delete'; key: string }
  /** Puts `value` when the key meets `expect`; answers `{ applied, revision }` (the key's revision after, 0 when absent). */
  | { op: 'cas'; key: string; expect: KvExpectation; value: unknown }
  /**
   * Settles whether request `seq` of session `client` took effect: answers
   * its result if it was applied, and otherwise records it as fenced, so
   * that the request, should it arrive later, is refused and never applied.
   */
  | { op: 'fence'; client: string; seq: number }
  | { op: 'noop' };

/** The answer to a `fence` command. */
export type FenceAnswer = { applied: true; index: number; result: ApplyResult } | { applied: false };

/** A command with its client session (dissertation §6.3): applied once per (client, seq). */
export interface SessionCommand {
  client?: string;
  seq?: number;
  /**
   * The lowest request number the client still awaits an answer for: the
   * session may forget every answer below it (the client will not retry
   * those). Lets a client have several requests in flight.
   */
  firstUnanswered?: number;
  cmd: ClusterCommand;
}

/**
 * Client requests the leader folded into one log entry: those that reached
 * it at the same instant. Each is applied in order, with its own session
 * and its own answer; they share the entry's index.
 */
export interface BatchCommand {
  batch: SessionCommand[];
}

/** The session commands an entry's command carries: itself, or the batch's. */
export function sessionCommandsOf(command: unknown): readonly SessionCommand[] {
  if (command === null || typeof command !== 'object') return [];
  const batch = (command as Partial<BatchCommand>).batch;
  return Array.isArray(batch) ? batch : [command as SessionCommand];
}

/** Stable error codes of applied commands. */
export type ApplyErrorCode =
  | 'InvalidTransition' | 'UnknownMember' | 'UnknownTenant' | 'TaskNotFound' | 'StaleRequest' | 'SessionExpired' | 'InvalidCommand' | 'Fenced' | 'Revoked' | 'NameTaken' | 'Unauthenticated'
  | 'QuotaExceeded' | 'RateLimited' | 'Unauthorized';

/** The outcome of applying one command; errors are part of the replicated state too. */
export type ApplyResult = ({ ok: true; value?: unknown } | { ok: false; code: ApplyErrorCode; message: string; /** For `RateLimited`: when the tenant's rate will allow the request. */ retryAfterMs?: number }) & {
  /** For a session request answered again (a retry): the log index where it took effect. */
  appliedIndex?: number;
};

/** A refused transition, recorded (never forced). */
export interface RejectedTransition {
  index: number;
  kind: 'member';
  id: string;
  from: string;
  event: string;
}

interface Session {
  /** Answers by request number, kept until the client says it has them. */
  answers: SessionAnswers<ApplyResult>;
  /** Every request below this was answered and forgotten. */
  forgottenBelow: number;
  lastIndex: number;
  /** The highest request number answered: answers lie in forgottenBelow..top, so their count is bounded without listing them. */
  top?: number;
}

/** Limits that keep the replicated state bounded (TigerBeetle style: every table has one). */
export interface ClusterStateLimits {
  maxSessions: number;
  /** Answers one session keeps for requests still in flight. */
  maxAnswersPerSession: number;
  maxRejectedKept: number;
  tasks: TaskTableLimits;
  kv: KvLimits;
}

const DEFAULT_LIMITS: ClusterStateLimits = { maxSessions: 10_000, maxAnswersPerSession: 1_000, maxRejectedKept: 1_000, tasks: DEFAULT_TASK_LIMITS, kv: DEFAULT_KV_LIMITS };

interface StateData {
  members: Record<string, MemberRecord>;
  tenants: Record<string, TenantRecord>;
  workers: Record<string, WorkerRecord>;
  tasks: unknown;
  /** The key-value store, in a snapshot (live in {@link KvStore} otherwise, like the task table). */
  kv: KvSnapshot | null;
  /** Client sessions (a Map in memory: thousands of them, added and evicted; entry lists in a snapshot). */
  sessions: Map<string, Session>;
  /** Ids of evicted sessions, oldest first (bounded): a request for one of them gets `SessionExpired`. */
  expired: string[];
  rejected: RejectedTransition[];
  appliedIndex: number;
  /** Absent until a policy is set or a key blocked (and in snapshots from before). */
  security?: SecurityRecord;
}

function emptyState(): StateData {
  return { members: {}, tenants: {}, workers: {}, tasks: null, kv: null, sessions: new Map(), expired: [], rejected: [], appliedIndex: 0 };
}

/** A session as a snapshot holds it: plain data, answers as an entry list. */
interface SessionSnapshot {
  answers: [number, ApplyResult][];
  forgottenBelow: number;
  lastIndex: number;
  top?: number;
}

/** The state as a snapshot holds it: sessions as an entry list. */
type StateSnapshot = Omit<StateData, 'sessions'> & { sessions: [string, SessionSnapshot][]; tenantBook?: TenantBookSnapshot };

/**
 * A copy of the state that shares nothing that changes in place: members,
 * tenants, workers and sessions are copied; values of the key-value store
 * and recorded answers are replaced, never changed, so they are shared.
 */
function forkState<S extends StateData | StateSnapshot>(s: StateData | StateSnapshot, sessions: S['sessions']): S {
  return {
    members: structuredClone(s.members),
    tenants: structuredClone(s.tenants),
    workers: structuredClone(s.workers),
    tasks: s.tasks,
    kv: s.kv,
    sessions,
    expired: [...(s.expired ?? [])],
    rejected: [...s.rejected],
    appliedIndex: s.appliedIndex,
    ...(s.security ? { security: structuredClone(s.security) } : {}),
  } as S;
}

function snapshotOf(s: StateData): StateSnapshot {
  const sessions: [string, SessionSnapshot][] = [];
  for (const [id, sess] of s.sessions) {
    sessions.push([id, { answers: sess.answers.entries(), forgottenBelow: sess.forgottenBelow, lastIndex: sess.lastIndex, ...(sess.top !== undefined ? { top: sess.top } : {}) }]);
  }
  return forkState<StateSnapshot>(s, sessions);
}

function stateOf(d: StateSnapshot): StateData {
  const sessions = new Map<string, Session>();
  for (const [id, sess] of d.sessions) sessions.set(id, { answers: SessionAnswers.from(sess.answers), forgottenBelow: sess.forgottenBelow, lastIndex: sess.lastIndex, ...(sess.top !== undefined ? { top: sess.top } : {}) });
  return forkState<StateData>(d, sessions);
}

const MEMBER_EVENTS: Record<string, MembershipEvent['type']> = {
  join: 'REQUEST_JOIN',
  approve: 'APPROVE',
  reject: 'REJECT',
  promote: 'PROMOTE',
  demote: 'DEMOTE',
  remove: 'REMOVE',
  block: 'BLOCK',
  unblock: 'UNBLOCK',
};

/**
 * The replicated state machine of a Grey cluster: members and their
 * approval workflow, tenants and quotas, workers, task records, and client
 * sessions. Every node folds the same committed commands through it in log
 * order; applying is a pure function of the state and the entry (no clock,
 * no randomness: whatever depends on them is in the command).
 */
export class ClusterState {
  private s: StateData = emptyState();
  /** An upper bound of the sessions held (exact after each eviction pass): evicting is checked only past the limit. */
  private readonly limits: ClusterStateLimits;
  /** The task table (its data is part of the snapshot). */
  readonly taskTable: TaskTable;
  /** The key-value store (`put`, `delete`, `cas`; reads through named queries). */
  readonly kv: KvStore;
  /** Each tenant's admission state and books (its data is part of the snapshot). */
  readonly tenantBook: TenantBook;
  /** Who hears of refusals decided here (the node's audit log, metrics). Local. */
  private readonly denialListeners: Array<(denial: TenantDenial) => void> = [];
  /** A registered tenant's quota (one function for every admission, not a closure per request). */
  private readonly quotaOf = (tenant: string): Readonly<TenantQuota> | undefined => this.s.tenants[tenant]?.quota;
  /** The log index of the `taskChanges` entry being applied (read by {@link ClusterState.admitResult}). */
  private changeIndex = 0;
  /** Whether a completion's result fits its tenant's storage quota (one function for every entry: the hot path makes no closure). */
  private readonly admitResult: ResultAdmission = (task, result) => {
    if (result === null || result === undefined) return null; // (stores nothing: no quota to look up)
    const refused = this.tenantBook.admitResult(task, result, this.quotaOf(task.spec.tenant));
    if (refused !== null) this.deny({ index: this.changeIndex, tenant: task.spec.tenant, code: 'QuotaExceeded', reason: `task ${task.id}: ${refused}`, client: this.applying, op: 'taskChanges' });
    return refused;
  };
  /** The session of the request being applied, for whom a refusal names. */
  private applying: string | null = null;

  /**
   * Counts applied changes to the tenant records (registrations, quota
   * updates, restores): the leader's scheduler re-reads quotas only when it
   * moved. Local, not replicated.
   */
  tenantChanges = 0;
  /** Task status changes applied or refused since the last {@link ClusterState.takeChanges}. */
  private transitions: TaskTransition[] = [];
  /** Member status changes since the last {@link ClusterState.takeChanges}. */
  private memberChanges: Array<{ index: number; node: string; status: MemberStatus }> = [];

  /**
   * Counts applied changes to the worker records (registrations, drains,
   * restores): the leader's task controller re-reads availability only when
   * it moved, not on every entry. Local, not replicated.
   */
  workerChanges = 0;

  /** Where each member's membership steps are reported, when the node is inspected. */
  memberInspection: TableInspection | null = null;

  constructor(limits: Partial<ClusterStateLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.taskTable = new TaskTable(this.limits.tasks);
    this.kv = new KvStore(this.limits.kv);
    this.tenantBook = new TenantBook(this.taskTable);
  }

  /**
   * Calls `listener` with every refusal of a tenant's request decided here:
   * at apply (the same on every replica: quota, rate, cross-tenant
   * commands) and in scoped reads (this node only). Returns the unsubscribe.
   */
  onDenial(listener: (denial: TenantDenial) => void): () => void {
    this.denialListeners.push(listener);
    return () => {
      const i = this.denialListeners.indexOf(listener);
      if (i >= 0) this.denialListeners.splice(i, 1);
    };
  }

  /** Records a refusal decided at apply: counted in the tenant's books (when it is registered) and passed to the listeners. */
  private deny(denial: TenantDenial): void {
    if (this.s.tenants[denial.tenant]) this.tenantBook.reject(denial.tenant, denial.code);
    for (const l of this.denialListeners) l(denial);
  }

  /**
   * Reports a refusal decided by a read on this node (a scoped read of
   * another tenant's task) to the listeners. Not counted in the replicated
   * books: a read changes nothing every replica shares.
   */
  denyRead(denial: TenantDenial): void {
    for (const l of this.denialListeners) l(denial);
  }

  /** What the last applies changed (task transitions, member statuses); clears the lists. */
  takeChanges(): { tasks: TaskTransition[]; members: Array<{ index: number; node: string; status: MemberStatus }> } {
    const out = { tasks: this.transitions, members: this.memberChanges };
    if (out.tasks.length > 0) this.transitions = [];
    if (out.members.length > 0) this.memberChanges = [];
    return out;
  }

  // ---------------------------------------------------------------- queries
  /** The security policy in force. */
  get securityPolicy(): Readonly<Omit<SecurityRecord, 'blockedKeys'>> {
    const sec = this.s.security;
    return sec ? { minTrust: sec.minTrust, requireAuthenticatedJoin: sec.requireAuthenticatedJoin } : DEFAULT_SECURITY;
  }

  /** Why node `name`, or the key `fingerprint`, is blocked; null when neither is. */
  blockedReason(name: string, fingerprint: string | null): string | null {
    const m = this.s.members[name];
    if (m?.status === 'blocked') return `${name} is blocked${m.context.reason ? `: ${m.context.reason}` : ''}`;
    if (fingerprint === null) return null;
    const k = this.s.security?.blockedKeys.find((b) => b.fingerprint === fingerprint);
    return k ? `key ${fingerprint.slice(0, 12)}… is blocked (it was ${k.node}'s${k.reason ? `: ${k.reason}` : ''})` : null;
  }

  member(node: string): Readonly<MemberRecord> | undefined {
    return this.s.members[node];
  }
  members(): Readonly<MemberRecord>[] {
    return Object.values(this.s.members);
  }
  tenant(id: string): Readonly<TenantRecord> | undefined {
    return this.s.tenants[id];
  }
  tenants(): Readonly<TenantRecord>[] {
    return Object.values(this.s.tenants);
  }

  /** A registered tenant's books: counters, what it holds and stores, its dominant share (copies); undefined when not registered. */
  tenantStats(id: string): TenantStats | undefined {
    const t = this.s.tenants[id];
    if (!t) return undefined;
    const counters = structuredClone(this.tenantBook.countersOf(id));
    const usage = this.tenantBook.usageOf(id);
    // Over every registered worker, as the leader's scheduler counts shares.
    let cpu = 0;
    let memory = 0;
    for (const w of Object.values(this.s.workers)) {
      cpu += Math.round(w.capacity.cpu * 1000);
      memory += w.capacity.memoryBytes;
    }
    return { tenant: id, quota: { ...t.quota }, ...counters, ...usage, dominantShare: dominantShare(usage.heldMilliCpu, usage.heldMemoryBytes, cpu, memory, t.quota.priorityWeight) };
  }
  worker(id: string): Readonly<WorkerRecord> | undefined {
    return this.s.workers[id];
  }
  workers(): Readonly<WorkerRecord>[] {
    return Object.values(this.s.workers);
  }
  task(id: string): Readonly<TaskRecord> | undefined {
    return this.taskTable.get(id);
  }
  tasks(): Readonly<TaskRecord>[] {
    return this.taskTable.all();
  }
  get(key: string): unknown {
    return this.kv.value(key);
  }
  get rejected(): readonly RejectedTransition[] {
    return this.s.rejected;
  }
  get appliedIndex(): number {
    return this.s.appliedIndex;
  }

  // ---------------------------------------------------------------- the state machine
  /** Applies an entry's command: one answer, or one per request of a {@link BatchCommand}, in order. */
  apply(entry: LogEntry & { payload: { kind: 'command' } }): ApplyResult | ApplyResult[] {
    this.s.appliedIndex = entry.index;
    const command = entry.payload.command as SessionCommand | BatchCommand;
    if (command !== null && typeof command === 'object' && Array.isArray((command as BatchCommand).batch)) {
      const batch = (command as BatchCommand).batch;
      const out: ApplyResult[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) out[i] = this.applySession(batch[i], entry.index);
      return out;
    }
    return this.applySession(command as SessionCommand, entry.index);
  }

  /**
   * Whether the cluster already decided request `seq` of session `client`:
   * its answer is kept, it was answered and forgotten, or the session was
   * forgotten. Proposing such a request again applies nothing new (the
   * session answers it), so a leader shedding load must let it through.
   */
  decided(client: string, seq: number): boolean {
    const session = this.s.sessions.get(client);
    if (!session) return (this.s.expired ?? []).includes(client);
    return seq < session.forgottenBelow || session.answers.get(seq) !== undefined;
  }

  private applySession(sc: SessionCommand, index: number): ApplyResult {
    if (!sc || typeof sc !== 'object' || !sc.cmd) return { ok: false, code: 'InvalidCommand', message: `entry ${index} has no command` };
    if (sc.client !== undefined && sc.seq !== undefined) {
      let session = this.s.sessions.get(sc.client);
      if (!session) {
        // A request of a session this state evicted: its earlier requests may
        // have taken effect, so nothing of it can be applied as new. Evicted
        // ids are remembered for the next `maxSessions` evictions.
        if ((this.s.expired ?? []).includes(sc.client)) {
          return { ok: false, code: 'SessionExpired', message: `session ${sc.client} was forgotten by the cluster (request ${sc.seq}); it may have taken effect before. Open a new session` };
        }
        session = { answers: new SessionAnswers(), forgottenBelow: 0, lastIndex: index, top: sc.seq };
        this.s.sessions.set(sc.client, session);
        this.evictSessions();
      }
      session.lastIndex = index;
      // The client has every answer below this: forget them (§6.3).
      if (sc.firstUnanswered !== undefined && sc.firstUnanswered > session.forgottenBelow) {
        const below = sc.firstUnanswered;
        session.answers.forgetBelow(below);
        session.forgottenBelow = below;
      }
      const known = session.answers.get(sc.seq);
      // A retried request: answer as the first time, apply nothing.
      if (known !== undefined) return known;
      if (sc.seq < session.forgottenBelow) {
        // Only a client that already had the answer can send this; it is a late duplicate.
        return { ok: false, code: 'StaleRequest', message: `request ${sc.seq} of ${sc.client} was answered before and forgotten` };
      }
      this.applying = sc.client;
      const result = this.applyCommand(sc.cmd, index);
      this.applying = null;
      // Built field by field: an object spread here was the costliest line of apply.
      const answer: ApplyResult = result.ok
        ? 'value' in result
          ? { ok: true, value: result.value, appliedIndex: index }
          : { ok: true, appliedIndex: index }
        : result.retryAfterMs === undefined
          ? { ok: false, code: result.code, message: result.message, appliedIndex: index }
          : { ok: false, code: result.code, message: result.message, retryAfterMs: result.retryAfterMs, appliedIndex: index };
      session.answers.set(sc.seq, answer);
      this.boundAnswers(session, sc.seq);
      return answer;
    }
    return this.applyCommand(sc.cmd, index);
  }

  /**
   * The state as of now. Task records are copied on write and shared; the
   * small tables that change in place are copied, so a snapshot costs far
   * less than a deep copy of every task.
   */
  snapshot(): unknown {
    return { ...snapshotOf(this.s), tasks: this.taskTable.snapshot(), kv: this.kv.snapshot(), tenantBook: this.tenantBook.snapshot() };
  }

  restore(data: unknown): void {
    this.s = stateOf(data as StateSnapshot);
    this.workerChanges++;
    this.tenantChanges++;
    this.taskTable.restore(this.s.tasks);
    this.s.tasks = null;
    this.tenantBook.restore((data as StateSnapshot).tenantBook);
    this.kv.restore(this.s.kv ?? undefined);
    this.s.kv = null;
  }

  private applyCommand(cmd: ClusterCommand, index: number): ApplyResult {
    const problem = commandShapeProblem(cmd);
    if (problem !== null) return { ok: false, code: 'InvalidCommand', message: problem };
    switch (cmd.op) {
      case 'noop':
        return { ok: true };
      case 'bootstrap': {
        for (const node of cmd.voters) {
          if (this.s.members[node]) continue;
          const m = (this.s.members[node] = this.newMember(node, index));
          const identity = cmd.identities?.[node];
          if (identity) m.identity = { ...identity };
          this.stepMember(m, { type: 'BOOTSTRAP' }, index);
        }
        if (cmd.security && !this.s.security) this.s.security = { minTrust: cmd.security.minTrust, requireAuthenticatedJoin: cmd.security.requireAuthenticatedJoin, blockedKeys: [] };
        for (const tenant of BOOTSTRAP_TENANTS) {
          if (!this.s.tenants[tenant]) this.s.tenants[tenant] = { tenant, quota: { ...DEFAULT_TENANT_QUOTA }, since: index };
        }
        this.tenantChanges++;
        return { ok: true };
      }
      case 'join': {
        const existing = this.s.members[cmd.node];
        const refused = this.joinRefusal(cmd, existing);
        if (refused !== null) return refused;
        if (!existing) {
          const m = (this.s.members[cmd.node] = this.newMember(cmd.node, index));
          if (cmd.address !== undefined) m.address = cmd.address;
          if (cmd.identity !== undefined) m.identity = { ...cmd.identity };
          this.memberChanges.push({ index, node: cmd.node, status: 'pendingApproval' });
          return { ok: true, value: 'pendingApproval' };
        }
        const stepped = this.stepMember(existing, { type: 'REQUEST_JOIN' }, index);
        // A node that joins again may have moved: the address of the accepted join is the one to dial.
        if (stepped.ok && cmd.address !== undefined) existing.address = cmd.address;
        if (stepped.ok && cmd.identity !== undefined) existing.identity = { ...cmd.identity };
        return stepped;
      }
      case 'approve':
      case 'promote':
      case 'demote':
      case 'unblock':
      case 'reject':
      case 'remove':
      case 'block': {
        const m = this.s.members[cmd.node];
        if (!m) {
          if (cmd.op !== 'block') return { ok: false, code: 'UnknownMember', message: `no member '${cmd.node}'` };
          // A node can be blocked before it ever asks to join.
          return this.stepMember((this.s.members[cmd.node] = this.newMember(cmd.node, index)), { type: 'BLOCK', reason: cmd.reason }, index);
        }
        const type = MEMBER_EVENTS[cmd.op];
        const event = { type, reason: 'reason' in cmd ? cmd.reason : undefined } as MembershipEvent;
        const stepped = this.stepMember(m, event, index);
        if (stepped.ok && m.identity && (cmd.op === 'block' || cmd.op === 'unblock')) this.setKeyBlocked(m, cmd.op === 'block' ? (cmd.reason ?? null) : undefined);
        return stepped;
      }
      case 'setSecurityPolicy': {
        const sec = this.security();
        if (cmd.minTrust !== undefined) {
          if (!['hardware', 'software', 'none'].includes(cmd.minTrust)) return { ok: false, code: 'InvalidCommand', message: `minTrust must be hardware, software or none, got ${String(cmd.minTrust)}` };
          sec.minTrust = cmd.minTrust;
        }
        if (cmd.requireAuthenticatedJoin !== undefined) sec.requireAuthenticatedJoin = cmd.requireAuthenticatedJoin === true;
        return { ok: true, value: { minTrust: sec.minTrust, requireAuthenticatedJoin: sec.requireAuthenticatedJoin } };
      }
      case 'registerTenant': {
        // Registers a tenant, or updates a registered one's quota: fields left out keep their value.
        const problem = quotaProblem(cmd.quota);
        if (problem !== null) return { ok: false, code: 'InvalidCommand', message: `registerTenant ${cmd.tenant}: ${problem}` };
        const quota = { ...DEFAULT_TENANT_QUOTA, ...(this.s.tenants[cmd.tenant]?.quota ?? {}), ...cmd.quota };
        this.s.tenants[cmd.tenant] = { tenant: cmd.tenant, quota, since: index };
        this.tenantChanges++;
        return { ok: true };
      }
      case 'registerWorker': {
        this.s.workers[cmd.worker] = { worker: cmd.worker, capacity: { ...cmd.capacity }, since: index };
        this.workerChanges++;
        return { ok: true };
      }
      case 'drainWorker': {
        const w = this.s.workers[cmd.worker];
        if (w) this.s.workers[cmd.worker] = { ...w, draining: true, since: index };
        this.workerChanges++;
        return { ok: true };
      }
      case 'submitTasks': {
        const tasks = expandTasks(cmd.tasks);
        if (cmd.tenant !== undefined) {
          const other = tasks.find((t) => t.spec.tenant !== cmd.tenant);
          if (other) return this.crossTenant(index, cmd.tenant, 'submitTasks', `a request acting for tenant '${cmd.tenant}' submits task ${other.id} for tenant '${other.spec.tenant}'`);
        }
        const admission = this.tenantBook.admit(tasks, this.quotaOf);
        if (!admission.ok) {
          if (admission.code !== 'UnknownTenant') {
            this.deny({ index, tenant: admission.tenant, code: admission.code, reason: admission.message, client: this.applying, op: 'submitTasks', ...(admission.retryAfterMs !== undefined ? { retryAfterMs: admission.retryAfterMs } : {}) });
          }
          return admission.retryAfterMs === undefined
            ? { ok: false, code: admission.code, message: admission.message }
            : { ok: false, code: admission.code, message: admission.message, retryAfterMs: admission.retryAfterMs };
        }
        const before = this.transitions.length;
        const ids = this.taskTable.submit(tasks, index, this.transitions);
        let resubmitted: string[] | undefined;
        for (const t of tasks) if (t.resubmitOf !== undefined) (resubmitted ??= []).push(t.resubmitOf);
        this.tenantBook.account(this.transitions, before, resubmitted);
        return { ok: true, value: ids };
      }
      case 'taskChanges': {
        if (cmd.tenant !== undefined) {
          for (const c of cmd.changes) {
            const owner = this.taskTable.get(c.taskId)?.spec.tenant;
            if (owner !== undefined && owner !== cmd.tenant) return this.crossTenant(index, cmd.tenant, 'taskChanges', `a request acting for tenant '${cmd.tenant}' asks to ${c.kind} task ${c.taskId} of another tenant`);
          }
        }
        let changes = cmd.changes;
        if (cmd.proofBatch !== undefined) {
          const signed = withBatchProofs(changes, cmd.proofBatch);
          if (signed === null) return { ok: false, code: 'InvalidCommand', message: 'taskChanges: the proof batch does not match its completions (one 32-byte leaf per completion, at least two)' };
          changes = signed;
        }
        const before = this.transitions.length;
        this.tenantBook.beginResults();
        this.changeIndex = index;
        this.taskTable.change(changes, index, this.transitions, this.admitResult);
        this.tenantBook.account(this.transitions, before);
        const refused = this.transitions.slice(before).filter((t) => t.rejected);
        if (cmd.changes.length === 1 && refused.length === 1) {
          const r = refused[0];
          return { ok: false, code: r.from === null ? 'TaskNotFound' : 'InvalidTransition', message: `task ${r.taskId}: ${r.change} refused (${r.reason})` };
        }
        return { ok: true, value: { refused: refused.length } };
      }
      case 'pruneTasks': {
        const pruned = this.taskTable.prune(cmd.before);
        if (pruned > 0) this.tenantBook.pruned();
        return { ok: true, value: pruned };
      }
      case 'put':
        return { ok: true, value: this.kv.put(cmd.key, cmd.value) };
      case 'delete':
        return { ok: true, value: this.kv.delete(cmd.key) };
      case 'cas':
        return { ok: true, value: this.kv.cas(cmd.key, cmd.expect, cmd.value) };
      case 'fence':
        return this.fence(cmd.client, cmd.seq, index);
      default:
        return { ok: false, code: 'InvalidCommand', message: `unknown op '${(cmd as { op: string }).op}'` };
    }
  }

  /** Refuses a request of `tenant` that reaches into another tenant's tasks: nothing of it applies, and it is recorded. */
  private crossTenant(index: number, tenant: string, op: string, reason: string): ApplyResult {
    this.deny({ index, tenant, code: 'Unauthorized', reason, client: this.applying, op });
    return { ok: false, code: 'Unauthorized', message: reason };
  }

  private fence(client: string, seq: number, index: number): ApplyResult {
    let session = this.s.sessions.get(client);
    if (!session) {
      if ((this.s.expired ?? []).includes(client)) {
        return { ok: false, code: 'SessionExpired', message: `session ${client} was forgotten by the cluster: whether request ${seq} took effect is unknown` };
      }
      session = { answers: new SessionAnswers(), forgottenBelow: 0, lastIndex: index, top: seq };
      this.s.sessions.set(client, session);
      this.evictSessions();
    }
    session.lastIndex = index;
    const known = session.answers.get(seq);
    if (known !== undefined) {
      const answer: FenceAnswer = known.ok === false && known.code === 'Fenced' ? { applied: false } : { applied: true, index: known.appliedIndex ?? index, result: known };
      return { ok: true, value: answer };
    }
    if (seq < session.forgottenBelow) {
      return { ok: false, code: 'StaleRequest', message: `request ${seq} of ${client} was answered and its answer forgotten (the client had it)` };
    }
    session.answers.set(seq, { ok: false, code: 'Fenced', message: `request ${seq} of ${client} was fenced at index ${index} before it arrived: it never took effect`, appliedIndex: index });
    this.boundAnswers(session, seq);
    return { ok: true, value: { applied: false } satisfies FenceAnswer };
  }

  private security(): SecurityRecord {
    return (this.s.security ??= { ...DEFAULT_SECURITY, blockedKeys: [] });
  }

  /** Blocks (reason given) or unblocks (undefined) the key member `m` joined with. */
  private setKeyBlocked(m: MemberRecord, reason: string | null | undefined): void {
    const keys = this.security().blockedKeys;
    const fp = m.identity!.fingerprint;
    const i = keys.findIndex((k) => k.fingerprint === fp);
    if (i >= 0) keys.splice(i, 1);
    if (reason !== undefined) keys.push({ fingerprint: fp, node: m.node, reason });
  }

  /**
   * Why a join cannot be applied, checked again at apply so every replica
   * agrees whatever the member that authenticated it saw: a blocked key,
   * a name held by a live member with another key, or (when the policy
   * requires the handshake) no authenticated identity.
   */
  private joinRefusal(cmd: Extract<ClusterCommand, { op: 'join' }>, existing: MemberRecord | undefined): ApplyResult | null {
    const id = cmd.identity;
    if (id !== undefined) {
      const blocked = this.blockedReason(cmd.node, id.fingerprint);
      if (blocked !== null && existing?.status !== 'blocked') return { ok: false, code: 'Revoked', message: blocked };
      if (existing && existing.status !== 'removed' && existing.status !== 'rejected' && existing.identity?.fingerprint !== id.fingerprint) {
        return { ok: false, code: 'NameTaken', message: `${cmd.node} is a ${existing.status} member with another key` };
      }
      return null;
    }
    if (this.securityPolicy.requireAuthenticatedJoin && !existing?.identity) {
      return { ok: false, code: 'Unauthenticated', message: `${cmd.node} must join through the join handshake (certificate, challenge, attestation)` };
    }
    return null;
  }

  private newMember(node: string, index: number): MemberRecord {
    const m: MemberRecord = { node, status: 'pendingApproval', context: { reason: null }, since: index };
    this.memberInspection?.created(node, m.status, m.context);
    return m;
  }

  private stepMember(m: MemberRecord, event: MembershipEvent, index: number): ApplyResult {
    const next = membershipStepper.step(m.status, m.context, event);
    if (next === null) {
      this.recordRejected({ index, kind: 'member', id: m.node, from: m.status, event: event.type });
      return { ok: false, code: 'InvalidTransition', message: `member ${m.node} is ${m.status}: ${event.type} is not allowed` };
    }
    m.status = next as MemberStatus;
    m.since = index;
    this.memberInspection?.stepped(m.node, event, m.status, m.context);
    this.memberChanges.push({ index, node: m.node, status: m.status });
    return { ok: true, value: m.status };
  }

  private recordRejected(r: RejectedTransition): void {
    this.s.rejected.push(r);
    if (this.s.rejected.length > this.limits.maxRejectedKept) this.s.rejected.splice(0, this.s.rejected.length - this.limits.maxRejectedKept);
  }

  /** A session keeps at most `maxAnswersPerSession` answers (a client with more in flight loses the oldest). */
  private boundAnswers(session: Session, seq: number): void {
    session.top = Math.max(seq, session.top ?? session.answers.last ?? seq);
    const excess = session.answers.size - this.limits.maxAnswersPerSession;
    if (excess <= 0) return;
    const dropped = session.answers.entries()[excess - 1][0];
    session.answers.dropFirst(excess);
    session.forgottenBelow = Math.max(session.forgottenBelow, dropped + 1);
  }

  private evictSessions(): void {
    const sessions = this.s.sessions;
    if (sessions.size <= this.limits.maxSessions) return;
    // Deterministic: the least recently used session goes (ties by id).
    const ids = [...sessions.keys()].sort((a, b) => sessions.get(a)!.lastIndex - sessions.get(b)!.lastIndex || (a < b ? -1 : 1));
    const expired = (this.s.expired ??= []);
    for (const id of ids.slice(0, ids.length - this.limits.maxSessions)) {
      sessions.delete(id);
      expired.push(id);
    }
    if (expired.length > this.limits.maxSessions) expired.splice(0, expired.length - this.limits.maxSessions);
  }
}

/**
 * The changes of a report whose completions were signed as one batch, each
 * completion now carrying its signed proof: copies (the command is the log
 * entry's, and stays as it was written). `null` when the batch does not fit.
 */
function withBatchProofs(changes: readonly TaskChange[], batch: ProofBatchSignature): TaskChange[] | null {
  const completions = completionsOf(changes);
  const signed = expandProofBatch(completions.map((c) => c.proof), batch);
  if (signed === null) return null;
  let k = 0;
  return changes.map((c) => (c.kind === 'complete' ? { ...c, proof: signed[k++] } : c));
}
