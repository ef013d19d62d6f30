import { FifoMap } from './fifoMap.js';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { taskLifecycle } from '../machines/taskLifecycle.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import type { RandomSource } from '../system/random.js';
import { toWellFormed } from './canonical.js';
import { canonicalResult, MAX_RESULT_BYTES } from './resultHash.js';
import type { AppliedChanges, ClusterNode } from './clusterNode.js';
import { NonRetryableError, type HandlerContext, type HandlerRegistry } from './taskHandlers.js';
import { backoffDelay, completionsOf, type Resources, type TaskChange, type TaskRecord } from './taskTable.js';
import type { ProofBatchSignature, ProofSigner } from './proofSignature.js';

/** Options of an {@link Executor}. */
export interface ExecutorOptions {
  /** At most one progress report per task per this many ms. */
  progressIntervalMs?: number;
  /**
   * Attempts this worker runs at once (as BullMQ's `concurrency`). Tasks
   * assigned beyond it wait here, still `assigned`, where an idle worker
   * may steal them. Default: no limit (the scheduler's capacity bounds it).
   */
  concurrency?: number;
  /**
   * Signs the proofs of the completions this worker reports, with its node
   * key (one signature each, or one per report: see `ProofSigner`). Absent:
   * proofs go unsigned.
   */
  proofSigner?: ProofSigner;
}

interface Run {
  taskId: string;
  attempt: number;
  startedAt: number;
  /** The attempt's lifecycle actor: made when the handler turns out to take time (a promise). */
  actor: Actor<typeof taskLifecycle> | null;
  /** Created when the handler first looks at its signal (most never do). */
  abort: AbortController | null;
  /** Why the attempt was given up, once it was. */
  abortReason: unknown;
  /** Set once the attempt's outcome is decided here (result, error, deadline, or taken away). */
  over: boolean;
  lastProgressAt: number;
  /** CPU time the handler measured and reported (µs), when it could. */
  cpuTimeUs?: number;
}

/**
 * Runs the tasks assigned to this node. For each assignment that commits it
 * asks to start the next attempt; once the start commits it runs the
 * handler. An attempt that takes time runs as a `taskLifecycle` actor on the
 * node's clock, whose deadline is the chart's own `taskDeadline` timer; one
 * that finishes within the instant it started (a synchronous handler) has
 * nothing to supervise and needs no actor. Outcomes (result with a
 * proof artifact, failure with the next retry time, timeout) go back to the
 * leader as task changes; a cancellation or reassignment that commits
 * aborts the handler through its `AbortSignal`.
 */
