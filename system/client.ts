import { Observable } from 'rxjs';
import type { KvChange, KvEntry, KvExpectation, KvRead } from '../actors/kvStore.js';
import { SubmittedTask } from './taskHandle.js';
import type { ClusterCommand, FenceAnswer, MemberRecord, SessionCommand } from '../actors/clusterState.js';
import type { ProofArtifact, TaskRecord } from '../actors/taskTable.js';
import { compactTaskSpec, type WireTask } from '../actors/wireTaskSpec.js';
import type { TaskStreamEvent } from './events.js';
import { seededIds, type IdSource } from './ids.js';
import { resolveTaskSpecSized, TASK_LIMITS, type TaskSpec } from './taskSpec.js';
import { createActor, type Actor } from 'xstate';
import { breakerAdmits, breakerIgnores, circuitBreaker, type BreakerConfig, type BreakerEvent, type BreakerInput } from '../machines/circuitBreaker.js';
import { ClientError } from './clientError.js';
import { checkCommand, COMMAND_LIMITS, InvalidCommandError, type CommandLimits } from './commandCheck.js';
import { checkValue, ValueDomainError } from './valueDomain.js';
import { CLIENT_REPLY, CLIENT_REQUEST, type ClientReply, type ClientRequest, type NodeStatus } from '../actors/clientProtocol.js';
import type { Queries, QueryName } from '../actors/queries.js';
import type { Observable as Stream } from 'rxjs';
import type { Clock, TimerHandle } from './clock.js';
import type { Envelope } from './envelope.js';
import type { RandomSource } from './random.js';
import type { Trace } from './trace.js';

/** Bytes of a `submitTasks` command beyond its tasks and tenant, at most (its op, framing, the tenant's key). */
const COMMAND_FRAME_BYTES = 64;

/** The fields of {@link ClientOptions}: any other is refused (a typo would otherwise be ignored). */
const CLIENT_OPTION_KEYS: ReadonlySet<string> = new Set(['id', 'endpoints', 'timeoutMs', 'attemptTimeoutMs', 'minRetransmitMs', 'retryMs', 'maxInDoubt', 'limits', 'session', 'breaker', 'tenant']);

/** The fields of {@link ClientLimits}. */
const CLIENT_LIMIT_KEYS: readonly string[] = ['maxCommandBytes', 'maxNameLength', 'maxPayloadBytes'];

/** Options of a {@link ClusterClient}. */
export interface ClientOptions {
  /** Session id, and the client's address on the network (default `clientN`). */
  id?: string;
  /** The nodes this client may send to (default: every node of the cluster when the client was made). */
  endpoints?: readonly string[];
  /** Give up after this long (virtual ms); the outcome is then unknown. */
  timeoutMs?: number;
  /**
   * Wait this long for one node's answer before trying another. Within it
   * the request is sent again whenever a measured round trip's worth of
   * time (as TCP's retransmission timeout) passes without an answer.
   */
  attemptTimeoutMs?: number;
  /** The shortest wait before sending a request again, however fast round trips are. Default 20 ms. */
  minRetransmitMs?: number;
  /** Pause between attempts when no leader is known. */
  retryMs?: number;
  /**
   * Requests whose outcome is unknown (timed out) that the client keeps, so
   * that they can be retried with the same number or settled with
   * {@link ClusterClient.outcome}. Past this, the oldest is forgotten.
   */
  maxInDoubt?: number;
  /** Size limits checked before anything is sent. */
  limits?: Partial<ClientLimits>;
  /**
   * The session requests are numbered in (default: the client id). Two
   * clients must never share one: a real-mode client that restarts, or a
   * second process with the same certificate, takes a fresh one
   * (`<id>~<random>`), since its numbers start again at 1.
   */
  session?: string;
  /**
   * The circuit breaker the client keeps towards each node (see
   * `machines/circuitBreaker.ts`): settings left out keep the client's
   * ({@link CLIENT_BREAKER}: 2 timeouts in a row open it for 1 000 ms, then
   * one trial call). `false`: no breakers, every node is always tried. When
   * every endpoint's breaker is open the client still sends to them, one
   * probe at a time, as load balancers do below their panic threshold:
   * skipping them all would only add latency, and an answer to a probe
   * closes that node's breaker.
   */
  breaker?: BreakerInput | false;
  /**
   * The tenant this client acts for (see {@link TenantClient}): its tasks
   * default to it, and its submissions, cancellations and task reads carry
   * it, so the cluster refuses (`Unauthorized`) any that reach into another
   * tenant's tasks.
   */
  tenant?: string;
}

/**
 * The breaker each client keeps towards each node, unless
 * {@link ClientOptions.breaker} says otherwise: 2 timeouts in a row, or
 * half of the last 20 calls once 10 were made, open it for 1 000 ms; then
 * one trial call, whose success closes it.
 */
export const CLIENT_BREAKER: Readonly<BreakerConfig> = Object.freeze({
  failureThreshold: 2,
  failureRateThreshold: 0.5,
  windowSize: 20,
  minimumVolume: 10,
  resetTimeoutMs: 1_000,
  halfOpenMaxCalls: 1,
  successThreshold: 1,
});

/**
 * The breaker configuration of {@link ClientOptions.breaker}, checked
 * (a TypeError or RangeError names the setting at fault); null for none.
 */
