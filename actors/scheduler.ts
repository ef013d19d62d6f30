/**
 * The deterministic task scheduler core: which pending task goes to which
 * worker.
 *
 * A pure, synchronous structure owned by the node that mirrors the
 * replicated task table (`enqueue`, `remove`, `place`, `start`, `release`,
 * `move` as entries apply) and answers scheduling questions for the Raft
 * leader (`next`, `plan`, `steal`). It does no I/O, reads no clock (the
 * caller passes `now`) and draws no randomness: the same sequence of calls
 * gives the same decisions. Decisions are proposals; nothing changes until
 * the caller applies the committed assignment (DESIGN.md, determinism rule 5).
 *
 * ## Tenants first: weighted Dominant Resource Fairness
 *
 * Each tenant has its own queue. A decision first picks the tenant: among
 * those with pending work that are below their own quota (CPU, memory and
 * concurrent tasks held: see {@link TenantLimits}), the one with the smallest
 * weighted dominant share, `max(cpu held / cluster cpu, memory held / cluster
 * memory) / weight` (ties: the tenant seen first), as DRF's progressive
 * filling does (`drf.ts`). Only then does priority count, and only within
 * that tenant's queue: a tenant cannot starve others by giving its tasks the
 * highest priority. It is work-conserving: a tenant with nothing that fits
 * (or at its quota) is passed over in that decision, so an idle tenant's
 * share goes to the others. Nothing is preempted: a tenant above its share
 * keeps what it holds, and gets nothing more while a tenant below it waits.
 *
 * ## Headroom: borrowing stops short of the last slot a modest tenant needs
 *
 * Work conservation alone lets a flooding tenant fill every slot while a
 * modest tenant is between submissions. The modest tenant's next task then
 * finds the cluster full and waits for a slot to free: up to a whole run
 * time, plus the commit of that completion and of its own assignment. When
 * the flood's tasks run in lock step (equal run times, started together)
 * that is its worst case every time, and its p99 queue wait becomes about a
 * run time however small its share.
 *
 * So a tenant may *borrow* (take a task that lifts its weighted dominant
 * share above its fair share, `1 / Σ weights of the active tenants`) only
 * from capacity that is not kept as *headroom* for others. Headroom is kept,
 * in the free capacity of the eligible workers, for every other tenant
 * that is
 * - *active*: it has tasks waiting, or it submitted within `activeWindowMs`
 *   (default 1 s; measured as `now − the latest enqueuedAt` of its tasks,
 *   on the scheduler's clock, so deterministic), and
 * - *under its share*: one more task of the size it last submitted keeps it
 *   within its fair share and its quota,
 *
 * and is room for `headroomTasks` (default 1) such tasks, each on one worker
 * (a task cannot span workers), found as placement would find it, tenants
 * in the order first seen, at most `maxHeadroomShare` (default ¼) of the
 * cluster's CPU and memory together (and always one task's worth). The
 * modest tenant's task then starts at assignment latency, not after a run
 * time. A tenant within its share is never held back, and the headroom is
 * cluster-wide, not per worker: its cost is bounded by the under-share
 * tenants (one task each), not by the cluster's size.
 *
 * It stays work-conserving in what matters: a lone tenant, or one whose
 * fellows are idle (no waiting task, no submission within the window), has
 * no one to keep headroom for and takes every slot; headroom is only ever
 * *free* capacity, so nothing is preempted; and a task placed by the
 * headroom's own tenant uses it. After a decision that held a borrower back,
 * {@link Scheduler.headroomHeldUntil} says when that headroom lapses by time
 * alone, for the caller to decide again then.
 *
 * (Placing the next task on a completion report before the completion
 * commits would only shave one commit: the modest tenant would still wait
 * for a slot to free, up to a run time. Holding a small reserve removes the
 * wait itself, and keeps every replica's capacity view exact.)
 *
 * ## Scheduling order within a tenant
 *
 * A pending task's effective priority is
 * `priority + floor(max(0, now - enqueuedAt) / agingMs)`. Tasks are
 * considered by effective priority (highest first), then `enqueuedAt`
 * (oldest first), then enqueue order. Each priority level is a FIFO bucket
 * kept in (`enqueuedAt`, enqueue order); within a bucket effective priority
 * never increases from head to tail, so the order above is a k-way merge of
 * the buckets that compares only their heads (k = priority levels in use).
 *
 * ## Tasks that do not fit (head-of-line policy)
 *
 * - A decision looks at most `lookahead` tasks (default 32) in scheduling
 *   order and places the first one that fits a worker. A task that does not
 *   fit is skipped for this decision: smaller tasks behind it backfill.
 * - Backfilling could starve a large task forever, so once a task that does
 *   not fit has waited `reserveAfterMs` (default 30 s) it becomes a
 *   reservation: for the rest of the decision no task behind it is placed on
 *   any available worker whose *capacity* could host it. Those workers drain
 *   as their tasks finish until it fits; workers too small for it keep
 *   taking smaller tasks. Aging keeps a waiting task moving up the order, so
 *   it enters the lookahead window and stays there.
 * - A task larger than every registered worker's capacity can never fit. It
 *   is *parked* outside the buckets (still counted as pending) so it cannot
 *   clog the lookahead window; it returns to its bucket, at its position by
 *   `enqueuedAt`, when a large enough worker is added.
 *
 * ## Placement
 *
 * A worker has room for a task when it is available, holds fewer than
 * `maxQueuedPerWorker` assigned-but-not-started tasks, and its unreserved
 * capacity covers the task. Among those, `binpack` picks the worker with the
 * least free capacity left after placement and `spread` the most; free
 * capacity is `freeCpu/capacityCpu + freeMemory/capacityMemory` (each share
 * counted on its own worker's scale). Ties go to the worker added first.
 * Placement reserves the task's resources until `release`.
 *
 * CPU is counted in thousandths (millicores, as Kubernetes does) so that
 * reservations are exact integer sums: `0.1 + 0.2` must not over-commit a
 * worker or drift across a million placements.
 *
 * ## Costs
 *
 * `next`: O(workers + tenants × lookahead × (levels + workers)) in the worst case
 * (one tenant, the common case: O(workers + lookahead × (levels + workers))),
 * allocation-free apart from the result. A task that passes the quick
 * "largest free space" test but fits no worker costs a scan of the workers;
 * its demand is remembered for the rest of the decision, so tasks needing at
 * least as much skip the scan. With two tenants or more, a decision in which
 * a tenant borrows adds O(tenants × headroomTasks × workers) once per
 * borrowing tenant to keep the headroom, and a borrowing task held back by
 * it one more worker scan (larger tasks of that tenant then skip it).
 * `enqueue`: O(1) when `enqueuedAt`
 * does not decrease (a requeued task with an old `enqueuedAt` walks back to
 * its position). `remove`, `place`, `start`, `release`, `move`: O(1).
 * `removeWorker` and shrinking a worker re-check the pending tasks only when
 * no remaining worker is at least as large.
 */
import { LinkedQueue, type Linked } from './taskQueue.js';
import { dominantShare } from './drf.js';

/** Resources a task needs or a worker offers. */
export interface Resources {
  /** CPUs (fractions allowed; counted in thousandths). */
  cpu: number;
  /** Memory in bytes (an integer). */
  memoryBytes: number;
}

/** How a decision chooses among the workers a task fits. */
export type Placement = 'binpack' | 'spread';

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** `binpack` (default): the fullest worker that fits; `spread`: the emptiest. */
  placement?: Placement;
  /** A waiting task gains +1 effective priority per `agingMs` waited (default 10,000; `Infinity` turns aging off). */
  agingMs?: number;
  /** Assigned-but-not-started tasks a worker may hold before it gets no more (default 2). */
  maxQueuedPerWorker?: number;
  /** Tasks one decision looks at, in scheduling order, before giving up (default 32). */
  lookahead?: number;
  /** Wait after which a task that does not fit reserves the workers that could host it (default 30,000). */
  reserveAfterMs?: number;
  /**
   * Tasks' worth of headroom kept from borrowing tenants for each active
   * tenant under its fair share (default 1; 0 turns headroom off: plain
   * work-conserving DRF). See "Headroom" in the module comment.
   */
  headroomTasks?: number;
  /** A tenant with no waiting task counts as active this long after its latest submission (default 1,000 ms). */
  activeWindowMs?: number;
  /** Largest fraction of the cluster's CPU and of its memory kept as headroom in all (default 0.25; one task's worth is always kept). */
  maxHeadroomShare?: number;
  /**
   * Weighted fair share between tenants (default true). False makes all
   * tenants one queue, in priority order then submission order, as a
   * single-queue system such as BullMQ runs them, with no headroom: a
   * tenant that submits more gets more. For comparison (the negative
   * control of the fair-share tests), not for production.
   */
  fairShare?: boolean;
}