export class Executor {
  /** Inspection of each attempt's lifecycle chart (null: not inspected). */
  inspect: ((event: InspectionEvent) => void) | null = null;
  private readonly runs = new Map<string, Run>();
  private outbox: TaskChange[] = [];
  private flushHandle: TimerHandle | undefined;
  private readonly progressIntervalMs: number;
  private readonly concurrency: number;
  private readonly proofSigner: ProofSigner | null;
  /** Assigned here, start not yet asked for (waiting for a free slot), in assignment order. */
  private readonly waiting = new FifoMap<string, true>(); // O(1) add, remove and oldest, at any backlog
  /** Starts asked for and not yet committed. */
  private readonly starting = new Set<string>();
  private readonly unsubscribe: () => void;
  private stopped = false;
  private draining = false;
  /**
   * Last index of the log this incarnation recovered from storage. Entries up
   * to it are history: replaying them must not start anything again.
   */
  private readonly recoveredIndex: number;
  private caughtUp = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly handlers: HandlerRegistry,
    options: ExecutorOptions = {},
  ) {
    this.progressIntervalMs = options.progressIntervalMs ?? 100;
    this.concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
    if (!(this.concurrency >= 1)) throw new RangeError(`executor concurrency must be >= 1, got ${options.concurrency}`);
    this.proofSigner = options.proofSigner ?? null;
    this.recoveredIndex = node.raft.log.lastIndex;
    this.caughtUp = this.recoveredIndex === 0;
    this.unsubscribe = node.onChanges((c) => this.onChanges(c));
  }

  /**
   * Called with each applied index. Once this incarnation has applied the
   * log it recovered, whatever the table still shows as running here was
   * lost in the crash: report it lost (requeued under the same id, no
   * attempt used up); what is still assigned here gets started.
   */
  applied(index: number): void {
    if (this.caughtUp || index < this.recoveredIndex || this.stopped) return;
    this.caughtUp = true;
    const me = this.node.id;
    for (const t of this.node.state.tasks()) {
      if (t.worker !== me || this.runs.has(t.id)) continue;
      if (t.status === 'running') this.emit({ kind: 'lost', taskId: t.id, worker: me, at: this.clock.now() });
      else if (t.status === 'assigned') this.waiting.set(t.id, true);
    }
    this.startWaiting();
  }

  /**
   * Called after this node installed a snapshot from the leader: the
   * assignments, starts and outcomes it carried were never seen as applied
   * changes, so line the executor up with the table again. What is
   * assigned here gets started; a start asked for and committed inside the
   * snapshot begins; an attempt running here that the table no longer gives
   * us ends; a task the table shows running here that we are not running
   * was lost (reported, requeued under the same id).
   */
  restored(): void {
    if (this.stopped || !this.caughtUp) return;
    const me = this.node.id;
    for (const [taskId, run] of [...this.runs]) {
      const t = this.node.state.task(taskId);
      if (!t || t.worker !== me || t.status !== 'running' || t.attempt !== run.attempt) this.end(run, 'superseded (snapshot installed)');
    }
    for (const taskId of [...this.waiting.keys(), ...this.starting]) {
      const t = this.node.state.task(taskId);
      if (!t || t.worker !== me || (t.status !== 'assigned' && t.status !== 'running')) this.forget(taskId);
    }
    for (const t of this.node.state.tasks()) {
      if (t.worker !== me || this.runs.has(t.id)) continue;
      if (t.status === 'assigned') {
        if (!this.starting.has(t.id)) this.waiting.set(t.id, true);
      } else if (t.status === 'running') {
        if (this.starting.delete(t.id)) this.begin(t);
        else this.emit({ kind: 'lost', taskId: t.id, worker: me, at: this.clock.now() });
      }
    }
    this.startWaiting();
  }

  /**
   * Stops taking work, for a graceful shutdown: tasks assigned here and not
   * started are handed back at once (pending again, same id, no attempt
   * used); attempts running go on (see {@link handBack}).
   */
  drain(): void {
    this.draining = true;
    this.startWaiting();
  }

  /** Attempts running here, and starts asked for and not yet committed. */
  get busy(): number {
    return this.runs.size + this.starting.size;
  }

  /** Tasks this worker holds: {@link busy}, and those assigned here waiting for a slot. */
  get held(): number {
    return this.busy + this.waiting.size;
  }

  /** Hands back what still runs (a drain's deadline): each task pending again under its id, its attempt aborted. */
  handBack(reason: string): void {
    const me = this.node.id;
    const at = this.clock.now();
    for (const taskId of this.starting) this.emit({ kind: 'lost', taskId, worker: me, at, reason });
    this.starting.clear();
    for (const run of [...this.runs.values()]) {
      this.emit({ kind: 'lost', taskId: run.taskId, worker: me, at, reason });
      this.end(run, reason);
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const run of this.runs.values()) this.end(run, 'worker stopped');
    if (this.flushHandle !== undefined) this.clock.clearTimeout(this.flushHandle);
  }

  private onChanges(c: AppliedChanges): void {
    if (c.entry.index <= this.recoveredIndex) return; // history, replayed after a restart
    const me = this.node.id;
    for (const t of c.tasks) {
      if (t.rejected) continue;
      const run = this.runs.get(t.taskId);
      if ((t.change === 'assign' || t.change === 'reassign') && t.to === 'assigned') {
        if (t.worker === me) {
          this.waiting.set(t.taskId, true);
        } else {
          this.forget(t.taskId);
          if (run) this.end(run, `reassigned to ${t.worker}`);
        }
      } else if (t.change === 'start' && t.worker === me) {
        this.starting.delete(t.taskId);
        const record = this.node.state.task(t.taskId);
        if (record && !run) this.begin(record);
      } else if (t.change !== 'progress' && t.change !== 'start') {
        // Cancelled, lost, or this attempt's outcome committed: nothing more to do here.
        this.forget(t.taskId);
        if (run) this.end(run, t.reason ?? t.change);
      }
    }
    this.startWaiting();
  }

  /** Asks to start waiting tasks while there are free slots. */
  private startWaiting(): void {
    if (this.draining) {
      // Nothing new starts here: hand each waiting task back.
      for (const [taskId] of this.waiting) {
        const record = this.node.state.task(taskId);
        if (record?.status === 'assigned' && record.worker === this.node.id) this.emit({ kind: 'lost', taskId, worker: this.node.id, at: this.clock.now(), reason: `handed back: ${this.node.id} is draining` });
      }
      this.waiting.clear();
      return;
    }
    while (this.waiting.size > 0 && this.runs.size + this.starting.size < this.concurrency) {
      const [taskId] = this.waiting.shift()!;
      const record = this.node.state.task(taskId);
      if (!record || record.status !== 'assigned' || record.worker !== this.node.id) continue;
      this.starting.add(taskId);
      this.emit({ kind: 'start', taskId, worker: this.node.id, attempt: record.attempt + 1, at: this.clock.now() });
    }
  }

  private forget(taskId: string): void {
    this.waiting.delete(taskId);
    this.starting.delete(taskId);
  }

  private begin(record: Readonly<TaskRecord>): void {
    const me = this.node.id;
    const attempt = record.attempt;
    const handler = this.handlers.get(record.spec.type);
    if (!handler) {
      this.emit({ kind: 'fail', taskId: record.id, worker: me, attempt, error: `no handler for task type '${record.spec.type}' on ${me}`, retryable: false, retryAt: this.clock.now(), at: this.clock.now() });
      return;
    }
    const run: Run = { taskId: record.id, attempt, startedAt: this.clock.now(), actor: null, abort: null, abortReason: undefined, over: false, lastProgressAt: Number.NEGATIVE_INFINITY };
    this.runs.set(record.id, run);
    const ctx = new AttemptContext(this, run, me, record.spec.resources);
    let out: unknown;
    try {
      out = handler(record.spec.payload, ctx);
    } catch (err) {
      this.failed(run, record, err);
      return;
    }
    if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function') {
      // The attempt takes time: supervise it with a lifecycle actor, whose
      // deadline timer is armed now, the instant the attempt started.
      if (!run.over) this.supervise(run, record);
      // Its continuations run at this virtual instant, drained by the kernel.
      this.clock.wake?.();
      Promise.resolve(out).then(
        (result) => this.succeeded(run, record, result),
        (err: unknown) => this.failed(run, record, err),
      );
    } else {
      this.succeeded(run, record, out);
    }
  }

  /**
   * Runs the attempt as a `taskLifecycle` actor from the replicated
   * `assigned` state (cheaper than replaying ASSIGN); entering `running`
   * arms the chart's own deadline timer, whose firing times the attempt out.
   * An attempt that finishes within the instant it started never needs one.
   */
  private supervise(run: Run, record: Readonly<TaskRecord>): void {
    const me = this.node.id;
    const attempt = run.attempt;
    const assigned = taskLifecycle.resolveState({
      value: 'assigned',
      context: { attempt: attempt - 1, maxRetries: record.maxRetries, timeoutMs: record.timeoutMs, backoffMs: record.backoffMs, worker: me },
    });
    const actor = createActor(taskLifecycle, { clock: this.clock, id: `task(${record.id})`, snapshot: assigned, input: {}, ...(this.inspect ? { inspect: this.inspect } : {}) });
    run.actor = actor;
    actor.start();
    actor.send({ type: 'START' });
    actor.subscribe((snap) => {
      if (!run.over && (snap.value === 'timedOut' || snap.value === 'failed')) {
        if (this.runs.get(run.taskId) !== run) return;
        this.finish(run);
        this.abortRun(run, new Error(`attempt ${attempt} timed out after ${record.timeoutMs} ms`));
        this.emit({ kind: 'timeout', taskId: run.taskId, worker: me, attempt, retryAt: this.retryAt(record, attempt), at: this.clock.now() });
      }
    });
  }

  /** The attempt's AbortSignal, made on first use (already aborted if the attempt was given up). */
  /** @internal (AttemptContext) */
  signalOf(run: Run): AbortSignal {
    if (!run.abort) {
      run.abort = new AbortController();
      if (run.abortReason !== undefined) run.abort.abort(run.abortReason);
    }
    return run.abort.signal;
  }

  private abortRun(run: Run, reason: unknown): void {
    run.abortReason = reason;
    if (run.abort && !run.abort.signal.aborted) {
      run.abort.abort(reason);
      this.clock.wake?.();
    }
  }

  private succeeded(run: Run, record: Readonly<TaskRecord>, result: unknown): void {
    if (run.over || this.stopped) return;
    this.finish(run);
    run.actor?.send({ type: 'COMPLETE' });
    const now = this.clock.now();
    // Proposed as its canonical copy: the handler's own objects (a Date, a
    // class instance with toJSON) would not cross the wire, nor should the
    // handler keep a reference into the log.
    let canonical: { value: unknown; hash: string; bytes: number };
    try {
      canonical = canonicalResult(result);
    } catch (err) {
      this.failed(run, record, new NonRetryableError(`result is not a value (JSON data or Uint8Array): ${(err as Error).message}`), true);
      return;
    }
    if (canonical.bytes > MAX_RESULT_BYTES) {
      this.failed(run, record, new NonRetryableError(`result is about ${canonical.bytes} bytes, the limit is ${MAX_RESULT_BYTES} (store large outputs elsewhere and return a reference)`), true);
      return;
    }
    this.emit({
      kind: 'complete',
      taskId: run.taskId,
      worker: this.node.id,
      attempt: run.attempt,
      result: canonical.value,
      proof: { taskId: run.taskId, workerId: this.node.id, attempt: run.attempt, startedAt: run.startedAt, completedAt: now, ...cpuTimeOf(run, now), resultHash: canonical.hash },
      at: now,
    });
  }

  private failed(run: Run, record: Readonly<TaskRecord>, err: unknown, force = false): void {
    if ((run.over && !force) || this.stopped) return;
    this.finish(run);
    const retryable = !(err instanceof NonRetryableError || (err as { retryable?: unknown })?.retryable === false);
    run.actor?.send({ type: 'FAIL', retryable });
    this.emit({
      kind: 'fail',
      taskId: run.taskId,
      worker: this.node.id,
      attempt: run.attempt,
      // A handler's message is any string: made well-formed so that it crosses the wire as it is.
      error: toWellFormed(err instanceof Error ? err.message : String(err)),
      retryable,
      retryAt: this.retryAt(record, run.attempt),
      at: this.clock.now(),
    });
  }

  /** The proposer's decision of when a retry may run: backoff with jitter from this node's stream. */
  private retryAt(record: Readonly<TaskRecord>, attempt: number): number {
    return this.clock.now() + backoffDelay(record.spec.backoff, attempt, this.random.float());
  }

  /** @internal (AttemptContext) The node's clock. */
  now(): number {
    return this.clock.now();
  }

  /** @internal (AttemptContext) */
  progress(run: Run, fraction: number): void {
    if (run.over || !(fraction >= 0 && fraction <= 1)) return;
    const now = this.clock.now();
    if (now - run.lastProgressAt < this.progressIntervalMs) return;
    run.lastProgressAt = now;
    run.actor?.send({ type: 'PROGRESS', progress: fraction });
    this.emit({ kind: 'progress', taskId: run.taskId, worker: this.node.id, attempt: run.attempt, progress: fraction, at: now });
  }

  /** @internal (AttemptContext) */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const h = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        this.clock.wake?.();
        resolve();
      }, ms);
      const onAbort = () => {
        this.clock.clearTimeout(h);
        this.clock.wake?.();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The outcome is decided here; the run stays known until its change commits. */
  private finish(run: Run): void {
    run.over = true;
  }

  private end(run: Run, reason: string): void {
    this.runs.delete(run.taskId);
    if (!run.over) {
      run.over = true;
      this.abortRun(run, new Error(reason));
    }
    run.actor?.stop();
  }

  /** Batches this instant's changes into one forwarded entry. */
  private emit(change: TaskChange): void {
    if (this.stopped) return;
    this.outbox.push(change);
    if (this.flushHandle === undefined) {
      this.flushHandle = this.clock.setTimeout(() => {
        this.flushHandle = undefined;
        const changes = this.outbox;
        this.outbox = [];
        const proofBatch = this.proofSigner ? signCompletions(this.proofSigner, changes) : undefined;
        if (changes.length > 0) this.node.forward(proofBatch ? { op: 'taskChanges', changes, proofBatch } : { op: 'taskChanges', changes });
      }, 0);
    }
  }
}

