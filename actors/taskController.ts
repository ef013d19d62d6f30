import type { Clock, TimerHandle } from '../system/clock.js';
import type { AppliedChanges, ClusterNode } from './clusterNode.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';
import type { TenantRecord } from './clusterState.js';
import type { TaskChange, TaskRecord } from './taskTable.js';

/** Options of the leader's task controller. */
export interface TaskControllerOptions extends SchedulerOptions {
  /** How often the controller looks for stalls, stealing and pruning (ms). */
  tickMs?: number;
  /** Assignments per entry, at most. */
  maxAssignPerEntry?: number;
  /** A running task this long past its deadline with no report is timed out by the leader (ms). */
  stallGraceMs?: number;
  /** Finished tasks are pruned from the hot table this long after they finished (ms); 0 keeps them. */
  retentionMs?: number;
  /**
   * Load shedding: the leader refuses submissions that would take the tasks
   * waiting to run past this many (`Backpressure`), before it is overloaded.
   */
  maxPendingTasks?: number;
}

// A replicated start takes a round trip, so a worker must be able to hold a
// good number of assigned-but-not-started tasks or placement stalls on it.
const DEFAULTS = { maxPendingTasks: 1_000_000, tickMs: 100, maxAssignPerEntry: 1_024, stallGraceMs: 1_000, retentionMs: 60_000, maxQueuedPerWorker: 256 };

/**
 * What the leader does for tasks: keeps a scheduler in step with the
 * replicated table, assigns pending tasks to workers (written into the log,
 * so every node applies the same choice), releases retries when their
 * backoff is over, lets idle workers steal queued work, times out stalled
 * attempts, and prunes finished tasks. Lost workers are the recovery
 * manager's business: it marks them unavailable here and requeues their work. Only the leader acts; a new leader rebuilds its
 * view from the replicated table, so nothing depends on the old one.
 */