/**
 * What the scheduler enforces for one tenant (its `TenantQuota`): its
 * weight in the fair share, and caps on what its placed and running tasks
 * hold together. A tenant never described gets weight 1 and no caps.
 */
export interface TenantLimits {
  /** Fair-share weight, > 0. */
  weight: number;
  /** CPUs its placed and running tasks may hold together. */
  maxCpu: number;
  /** Memory (bytes) its placed and running tasks may hold together. */
  maxMemoryBytes: number;
  /** Tasks it may have placed or running at once. */
  maxConcurrent: number;
}

/** A copy of what the scheduler holds about a tenant. */
export interface TenantView {
  id: string;
  limits: TenantLimits;
  /** Resources its placed and running tasks hold. */
  held: Resources;
  /** Its placed and running tasks. */
  holding: number;
  /** Its weighted dominant share of the registered workers' capacity. */
  dominantShare: number;
}

/** A pending task as the replicated task table describes it. */
export interface TaskSpec {
  id: string;
  /** An integer in [{@link MIN_PRIORITY}, {@link MAX_PRIORITY}]; higher runs first. */
  priority: number;
  tenant: string;
  resources: Resources;
  /** When the task was enqueued, on the proposer's clock (ms). */
  enqueuedAt: number;
}

/** One scheduling decision: put `taskId` on `worker`. */
export interface Decision {
  taskId: string;
  worker: string;
}

/** One work-stealing move: the not-yet-started `taskId` goes from `from` to `to`. */
export interface StealMove {
  taskId: string;
  from: string;
  to: string;
}

/** Where a task is: `parked` is pending but fits no worker's capacity. */
export type TaskStatus = 'pending' | 'parked' | 'placed' | 'running';

/** A copy of what the scheduler holds about a task. */
export interface TaskView {
  id: string;
  priority: number;
  tenant: string;
  resources: Resources;
  enqueuedAt: number;
  status: TaskStatus;
  /** The worker it is placed or running on; null while pending. */
  worker: string | null;
}

/** A copy of what the scheduler holds about a worker. */
export interface WorkerView {
  id: string;
  capacity: Resources;
  /** Resources reserved by its placed and running tasks. */
  reserved: Resources;
  available: boolean;
  /** Tasks placed on it and not started. */
  queued: number;
  running: number;
}

/** Counts of tasks by status, and of workers. `pending` includes `parked`. */
export interface SchedulerStats {
  pending: number;
  parked: number;
  placed: number;
  running: number;
  workers: number;
}

/** Lowest task priority. */
export const MIN_PRIORITY = -100;
/** Highest task priority. */
export const MAX_PRIORITY = 100;

const DEFAULT_AGING_MS = 10_000;
const DEFAULT_MAX_QUEUED = 2;
const DEFAULT_LOOKAHEAD = 32;
const DEFAULT_RESERVE_AFTER_MS = 30_000;
const DEFAULT_HEADROOM_TASKS = 1;
const DEFAULT_ACTIVE_WINDOW_MS = 1_000;
const DEFAULT_MAX_HEADROOM_SHARE = 0.25;
/** Tolerance of the fair-share comparisons (shares are sums of ratios). */
const SHARE_EPSILON = 1e-9;
/** A headroom stamp no computation uses: placement that ignores headroom. */
const NO_HEADROOM = -1;
const LEVELS = MAX_PRIORITY - MIN_PRIORITY + 1;
/** Misfit demands remembered per decision (a power of two). */
const MISFITS = 8;

// Task states. Numbers rather than strings: compared on hot paths.
const PENDING = 0;
const PARKED = 1;
const PLACED = 2;
const RUNNING = 3;
const STATUS: readonly TaskStatus[] = ['pending', 'parked', 'placed', 'running'];

// What one tenant's turn in a decision found.
const NOTHING = 0;
const PICKED = 1;
const NO_WORKER = 2;

/**
 * One task. The same `prev`/`next` links serve whichever single list holds
 * it (its priority bucket, the parked list, or its worker's queued or
 * running list), so "in exactly one of pending/placed/running" is a property
 * of the structure, and a task costs one object plus its map entry.
 */
class Task implements Linked<Task> {
  prev: Task | null = null;
  next: Task | null = null;
  /** Placed or running on; during `plan`, the tentative worker. */
  worker: Worker | null = null;
  state = PENDING;

  constructor(
    readonly id: string,
    readonly priority: number,
    readonly queue: TenantQueue,
    readonly milliCpu: number,
    readonly memoryBytes: number,
    readonly enqueuedAt: number,
    readonly seq: number,
  ) {}
}

/**
 * One tenant's queue: a FIFO bucket per priority level, and what its placed
 * and running tasks hold (kept by `reserve`/`unreserve`, tentative changes
 * inside `plan`/`steal` included, so a plan's later decisions see the
 * shares its earlier ones moved).
 */
class TenantQueue {
  weight = 1;
  capMilliCpu = Infinity;
  capMemory = Infinity;
  maxHolding = Infinity;
  usedMilliCpu = 0;
  usedMemory = 0;
  /** Placed and running tasks. */
  holding = 0;
  /** Equal to the decision epoch once this tenant had its turn in that decision and placed nothing. */
  triedEpoch = 0;
  /** The latest `enqueuedAt` among its tasks: when it last submitted (for "active"). */
  lastSubmittedAt = -Infinity;
  /** What that latest task needs: the size of the headroom kept for it. */
  lastMilliCpu = 0;
  lastMemory = 0;
  /** FIFO bucket per priority level, index `priority - MIN_PRIORITY`, created on first use. */
  readonly buckets: Array<LinkedQueue<Task> | undefined> = new Array(LEVELS).fill(undefined);
  /** The non-empty buckets (order irrelevant: ties are broken by task, never by bucket). */
  readonly active: Array<LinkedQueue<Task>> = [];

  constructor(
    readonly id: string,
    /** Order of first sight: the tie-break between equal shares. */
    readonly seq: number,
  ) {}

  /** Whether `t` fits what this tenant may still hold. */
  allows(t: Task): boolean {
    return this.usedMilliCpu + t.milliCpu <= this.capMilliCpu && this.usedMemory + t.memoryBytes <= this.capMemory;
  }
}

class Worker {
  usedMilliCpu = 0;
  usedMemory = 0;
  available = true;
  /** Counters equal the list sizes except inside `plan`/`steal`, which change only the counters. */
  queued = 0;
  running = 0;
  /** Equal to the scheduler's decision epoch while a reservation holds this worker back. */
  heldEpoch = 0;
  /** Headroom kept on this worker from borrowers; valid while `headroomStamp` equals the scheduler's current one. */
  headroomStamp = 0;
  headroomMilliCpu = 0;
  headroomMemory = 0;
  readonly queuedTasks = new LinkedQueue<Task>();
  readonly runningTasks = new LinkedQueue<Task>();

  constructor(
    readonly id: string,
    public capMilliCpu: number,
    public capMemory: number,
  ) {}
}

/** Tenant `q` submitted a task of (`milliCpu`, `memory`) at `at`: the latest submission is the one remembered. */
function noteSubmission(q: TenantQueue, at: number, milliCpu: number, memory: number): void {
  if (at < q.lastSubmittedAt) return;
  q.lastSubmittedAt = at;
  q.lastMilliCpu = milliCpu;
  q.lastMemory = memory;
}

/** Whether `a` comes before `b` among tasks of equal effective priority. */
const earlier = (a: Task, b: Task): boolean => a.enqueuedAt < b.enqueuedAt || (a.enqueuedAt === b.enqueuedAt && a.seq < b.seq);

/** Throws when an internal invariant does not hold (a bug here or a caller breaking the protocol). */
function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`scheduler invariant violated: ${message}`);
}

function toMilliCpu(cpu: unknown, where: string): number {
  if (typeof cpu !== 'number' || !Number.isFinite(cpu) || cpu < 0 || cpu * 1000 > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`${where}: resources.cpu must be a finite number ≥ 0, got ${String(cpu)}`);
  }
  return Math.round(cpu * 1000);
}

function toMemory(memoryBytes: unknown, where: string): number {
  if (typeof memoryBytes !== 'number' || !Number.isSafeInteger(memoryBytes) || memoryBytes < 0) {
    throw new RangeError(`${where}: resources.memoryBytes must be a safe integer ≥ 0, got ${String(memoryBytes)}`);
  }
  return memoryBytes;
}

