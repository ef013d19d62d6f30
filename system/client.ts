import { Observable, defer, from, shareReplay, switchMap, lastValueFrom } from 'rxjs';
import type { ApplyErrorCode, ClusterCommand, ClusterState, SessionCommand } from '../actors/clusterState.js';
import type { NewTask, ProofArtifact, TaskRecord } from '../actors/taskTable.js';
import type { TaskStreamEvent } from './events.js';
import { seededIds, type IdSource } from './ids.js';
import { resolveTaskSpec, type TaskSpec } from './taskSpec.js';
import type { ClusterNode, ProposeOutcome } from '../actors/clusterNode.js';
import { createActor, type Actor } from 'xstate';
import { breakerAdmits, circuitBreaker } from '../machines/circuitBreaker.js';
import { ClientError } from './clientError.js';
import { checkCommand } from './commandCheck.js';
import type { Cluster } from './cluster.js';

/** Options of a {@link ClusterClient}. */
export interface ClientOptions {
  /** Session id (default `clientN`). */
  id?: string;
  /** Give up after this long (virtual ms); the outcome is then unknown. */
  timeoutMs?: number;
  /** Wait this long for one node's answer before trying another. */
  attemptTimeoutMs?: number;
  /** Pause between attempts when no leader is known. */
  retryMs?: number;
  /** One-way latency between the client and a node (virtual ms). */
  latencyMs?: number;
}

export { ClientError, type ClientErrorCode } from './clientError.js';
export { InvalidCommandError, COMMAND_LIMITS } from './commandCheck.js';

/** A successful request: where it was applied, and the state machine's answer. */
export interface Applied {
  index: number;
  term: number;
  value: unknown;
}

/** A completed task's outcome. */
export interface TaskResult {
  taskId: string;
  result: unknown;
  proof: ProofArtifact;
}

/**
 * A submitted task, seen from the submitter. Its events come from the
 * cluster's event stream, not from the node that took the submission, so
 * the submitter hears of completion even if that node has crashed since.
 */
export interface TaskHandle {
  /** The id the client gave the task (an idempotency key may resolve to an older task: see `accepted`). */
  readonly id: string;
  /** Resolves once the submission is committed: the task id it resolved to, and its log index. */
  readonly accepted: Promise<{ taskId: string; index: number }>;
  /** The task's events from its submission on; completes after the final one. */
  readonly status$: Observable<TaskStreamEvent>;
  /** The result and proof; rejects with a {@link ClientError} (`TaskFailed`, `TaskCancelled`, …). */
  readonly result: Promise<TaskResult>;
}

type Attempt = ProposeOutcome | { ok: false; code: 'Unreachable'; leaderHint: null; message: string };

/**
 * A client of a simulated cluster. It talks to the node it believes leads,
 * follows `NotLeader` hints, retries on timeouts with the same session
 * sequence number (so a retried command applies once, dissertation §6.3),
 * and reports a timeout as an unknown outcome, never as a failure.
 */
export class ClusterClient {
  private seq = 0;
  /** The session requests are numbered in: the client id, then a new one each time the cluster says it forgot the last. */
  private session: string;
  private sessionEpoch = 0;
  /** Request numbers still awaiting an answer (the session keeps their answers until they leave). */
  private readonly unanswered = new Set<number>();
  private leaderGuess: string | null = null;
  private readonly taskIds: IdSource;
  /** One circuit breaker per node this client talks to: a node that keeps timing out is skipped. */
  private readonly breakers = new Map<string, Actor<typeof circuitBreaker>>();
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly retryMs: number;
  private readonly latencyMs: number;

  constructor(
    private readonly cluster: Cluster,
    readonly id: string,
    options: ClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
    this.retryMs = options.retryMs ?? 50;
    this.latencyMs = options.latencyMs ?? 1;
    this.taskIds = seededIds(cluster.kernel.random(`task-ids:${id}`));
    this.session = id;
  }

  /**
   * Submits a task. Throws {@link InvalidTaskError} at once for a bad spec;
   * everything after is in the handle.
   */
  submitTask(spec: TaskSpec): TaskHandle {
    return this.submitTasks([spec])[0];
  }

  /** Submits tasks in one log entry (one commit for all of them). */
  submitTasks(specs: readonly TaskSpec[], resubmitOf?: readonly (string | undefined)[]): TaskHandle[] {
    if (specs.length === 0) throw new RangeError('submitTasks needs at least one task');
    const now = this.cluster.kernel.now();
    const tasks: NewTask[] = specs.map((spec, i) => ({
      id: this.taskIds.next('task'),
      spec: resolveTaskSpec(spec),
      submittedAt: now,
      ...(resubmitOf?.[i] ? { resubmitOf: resubmitOf[i] } : {}),
    }));
    const applied = this.submitChecked({ op: 'submitTasks', tasks });
    applied.catch(() => {}); // observed through each handle
    return tasks.map((t, i) => this.handle(t.id, applied.then((a) => ({ taskId: (a.value as string[])[i], index: a.index }))));
  }