export function clientBreakerConfig(option: ClientOptions['breaker']): BreakerConfig | null {
  if (option === false) return null;
  if (option === undefined) return CLIENT_BREAKER;
  if (option === null || typeof option !== 'object' || Array.isArray(option)) throw new TypeError(`client: breaker must be an object of breaker settings or false, got ${JSON.stringify(option)}`);
  const config: BreakerConfig = { ...CLIENT_BREAKER };
  for (const [key, value] of Object.entries(option)) {
    if (!Object.hasOwn(CLIENT_BREAKER, key)) throw new RangeError(`client: unknown breaker setting '${key}' (known: ${Object.keys(CLIENT_BREAKER).join(', ')})`);
    if (value === undefined) continue; // left out: the client's default
    if (typeof value !== 'number') throw new TypeError(`client: breaker.${key} must be a number, got ${JSON.stringify(value)}`);
    const ok = key === 'failureRateThreshold' ? value > 0 && value <= 1 : key === 'resetTimeoutMs' ? Number.isFinite(value) && value >= 0 : Number.isSafeInteger(value) && value >= 1;
    if (!ok) throw new RangeError(`client: breaker.${key} must be ${key === 'failureRateThreshold' ? 'a number in (0, 1]' : key === 'resetTimeoutMs' ? 'a number of ms ≥ 0' : 'an integer ≥ 1'}, got ${value}`);
    config[key as keyof BreakerConfig] = value;
  }
  if (config.minimumVolume > config.windowSize) throw new RangeError(`client: breaker.minimumVolume (${config.minimumVolume}) must not exceed breaker.windowSize (${config.windowSize})`);
  return config;
}

/**
 * Checks a client's options before anything is made of them (so a refused
 * client leaves nothing behind); returns its breaker configuration.
 */
export function checkClientOptions(options: ClientOptions): BreakerConfig | null {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`client: options must be an object, got ${JSON.stringify(options)}`);
  for (const key of Object.keys(options)) {
    if (!CLIENT_OPTION_KEYS.has(key)) throw new RangeError(`client: unknown option '${key}' (known: ${[...CLIENT_OPTION_KEYS].join(', ')})`);
  }
  for (const key of ['timeoutMs', 'attemptTimeoutMs', 'minRetransmitMs', 'retryMs'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new RangeError(`client: ${key} must be a number of ms > 0, got ${JSON.stringify(v)}`);
  }
  if (options.maxInDoubt !== undefined && !(Number.isSafeInteger(options.maxInDoubt) && options.maxInDoubt >= 0)) throw new RangeError(`client: maxInDoubt must be an integer ≥ 0, got ${JSON.stringify(options.maxInDoubt)}`);
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) throw new TypeError(`client: id must be a non-empty string, got ${JSON.stringify(options.id)}`);
  if (options.session !== undefined && (typeof options.session !== 'string' || options.session.length === 0)) throw new TypeError(`client: session must be a non-empty string, got ${JSON.stringify(options.session)}`);
  const limits = options.limits;
  if (limits !== undefined) {
    if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) throw new TypeError(`client: limits must be an object, got ${JSON.stringify(limits)}`);
    for (const [key, v] of Object.entries(limits)) {
      if (!CLIENT_LIMIT_KEYS.includes(key)) throw new RangeError(`client: unknown limit '${key}' (known: ${CLIENT_LIMIT_KEYS.join(', ')})`);
      if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) > 0)) throw new RangeError(`client: limits.${key} must be an integer > 0, got ${JSON.stringify(v)}`);
    }
  }
  if (options.endpoints !== undefined && (!Array.isArray(options.endpoints) || options.endpoints.some((e) => typeof e !== 'string' || e.length === 0))) {
    throw new TypeError(`client: endpoints must be an array of node ids, got ${JSON.stringify(options.endpoints)}`);
  }
  if (options.endpoints !== undefined && options.endpoints.length === 0) throw new RangeError('a client needs at least one endpoint');
  if (options.tenant !== undefined && (typeof options.tenant !== 'string' || options.tenant.length === 0)) throw new RangeError(`client: tenant must be a non-empty string, got ${String(options.tenant)}`);
  return clientBreakerConfig(options.breaker);
}

/** Size limits a client checks at its edge (a refused command is never sent). */
export interface ClientLimits extends CommandLimits {
  /** Bytes of one task's payload. */
  maxPayloadBytes: number;
}

/** What a client needs from where it runs: a clock, a network address, and the cluster's event stream. */
/**
 * The time a client runs on: the simulation's kernel (virtual time) or
 * {@link WallClock} (real mode).
 */
export interface ClientClock extends Clock {
  now(): number;
  /** Resolves `ms` from now (and wakes the simulation). */
  sleep(ms: number): Promise<void>;
  /** Runs `fn(arg)` once, `delay` ms from now. */
  schedule<A>(delay: number, fn: (arg: A) => void, arg?: A): TimerHandle;
  cancel(handle: TimerHandle): boolean;
  /** Says that async code may have been resumed (the simulation drains microtasks before its next event). */
  wake(): void;
  /** A random stream by name (seeded in the simulation). */
  random(stream: string): RandomSource;
}

/** How a client's messages travel: the simulated bus, or a real-mode transport. */
export interface ClientBus {
  inbox<P = unknown>(id: string): Stream<Envelope<P>>;
  send<P>(from: string, to: string, type: string, payload: P): unknown;
  /** Why `to` cannot be reached, when the transport knows (a failed dial's error); added to a timeout's message. */
  whyUnreachable?(to: string): string | null;
}