function checkResources(resources: unknown, where: string): { milliCpu: number; memory: number } {
  if (typeof resources !== 'object' || resources === null) throw new RangeError(`${where}: resources must be an object, got ${String(resources)}`);
  const r = resources as Partial<Resources>;
  return { milliCpu: toMilliCpu(r.cpu, where), memory: toMemory(r.memoryBytes, where) };
}

function checkId(id: unknown, field: string, where: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new RangeError(`${where}: ${field} must be a non-empty string, got ${String(id)}`);
}

function checkNow(now: unknown, where: string): asserts now is number {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new RangeError(`${where}: now must be a finite number, got ${String(now)}`);
}

/**
 * The deterministic task scheduler. See the module comment for the
 * scheduling order, the head-of-line policy and placement.
 *
 * Mutators mirror replicated facts and check them: a call that would break
 * an invariant (placing an unknown task, over-committing a worker, starting
 * a task that is not placed) throws an `Error` and changes nothing. Bad
 * arguments throw a `RangeError` naming the field.
 */
export class Scheduler {
  private readonly placement: Placement;
  private readonly agingMs: number;
  private readonly maxQueued: number;
  private readonly lookahead: number;
  private readonly reserveAfterMs: number;
  private readonly headroomTasks: number;
  private readonly fairShare: boolean;
  private readonly activeWindowMs: number;
  private readonly maxHeadroomShare: number;

  private readonly tasks = new Map<string, Task>();
  private readonly workerById = new Map<string, Worker>();
  /** Workers in the order they were added: the scan order, hence the tie-break. */
  private readonly workers: Worker[] = [];
  /** Tenant queues by id, created on first sight (a task or {@link Scheduler.setTenant}). */
  private readonly tenants = new Map<string, TenantQueue>();
  /** Tenants with pending tasks in their buckets (order irrelevant: ties are broken by tenant seq). */
  private readonly activeTenants: TenantQueue[] = [];
  private readonly parked = new LinkedQueue<Task>();
  /** Largest capacity of any worker, per dimension: a quick "can never fit" test. */
  private maxCapMilliCpu = 0;
  private maxCapMemory = 0;
  /** Capacity of all workers together: the denominators of the dominant shares. */
  private totalMilliCpu = 0;
  private totalMemory = 0;

  private seq = 0;
  private pendingCount = 0;
  private parkedCount = 0;
  private placedCount = 0;
  private runningCount = 0;

  // Scratch state of a decision, kept on the instance so a decision allocates nothing.
  private epoch = 0;
  private readonly cursors: Array<Task | null> = new Array(LEVELS).fill(null);
  private maxFreeMilliCpu = 0;
  private maxFreeMemory = 0;
  private pickTask: Task | null = null;
  private pickWorker: Worker | null = null;
  /** Demands remembered in {@link misfitCpu}/{@link misfitMemory} in the current decision. */
  private misfits = 0;
  /** Demands that fit no worker in the current decision (a ring of {@link MISFITS}). */
  private readonly misfitCpu = new Float64Array(MISFITS);
  private readonly misfitMemory = new Float64Array(MISFITS);
  private readonly undoTasks: Task[] = [];
  private readonly undoWorkers: Worker[] = [];
  /** The decision epoch {@link activeWeight} was summed in. */
  private activeEpoch = 0;
  /** Σ weights of the active tenants in that decision: a tenant's fair weighted share is `1 / activeWeight`. */
  private activeWeight = 0;
  /** Bumped for each headroom computation; workers carrying an older stamp keep none. */
  private headroomStamp = 0;
  /** The decision epoch and borrowing tenant the current headroom was computed for. */
  private headroomEpoch = 0;
  private headroomTenant: TenantQueue | null = null;
  /** When the current headroom lapses by time alone (Infinity: it lasts while a tenant it is kept for has tasks waiting). */
  private headroomLapse = Infinity;
  /** Whether the last decision held a borrower back from headroom, and until when (see {@link Scheduler.headroomHeldUntil}). */
  private held = false;
  private heldUntil = Infinity;

  /** @throws RangeError on an invalid option. */
  constructor(options: SchedulerOptions = {}) {
    const {
      placement = 'binpack',
      agingMs = DEFAULT_AGING_MS,
      maxQueuedPerWorker = DEFAULT_MAX_QUEUED,
      lookahead = DEFAULT_LOOKAHEAD,
      reserveAfterMs = DEFAULT_RESERVE_AFTER_MS,
      headroomTasks = DEFAULT_HEADROOM_TASKS,
      activeWindowMs = DEFAULT_ACTIVE_WINDOW_MS,
      maxHeadroomShare = DEFAULT_MAX_HEADROOM_SHARE,
      fairShare = true,
    } = options;
    if (typeof fairShare !== 'boolean') throw new RangeError(`Scheduler: fairShare must be a boolean, got ${String(fairShare)}`);
    this.fairShare = fairShare;
    if (placement !== 'binpack' && placement !== 'spread') throw new RangeError(`Scheduler: placement must be 'binpack' or 'spread', got ${String(placement)}`);
    if (typeof agingMs !== 'number' || !(agingMs > 0)) throw new RangeError(`Scheduler: agingMs must be a number > 0 (Infinity turns aging off), got ${String(agingMs)}`);
    if (!Number.isInteger(maxQueuedPerWorker) || maxQueuedPerWorker < 1) throw new RangeError(`Scheduler: maxQueuedPerWorker must be an integer ≥ 1, got ${String(maxQueuedPerWorker)}`);
    if (!Number.isInteger(lookahead) || lookahead < 1) throw new RangeError(`Scheduler: lookahead must be an integer ≥ 1, got ${String(lookahead)}`);
    if (typeof reserveAfterMs !== 'number' || Number.isNaN(reserveAfterMs) || reserveAfterMs < 0) throw new RangeError(`Scheduler: reserveAfterMs must be a number ≥ 0, got ${String(reserveAfterMs)}`);
    this.placement = placement;
    this.agingMs = agingMs;
    this.maxQueued = maxQueuedPerWorker;
    this.lookahead = lookahead;
    if (!Number.isInteger(headroomTasks) || headroomTasks < 0) throw new RangeError(`Scheduler: headroomTasks must be an integer ≥ 0, got ${String(headroomTasks)}`);
    if (typeof activeWindowMs !== 'number' || Number.isNaN(activeWindowMs) || activeWindowMs < 0) throw new RangeError(`Scheduler: activeWindowMs must be a number ≥ 0, got ${String(activeWindowMs)}`);
    if (typeof maxHeadroomShare !== 'number' || !(maxHeadroomShare >= 0 && maxHeadroomShare <= 1)) throw new RangeError(`Scheduler: maxHeadroomShare must be a number in [0, 1], got ${String(maxHeadroomShare)}`);
    this.reserveAfterMs = reserveAfterMs;
    this.headroomTasks = headroomTasks;
    this.activeWindowMs = activeWindowMs;
    this.maxHeadroomShare = maxHeadroomShare;
  }

  // ---------------------------------------------------------------- workers

  /**
   * Adds a worker (available), or updates the capacity of a known one
   * (keeping its place in the scan order and its availability).
   * @throws Error when the new capacity is below what its tasks reserve.
   */
  addWorker(id: string, capacity: Resources): void {
    checkId(id, 'id', 'addWorker');
    const { milliCpu, memory } = checkResources(capacity, `addWorker(${id})`);
    const known = this.workerById.get(id);
    if (known === undefined) {
      const w = new Worker(id, milliCpu, memory);
      this.workerById.set(id, w);
      this.workers.push(w);
      this.recomputeMaxCapacity();
      this.unpark();
      return;
    }
    if (milliCpu < known.usedMilliCpu || memory < known.usedMemory) {
      throw new Error(
        `addWorker(${id}): new capacity (cpu ${milliCpu / 1000}, memoryBytes ${memory}) is below what its tasks reserve (cpu ${known.usedMilliCpu / 1000}, memoryBytes ${known.usedMemory}); remove the worker first`,
      );
    }
    const oldCpu = known.capMilliCpu;
    const oldMemory = known.capMemory;
    known.capMilliCpu = milliCpu;
    known.capMemory = memory;
    this.recomputeMaxCapacity();
    if (milliCpu < oldCpu || memory < oldMemory) this.reparkIfShrunk(oldCpu, oldMemory);
    if (milliCpu > oldCpu || memory > oldMemory) this.unpark();
  }