export class TaskController {
  private readonly o: typeof DEFAULTS & SchedulerOptions;
  private scheduler: Scheduler | null = null;
  private scheduleHandle: TimerHandle | undefined;
  /** A decision when the headroom that last held a borrower back lapses (no event may come then). */
  private headroomHandle: TimerHandle | undefined;
  private headroomAt = Infinity;
  /** The cluster state's worker-change count when availability was last re-read. */
  private seenWorkerChanges = -1;
  /** The cluster state's tenant-change count when quotas were last given to the scheduler. */
  private seenTenantChanges = -1;
  private tickHandle: TimerHandle | undefined;
  private readonly retryTimers = new Map<string, TimerHandle>();
  /** Running attempts and when each passes its deadline (for stall detection, without scanning the table). */
  private readonly running = new Map<string, number>();
  /** Finish times of finished tasks, oldest first (for pruning, without scanning the table). */
  private finishedAt: number[] = [];
  /** Workers the recovery manager judged quarantined during this leadership. */
  private readonly unhealthy = new Set<string>();
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly clock: Clock,
    options: TaskControllerOptions = {},
  ) {
    this.o = { ...DEFAULTS, ...options };
    this.unsubscribe = node.onChanges((c) => this.onChanges(c));
  }

  /** The leader's scheduler (null on followers). */
  get schedulerView(): Scheduler | null {
    return this.scheduler;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.resign();
  }

  /**
   * Whether accepting `count` more tasks would exceed `maxPendingTasks`
   * (counting tasks waiting for a worker). Only the leader knows; others say no.
   */
  wouldOverload(count: number): boolean {
    const s = this.scheduler;
    return s !== null && s.stats().pending + count > this.o.maxPendingTasks;
  }

  /** Marks a worker (un)available for new work (the recovery manager's health verdict). */
  setWorkerAvailable(worker: string, available: boolean): void {
    if (available) this.unhealthy.delete(worker);
    else this.unhealthy.add(worker);
    const s = this.scheduler;
    if (!s) return;
    this.addNewWorkers(s);
    this.refreshAvailability(s, worker);
    if (available) this.requestSchedule();
  }

  /**
   * Whether a worker may take work: its member record allows it (a node
   * pending approval, removed, blocked or rejected gets nothing, whatever
   * leader decides) and the leader does not judge it quarantined.
   */
  workerEligible(worker: string): boolean {
    return this.workerMayKeepWork(worker) && this.node.state.worker(worker)?.draining !== true;
  }

  /**
   * Whether a worker may go on with what it holds: eligible, or draining
   * (it takes nothing new, but what it runs finishes or is handed back by
   * the worker itself, not taken from it).
   */
  workerMayKeepWork(worker: string): boolean {
    return memberMayWork(this.node.state.member(worker)?.status) && !this.unhealthy.has(worker);
  }

  private refreshAvailability(s: Scheduler, worker: string): void {
    const view = s.worker(worker);
    if (!view) return;
    const eligible = this.workerEligible(worker);
    if (view.available !== eligible) s.setWorkerAvailable(worker, eligible);
  }

  /** Called on every role change of the node. */
  onRole(isLeader: boolean): void {
    if (this.stopped) return;
    if (isLeader && !this.scheduler) {
      // Verdicts from an earlier leadership are stale: the recovery manager
      // marks the peers this node judges quarantined now, right after.
      this.unhealthy.clear();
      this.takeOver();
    }
    else if (!isLeader && this.scheduler) this.resign();
  }

  private takeOver(): void {
    this.resign();
    const s = new Scheduler(this.o);
    this.seenTenantChanges = -1;
    this.refreshTenants(s);
    for (const w of this.node.state.workers()) {
      s.addWorker(w.worker, w.capacity);
      this.refreshAvailability(s, w.worker);
    }
    for (const t of this.node.state.tasks()) {
      this.mirror(s, t);
      // Finished tasks too: a tenant that submitted lately is still active (headroom).
      s.recordSubmission(t.spec.tenant, t.submittedAt, t.spec.resources);
    }
    this.scheduler = s;
    this.running.clear();
    const finished: number[] = [];
    for (const t of this.node.state.tasks()) {
      if (t.status === 'running' && t.startedAt !== null) this.running.set(t.id, t.startedAt + t.timeoutMs);
      if (t.finishedAt !== null) finished.push(t.finishedAt);
    }
    this.finishedAt = finished.sort((a, b) => a - b);
    this.tick();
    this.requestSchedule();
  }

  private resign(): void {
    this.scheduler = null;
    if (this.scheduleHandle !== undefined) this.clock.clearTimeout(this.scheduleHandle);
    if (this.tickHandle !== undefined) this.clock.clearTimeout(this.tickHandle);
    if (this.headroomHandle !== undefined) this.clock.clearTimeout(this.headroomHandle);
    this.scheduleHandle = this.tickHandle = this.headroomHandle = undefined;
    this.headroomAt = Infinity;
    for (const h of this.retryTimers.values()) this.clock.clearTimeout(h);
    this.retryTimers.clear();
  }

  /** Puts a task from the table into the scheduler's picture. */
  private mirror(s: Scheduler, t: Readonly<TaskRecord>): void {
    switch (t.status) {
      case 'pending':
        s.enqueue(queueEntry(t));
        break;
      case 'assigned':
      case 'running':
        s.enqueue(queueEntry(t));
        if (t.worker === null || !s.worker(t.worker) || !s.canPlace(t.id, t.worker)) break;
        s.place(t.id, t.worker);
        if (t.status === 'running') s.start(t.id);
        break;
      case 'retrying':
      case 'timedOut':
        this.armRetry(t);
        break;
    }
  }

  private onChanges(c: AppliedChanges): void {
    const s = this.scheduler;
    if (!s || this.stopped) return;
    try {
      this.follow(s, c);
    } catch {
      // The committed facts disagree with the local picture (a capacity
      // change, say): rebuild it from the replicated table, which is the truth.
      this.takeOver();
    }
  }

  private follow(s: Scheduler, c: AppliedChanges): void {
    let wake = this.addNewWorkers(s);
    if (this.refreshTenants(s)) wake = true;
    // A worker that began draining, or registered again after its restart.
    if (this.node.state.workerChanges !== this.seenWorkerChanges) {
      this.seenWorkerChanges = this.node.state.workerChanges;
      for (const w of this.node.state.workers()) this.refreshAvailability(s, w.worker);
    }
    for (const m of c.members) {
      this.refreshAvailability(s, m.node);
      wake = true;
    }
    for (const t of c.tasks) {
      if (t.rejected) continue;
      const record = this.node.state.task(t.taskId);
      if (t.to === 'running' && record?.startedAt != null) this.running.set(t.taskId, record.startedAt + record.timeoutMs);
      else if (t.change !== 'progress') this.running.delete(t.taskId);
      if (record?.finishedAt != null && (t.to === 'completed' || t.to === 'failed' || t.to === 'cancelled')) this.finishedAt.push(record.finishedAt);
      const view = s.task(t.taskId);
      const placed = view !== undefined && (view.status === 'placed' || view.status === 'running');
      switch (t.to) {
        case 'pending':
          if (placed) s.release(t.taskId);
          if ((!view || placed) && record) s.enqueue(queueEntry(record));
          wake = true;
          break;
        case 'assigned':
          if (t.worker === null || view?.worker === t.worker) break;
          if (view?.status === 'placed' && s.worker(t.worker)) s.move(t.taskId, t.worker);
          else if (record && s.worker(t.worker)) {
            if (placed) s.release(t.taskId);
            if (!s.task(t.taskId)) s.enqueue(queueEntry(record));
            if (s.canPlace(t.taskId, t.worker)) s.place(t.taskId, t.worker);
          }
          break;
        case 'running':
          if (view?.status === 'placed') s.start(t.taskId);
          break;
        default:
          // Finished, retrying or timed out: its resources are free again.
          if (placed) s.release(t.taskId);
          else if (view) s.remove(t.taskId);
          if ((t.to === 'retrying' || t.to === 'timedOut') && record) this.armRetry(record);
          wake = true;
      }
    }
    if (wake) this.requestSchedule();
  }

  /**
   * A tenant registered or its quota changed since the scheduler last heard:
   * its fair share and caps follow. Returns whether anything changed.
   * (Checked on applied task changes and on each tick: a quota entry alone
   * changes no task.)
   */
  private refreshTenants(s: Scheduler): boolean {
    if (this.node.state.tenantChanges === this.seenTenantChanges) return false;
    this.seenTenantChanges = this.node.state.tenantChanges;
    for (const t of this.node.state.tenants()) s.setTenant(t.tenant, tenantLimits(t));
    return true;
  }

  /** Adds registered workers the scheduler does not know yet; returns whether there were any. */
  private addNewWorkers(s: Scheduler): boolean {
    let added = false;
    for (const w of this.node.state.workers()) {
      if (!s.worker(w.worker)) {
        s.addWorker(w.worker, w.capacity);
        this.refreshAvailability(s, w.worker);
        added = true;
      }
    }
    return added;
  }

  /** Schedules at the end of this instant, so a burst of submissions is placed in one entry. */
  private requestSchedule(): void {
    if (this.scheduleHandle !== undefined || !this.scheduler) return;
    this.scheduleHandle = this.clock.setTimeout(() => {
      this.scheduleHandle = undefined;
      this.schedule();
    }, 0);
  }

  private schedule(): void {
    const s = this.scheduler;
    if (!s || !this.node.raft.isLeader) return;
    const now = this.clock.now();
    const decisions = s.plan(now, this.o.maxAssignPerEntry);
    const heldUntil = s.headroomHeldUntil();
    if (heldUntil !== null) this.decideAgainAt(heldUntil);
    if (decisions.length === 0) return;
    const changes: TaskChange[] = [];
    for (const d of decisions) {
      s.place(d.taskId, d.worker); // reserved now; the committed assignment confirms it
      changes.push({ kind: 'assign', taskId: d.taskId, worker: d.worker, at: now });
    }
    this.node.forward({ op: 'taskChanges', changes });
    if (decisions.length === this.o.maxAssignPerEntry) this.requestSchedule();
  }

  /**
   * Schedules again at `at`, when headroom that held a borrowing tenant back
   * lapses: a tenant's activity ends with time, not with an event.
   */
  private decideAgainAt(at: number): void {
    if (at >= this.headroomAt) return;
    if (this.headroomHandle !== undefined) this.clock.clearTimeout(this.headroomHandle);
    this.headroomAt = at;
    this.headroomHandle = this.clock.setTimeout(() => {
      this.headroomHandle = undefined;
      this.headroomAt = Infinity;
      this.requestSchedule();
    }, Math.max(0, at - this.clock.now()));
  }

  private armRetry(t: Readonly<TaskRecord>): void {
    if (this.retryTimers.has(t.id) || t.retryAt === null) return;
    const delay = Math.max(0, t.retryAt - this.clock.now());
    this.retryTimers.set(
      t.id,
      this.clock.setTimeout(() => {
        this.retryTimers.delete(t.id);
        const now = this.node.state.task(t.id);
        if (this.scheduler && now && (now.status === 'retrying' || now.status === 'timedOut')) {
          this.node.forward({ op: 'taskChanges', changes: [{ kind: 'retry', taskId: t.id, at: this.clock.now() }] });
        }
      }, delay),
    );
  }

  /** Periodic duties: stalled attempts, work stealing, pruning. */
  private tick(): void {
    this.tickHandle = this.clock.setTimeout(() => this.tick(), this.o.tickMs);
    const s = this.scheduler;
    if (!s || !this.node.raft.isLeader) return;
    const now = this.clock.now();
    const changes: TaskChange[] = [];
    const added = this.addNewWorkers(s);
    if (this.refreshTenants(s) || added) this.requestSchedule();
    for (const [id, deadline] of this.running) {
      if (now <= deadline + this.o.stallGraceMs) continue;
      const t = this.node.state.task(id);
      if (t?.status === 'running' && t.worker !== null) {
        // The worker never reported this attempt's end: time it out here (its late result is refused).
        changes.push({ kind: 'timeout', taskId: t.id, worker: t.worker, attempt: t.attempt, retryAt: now, at: now });
      }
    }
    for (const m of s.steal()) {
      s.move(m.taskId, m.to); // reserved now; the committed reassignment confirms it
      changes.push({ kind: 'reassign', taskId: m.taskId, worker: m.to, at: now });
    }
    if (changes.length > 0) this.node.forward({ op: 'taskChanges', changes });
    if (this.o.retentionMs > 0 && this.finishedAt.length > 0) {
      const before = now - this.o.retentionMs;
      let expired = 0;
      while (expired < this.finishedAt.length && this.finishedAt[expired] < before) expired++;
      if (expired > 0) {
        this.finishedAt = this.finishedAt.slice(expired);
        this.node.forward({ op: 'pruneTasks', before });
      }
    }
  }
}

/**
 * Member statuses whose node may run tasks: members of the configuration
 * (only they receive the log, so only they learn of their assignments), or
 * a worker with no member record at all (registered before membership was).
 */
function memberMayWork(status: string | undefined): boolean {
  return status === undefined || status === 'learner' || status === 'voter';
}

/** What the scheduler enforces of a tenant's replicated quota. */
function tenantLimits(t: Readonly<TenantRecord>) {
  const q = t.quota;
  return { weight: q.priorityWeight, maxCpu: q.maxCpuUnits, maxMemoryBytes: q.maxMemoryBytes, maxConcurrent: q.maxConcurrentTasks };
}

function queueEntry(t: Readonly<TaskRecord>) {
  return { id: t.id, priority: t.spec.priority, tenant: t.spec.tenant, resources: t.spec.resources, enqueuedAt: t.submittedAt };
}