export interface ClientNetwork {
  readonly kernel: ClientClock;
  readonly bus: ClientBus;
  readonly trace: Trace | undefined;
  /** The node ids a client sends to unless told otherwise. */
  readonly ids: readonly string[];
  /** One task's events from `fromIndex` on (the cluster's event stream). */
  watchTask(taskId: string, fromIndex?: number): Observable<TaskStreamEvent>;
}

export { ClientError, type ClientErrorCode } from './clientError.js';

/** Changes one poll of a watch asks for. */
const WATCH_PAGE = 500;
export { InvalidCommandError, COMMAND_LIMITS } from './commandCheck.js';

/** A successful request: where it was applied, and the state machine's answer. */
export interface Applied {
  index: number;
  term: number;
  value: unknown;
  /** The request's id in its session (see {@link ClusterClient.outcome}). */
  requestId: string;
}

/** A completed task's outcome. */
export interface TaskResult {
  taskId: string;
  result: unknown;
  proof: ProofArtifact;
}

/** Whether a request took effect: settled by {@link ClusterClient.outcome}, for good. */
export type RequestOutcome = { applied: true; index: number; value: unknown } | { applied: false };

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

type Reply = ClientReply;
const CALL: BreakerEvent = { type: 'CALL' };
const SUCCESS: BreakerEvent = { type: 'SUCCESS' };
const FAILURE: BreakerEvent = { type: 'FAILURE' };
type Refusal = Extract<Reply, { ok: false }> | { ok: false; code: 'Unreachable'; leaderHint: null; message: string };

interface Pending {
  rid: number;
  request: ClientRequest;
  resolve: (r: Reply | Refusal) => void;
  /** The attempt's one timer: the next retransmission, or its end (see {@link ClusterClient.call}). */
  timer: TimerHandle | undefined;
  target: string;
  sentAt: number;
  /** When the attempt gives up, and how long after sending that is. */
  deadline: number;
  timeout: number;
  /** The first wait for an answer, and the current one. */
  first: number;
  wait: number;
  /** Whether the timer set is the attempt's end (not a retransmission). */
  ending: boolean;
  /** Whether the request was sent more than once (its round trip then measures nothing). */
  retransmitted: boolean;
  /** Whether the node's breaker admitted the call; if not, it is a probe made in panic (see {@link ClientOptions.breaker}). */
  admitted: boolean;
}

interface InDoubt {
  session: string;
  seq: number;
  cmd: ClusterCommand;
}

/**
 * A client of a cluster, on the network like any node: its requests and
 * the answers travel over the bus, through the codec and the network model
 * (loss, duplication, reordering, partitions). It knows only what answers
 * and timeouts tell it.
 *
 * It talks to the node it believes leads, follows `NotLeader` hints, and
 * retries on timeouts with the same session sequence number, so a retried
 * command applies once (dissertation §6.3). A request whose attempts all
 * time out ends as a {@link ClientError} with outcome `unknown` and a
 * `requestId`: {@link ClusterClient.retry} sends it again under the same
 * number, and {@link ClusterClient.outcome} settles for good whether it
 * took effect.
 */
export class ClusterClient {
  private seq = 0;
  private rid = 0;
  /** The session requests are numbered in: the client id, then a new one each time the cluster says it forgot the last. */
  private session: string;
  private readonly baseSession: string;
  private sessionEpoch = 0;
  /** Request numbers still awaiting an answer, by session (the session keeps their answers until they leave). */
  private readonly unanswered = new Map<number, string>();
  /** Timed-out requests kept for retry or settlement, oldest first. */
  private readonly doubts = new Map<string, InDoubt>();
  private readonly pending = new Map<number, Pending>();
  private leaderGuess: string | null = null;
  private readonly taskIds: IdSource;
  /** One circuit breaker per node this client talks to: a node that keeps timing out is skipped. */
  private readonly breakers = new Map<string, Actor<typeof circuitBreaker>>();
  /** Nodes whose breaker is closed with a window of successes only (see {@link ClusterClient.toBreaker}). */
  private readonly steadyBreakers = new Set<string>();
  /** Configuration of each node's breaker; null: no breakers ({@link ClientOptions.breaker} `false`). */
  private readonly breakerInput: BreakerConfig | null;
  /** A probe made in panic is in flight: other requests wait for it rather than join it. */
  private panicProbe = false;
  private readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly minRetransmitMs: number;
  /** Smoothed round trip and its variation (Jacobson/Karels), from answered attempts; -1 before the first. */
  private srtt = -1;
  private rttvar = 0;
  private readonly retryMs: number;
  private readonly maxInDoubt: number;
  private readonly limits: ClientLimits;
  private readonly kernel: ClientClock;
  /** The tenant this client acts for, if any ({@link ClientOptions.tenant}). */
  readonly tenant: string | undefined;

  constructor(
    private readonly net: ClientNetwork,
    readonly id: string,
    options: ClientOptions = {},
  ) {
    this.kernel = net.kernel;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
    this.minRetransmitMs = options.minRetransmitMs ?? 20;
    this.retryMs = options.retryMs ?? 50;
    this.maxInDoubt = options.maxInDoubt ?? 256;
    this.limits = { ...COMMAND_LIMITS, maxPayloadBytes: TASK_LIMITS.maxPayloadBytes, ...options.limits };
    this.breakerInput = checkClientOptions(options);
    this.endpoints = [...(options.endpoints ?? net.ids)];
    if (this.endpoints.length === 0) throw new RangeError('a client needs at least one endpoint');
    this.taskIds = seededIds(net.kernel.random(`task-ids:${id}`));
    this.session = this.baseSession = options.session ?? id;
    this.tenant = options.tenant;
    this.inboxSubscription = net.bus.inbox<Reply>(id).subscribe((env) => {
      if (env.type === CLIENT_REPLY) this.onReply(env.from, env.payload);
    });
  }