  /**
   * Removes a worker. Its placed and running tasks leave the scheduler; their
   * ids are returned (queued ones first, each list in placement order) for the
   * caller to requeue.
   * @throws Error for an unknown worker.
   */
  removeWorker(id: string): string[] {
    const w = this.requireWorker(id, 'removeWorker');
    const lost: string[] = [];
    for (const list of [w.queuedTasks, w.runningTasks]) {
      for (let t = list.shift(); t !== null; t = list.shift()) {
        lost.push(t.id);
        this.tasks.delete(t.id);
        this.unholdTenant(t);
        if (t.state === PLACED) this.placedCount--;
        else this.runningCount--;
        t.worker = null;
      }
    }
    this.workerById.delete(id);
    this.workers.splice(this.workers.indexOf(w), 1);
    this.recomputeMaxCapacity();
    this.reparkIfShrunk(w.capMilliCpu, w.capMemory);
    return lost;
  }

  /**
   * Marks a worker available or not. Unavailable workers (suspected,
   * quarantined, draining) get no new tasks from `next`, `plan` or `steal`,
   * and their not-started tasks may be stolen; what they hold stays placed.
   * @throws Error for an unknown worker.
   */
  setWorkerAvailable(id: string, available: boolean): void {
    this.requireWorker(id, 'setWorkerAvailable').available = available;
  }

  // ---------------------------------------------------------------- tenants

  /**
   * Sets a tenant's weight and caps (from its replicated quota). Takes effect
   * at the next decision; what its tasks already hold stays placed, even
   * above a cap that was lowered (a committed fact outranks a limit).
   * @throws RangeError for a weight that is not > 0 or a cap that is not ≥ 0.
   */
  setTenant(id: string, limits: TenantLimits): void {
    checkId(id, 'id', 'setTenant');
    const where = `setTenant(${id})`;
    if (typeof limits?.weight !== 'number' || !(limits.weight > 0) || !Number.isFinite(limits.weight)) throw new RangeError(`${where}: weight must be a finite number > 0, got ${String(limits?.weight)}`);
    for (const k of ['maxCpu', 'maxMemoryBytes', 'maxConcurrent'] as const) {
      if (typeof limits[k] !== 'number' || !(limits[k] >= 0)) throw new RangeError(`${where}: ${k} must be a number ≥ 0 (Infinity: no cap), got ${String(limits[k])}`);
    }
    const q = this.tenantQueue(id);
    q.weight = limits.weight;
    q.capMilliCpu = limits.maxCpu === Infinity ? Infinity : Math.round(limits.maxCpu * 1000);
    q.capMemory = limits.maxMemoryBytes;
    q.maxHolding = limits.maxConcurrent;
  }

  /** A copy of what the scheduler holds about a tenant, or undefined if it never saw it. */
  tenant(id: string): TenantView | undefined {
    const q = this.tenants.get(id);
    if (q === undefined) return undefined;
    return {
      id,
      limits: { weight: q.weight, maxCpu: q.capMilliCpu / 1000, maxMemoryBytes: q.capMemory, maxConcurrent: q.maxHolding },
      held: { cpu: q.usedMilliCpu / 1000, memoryBytes: q.usedMemory },
      holding: q.holding,
      dominantShare: this.shareOf(q),
    };
  }