  /** Resubmits a dead-letter task as a new task with the same spec. */
  async resubmit(taskId: string): Promise<TaskHandle> {
    const dead = await this.read((s) => s.taskTable.deadLetters().find((t) => t.id === taskId));
    if (!dead) throw new ClientError('TaskNotFound', `no dead-letter task '${taskId}'`, 'failed');
    const { idempotencyKey: _key, ...spec } = dead.spec;
    return this.submitTasks([spec], [taskId])[0];
  }

  /** Cancels a task: a pending one never runs, a running one has its AbortSignal fired. */
  async cancelTask(taskId: string, reason = 'cancelled by client'): Promise<void> {
    await this.submit({ op: 'taskChanges', changes: [{ kind: 'cancel', taskId, reason, at: this.cluster.kernel.now() }] });
  }

  /** A task as the replicated state has it now (linearizable), dead letters included. */
  task(taskId: string): Promise<Readonly<TaskRecord> | undefined> {
    return this.read((s) => s.task(taskId));
  }

  /** Tasks whose retries are exhausted. */
  deadLetters(): Promise<Readonly<TaskRecord>[]> {
    return this.read((s) => s.taskTable.deadLetters());
  }

  private handle(id: string, accepted: Promise<{ taskId: string; index: number }>): TaskHandle {
    accepted.catch(() => {});
    const kernel = this.cluster.kernel;
    // Settled promises resume async callers: let the kernel drain them.
    const wake = <T>(p: Promise<T>) => {
      const woken = p.finally(() => kernel.wake());
      woken.catch(() => {}); // rejections reach whoever awaits the handle, not the unhandled-rejection hook
      return woken;
    };
    const cluster = this.cluster;
    let status$: Observable<TaskStreamEvent> | undefined;
    let result: Promise<TaskResult> | undefined;
    // Built on first use: a submitter of a million tasks who watches the
    // event stream instead pays nothing per task here.
    const handle: TaskHandle = {
      id,
      accepted: wake(accepted),
      get status$() {
        return (status$ ??= defer(() => from(accepted)).pipe(
          switchMap(({ taskId, index }) => cluster.watchTask(taskId, index)),
          shareReplay(),
        ));
      },
      get result() {
        return (result ??= wake(
          lastValueFrom(handle.status$).then((last): TaskResult => {
            if (last.type === 'task.completed') return { taskId: last.taskId, result: last.result, proof: last.proof };
            if (last.type === 'task.cancelled') throw new ClientError('TaskCancelled', `task ${last.taskId} was cancelled: ${last.reason ?? ''}`, 'failed');
            throw new ClientError('TaskFailed', `task ${last.taskId} failed: ${last.type === 'task.failed' ? last.error : last.type}`, 'failed');
          }),
        ));
      },
    };
    return handle;
  }

  /**
   * Proposes a command and resolves once it is applied. A malformed command,
   * or one outside Grey's value domain, rejects at once with an
   * {@link InvalidCommandError} naming the path at fault; nothing is sent.
   * The command is copied here: changing the object afterwards changes
   * nothing in the cluster.
   */
  async submit(cmd: ClusterCommand): Promise<Applied> {
    return this.submitChecked(checkCommand(cmd));
  }

  /** Submits a command already checked and copied (the client's own, such as task batches). */
  private async submitChecked(cmd: ClusterCommand): Promise<Applied> {
    const seq = ++this.seq;
    this.unanswered.add(seq);
    try {
      return await this.submitSeq(seq, cmd);
    } finally {
      this.unanswered.delete(seq);
    }
  }

  private async submitSeq(seq: number, cmd: ClusterCommand): Promise<Applied> {
    const req = String(seq);
    let lowest = seq;
    for (const s of this.unanswered) if (s < lowest) lowest = s;
    const session = this.session;
    const sc: SessionCommand = { client: session, seq, firstUnanswered: lowest, cmd };
    const kernel = this.cluster.kernel;
    const trace = this.cluster.trace;
    const taskId = cmd.op === 'submitTasks' && cmd.tasks.length === 1 ? cmd.tasks[0].id : undefined;
    trace?.emit({ type: 'client', client: this.id, req, op: cmd.op, phase: 'invoke', ...(taskId ? { taskId } : {}) });
    const deadline = kernel.now() + this.timeoutMs;
    let lastError = 'no attempt';
    let tried = 0;
    while (kernel.now() < deadline) {
      const target = this.pickTarget(tried++);
      const outcome = target === null ? null : await this.attempt(target, sc, Math.min(this.attemptTimeoutMs, deadline - kernel.now()));
      if (outcome?.ok) {
        this.leaderGuess = target;
        const r = outcome.result;
        const digest = this.cluster.isUp(target!) ? this.cluster.node(target!).raft.digestAt(outcome.index) : undefined;
        trace?.emit({
          type: 'client', client: this.id, req, op: cmd.op, phase: 'ok', index: outcome.index, term: outcome.term,
          ...(digest ? { digest } : {}), ...(r.ok ? {} : { error: r.code }), ...(taskId ? { taskId } : {}),
        });
        if (!r.ok && r.code === 'SessionExpired') {
          // The cluster forgot this session: what it did before is unknown, so
          // say so, and number later requests in a fresh session.
          // (Request numbers keep counting, so they stay unique across sessions.)
          if (this.session === session) this.session = `${this.id}~${++this.sessionEpoch}`;
          throw new ClientError('SessionExpired', r.message, 'unknown');
        }
        if (!r.ok) throw new ClientError(r.code, r.message, 'failed');
        // A retry answered from the session: report where the command took effect.
        return { index: r.appliedIndex ?? outcome.index, term: outcome.term, value: r.value };
      }
      if (outcome && !outcome.ok && outcome.code === 'Backpressure') {
        trace?.emit({ type: 'client', client: this.id, req, op: cmd.op, phase: 'fail', error: 'Backpressure', ...(taskId ? { taskId } : {}) });
        throw new ClientError('Backpressure', outcome.message, 'failed', outcome.leaderHint);
      }
      if (outcome) {
        lastError = `${outcome.code}: ${outcome.message}`;
        this.leaderGuess = outcome.leaderHint;
      } else {
        this.leaderGuess = null;
      }
      if (!outcome?.leaderHint) await kernel.sleep(Math.min(this.retryMs, Math.max(0, deadline - kernel.now())));
    }
    trace?.emit({ type: 'client', client: this.id, req, op: cmd.op, phase: 'info', error: 'Timeout', ...(taskId ? { taskId } : {}) });
    throw new ClientError('Timeout', `no answer within ${this.timeoutMs} ms (last: ${lastError}); the command may or may not have been applied`, 'unknown');
  }