/**
 * What a handler is given for one attempt. A class with a prototype getter,
 * not an object literal with one (which V8 builds on a slow path); the
 * methods are bound fields, so a handler may destructure them
 * (`async (p, { sleep, signal }) => …`).
 */
class AttemptContext implements HandlerContext {
  readonly taskId: string;
  readonly attempt: number;
  private declared: Readonly<Resources> | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly run: Run,
    readonly worker: string,
    private readonly spec: Readonly<Resources>,
  ) {
    this.taskId = run.taskId;
    this.attempt = run.attempt;
  }

  /** A frozen copy of the spec's resources, made on first use (the record's own object stays out of the handler's reach). */
  get resources(): Readonly<Resources> {
    return (this.declared ??= Object.freeze({ cpu: this.spec.cpu, memoryBytes: this.spec.memoryBytes }));
  }

  get signal(): AbortSignal {
    return this.executor.signalOf(this.run);
  }

  readonly progress = (fraction: number): void => this.executor.progress(this.run, fraction);

  readonly sleep = (ms: number): Promise<void> => this.executor.sleep(ms, this.executor.signalOf(this.run));

  readonly now = (): number => this.executor.now();

  readonly reportCpuTime = (us: number): void => {
    if (Number.isFinite(us) && us >= 0) this.run.cpuTimeUs = Math.round(us);
  };
}

/** The proof's CPU time: what the handler measured, else the elapsed time on the worker's clock (and which it is). */
function cpuTimeOf(run: Run, now: number): { cpuTimeUs: number; cpuTimeSource: 'thread' | 'elapsed' } {
  return run.cpuTimeUs !== undefined ? { cpuTimeUs: run.cpuTimeUs, cpuTimeSource: 'thread' } : { cpuTimeUs: Math.round((now - run.startedAt) * 1000), cpuTimeSource: 'elapsed' };
}

/**
 * Signs the proofs of the completions in one report, in place (the changes
 * are this executor's own, not yet sent). Here, once per report, so that a
 * batch signer covers everything reported together with one signature.
 * Returns the batch signature the report carries beside its unsigned
 * proofs, if the signer signed them as one batch (see `ProofBatchSignature`).
 */
function signCompletions(signer: ProofSigner, changes: TaskChange[]): ProofBatchSignature | undefined {
  const completions = completionsOf(changes);
  if (completions.length === 0) return undefined;
  const signed = signer.signReport(completions.map((c) => c.proof));
  for (let i = 0; i < completions.length; i++) completions[i].proof = signed.proofs[i];
  return signed.batch;
}