  /** The client's answers (ended by {@link ClusterClient.detach}). */
  private readonly inboxSubscription: { unsubscribe(): void };

  /** Set by {@link ClusterClient.detach}: nothing more is sent. */
  private closed = false;

  /**
   * Closes the client: it stops receiving answers. A request waiting for an answer ends at once with `Closed`
   * (outcome unknown: it was sent); a later one is refused with `Closed`
   * before anything is sent (a task handle's promises reject with it); a
   * `watch` ends with the same error. Closing twice does nothing. (A
   * promise, as real mode's `close()` is: that one also ends connections
   * and frees the client's id; in a simulation the id stays taken.)
   */
  close(): Promise<void> {
    this.detach();
    return Promise.resolve();
  }

  /** {@link ClusterClient.close}, by its older name. @internal */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    this.inboxSubscription.unsubscribe();
    for (const rid of [...this.pending.keys()]) this.settle(rid, { ok: false, code: 'Unreachable', leaderHint: null, message: 'the client was closed' });
    for (const b of this.breakers.values()) b.stop();
  }

  private refuseIfClosed(what: string): void {
    if (this.closed) throw new ClientError('Closed', `${what}: this client was closed; nothing was sent`, 'failed');
  }

  // ---------------------------------------------------------------- tasks

  /**
   * Submits a task. Throws {@link InvalidTaskError} at once for a bad spec,
   * and {@link InvalidCommandError} for tasks past the command size limit;
   * everything after is in the handle.
   */
  submitTask(spec: TaskSpec): TaskHandle {
    return this.submitTasks([spec])[0];
  }

  /** Submits tasks in one log entry (one commit for all of them). */
  submitTasks(specs: readonly TaskSpec[], resubmitOf?: readonly (string | undefined)[]): TaskHandle[] {
    if (specs.length === 0) throw new RangeError('submitTasks needs at least one task');
    const now = this.kernel.now();
    const scope = this.tenant;
    let bytesAtMost = COMMAND_FRAME_BYTES + 3 * (scope?.length ?? 0);
    const tasks: WireTask[] = specs.map((given, i) => {
      const id = this.taskIds.next('task');
      const resolved = resolveTaskSpecSized(scope !== undefined && given?.tenant === undefined ? { ...given, tenant: scope } : given, this.limits.maxPayloadBytes, id);
      bytesAtMost += resolved.bytesAtMost + 3 * (resubmitOf?.[i]?.length ?? 0);
      const spec = compactTaskSpec(resolved.spec);
      return resubmitOf?.[i] ? { id, spec, submittedAt: now, resubmitOf: resubmitOf[i] } : { id, spec, submittedAt: now };
    });
    const cmd: ClusterCommand = scope === undefined ? { op: 'submitTasks', tasks } : { op: 'submitTasks', tasks, tenant: scope };
    // Each payload is within its limit; the batch must be within the command's,
    // as the node counts it (measured only when the bound says it may not be).
    if (bytesAtMost > this.limits.maxCommandBytes) {
      const bytes = checkValue(cmd);
      if (bytes > this.limits.maxCommandBytes) throw new InvalidCommandError('$', `is about ${bytes} bytes, the limit is ${this.limits.maxCommandBytes}: submit fewer tasks at once`);
    }
    const applied = this.submitChecked(cmd);
    applied.catch(() => {}); // observed through each handle
    return tasks.map((t, i) => new SubmittedTask(t.id, i, applied, this.net));
  }

  /** Resubmits a dead-letter task as a new task with the same spec. */
  async resubmit(taskId: string): Promise<TaskHandle> {
    const dead = (await this.deadLetters()).find((t) => t.id === taskId);
    if (!dead) throw new ClientError('TaskNotFound', `no dead-letter task '${taskId}'`, 'failed');
    const { idempotencyKey: _key, ...spec } = dead.spec;
    return this.submitTasks([spec], [taskId])[0];
  }

  /** Cancels a task: a pending one never runs, a running one has its AbortSignal fired. */
  async cancelTask(taskId: string, reason = 'cancelled by client'): Promise<void> {
    const changes = [{ kind: 'cancel' as const, taskId, reason, at: this.kernel.now() }];
    await this.submit(this.tenant === undefined ? { op: 'taskChanges', changes } : { op: 'taskChanges', changes, tenant: this.tenant });
  }

  /** A task as the replicated state has it now (linearizable), dead letters included. */
  async task(taskId: string): Promise<Readonly<TaskRecord> | undefined> {
    return (await this.query('task', this.tenant === undefined ? { taskId } : { taskId, tenant: this.tenant })) ?? undefined;
  }

  /** Tasks whose retries are exhausted (a client acting for a tenant: that tenant's). */
  deadLetters(): Promise<Readonly<TaskRecord>[]> {
    return this.query('deadLetters', this.tenant === undefined ? {} : { tenant: this.tenant });
  }

  // ---------------------------------------------------------------- key-value store

  /** Stores `value` under `key`; resolves with the store revision of the change. */
  async put(key: string, value: unknown): Promise<{ revision: number }> {
    return (await this.submit({ op: 'put', key, value })).value as { revision: number };
  }

  /** Removes `key`; `deleted` is false (and the revision unchanged) when there was none. */
  async delete(key: string): Promise<{ deleted: boolean; revision: number }> {
    return (await this.submit({ op: 'delete', key })).value as { deleted: boolean; revision: number };
  }

  /**
   * Compare-and-set: stores `value` only if the key's last change is at
   * `expect.revision` (0: the key is absent) or its value equals
   * `expect.value`. Resolves whether it applied and the key's revision
   * after (0 when absent). Retrying it after a timeout is safe: it applies once.
   */
  async cas(key: string, expect: KvExpectation, value: unknown): Promise<{ applied: boolean; revision: number }> {
    return (await this.submit({ op: 'cas', key, expect, value })).value as { applied: boolean; revision: number };
  }

  /**
   * One key: `{ found: true, value, revision, createRevision, version }`, or
   * `{ found: false }`; both with the store's revision at the read
   * (linearizable: a ReadIndex round at the leader).
   */
  get(key: string): Promise<KvRead> {
    return this.query('get', { key });
  }

  /** Keys starting with `prefix`, in key order, at most `limit` (linearizable). */
  range(prefix: string, limit?: number): Promise<{ entries: KvEntry[]; more: boolean; storeRevision: number }> {
    return this.query('range', limit === undefined ? { prefix } : { prefix, limit });
  }

  /**
   * The changes to `key` (with `prefix: true`, to every key starting with
   * it) from revision `fromRevision` on, then new ones as they commit.
   * Without `fromRevision`, from past the store's revision when the first
   * poll is served (changes committed between the call and then are not
   * seen: pass a revision to miss nothing). It polls with linearizable
   * reads every `pollMs` of (virtual) time. Errors
   * with a {@link ClientError} `Compacted` when `fromRevision` is older than
   * what the store keeps ({@link KvLimits.maxChanges}), or with the read's
   * error when no node answers in time; unsubscribing stops it.
   */
  watch(key: string, options: { fromRevision?: number; prefix?: boolean; pollMs?: number } = {}): Observable<KvChange> {
    const prefix = options.prefix ?? false;
    const pollMs = options.pollMs ?? 20;
    if (!Number.isSafeInteger(options.fromRevision ?? 1) || (options.fromRevision ?? 1) < 1) throw new RangeError(`watch: fromRevision must be an integer ≥ 1, got ${options.fromRevision}`);
    if (!(pollMs > 0)) throw new RangeError(`watch: pollMs must be > 0, got ${pollMs}`);
    return new Observable<KvChange>((sub) => {
      let next = options.fromRevision;
      let stopped = false;
      let timer: TimerHandle | undefined;
      const poll = async (): Promise<void> => {
        timer = undefined;
        try {
          if (next === undefined) next = (await this.query('range', { prefix: '', limit: 1 })).storeRevision + 1; // from now on
          const got = await this.query('changes', { key, prefix, from: next, limit: WATCH_PAGE });
          if (stopped) return;
          if ('compacted' in got) {
            sub.error(new ClientError('Compacted', `revision ${next} was compacted; the oldest kept is ${got.oldest}`, 'failed'));
            return;
          }
          for (const c of got.changes) sub.next(c);
          // A full page: more may follow, from just past its last; else all up to the store's revision was seen.
          const full = got.changes.length >= WATCH_PAGE;
          next = full ? got.changes[got.changes.length - 1].revision + 1 : Math.max(next, got.storeRevision + 1);
          timer = this.kernel.schedule(full ? 0 : pollMs, () => void poll());
        } catch (err) {
          if (!stopped) sub.error(err);
        }
      };
      void poll();
      return () => {
        stopped = true;
        if (timer !== undefined) this.kernel.cancel(timer);
      };
    });
  }

  /** The members of the cluster and their status (linearizable). */
  members(): Promise<MemberRecord[]> {
    return this.query('members', {});
  }

  // ---------------------------------------------------------------- commands

  /**
   * Proposes a command and resolves once it is applied. A malformed command,
   * one outside Grey's value domain or past the client's limits rejects at
   * once with an {@link InvalidCommandError} naming the path at fault;
   * nothing is sent. The command is copied here: changing the object
   * afterwards changes nothing in the cluster.
   */
  async submit(cmd: ClusterCommand): Promise<Applied> {
    return this.submitChecked(checkCommand(cmd, this.limits));
  }

  /**
   * Sends a timed-out request again under its own session number: if the
   * first attempt took effect this answers as it did (applying nothing
   * twice); if not, it may take effect now. `requestId` is the one the
   * timeout's {@link ClientError} carries.
   */
  async retry(requestId: string): Promise<Applied> {
    const doubt = this.doubts.get(requestId);
    if (!doubt) throw new RangeError(`no request '${requestId}' in doubt (known: ${[...this.doubts.keys()].join(', ') || 'none'})`);
    this.doubts.delete(requestId);
    if (doubt.session !== this.session) {
      this.unanswered.delete(doubt.seq);
      throw new ClientError('SessionExpired', `request ${requestId} belongs to a session the cluster forgot; ask its outcome instead`, 'unknown', null, requestId);
    }
    try {
      return await this.run(doubt.seq, doubt.cmd);
    } catch (err) {
      if (err instanceof ClientError && err.code === 'Backpressure' && err.outcome === 'failed') {
        // This copy was shed; the first one may still take effect: the request stays in doubt.
        this.unanswered.set(doubt.seq, doubt.session);
        this.keepInDoubt(doubt);
        throw new ClientError('Backpressure', `${err.message} (the first attempt's outcome is still unknown)`, 'unknown', err.leaderHint, requestId);
      }
      throw err;
    }
  }

  /**
   * Settles whether a timed-out request took effect, for good: the answer
   * goes through the log, so if the request had not been applied it is
   * fenced and will never be (a late copy of it is refused). Rejects with a
   * {@link ClientError} of outcome `unknown` when the cluster no longer
   * knows (the session was forgotten).
   */
  async outcome(requestId: string): Promise<RequestOutcome> {
    const doubt = this.doubts.get(requestId);
    if (!doubt) throw new RangeError(`no request '${requestId}' in doubt (known: ${[...this.doubts.keys()].join(', ') || 'none'})`);
    const applied = await this.submitChecked({ op: 'fence', client: doubt.session, seq: doubt.seq });
    this.doubts.delete(requestId);
    this.unanswered.delete(doubt.seq);
    const answer = applied.value as FenceAnswer;
    if (!answer.applied) return { applied: false };
    return { applied: true, index: answer.index, value: answer.result.ok ? answer.result.value : undefined };
  }

  /** Ids of timed-out requests whose outcome is still unknown, oldest first. */
  inDoubt(): string[] {
    return [...this.doubts.keys()];
  }

  /** Stops keeping a request in doubt (the session may then forget its answer). */
  forget(requestId: string): void {
    const doubt = this.doubts.get(requestId);
    if (!doubt) return;
    this.doubts.delete(requestId);
    this.unanswered.delete(doubt.seq);
  }

  /** Submits a command already checked and copied (the client's own, such as task batches). */
  private submitChecked(cmd: ClusterCommand): Promise<Applied> {
    return this.run(++this.seq, cmd);
  }

  private async run(seq: number, cmd: ClusterCommand): Promise<Applied> {
    const session = this.session;
    this.unanswered.set(seq, session);
    let doubt = false;
    try {
      return await this.propose(seq, session, cmd);
    } catch (err) {
      if (err instanceof ClientError && err.outcome === 'unknown' && err.code !== 'SessionExpired') {
        doubt = true;
        this.keepInDoubt({ session, seq, cmd });
      }
      throw err;
    } finally {
      if (!doubt) this.unanswered.delete(seq);
    }
  }

  private keepInDoubt(d: InDoubt): void {
    this.doubts.set(`${d.session}#${d.seq}`, d);
    while (this.doubts.size > this.maxInDoubt) {
      const [oldest, o] = this.doubts.entries().next().value!;
      this.doubts.delete(oldest);
      this.unanswered.delete(o.seq);
    }
  }

  private async propose(seq: number, session: string, cmd: ClusterCommand): Promise<Applied> {
    const requestId = `${session}#${seq}`;
    let lowest = seq;
    for (const [s, sess] of this.unanswered) if (sess === session && s < lowest) lowest = s;
    const command: SessionCommand = { client: session, seq, firstUnanswered: lowest, cmd };
    const trace = this.net.trace;
    // (Only a traced run pays for what the trace names.)
    const req = trace === undefined ? '' : String(seq);
    const taskId = trace !== undefined && cmd.op === 'submitTasks' && cmd.tasks.length === 1 ? cmd.tasks[0].id : undefined;
    const tag = taskId ? { taskId } : {};
    trace?.emit({ type: 'client', client: this.id, req, op: cmd.op, phase: 'invoke', ...tag });
    let reply: Extract<Reply, { ok: true; kind: 'propose' }>;
    try {
      reply = (await this.exchange((rid) => ({ kind: 'propose', rid, command }), cmd.op)) as typeof reply;
    } catch (err) {
      const e = err as ClientError;
      trace?.emit({ type: 'client', client: this.id, req, op: cmd.op, phase: e.outcome === 'unknown' ? 'info' : 'fail', error: e.code, ...tag });
      throw new ClientError(e.code, e.message, e.outcome, e.leaderHint, requestId);
    }
    const r = reply.result;
    trace?.emit({
      type: 'client', client: this.id, req, op: cmd.op, phase: 'ok', index: reply.index, term: reply.term,
      ...(reply.digest ? { digest: reply.digest } : {}), ...(r.ok ? {} : { error: r.code }), ...tag,
    });
    if (!r.ok && r.code === 'SessionExpired') {
      // The cluster forgot this session: what it did before is unknown, so
      // say so, and number later requests in a fresh session.
      // (Request numbers keep counting, so they stay unique across sessions.)
      if (this.session === session) this.session = `${this.baseSession}~${++this.sessionEpoch}`;
      throw new ClientError('SessionExpired', r.message, 'unknown', null, requestId);
    }
    if (!r.ok) throw new ClientError(r.code, r.message, 'failed', null, requestId, r.retryAfterMs);
    // A retry answered from the session: report where the command took effect.
    return { index: r.appliedIndex ?? reply.index, term: reply.term, value: r.value, requestId };
  }

  // ---------------------------------------------------------------- reads

  /**
   * A named query, answered by the leader after a ReadIndex round
   * (linearizable). Queries are data, so they cross the network; to run a
   * function against the state, use `Cluster.read` in the process that
   * holds the nodes.
   */
  async query<N extends QueryName>(name: N, args: Queries[N]['args']): Promise<Queries[N]['result']> {
    return (await this.queryAt(name, args)).value;
  }

  /** {@link ClusterClient.query}, with the log index the read was served at (every change up to it is in the answer). */
  async queryAt<N extends QueryName>(name: N, args: Queries[N]['args']): Promise<{ index: number; value: Queries[N]['result'] }> {
    if (typeof name !== 'string') throw new ClientError('UnknownQuery', `a query is named by a string, got ${typeof name}`, 'failed');
    try {
      checkValue(args, '$.args');
    } catch (err) {
      if (!(err instanceof ValueDomainError)) throw err;
      throw new ClientError('InvalidQuery', `query ${name}: ${err.path} ${err.detail}`, 'failed');
    }
    const reply = (await this.exchange((rid) => ({ kind: 'query', rid, name, args }), `query ${name}`, true)) as Extract<Reply, { kind: 'query' }>;
    return { index: reply.index, value: reply.value as Queries[N]['result'] };
  }

  /**
   * What node `node` says of itself (role, term, leader, commit and
   * applied indexes, tasks held): asked of that node alone, answered at
   * once, not linearizable. For operators and dashboards.
   */
  async nodeStatus(node: string): Promise<NodeStatus> {
    const r = await this.call(node, { kind: 'status', rid: ++this.rid }, this.attemptTimeoutMs);
    if (!r.ok) throw new ClientError('Timeout', `${node}: ${r.message}`, 'failed', null);
    return (r as Extract<Reply, { kind: 'status' }>).value;
  }

  // ---------------------------------------------------------------- the exchange

  /**
   * Sends a request until some node answers it, following leader hints and
   * skipping nodes whose breaker is open. Throws a {@link ClientError}: the
   * node's refusal when it is final, `Timeout` (outcome unknown) when no
   * answer came in time.
   */
  private async exchange(make: (rid: number) => ClientRequest, what: string, read = false): Promise<Extract<Reply, { ok: true }>> {
    this.refuseIfClosed(what);
    // What an answer that never came leaves in doubt: a read changes nothing.
    const doubt = read ? 'what it would have read is unknown' : 'it may or may not have taken effect';
    const kernel = this.kernel;
    const deadline = kernel.now() + this.timeoutMs;
    let lastError = 'no attempt';
    let tried = 0;
    // An attempt that went unanswered may have reached a node, whose copy may yet take effect.
    let unanswered = false;
    let sent = false;
    while (kernel.now() < deadline) {
      if (this.closed) throw new ClientError('Closed', `${what}: the client was closed before an answer came${sent ? `; ${doubt}` : ''}`, sent ? 'unknown' : 'failed');
      const target = this.pickTarget(tried++);
      if (target === null) {
        // Every breaker shut and a probe already out: wait for it.
        await kernel.sleep(Math.min(this.retryMs, Math.max(0, deadline - kernel.now())));
        continue;
      }
      const r = await this.call(target, make(++this.rid), Math.min(this.attemptTimeoutMs, deadline - kernel.now()));
      sent = true;
      if (this.closed && !r.ok) continue;
      if (r.ok) {
        this.leaderGuess = target;
        return r;
      }
      if (r.code === 'Unreachable') unanswered = true;
      switch (r.code) {
        case 'Backpressure':
          // This copy was refused; an earlier one that went unanswered may still have been accepted (a read changes nothing).
          if (unanswered && !read) throw new ClientError(r.code, `${r.message} (an earlier attempt went unanswered and may yet take effect)`, 'unknown', r.leaderHint);
          throw new ClientError(r.code, r.message, 'failed', r.leaderHint);
        case 'InvalidCommand':
        case 'UnknownQuery':
        case 'InvalidQuery':
        case 'Unauthorized':
          throw new ClientError(r.code, r.message, 'failed', r.leaderHint);
      }
      lastError = `${r.code}: ${r.message}`;
      this.leaderGuess = r.leaderHint === target ? null : r.leaderHint;
      // Straight to the hinted leader, unless its breaker would send this
      // elsewhere (to a node that would only hint again): then pause, as
      // without a hint, rather than bounce between followers.
      if (!this.leaderGuess || !this.admits(this.leaderGuess)) await kernel.sleep(Math.min(this.retryMs, Math.max(0, deadline - kernel.now())));
    }
    throw new ClientError('Timeout', `${what}: no answer within ${this.timeoutMs} ms (last: ${lastError}); ${doubt}`, 'unknown');
  }

  /** How long to wait for an answer before sending again: RFC 6298's estimate from measured round trips, within bounds. */
  private retransmitWait(): number {
    if (this.srtt < 0) return Math.min(this.attemptTimeoutMs, 100);
    return Math.max(this.minRetransmitMs, this.srtt + Math.max(1, 4 * this.rttvar));
  }

  private sampleRtt(rtt: number): void {
    if (this.srtt < 0) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
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
      b = createActor(circuitBreaker, { clock: this.kernel, input: this.breakerInput ?? {} }).start();
      if (this.breakerInput === null) b.send({ type: 'DISABLE' }); // admits everything, records nothing
      this.breakers.set(node, b);
    }
    return b;
  }

  /**
   * Sends an event to a node's breaker, unless it would change nothing (the
   * common case on the hot path costs no actor send). A breaker that has
   * just ignored a success is closed with nothing but successes in its
   * window: it stays so until this client sends it an event (only this
   * client does, and a closed breaker has no timer), so until then calls
   * and successes skip even the look at its snapshot.
   */
  private toBreaker(node: string, event: BreakerEvent): void {
    if ((event.type === 'CALL' || event.type === 'SUCCESS') && this.steadyBreakers.has(node)) return;
    const b = this.breakerFor(node);
    if (breakerIgnores(b.getSnapshot(), event)) {
      if (event.type === 'SUCCESS') this.steadyBreakers.add(node);
      return;
    }
    this.steadyBreakers.delete(node);
    b.send(event);
  }

  private admits(node: string): boolean {
    return this.steadyBreakers.has(node) || breakerAdmits(this.breakerFor(node).getSnapshot());
  }

  /**
   * Where the next attempt goes: the leader guess, else the endpoints whose
   * breaker admits a call, in turn. `null` when none admits one and a
   * probe made in panic is already out (the caller waits for it).
   */
  private pickTarget(attempt: number): string | null {
    const guess = this.leaderGuess;
    if (guess !== null && this.admits(guess)) return guess;
    // Fail fast past nodes whose breaker is open; probe them again once it half-opens.
    const endpoints = this.endpoints;
    const admitted = endpoints.filter((id) => this.admits(id));
    if (admitted.length > 0) return admitted[attempt % admitted.length];
    // Every breaker shut (panic, as load balancers call it): not sending
    // cannot succeed, and a client with one endpoint would idle out the whole
    // reset timeout while that node may answer again. So one probe at a time
    // goes to an open breaker's node (never one an operator forced open, nor
    // past a half-open breaker's trial in flight), the leader guess first.
    if (this.panicProbe) return null;
    const open = (id: string) => this.breakerFor(id).getSnapshot().value === 'open';
    if (guess !== null && open(guess)) return guess;
    const candidates = endpoints.filter(open);
    return candidates.length === 0 ? null : candidates[attempt % candidates.length];
  }

  /**
   * One attempt at one node: the request is sent, and sent again (same
   * `rid`) each time the round-trip estimate passes without an answer (the
   * second wait doubled, later ones the same), as TCP retransmits; the attempt fails after `timeout` of
   * silence. A lost request or answer costs a retransmission, not the whole
   * timeout, and the node folds repeats of a proposal into one.
   */
  private call(target: string, request: ClientRequest, timeout: number): Promise<Reply | Refusal> {
    const kernel = this.kernel;
    const admitted = this.admits(target);
    return new Promise((resolve) => {
      const rid = request.rid;
      const now = kernel.now();
      const first = this.retransmitWait();
      // One timer per attempt, through a shared function (no closure per
      // request): each retransmission sets the next, the last one the end.
      const ending = first >= timeout;
      const p: Pending = { rid, request, resolve, timer: undefined, target, sentAt: now, deadline: now + timeout, timeout, first, wait: first, ending, retransmitted: false, admitted };
      p.timer = kernel.schedule(ending ? timeout : first, this.onAttemptTimer, p);
      this.pending.set(rid, p);
      // A send the network drops is, to the client, an answer that never
      // comes: the timers deal with it. One that throws (a value the wire
      // cannot carry) went nowhere: the breaker hears nothing of it.
      try {
        this.net.bus.send(this.id, target, CLIENT_REQUEST, request);
      } catch (err) {
        this.pending.delete(rid);
        kernel.cancel(p.timer);
        throw err;
      }
      if (admitted) this.toBreaker(target, CALL);
      else this.panicProbe = true;
    });
  }

  /** An attempt's timer: send the request again, or give up once its time is out. */
  private readonly onAttemptTimer = (p: Pending): void => {
    if (this.pending.get(p.rid) !== p) return;
    if (p.ending) {
      const why = this.net.bus.whyUnreachable?.(p.target) ?? null;
      this.settle(p.rid, { ok: false, code: 'Unreachable', leaderHint: null, message: `${p.target} did not answer in ${Math.round(p.timeout)} ms${why === null ? '' : ` (connecting: ${why})`}` });
      return;
    }
    p.retransmitted = true;
    // Back off once, then keep the pace: a lost message says little about
    // congestion here, and a long backoff only adds latency under loss.
    p.wait = Math.min(p.wait * 2, p.first * 2);
    const left = Math.max(0, p.deadline - this.kernel.now()); // (a wall-clock timer may fire late)
    p.ending = p.wait >= left;
    // Set before sending, so that the attempt still ends should the send throw.
    p.timer = this.kernel.schedule(p.ending ? left : p.wait, this.onAttemptTimer, p);
    this.net.bus.send(this.id, p.target, CLIENT_REQUEST, p.request);
  };

  private onReply(from: string, reply: Reply): void {
    const p = this.pending.get(reply?.rid);
    // A late answer (after its timeout) or a duplicate: its attempt is over.
    if (!p || p.target !== from) return;
    this.settle(reply.rid, reply);
  }

  private settle(rid: number, r: Reply | Refusal): void {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    this.kernel.cancel(p.timer);
    // Any answer (even NotLeader) shows the node is responsive; silence is a failure.
    const answered = r.ok || r.code !== 'Unreachable';
    if (p.admitted) this.toBreaker(p.target, answered ? SUCCESS : FAILURE);
    else {
      // A probe made in panic: an answer shows the node is back (close its
      // breaker, if still shut); silence tells the breaker nothing new.
      this.panicProbe = false;
      const state = this.breakerFor(p.target).getSnapshot().value;
      if (answered && (state === 'open' || state === 'halfOpen')) this.toBreaker(p.target, { type: 'RESET' });
    }
    // Karn's rule: a round trip with a retransmission in it measures nothing (which copy was answered?).
    if (answered && !p.retransmitted) this.sampleRtt(this.kernel.now() - p.sentAt);
    this.kernel.wake();
    p.resolve(r);
  }
}