  /** A linearizable read of the replicated state (ReadIndex on the leader). */
  async read<T>(query: (state: ClusterState) => T): Promise<T> {
    const kernel = this.cluster.kernel;
    const deadline = kernel.now() + this.timeoutMs;
    let tried = 0;
    while (kernel.now() < deadline) {
      const target = this.pickTarget(tried++);
      if (target !== null) {
        const outcome = await this.call<{ ok: true; value: T; index: number } | Extract<Attempt, { ok: false }>>(target, Math.min(this.attemptTimeoutMs, deadline - kernel.now()), (node, done) =>
          node.read(query, done),
        );
        if (outcome.ok) {
          this.leaderGuess = target;
          // A copy: what a read returns must not be a live view into a replica.
          return structuredClone(outcome.value);
        }
        this.leaderGuess = outcome.leaderHint;
        if (outcome.leaderHint) continue;
      }
      await kernel.sleep(Math.min(this.retryMs, Math.max(0, deadline - kernel.now())));
    }
    // Like a write's: the client cannot tell what a lost answer would have said.
    throw new ClientError('Timeout', `read: no answer within ${this.timeoutMs} ms`, 'unknown');
  }

  /** The state of this client's breaker towards each node it has called. */
  breakerStates(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [node, b] of this.breakers) out[node] = b.getSnapshot().value as string;
    return out;
  }

  private breakerFor(node: string): Actor<typeof circuitBreaker> {
    let b = this.breakers.get(node);
    if (!b) {
      b = createActor(circuitBreaker, { clock: this.cluster.kernel, input: { failureThreshold: 2, resetTimeoutMs: 1_000, halfOpenMaxCalls: 1, successThreshold: 1 } }).start();
      this.breakers.set(node, b);
    }
    return b;
  }

  private pickTarget(attempt: number): string | null {
    const admits = (id: string) => this.cluster.isUp(id) && breakerAdmits(this.breakerFor(id).getSnapshot());
    if (this.leaderGuess && admits(this.leaderGuess)) return this.leaderGuess;
    // Fail fast past nodes whose breaker is open; probe them again once it half-opens.
    const candidates = this.cluster.ids.filter(admits);
    return candidates.length === 0 ? null : candidates[attempt % candidates.length];
  }

  private attempt(target: string, sc: SessionCommand, timeout: number): Promise<Attempt> {
    return this.call<Attempt>(target, timeout, (node, done) => node.propose(sc, done));
  }

  /** One request to one node, with the client's latency both ways and a timeout. */
  private call<R>(target: string, timeout: number, invoke: (node: ClusterNode, done: (r: R) => void) => void): Promise<R | Extract<Attempt, { ok: false }>> {
    const kernel = this.cluster.kernel;
    const breaker = this.breakerFor(target);
    breaker.send({ type: 'CALL' });
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: R | Extract<Attempt, { ok: false }>) => {
        if (settled) return;
        settled = true;
        // Any answer (even NotLeader) shows the node is responsive; silence is a failure.
        const silent = (r as { code?: string }).code === 'Unreachable';
        breaker.send({ type: silent ? 'FAILURE' : 'SUCCESS' });
        kernel.wake();
        resolve(r);
      };
      const timer = kernel.schedule(timeout, () => finish({ ok: false, code: 'Unreachable', leaderHint: null, message: `${target} did not answer in ${timeout} ms` }));
      kernel.schedule(this.latencyMs, () => {
        if (!this.cluster.isUp(target)) return; // the request is lost with the node; the timer answers
        invoke(this.cluster.node(target), (r) =>
          kernel.schedule(this.latencyMs, () => {
            kernel.cancel(timer);
            finish(r);
          }),
        );
      });
    });
  }
}