  /** Ids of the tenants the scheduler knows, in the order it first saw them. */
  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }

  // ------------------------------------------------------------------ queue

  /**
   * Adds a pending task.
   * @throws RangeError on an invalid field; Error when the id is already known.
   */
  enqueue(task: TaskSpec): void {
    if (typeof task !== 'object' || task === null) throw new RangeError(`enqueue: task must be an object, got ${String(task)}`);
    const { id, priority, tenant, resources, enqueuedAt } = task;
    checkId(id, 'id', 'enqueue');
    const where = `enqueue(${id})`;
    if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
      throw new RangeError(`${where}: priority must be an integer in [${MIN_PRIORITY}, ${MAX_PRIORITY}], got ${String(priority)}`);
    }
    if (typeof tenant !== 'string') throw new RangeError(`${where}: tenant must be a string, got ${String(tenant)}`);
    if (typeof enqueuedAt !== 'number' || !Number.isFinite(enqueuedAt)) throw new RangeError(`${where}: enqueuedAt must be a finite number, got ${String(enqueuedAt)}`);
    const { milliCpu, memory } = checkResources(resources, where);
    const existing = this.tasks.get(id);
    if (existing !== undefined) throw new Error(`${where}: task ${id} is already ${STATUS[existing.state]}`);
    const q = this.tenantQueue(tenant);
    const t = new Task(id, priority, q, milliCpu, memory, enqueuedAt, this.seq++);
    noteSubmission(q, enqueuedAt, milliCpu, memory);
    this.tasks.set(id, t);
    this.pendingCount++;
    if (this.fitsSomeWorker(t)) this.bucketInsert(t);
    else this.park(t);
  }

  /**
   * Records that `tenant` submitted a task needing `resources` at `at`
   * without enqueuing one ({@link enqueue} records its own tasks): for a new
   * leader rebuilding its picture, whose table also holds tasks that already
   * finished. It makes the tenant active (for headroom) until
   * `at + activeWindowMs`; an `at` older than what is known changes nothing.
   * @throws RangeError on an invalid field.
   */
  recordSubmission(tenant: string, at: number, resources: Resources): void {
    if (typeof tenant !== 'string') throw new RangeError(`recordSubmission: tenant must be a string, got ${String(tenant)}`);
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new RangeError(`recordSubmission(${tenant}): at must be a finite number, got ${String(at)}`);
    const { milliCpu, memory } = checkResources(resources, `recordSubmission(${tenant})`);
    noteSubmission(this.tenantQueue(tenant), at, milliCpu, memory);
  }

  /**
   * Removes a pending task (cancelled, or no longer pending in the table).
   * @throws Error when the task is unknown or not pending.
   */
  remove(taskId: string): void {
    const t = this.requireTask(taskId, 'remove');
    if (t.state !== PENDING && t.state !== PARKED) {
      throw new Error(`remove(${taskId}): task is ${STATUS[t.state]} on ${t.worker?.id}, not pending; release it instead`);
    }
    this.unlinkPending(t);
    this.tasks.delete(taskId);
    this.pendingCount--;
  }

  // -------------------------------------------------------------- placement

  /**
   * Whether placing `taskId` on `worker` would be accepted by {@link place}
   * (the task is pending and fits the worker's unreserved capacity). Ignores
   * availability and the queue limit, which guide decisions but do not bind
   * replicated facts.
   */
  canPlace(taskId: string, worker: string): boolean {
    const t = this.tasks.get(taskId);
    const w = this.workerById.get(worker);
    return t !== undefined && w !== undefined && (t.state === PENDING || t.state === PARKED) && this.hasRoom(w, t);
  }

  /**
   * Records that a pending task was assigned to `worker`, reserving its
   * resources there. The worker may be unavailable: this mirrors a committed
   * fact, which outranks local opinion.
   * @throws Error for an unknown task or worker, a task that is not pending,
   *   or a worker without room (over-commit).
   */
  place(taskId: string, worker: string): void {
    const t = this.requireTask(taskId, 'place');
    const w = this.requireWorker(worker, `place(${taskId})`);
    if (t.state !== PENDING && t.state !== PARKED) throw new Error(`place(${taskId}, ${worker}): task is ${STATUS[t.state]} on ${t.worker?.id}, not pending`);
    this.requireRoom(w, t, `place(${taskId}, ${worker})`);
    this.unlinkPending(t);
    this.pendingCount--;
    this.reserve(w, t);
    t.state = PLACED;
    t.worker = w;
    w.queuedTasks.push(t);
    w.queued++;
    this.placedCount++;
  }

  /**
   * Records that the worker started a placed task (assigned → running).
   * @throws Error when the task is unknown or not placed.
   */
  start(taskId: string): void {
    const t = this.requireTask(taskId, 'start');
    if (t.state !== PLACED) throw new Error(`start(${taskId}): task is ${STATUS[t.state]}, not placed`);
    const w = t.worker as Worker;
    w.queuedTasks.remove(t);
    w.queued--;
    w.runningTasks.push(t);
    w.running++;
    t.state = RUNNING;
    this.placedCount--;
    this.runningCount++;
  }

  /**
   * Records that a placed or running task finished, failed or was lost: its
   * resources are freed and it leaves the scheduler.
   * @throws Error when the task is unknown or pending (use `remove`).
   */
  release(taskId: string): void {
    const t = this.requireTask(taskId, 'release');
    if (t.state !== PLACED && t.state !== RUNNING) throw new Error(`release(${taskId}): task is ${STATUS[t.state]}, not placed or running; use remove()`);
    const w = t.worker as Worker;
    if (t.state === PLACED) {
      w.queuedTasks.remove(t);
      w.queued--;
      this.placedCount--;
    } else {
      w.runningTasks.remove(t);
      w.running--;
      this.runningCount--;
    }
    this.unreserve(w, t);
    t.worker = null;
    this.tasks.delete(taskId);
  }

  /**
   * Records that a placed, not-started task moved to another worker (a
   * {@link steal} move once committed).
   * @throws Error when the task is not placed, the worker is unknown, or it has no room.
   */
  move(taskId: string, to: string): void {
    const t = this.requireTask(taskId, 'move');
    const w = this.requireWorker(to, `move(${taskId})`);
    if (t.state !== PLACED) throw new Error(`move(${taskId}, ${to}): task is ${STATUS[t.state]}, only a placed, not started task can move`);
    const from = t.worker as Worker;
    if (from === w) return;
    this.requireRoom(w, t, `move(${taskId}, ${to})`);
    from.queuedTasks.remove(t);
    from.queued--;
    this.unreserve(from, t);
    this.reserve(w, t);
    w.queuedTasks.push(t);
    w.queued++;
    t.worker = w;
  }

  // -------------------------------------------------------------- decisions

  /**
   * One scheduling decision at time `now`: the first task in scheduling
   * order, within the lookahead, that some worker has room for, and the
   * worker placement picks. Null when nothing can be placed. Changes nothing:
   * the caller proposes the assignment and calls {@link place} when it applies.
   */
  next(now: number): Decision | null {
    checkNow(now, 'next');
    if (!this.decide(now)) return null;
    return { taskId: (this.pickTask as Task).id, worker: (this.pickWorker as Worker).id };
  }

  /**
   * Up to `max` decisions at time `now`, consistent with each other: each is
   * what {@link next} would return after the ones before it were placed, so
   * applying them in order never over-commits a worker or exceeds its queue
   * limit. Changes nothing (reservations are tentative inside the call).
   */
  plan(now: number, max: number): Decision[] {
    checkNow(now, 'plan');
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`plan: max must be an integer ≥ 0, got ${String(max)}`);
    const out: Decision[] = [];
    const undo = this.undoTasks;
    try {
      while (out.length < max && this.decide(now)) {
        const t = this.pickTask as Task;
        const w = this.pickWorker as Worker;
        this.bucketDetach(t);
        this.reserve(w, t);
        w.queued++;
        t.worker = w;
        undo.push(t);
        out.push({ taskId: t.id, worker: w.id });
      }
    } finally {
      // Reverse order, so each detached task finds its old neighbours linked again.
      for (let i = undo.length - 1; i >= 0; i--) {
        const t = undo[i];
        const w = t.worker as Worker;
        this.unreserve(w, t);
        w.queued--;
        t.worker = null;
        this.bucketRestore(t);
      }
      undo.length = 0;
    }
    return out;
  }

  /**
   * After the last {@link next} or {@link plan}: whether its final decision
   * held a borrowing tenant back from headroom kept for tenants under their
   * share, and if so when that headroom lapses by time alone (the earliest
   * `latest submission + activeWindowMs` of the tenants it was kept for
   * that have no task waiting). Null when no borrower was held back, or
   * when the headroom lasts until an event the caller sees anyway (a task
   * placed, released or enqueued). A caller that decides only on events
   * should decide again at the time returned, or a borrower could wait on a
   * lapsed headroom until the next event.
   */
  headroomHeldUntil(): number | null {
    return this.held && this.heldUntil !== Infinity ? this.heldUntil : null;
  }

  /**
   * Work stealing. Each idle worker (available, nothing running or queued),
   * in the order workers were added, takes one task from a *backlogged*
   * worker: one that holds not-started tasks while it is busy running others,
   * or while it is unavailable. The victim is the backlogged worker with the
   * most queued tasks that has one fitting the thief (ties: added first); the
   * task is its most recently placed one that fits (the oldest is the likeliest
   * to be starting on the victim already). Moves are consistent with each
   * other; nothing changes until the caller applies them with {@link move}.
   */
  steal(): StealMove[] {
    const moves: StealMove[] = [];
    const undoT = this.undoTasks;
    const undoW = this.undoWorkers;
    const workers = this.workers;
    try {
      for (let i = 0; i < workers.length; i++) {
        const thief = workers[i];
        if (!thief.available || thief.running !== 0 || thief.queued !== 0) continue;
        let victim: Worker | null = null;
        let task: Task | null = null;
        for (let j = 0; j < workers.length; j++) {
          const v = workers[j];
          if (v === thief || v.queued === 0 || (v.running === 0 && v.available)) continue;
          if (victim !== null && v.queued <= victim.queued) continue;
          for (let t = v.queuedTasks.tail; t !== null; t = t.prev) {
            if (this.hasRoom(thief, t)) {
              victim = v;
              task = t;
              break;
            }
          }
        }
        if (victim === null || task === null) continue;
        victim.queuedTasks.detach(task);
        victim.queued--;
        this.unreserve(victim, task);
        this.reserve(thief, task);
        thief.queued++;
        undoT.push(task);
        undoW.push(thief);
        moves.push({ taskId: task.id, from: victim.id, to: thief.id });
      }
    } finally {
      for (let i = undoT.length - 1; i >= 0; i--) {
        const t = undoT[i];
        const thief = undoW[i];
        const victim = t.worker as Worker;
        thief.queued--;
        this.unreserve(thief, t);
        this.reserve(victim, t);
        victim.queued++;
        victim.queuedTasks.restore(t);
      }
      undoT.length = 0;
      undoW.length = 0;
    }
    return moves;
  }

  // ------------------------------------------------------------- inspection

  /** Counts of tasks by status, and of workers. */
  stats(): SchedulerStats {
    return { pending: this.pendingCount, parked: this.parkedCount, placed: this.placedCount, running: this.runningCount, workers: this.workers.length };
  }

  /** A copy of what the scheduler holds about a task, or undefined. */
  task(taskId: string): TaskView | undefined {
    const t = this.tasks.get(taskId);
    if (t === undefined) return undefined;
    return {
      id: t.id,
      priority: t.priority,
      tenant: t.queue.id,
      resources: { cpu: t.milliCpu / 1000, memoryBytes: t.memoryBytes },
      enqueuedAt: t.enqueuedAt,
      status: STATUS[t.state],
      worker: t.state === PLACED || t.state === RUNNING ? (t.worker as Worker).id : null,
    };
  }

  /** A copy of what the scheduler holds about a worker, or undefined. */
  worker(id: string): WorkerView | undefined {
    const w = this.workerById.get(id);
    if (w === undefined) return undefined;
    return {
      id: w.id,
      capacity: { cpu: w.capMilliCpu / 1000, memoryBytes: w.capMemory },
      reserved: { cpu: w.usedMilliCpu / 1000, memoryBytes: w.usedMemory },
      available: w.available,
      queued: w.queued,
      running: w.running,
    };
  }

  /** Whether a worker with this id is known. */
  hasWorker(id: string): boolean {
    return this.workerById.has(id);
  }

  /** Whether the task is pending (waiting in the queue, parked included). */
  isQueued(taskId: string): boolean {
    const t = this.tasks.get(taskId);
    return t !== undefined && (t.state === PENDING || t.state === PARKED);
  }

  /** Whether the task holds a worker's resources: placed or running. */
  isPlaced(taskId: string): boolean {
    const t = this.tasks.get(taskId);
    return t !== undefined && (t.state === PLACED || t.state === RUNNING);
  }

  /** The worker a placed or running task is on; null when pending or unknown. */
  placedOn(taskId: string): string | null {
    const t = this.tasks.get(taskId);
    return t !== undefined && (t.state === PLACED || t.state === RUNNING) ? (t.worker as Worker).id : null;
  }

  /** Worker ids in scan order (the order they were added). */
  workerIds(): string[] {
    return this.workers.map((w) => w.id);
  }

  /**
   * Checks every invariant over the whole structure, O(tasks + workers): each
   * task sits in exactly one list matching its status, buckets are in
   * scheduling order, reservations equal the sum of each worker's tasks and
   * stay within capacity, and the counters agree. For tests and the
   * simulation's invariant checker.
   * @throws Error naming the first violation.
   */
  assertInvariants(): void {
    const seen = new Set<Task>();
    const visit = (t: Task, state: number, where: string) => {
      invariant(!seen.has(t), `task ${t.id} appears twice (again in ${where})`);
      seen.add(t);
      invariant(this.tasks.get(t.id) === t, `task ${t.id} in ${where} is not in the task table`);
      invariant(t.state === state, `task ${t.id} in ${where} has status ${STATUS[t.state]}`);
    };
    let pending = 0;
    let activeTenants = 0;
    for (const q of this.tenants.values()) {
      let nonEmpty = 0;
      for (let level = 0; level < LEVELS; level++) {
        const b = q.buckets[level];
        if (b === undefined) continue;
        const where = `tenant ${q.id} bucket ${level + MIN_PRIORITY}`;
        invariant((b.size > 0) === q.active.includes(b), `${where} with ${b.size} tasks is ${b.size > 0 ? 'missing from' : 'still in'} the active list`);
        let prev: Task | null = null;
        let n = 0;
        for (const t of b) {
          visit(t, PENDING, where);
          invariant(t.queue === q, `task ${t.id} of tenant ${t.queue.id} in ${where}`);
          invariant(t.priority === level + MIN_PRIORITY, `task ${t.id} (priority ${t.priority}) in ${where}`);
          invariant(prev === null || earlier(prev, t), `${where} out of order at ${t.id}`);
          invariant(this.fitsSomeWorker(t), `pending task ${t.id} fits no worker and is not parked`);
          prev = t;
          n++;
        }
        invariant(n === b.size, `${where} counts ${b.size} tasks but links ${n}`);
        pending += n;
        if (n > 0) nonEmpty++;
      }
      invariant(nonEmpty === q.active.length, `tenant ${q.id}'s active list holds ${q.active.length} buckets, ${nonEmpty} are non-empty`);
      invariant((nonEmpty > 0) === this.activeTenants.includes(q), `tenant ${q.id} with ${nonEmpty} non-empty buckets is ${nonEmpty > 0 ? 'missing from' : 'still in'} the active tenants`);
      if (nonEmpty > 0) activeTenants++;
    }
    invariant(activeTenants === this.activeTenants.length, `active tenants list holds ${this.activeTenants.length}, ${activeTenants} have pending tasks`);
    let parked = 0;
    for (const t of this.parked) {
      visit(t, PARKED, 'parked');
      invariant(!this.fitsSomeWorker(t), `parked task ${t.id} fits a worker`);
      parked++;
    }
    invariant(parked === this.parkedCount, `parked count ${this.parkedCount}, list holds ${parked}`);
    invariant(pending + parked === this.pendingCount, `pending count ${this.pendingCount}, lists hold ${pending + parked}`);
    let placed = 0;
    let running = 0;
    let maxCpu = 0;
    let maxMemory = 0;
    invariant(this.workers.length === this.workerById.size, `${this.workers.length} workers in scan order, ${this.workerById.size} by id`);
    for (const w of this.workers) {
      invariant(this.workerById.get(w.id) === w, `worker ${w.id} is not in the worker table`);
      let cpu = 0;
      let memory = 0;
      let q = 0;
      let r = 0;
      for (const t of w.queuedTasks) {
        visit(t, PLACED, `worker ${w.id} queued`);
        invariant(t.worker === w, `task ${t.id} queued on ${w.id} points at ${t.worker?.id}`);
        cpu += t.milliCpu;
        memory += t.memoryBytes;
        q++;
      }
      for (const t of w.runningTasks) {
        visit(t, RUNNING, `worker ${w.id} running`);
        invariant(t.worker === w, `task ${t.id} running on ${w.id} points at ${t.worker?.id}`);
        cpu += t.milliCpu;
        memory += t.memoryBytes;
        r++;
      }
      invariant(q === w.queued && q === w.queuedTasks.size, `worker ${w.id} counts ${w.queued} queued, list holds ${q}`);
      invariant(r === w.running && r === w.runningTasks.size, `worker ${w.id} counts ${w.running} running, list holds ${r}`);
      invariant(cpu === w.usedMilliCpu && memory === w.usedMemory, `worker ${w.id} reserves cpu ${w.usedMilliCpu / 1000}/memory ${w.usedMemory}, its tasks need cpu ${cpu / 1000}/memory ${memory}`);
      invariant(cpu <= w.capMilliCpu && memory <= w.capMemory, `worker ${w.id} over-committed: cpu ${cpu / 1000} of ${w.capMilliCpu / 1000}, memory ${memory} of ${w.capMemory}`);
      placed += q;
      running += r;
      maxCpu = Math.max(maxCpu, w.capMilliCpu);
      maxMemory = Math.max(maxMemory, w.capMemory);
    }
    invariant(placed === this.placedCount && running === this.runningCount, `counts placed ${this.placedCount}/running ${this.runningCount}, workers hold ${placed}/${running}`);
    const held = new Map<TenantQueue, { cpu: number; memory: number; n: number }>();
    for (const t of this.tasks.values()) {
      if (t.state !== PLACED && t.state !== RUNNING) continue;
      const h = held.get(t.queue) ?? { cpu: 0, memory: 0, n: 0 };
      h.cpu += t.milliCpu;
      h.memory += t.memoryBytes;
      h.n++;
      held.set(t.queue, h);
    }
    for (const q of this.tenants.values()) {
      const h = held.get(q) ?? { cpu: 0, memory: 0, n: 0 };
      invariant(h.cpu === q.usedMilliCpu && h.memory === q.usedMemory && h.n === q.holding, `tenant ${q.id} counts cpu ${q.usedMilliCpu / 1000}/memory ${q.usedMemory}/${q.holding} tasks held, its tasks hold cpu ${h.cpu / 1000}/memory ${h.memory}/${h.n}`);
    }
    invariant(maxCpu === this.maxCapMilliCpu && maxMemory === this.maxCapMemory, 'cached largest capacity is stale');
    invariant(seen.size === this.tasks.size, `task table holds ${this.tasks.size} tasks, lists hold ${seen.size}`);
  }

  // -------------------------------------------------------------- internals

  /**
   * Finds the decision at `now` into `pickTask`/`pickWorker`: the tenant
   * with the smallest weighted dominant share takes its turn; if nothing of
   * its queue can be placed, the next smallest does (work-conserving).
   * `epoch` marks the workers a reservation holds back and the tenants
   * that had their turn, so nothing needs clearing afterwards.
   */
  private decide(now: number): boolean {
    const epoch = ++this.epoch;
    this.pickTask = null;
    this.pickWorker = null;
    this.misfits = 0;
    this.held = false;
    this.heldUntil = Infinity;
    if (this.activeTenants.length === 0 || !this.computeMaxFree(epoch)) return false;
    for (;;) {
      const q = this.fairShare ? this.nextTenant(epoch) : this.nextTenantInQueueOrder(epoch, now);
      if (q === null) return false;
      const found = this.decideWithin(q, now, epoch);
      if (found !== NOTHING) return found === PICKED;
      q.triedEpoch = epoch;
    }
  }

  /** The tenant whose turn it is: pending work, below its concurrency cap, not yet tried in this decision, smallest share (ties: first seen). */
  private nextTenant(epoch: number): TenantQueue | null {
    const tenants = this.activeTenants;
    let best: TenantQueue | null = null;
    let bestShare = 0;
    for (let i = 0; i < tenants.length; i++) {
      const q = tenants[i];
      if (q.triedEpoch === epoch || q.holding >= q.maxHolding) continue;
      if (tenants.length === 1) return q;
      const share = this.shareOf(q);
      if (best === null || share < bestShare || (share === bestShare && q.seq < best.seq)) {
        best = q;
        bestShare = share;
      }
    }
    return best;
  }

  /** Fair share off: the tenant whose next task comes first in one queue of all tenants' tasks (effective priority, then submission). */
  private nextTenantInQueueOrder(epoch: number, now: number): TenantQueue | null {
    let best: TenantQueue | null = null;
    let bestTask: Task | null = null;
    let bestEff = 0;
    for (const q of this.activeTenants) {
      if (q.triedEpoch === epoch || q.holding >= q.maxHolding) continue;
      for (const bucket of q.active) {
        const c = bucket.head;
        if (c === null) continue;
        const waited = now - c.enqueuedAt;
        const eff = waited > 0 ? c.priority + Math.floor(waited / this.agingMs) : c.priority;
        if (bestTask === null || eff > bestEff || (eff === bestEff && earlier(c, bestTask))) {
          best = q;
          bestTask = c;
          bestEff = eff;
        }
      }
    }
    return best;
  }

  private shareOf(q: TenantQueue): number {
    return dominantShare(q.usedMilliCpu, q.usedMemory, this.totalMilliCpu, this.totalMemory, q.weight);
  }

  /**
   * Within tenant `q`: a k-way merge over its bucket heads in scheduling
   * order, at most `lookahead` steps. {@link PICKED} with the choice in
   * `pickTask`/`pickWorker`; {@link NOTHING} when none of its tasks can be
   * placed now; {@link NO_WORKER} when a reservation left no worker eligible
   * (no tenant can place anything in this decision).
   */
  private decideWithin(q: TenantQueue, now: number, epoch: number): number {
    const active = q.active;
    const cursors = this.cursors;
    const n = active.length;
    const aging = this.agingMs;
    for (let i = 0; i < n; i++) cursors[i] = active[i].head;
    // The demand of a task of q held back by headroom in this turn: q borrows
    // with a larger one too, and it fits nowhere the smaller one could not, so
    // a task needing as much is skipped (neither placed nor reserving workers).
    let heldCpu = Infinity;
    let heldMemory = Infinity;
    for (let step = 0; step < this.lookahead; step++) {
      let best: Task | null = null;
      let bestEff = 0;
      let bestAt = -1;
      for (let i = 0; i < n; i++) {
        const c = cursors[i];
        if (c === null) continue;
        const waited = now - c.enqueuedAt;
        const eff = waited > 0 ? c.priority + Math.floor(waited / aging) : c.priority;
        if (best === null || eff > bestEff || (eff === bestEff && earlier(c, best))) {
          best = c;
          bestEff = eff;
          bestAt = i;
        }
      }
      if (best === null) return NOTHING;
      cursors[bestAt] = best.next;
      // Past the tenant's own quota: smaller tasks of the tenant behind it may
      // still fit; it reserves no worker (it could not use one).
      if (!q.allows(best)) continue;
      if (best.milliCpu >= heldCpu && best.memoryBytes >= heldMemory) continue;
      if (best.milliCpu <= this.maxFreeMilliCpu && best.memoryBytes <= this.maxFreeMemory && !this.knownMisfit(best, this.misfits)) {
        const stamp = this.borrows(q, best, now, epoch) ? this.keepHeadroom(q, now, epoch) : NO_HEADROOM;
        const w = this.chooseWorker(best.milliCpu, best.memoryBytes, epoch, stamp);
        if (w !== null) {
          this.pickTask = best;
          this.pickWorker = w;
          return PICKED;
        }
        if (stamp !== NO_HEADROOM && this.chooseWorker(best.milliCpu, best.memoryBytes, epoch, NO_HEADROOM) !== null) {
          // It fits, but only into headroom kept for a tenant under its share. Not a
          // misfit (a tenant within its share may still be placed there), and no
          // reason to reserve workers for it: it is held back by its share, not its size.
          this.held = true;
          if (this.headroomLapse < this.heldUntil) this.heldUntil = this.headroomLapse;
          heldCpu = best.milliCpu;
          heldMemory = best.memoryBytes;
          continue;
        }
        // Remember the demand that fit nowhere: the eligible workers only shrink
        // within a decision, so any task needing at least as much fails too.
        this.misfitCpu[this.misfits & (MISFITS - 1)] = best.milliCpu;
        this.misfitMemory[this.misfits & (MISFITS - 1)] = best.memoryBytes;
        this.misfits++;
      }
      if (now - best.enqueuedAt >= this.reserveAfterMs && this.holdBackFor(best, epoch) && !this.computeMaxFree(epoch)) return NO_WORKER;
    }
    return NOTHING;
  }

  /** Whether `t` needs at least as much as a task that fit no worker earlier in this decision. */
  private knownMisfit(t: Task, misfits: number): boolean {
    const count = misfits < MISFITS ? misfits : MISFITS;
    for (let k = 0; k < count; k++) if (t.milliCpu >= this.misfitCpu[k] && t.memoryBytes >= this.misfitMemory[k]) return true;
    return false;
  }

  /** Whether `w` may get a new task in this decision. */
  private eligible(w: Worker, epoch: number): boolean {
    return w.available && w.queued < this.maxQueued && w.heldEpoch !== epoch;
  }

  /** Largest free capacity (per dimension) over eligible workers; false when none is eligible. */
  private computeMaxFree(epoch: number): boolean {
    let any = false;
    let cpu = 0;
    let memory = 0;
    const workers = this.workers;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[i];
      if (!this.eligible(w, epoch)) continue;
      any = true;
      const fc = w.capMilliCpu - w.usedMilliCpu;
      const fm = w.capMemory - w.usedMemory;
      if (fc > cpu) cpu = fc;
      if (fm > memory) memory = fm;
    }
    this.maxFreeMilliCpu = cpu;
    this.maxFreeMemory = memory;
    return any;
  }

  /**
   * The eligible worker placement picks for a task of (`milliCpu`, `memory`),
   * or null. With `stamp` the current headroom stamp, the headroom kept on
   * each worker counts as taken; with {@link NO_HEADROOM} it does not.
   */
  private chooseWorker(milliCpu: number, memory: number, epoch: number, stamp: number): Worker | null {
    const workers = this.workers;
    const binpack = this.placement === 'binpack';
    let best: Worker | null = null;
    let bestScore = 0;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[i];
      if (!this.eligible(w, epoch)) continue;
      let freeCpu = w.capMilliCpu - w.usedMilliCpu - milliCpu;
      let freeMemory = w.capMemory - w.usedMemory - memory;
      if (w.headroomStamp === stamp) {
        freeCpu -= w.headroomMilliCpu;
        freeMemory -= w.headroomMemory;
      }
      if (freeCpu < 0 || freeMemory < 0) continue;
      const score = (w.capMilliCpu > 0 ? freeCpu / w.capMilliCpu : 0) + (w.capMemory > 0 ? freeMemory / w.capMemory : 0);
      if (best === null || (binpack ? score < bestScore : score > bestScore)) {
        best = w;
        bestScore = score;
      }
    }
    return best;
  }

  /** Whether tenant `q` counts as active at `now`: tasks waiting, or a submission less than `activeWindowMs` ago. */
  private isActive(q: TenantQueue, now: number): boolean {
    // The same sum as the lapse in keepHeadroom, so "lapsed at that time" is exact.
    return q.active.length > 0 || q.lastSubmittedAt + this.activeWindowMs > now;
  }

  /**
   * Whether placing `t` would make its tenant `q` borrow: lift its weighted
   * dominant share above its fair share among the tenants active at `now`
   * (`1 / Σ their weights`). A lone active tenant's fair share is the whole
   * cluster, so it never borrows.
   */
  private borrows(q: TenantQueue, t: Task, now: number, epoch: number): boolean {
    if (this.headroomTasks === 0 || !this.fairShare || this.tenants.size < 2) return false;
    if (this.activeEpoch !== epoch) {
      this.activeEpoch = epoch;
      let sum = 0;
      for (const u of this.tenants.values()) if (this.isActive(u, now)) sum += u.weight;
      this.activeWeight = sum;
    }
    if (this.activeWeight <= q.weight) return false;
    const after = dominantShare(q.usedMilliCpu + t.milliCpu, q.usedMemory + t.memoryBytes, this.totalMilliCpu, this.totalMemory, q.weight);
    return after > 1 / this.activeWeight + SHARE_EPSILON;
  }

  /**
   * Marks, on the eligible workers' free capacity, the headroom kept from
   * borrower `q` in this decision (computed once per decision and borrower)
   * and returns its stamp. For each other active tenant, in the order first
   * seen: room for up to `headroomTasks` tasks of the size it last
   * submitted, while each keeps it within its fair share and its quota, each
   * on the worker placement would pick for it, until `maxHeadroomShare` of
   * the cluster is kept (one task's worth always may be). A task that fits
   * nowhere keeps nothing: headroom is only ever free capacity.
   */
  private keepHeadroom(q: TenantQueue, now: number, epoch: number): number {
    if (this.headroomEpoch === epoch && this.headroomTenant === q) return this.headroomStamp;
    this.headroomEpoch = epoch;
    this.headroomTenant = q;
    const stamp = ++this.headroomStamp;
    this.headroomLapse = Infinity;
    const fair = 1 / this.activeWeight + SHARE_EPSILON;
    const capCpu = this.maxHeadroomShare * this.totalMilliCpu;
    const capMemory = this.maxHeadroomShare * this.totalMemory;
    let keptCpu = 0;
    let keptMemory = 0;
    let kept = 0;
    for (const u of this.tenants.values()) {
      if (u === q || !this.isActive(u, now)) continue;
      const cpu = u.lastMilliCpu;
      const memory = u.lastMemory;
      for (let k = 1; k <= this.headroomTasks; k++) {
        const usedCpu = u.usedMilliCpu + k * cpu;
        const usedMemory = u.usedMemory + k * memory;
        if (u.holding + k > u.maxHolding || usedCpu > u.capMilliCpu || usedMemory > u.capMemory) break;
        if (dominantShare(usedCpu, usedMemory, this.totalMilliCpu, this.totalMemory, u.weight) > fair) break;
        if (kept > 0 && (keptCpu + cpu > capCpu || keptMemory + memory > capMemory)) break;
        const w = this.chooseWorker(cpu, memory, epoch, stamp);
        if (w === null) break;
        if (w.headroomStamp !== stamp) {
          w.headroomStamp = stamp;
          w.headroomMilliCpu = 0;
          w.headroomMemory = 0;
        }
        w.headroomMilliCpu += cpu;
        w.headroomMemory += memory;
        keptCpu += cpu;
        keptMemory += memory;
        kept++;
        if (u.active.length === 0 && u.lastSubmittedAt + this.activeWindowMs < this.headroomLapse) this.headroomLapse = u.lastSubmittedAt + this.activeWindowMs;
      }
    }
    return stamp;
  }

  /** Holds back, for this decision, every available worker whose capacity could host `t`; whether any was. */
  private holdBackFor(t: Task, epoch: number): boolean {
    let any = false;
    const workers = this.workers;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[i];
      if (w.available && w.capMilliCpu >= t.milliCpu && w.capMemory >= t.memoryBytes) {
        w.heldEpoch = epoch;
        any = true;
      }
    }
    return any;
  }

  private hasRoom(w: Worker, t: Task): boolean {
    return w.usedMilliCpu + t.milliCpu <= w.capMilliCpu && w.usedMemory + t.memoryBytes <= w.capMemory;
  }

  private requireRoom(w: Worker, t: Task, where: string): void {
    if (!this.hasRoom(w, t)) {
      throw new Error(
        `${where}: would over-commit worker ${w.id}: it has cpu ${w.usedMilliCpu / 1000} of ${w.capMilliCpu / 1000} and memoryBytes ${w.usedMemory} of ${w.capMemory} reserved, the task needs cpu ${t.milliCpu / 1000} and memoryBytes ${t.memoryBytes}`,
      );
    }
  }

  private reserve(w: Worker, t: Task): void {
    w.usedMilliCpu += t.milliCpu;
    w.usedMemory += t.memoryBytes;
    const q = t.queue;
    q.usedMilliCpu += t.milliCpu;
    q.usedMemory += t.memoryBytes;
    q.holding++;
    invariant(w.usedMilliCpu <= w.capMilliCpu && w.usedMemory <= w.capMemory, `worker ${w.id} over-committed by task ${t.id}`);
  }

  private unreserve(w: Worker, t: Task): void {
    w.usedMilliCpu -= t.milliCpu;
    w.usedMemory -= t.memoryBytes;
    invariant(w.usedMilliCpu >= 0 && w.usedMemory >= 0, `worker ${w.id} reserves less than task ${t.id} frees`);
    this.unholdTenant(t);
  }

  /** Takes what `t` held off its tenant's account. */
  private unholdTenant(t: Task): void {
    const q = t.queue;
    q.usedMilliCpu -= t.milliCpu;
    q.usedMemory -= t.memoryBytes;
    q.holding--;
    invariant(q.usedMilliCpu >= 0 && q.usedMemory >= 0 && q.holding >= 0, `tenant ${q.id} holds less than task ${t.id} frees`);
  }

  /** The queue of tenant `id`, made on first sight (weight 1, no caps). */
  private tenantQueue(id: string): TenantQueue {
    let q = this.tenants.get(id);
    if (q === undefined) {
      q = new TenantQueue(id, this.tenants.size);
      this.tenants.set(id, q);
    }
    return q;
  }

  private requireTask(taskId: string, where: string): Task {
    const t = this.tasks.get(taskId);
    if (t === undefined) throw new Error(`${where}(${String(taskId)}): unknown task`);
    return t;
  }

  private requireWorker(id: string, where: string): Worker {
    const w = this.workerById.get(id);
    if (w === undefined) throw new Error(`${where}: unknown worker ${String(id)}`);
    return w;
  }

  private fitsSomeWorker(t: Task): boolean {
    if (t.milliCpu > this.maxCapMilliCpu || t.memoryBytes > this.maxCapMemory) return false;
    const workers = this.workers;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[i];
      if (w.capMilliCpu >= t.milliCpu && w.capMemory >= t.memoryBytes) return true;
    }
    return false;
  }

  private recomputeMaxCapacity(): void {
    let cpu = 0;
    let memory = 0;
    let totalCpu = 0;
    let totalMemory = 0;
    for (const w of this.workers) {
      if (w.capMilliCpu > cpu) cpu = w.capMilliCpu;
      if (w.capMemory > memory) memory = w.capMemory;
      totalCpu += w.capMilliCpu;
      totalMemory += w.capMemory;
    }
    this.maxCapMilliCpu = cpu;
    this.maxCapMemory = memory;
    this.totalMilliCpu = totalCpu;
    this.totalMemory = totalMemory;
  }

  /** Links a pending task into its bucket at its place in (`enqueuedAt`, enqueue order). */
  private bucketInsert(t: Task): void {
    const level = t.priority - MIN_PRIORITY;
    const q = t.queue;
    let b = q.buckets[level];
    if (b === undefined) {
      b = new LinkedQueue<Task>();
      q.buckets[level] = b;
    }
    if (b.size === 0) this.activate(q, b);
    let ref = b.tail;
    while (ref !== null && earlier(t, ref)) ref = ref.prev;
    b.insertAfter(t, ref);
    t.state = PENDING;
  }

  private bucketOf(t: Task): LinkedQueue<Task> {
    return t.queue.buckets[t.priority - MIN_PRIORITY] as LinkedQueue<Task>;
  }

  /** Bucket `b` of tenant `q` got its first task: it joins the tenant's active buckets (and the tenant the active tenants). */
  private activate(q: TenantQueue, b: LinkedQueue<Task>): void {
    q.active.push(b);
    if (q.active.length === 1) this.activeTenants.push(q);
  }

  private deactivate(q: TenantQueue, b: LinkedQueue<Task>): void {
    q.active.splice(q.active.indexOf(b), 1);
    if (q.active.length === 0) this.activeTenants.splice(this.activeTenants.indexOf(q), 1);
  }

  private bucketDetach(t: Task): void {
    const b = this.bucketOf(t);
    b.detach(t);
    if (b.size === 0) this.deactivate(t.queue, b);
  }

  private bucketRestore(t: Task): void {
    const b = this.bucketOf(t);
    if (b.size === 0) this.activate(t.queue, b);
    b.restore(t);
  }

  private park(t: Task): void {
    t.state = PARKED;
    this.parked.push(t);
    this.parkedCount++;
  }

  /** Unlinks a pending or parked task from wherever it waits. */
  private unlinkPending(t: Task): void {
    if (t.state === PARKED) {
      this.parked.remove(t);
      this.parkedCount--;
      return;
    }
    const b = this.bucketOf(t);
    b.remove(t);
    if (b.size === 0) this.deactivate(t.queue, b);
  }

  /** Moves parked tasks that now fit some worker back to their buckets. */
  private unpark(): void {
    let t = this.parked.head;
    while (t !== null) {
      const next = t.next;
      if (this.fitsSomeWorker(t)) {
        this.parked.remove(t);
        this.parkedCount--;
        this.bucketInsert(t);
      }
      t = next;
    }
  }

  /**
   * After a worker of capacity (`cpu`, `memory`) shrank or left: parks the
   * pending tasks that no longer fit any worker. Skipped when a remaining
   * worker is at least that large, since then every task still fits.
   */
  private reparkIfShrunk(cpu: number, memory: number): void {
    for (const w of this.workers) if (w.capMilliCpu >= cpu && w.capMemory >= memory) return;
    // Backwards: a bucket that empties leaves `active`, shifting only later entries.
    for (const q of this.tenants.values()) {
      for (let i = q.active.length - 1; i >= 0; i--) {
        const b = q.active[i];
        let t = b.head;
        while (t !== null) {
          const next = t.next;
          if (!this.fitsSomeWorker(t)) {
            this.unlinkPending(t);
            this.park(t);
          }
          t = next;
        }
      }
    }
  }
}
