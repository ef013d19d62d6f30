import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ChartInspector } from '../actors/chartInspection.js';
import { MemoryAuditStore } from '../actors/auditLog.js';
import type { JoinCredentials } from '../actors/joinRequester.js';
import { SimulatedSecurity, type SimulatedSecurityOptions } from './simulatedSecurity.js';
import { LinkAuthenticator } from '../actors/linkAuthenticator.js';
import { JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_HELLO, JOIN_RESULT } from '../actors/joinAuthenticator.js';
import { verifySignature } from '../actors/nodeIdentity.js';

const JOIN_MESSAGES: ReadonlySet<string> = new Set([JOIN_HELLO, JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_RESULT]);
import { FifoMap } from '../actors/fifoMap.js';
import { Observable, Subject } from 'rxjs';
import type { ClusterState, ClusterStateLimits } from '../actors/clusterState.js';
import { ClientError } from './clientError.js';
import { ClusterNode, type AppliedChanges } from '../actors/clusterNode.js';
import { HandlerRegistry, type TaskHandler } from '../actors/taskHandlers.js';
import type { TaskControllerOptions } from '../actors/taskController.js';
import type { PeerHealthOptions } from '../actors/peerHealth.js';
import type { RecoveryOptions } from '../actors/recoveryManager.js';
import type { Resources, TaskTransition } from '../actors/taskTable.js';
import { FINAL_TASK_STATUSES } from '../machines/taskLifecycle.js';
import { eventsOfChanges, isFinalTaskEvent, taskEventOf, type GreyEvent, type TaskStreamEvent } from './events.js';
import { DEFAULT_RAFT_OPTIONS, type RaftOptions } from '../actors/raftNode.js';
import type { RaftStatus } from '../actors/raftNode.js';
import { MemoryStorage, type CrashLoss } from '../actors/storage.js';
import { SimulatedDisk, type SyncLatency } from './simulatedDisk.js';
import { Bus } from './bus.js';
import { checkClientOptions, ClusterClient, type ClientOptions } from './client.js';
import { TenantClient } from './tenantClient.js';
import { DigestChain } from './digest.js';
import { Kernel, type RunUntilOptions } from './kernel.js';
import { DEFAULT_LINK_CONFIG, resolveLinkConfig, type LinkConfigPatch } from './network.js';
import { traceObserver } from './nodeTracer.js';
import { DriftingClock } from './driftingClock.js';
import { InvariantChecker } from './invariants.js';
import { isConverged } from './convergence.js';
import { Trace, writeTraceFile } from './trace.js';
import { checkHealthOptions, checkRaftFlags, checkRecoveryOptions, checkStateLimits, checkTaskOptions, checkWorkerCapacity } from './nodeOptionsCheck.js';

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  /** Node ids, or how many (`n1`…`nN`). */
  nodes: number | string[];
  /**
   * An XState inspection observer, fed from every chart of every node
   * (Raft role, replication progress, membership, task lifecycle,
   * quarantine, circuit breakers), with XState's own event shapes plus the
   * emitting node's id: an existing inspector sees the whole cluster.
   */
  inspect?: ChartInspector;
  seed?: number;
  /** Default link model between nodes. */
  network?: LinkConfigPatch;
  raft?: Partial<RaftOptions>;
  /**
   * Who founds the cluster: `all` (default) starts every node as a voter of
   * the first configuration; `first` starts a single voter and leaves the
   * others to join through the approval workflow.
   */
  bootstrap?: 'all' | 'first';
  /** Write the trace to this JSONL file. */
  tracePath?: string;
  /** Keep the trace in memory ({@link Cluster.trace}`.toJSONL()`). */
  keepTrace?: boolean;
  /** What a crash does to unsynced writes (default: loses them). */
  crashLoss?: CrashLoss;
  /**
   * A crashed node's peers see its connections close, one link latency
   * later, as TCP peers see the sockets of a process that died closed by its
   * operating system; a partition or a cut link carries no such news
   * (default true). Raft uses it to fail over at once
   * ({@link RaftOptions.fastFailover}).
   */
  crashClosesConnections?: boolean;
  /**
   * Check Raft's invariants online as the trace is written (default true):
   * a violation throws from the step that caused it, naming the seed and
   * the virtual time. Needs digests, so benchmarks turn it off.
   */
  check?: boolean;
  /** Extra trace listeners. */
  onTrace?: Array<(trace: Trace) => void>;
  /**
   * What each node offers as a worker: every node registers itself with it
   * when it starts. `null`: nodes do not register; workers are registered
   * explicitly with `registerWorker` commands.
   */
  workerCapacity?: Resources | null;
  /** Task pipeline options (scheduler placement, worker timeout, retention, …). */
  tasks?: TaskControllerOptions;
  /** Attempts each worker runs at once (default: as many as its capacity allows). */
  workerConcurrency?: number;
  /** How nodes judge their peers (detector, quarantine timings). */
  health?: PeerHealthOptions;
  /** Limits of the leader's recovery decisions (removal grace, minimum voters, requeue rate). */
  recovery?: RecoveryOptions;
  /** Events kept for `watch(fromIndex)` replays. */
  eventHistory?: number;
  /** Bounds of the replicated state: client sessions kept (`maxSessions`), answers per session, … */
  limits?: Partial<ClusterStateLimits>;
  /**
   * Clock drift: each node's clock runs at its own rate, drawn from the seed
   * within 1 ± this bound (0.01: ±1 %; default 0, every clock exact). The
   * nemesis's `clock` fault skews rates within it; {@link Cluster.setClockRate}
   * sets one directly.
   */
  clockDrift?: number;
  /**
   * Disks that take time to sync: each node's `sync()` resolves after a
   * delay drawn from `min`..`max` virtual ms, in order, as fsync does on a
   * real disk (see {@link SimulatedDisk}). Nodes then hold every message
   * until what it promises is durable. Default: none (syncs are instant).
   */
  syncLatency?: SyncLatency;
  /**
   * Node security, made from the seed: a cluster CA, a certificate and a
   * TEE for every node, and the join handshake (certificate → challenge →
   * attestation → approval) for nodes that ask to join. Off by default.
   */
  security?: SimulatedSecurityOptions | boolean;
}

/**
 * Nodes a simulated cluster may have, at most: every node keeps a link to
 * every other, so the cost grows with the square of the count (a million
 * nodes ran out of memory after a minute instead of saying no).
 */
export const MAX_CLUSTER_NODES = 256;

/** Every option {@link createCluster} knows; anything else is a typo worth an error. */
const CLUSTER_OPTION_KEYS: ReadonlySet<string> = new Set<keyof ClusterOptions>([
  'nodes', 'seed', 'network', 'raft', 'bootstrap', 'tracePath', 'keepTrace', 'crashLoss', 'crashClosesConnections', 'check', 'onTrace',
  'workerCapacity', 'tasks', 'workerConcurrency', 'health', 'recovery', 'eventHistory', 'limits', 'clockDrift',
  'syncLatency', 'inspect', 'security',
]);

const SECURITY_OPTION_KEYS: ReadonlySet<string> = new Set<keyof SimulatedSecurityOptions>(['attestation', 'minTrust', 'requireAuthenticatedJoin', 'challengeTtlMs', 'certificateValidityMs', 'proofSigning']);

/**
 * Refuses options a cluster cannot honour, naming the option: unknown keys
 * (top level, `raft`, `tasks`, `limits`, `health`, `recovery`,
 * `security`), values out of range or of the wrong type, a node count that
 * is not a positive integer, ids that are not non-empty strings, a seed
 * that is not a safe integer, a trace file in a folder that does not
 * exist.
 */
function checkClusterOptions(options: ClusterOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('createCluster: options must be an object');
  for (const key of Object.keys(options)) {
    if (!CLUSTER_OPTION_KEYS.has(key)) throw new TypeError(`createCluster: unknown option '${key}'; known: ${[...CLUSTER_OPTION_KEYS].join(', ')}`);
  }
  for (const key of Object.keys(options.raft ?? {})) {
    if (!Object.hasOwn(DEFAULT_RAFT_OPTIONS, key)) throw new TypeError(`createCluster: unknown option 'raft.${key}'; known: ${Object.keys(DEFAULT_RAFT_OPTIONS).join(', ')}`);
  }
  const n = options.nodes;
  if (typeof n === 'number') {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`createCluster: nodes must be a positive integer or a list of ids, got ${n}`);
  } else if (!Array.isArray(n) || n.some((id) => typeof id !== 'string' || id.length === 0)) {
    throw new TypeError('createCluster: nodes must be a positive integer or a list of non-empty string ids');
  }
  const count = typeof n === 'number' ? n : n.length;
  if (count > MAX_CLUSTER_NODES) throw new RangeError(`createCluster: at most ${MAX_CLUSTER_NODES} nodes, got ${count}`);
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new RangeError(`createCluster: seed must be an integer, got ${options.seed}`);
  checkTaskOptions('createCluster', options.tasks);
  checkStateLimits('createCluster', options.limits);
  const d = options.clockDrift;
  if (d !== undefined && !(typeof d === 'number' && d >= 0 && d < 1)) throw new RangeError(`createCluster: clockDrift must be a number in [0, 1), got ${d}`);
  const l = options.syncLatency;
  if (l !== undefined && !(l !== null && typeof l === 'object' && l.min >= 0 && l.max >= l.min && Number.isFinite(l.max))) {
    throw new RangeError(`createCluster: syncLatency must be { min, max } with 0 <= min <= max (virtual ms), got ${JSON.stringify(l)}`);
  }
  resolveLinkConfig(DEFAULT_LINK_CONFIG, options.network, 'createCluster: network');
  checkRaftFlags('createCluster', options.raft);
  checkWorkerCapacity('createCluster', options.workerCapacity, true);
  checkHealthOptions('createCluster', options.health);
  checkRecoveryOptions('createCluster', options.recovery);
  const said = (v: unknown) => JSON.stringify(v) ?? String(v);
  for (const key of ['keepTrace', 'crashClosesConnections', 'check'] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`createCluster: ${key} must be a boolean, got ${said(v)}`);
  }
  if (options.bootstrap !== undefined && options.bootstrap !== 'all' && options.bootstrap !== 'first') throw new RangeError(`createCluster: bootstrap must be 'all' or 'first', got ${said(options.bootstrap)}`);
  const loss = options.crashLoss;
  if (loss !== undefined && loss !== 'none' && loss !== 'unsynced' && loss !== 'random') throw new RangeError(`createCluster: crashLoss must be 'none', 'unsynced' or 'random', got ${said(loss)}`);
  const h = options.eventHistory;
  if (h !== undefined && !(Number.isSafeInteger(h) && h >= 0)) throw new RangeError(`createCluster: eventHistory must be an integer ≥ 0, got ${said(h)}`);
  const c = options.workerConcurrency;
  if (c !== undefined && !(Number.isSafeInteger(c) && c >= 1)) throw new RangeError(`createCluster: workerConcurrency must be an integer ≥ 1, got ${said(c)}`);
  if (options.inspect !== undefined && typeof options.inspect !== 'function') throw new TypeError(`createCluster: inspect must be a function (an inspection observer), got ${said(options.inspect)}`);
  const t = options.onTrace;
  if (t !== undefined && !(Array.isArray(t) && t.every((f) => typeof f === 'function'))) throw new TypeError('createCluster: onTrace must be an array of functions, each given the trace');
  const sec = options.security;
  if (sec !== undefined && typeof sec !== 'boolean') {
    if (sec === null || typeof sec !== 'object' || Array.isArray(sec)) throw new TypeError(`createCluster: security must be a boolean or an object of options, got ${said(sec)}`);
    for (const key of Object.keys(sec)) if (!SECURITY_OPTION_KEYS.has(key)) throw new TypeError(`createCluster: unknown option 'security.${key}'; known: ${[...SECURITY_OPTION_KEYS].join(', ')}`);
  }
  const path = options.tracePath;
  if (path !== undefined) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`createCluster: tracePath must be a file path, got ${said(path)}`);
    const folder = dirname(resolve(path));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new RangeError(`createCluster: tracePath ${path}: the folder ${folder} does not exist`);
    if (existsSync(path) && statSync(path).isDirectory()) throw new RangeError(`createCluster: tracePath ${path} is a folder; give a file path`);
  }
}

/** A node slot: its storage survives crashes, its incarnation does not. */
interface Slot {
  id: string;
  /** The machine's clock: it keeps its rate (and its time) across restarts. */
  clock: DriftingClock;
  storage: MemoryStorage;
  node: ClusterNode | null;
  inc: number;
  founding: boolean;
  /** The node's audit log: like its disk, it outlives each incarnation. */
  audit: MemoryAuditStore;
  /** What the node presents to join (security on): its certificate and evidence. */
  credentials?: JoinCredentials;
  /** This incarnation's authenticated links to other nodes (security on). */
  links?: LinkAuthenticator | null;
}

/**
 * A simulated Grey cluster: real nodes on the modelled network, one kernel
 * driving everything, and the controls to hurt it (crash, restart,
 * partition, isolate, lossy or slow links). A run is a pure function of the
 * seed and the options.
 */
export class Cluster {
  readonly kernel: Kernel;
  readonly bus: Bus;
  readonly seed: number;
  readonly trace: Trace | undefined;
  /** The online invariant checker (when `check` is on). */
  readonly checker: InvariantChecker | undefined;
  /** The cluster's CA, TEE vendor and node credentials, when created with `security`. */
  readonly security: SimulatedSecurity | undefined;
  private readonly slots = new Map<string, Slot>();
  private readonly options: ClusterOptions;
  private clients = 0;
  private readonly clientList: string[] = [];
  /** Clients bound to a tenant as a credential would bind them ({@link Cluster.bindTenant}). */
  private readonly boundTenants = new Map<string, string>();
  private ended = false;
  /** Handlers every node runs (simulated nodes share the program). */
  readonly handlers = new HandlerRegistry();
  private readonly eventsSubject = new Subject<GreyEvent>();
  private readonly history: GreyEvent[] = [];
  /** Task events by task, for watchers of one task (a handle per task must not see every event). */
  private readonly taskHistory: FifoMap<string, TaskStreamEvent[]>;
  private readonly taskWatchers = new Map<string, Set<(e: TaskStreamEvent) => void>>();
  private readonly historyLimit: number;
  /** Highest log index whose events were emitted (each index once, whichever node applies it first). */
  private emittedIndex = 0;
  private lastLeaderTerm = 0;
  /** One event per committed change, cluster-wide. */
  readonly events$: Observable<GreyEvent> = this.eventsSubject.asObservable();

  constructor(options: ClusterOptions) {
    checkClusterOptions(options);
    this.options = options;
    this.seed = options.seed ?? 1;
    this.historyLimit = options.eventHistory ?? 100_000;
    // Bounded like the main history: the oldest task's events go first.
    this.taskHistory = new FifoMap(Math.max(1, this.historyLimit));
    const ids = typeof options.nodes === 'number' ? Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`) : [...options.nodes];
    if (ids.length === 0) throw new RangeError('a cluster needs at least one node');
    if (new Set(ids).size !== ids.length) throw new RangeError(`duplicate node ids in ${ids.join(', ')}`);
    this.kernel = new Kernel({ seed: this.seed });
    const sec = options.security;
    this.security = sec ? new SimulatedSecurity(this.seed, sec === true ? {} : sec) : undefined;
    this.bus = new Bus(this.kernel, { nodes: ids, link: options.network });
    const check = options.check ?? true;
    const tracing = check || options.tracePath !== undefined || options.keepTrace === true || (options.onTrace?.length ?? 0) > 0;
    if (tracing) {
      this.trace = new Trace({
        seed: this.seed,
        nodes: ids,
        clock: this.kernel,
        keep: options.keepTrace ?? false,
        options: { network: options.network ?? {}, raft: options.raft ?? {}, bootstrap: options.bootstrap ?? 'all' },
      });
      if (options.tracePath) this.trace.addSink(writeTraceFile(options.tracePath));
      if (check) {
        this.checker = new InvariantChecker({ seed: this.seed, nodes: ids });
        this.trace.subscribe(this.checker.listener);
      }
      for (const attach of options.onTrace ?? []) attach(this.trace);
      this.bus.faults$.subscribe((f) => {
        const { at: _at, kind, ...rest } = f as { at: number; kind: string } & Record<string, unknown>;
        this.trace!.emit({ type: 'fault', kind, ...rest } as Parameters<Trace['emit']>[0]);
      });
    }
    const founders = options.bootstrap === 'first' ? ids.slice(0, 1) : ids;
    for (const id of ids) this.slots.set(id, { id, clock: this.newClock(id), storage: new MemoryStorage(), node: null, inc: -1, founding: founders.includes(id), audit: new MemoryAuditStore() });
    for (const id of ids) {
      this.bus.inbox(id).subscribe((env) => this.deliver(id, env.from, env.type, env.payload));
      this.boot(id);
    }
  }

  /** Every node id, in creation order. */
  get ids(): string[] {
    return [...this.slots.keys()];
  }

  /** The running incarnation of a node; throws when it is down. */
  node(id: string): ClusterNode {
    const n = this.slot(id).node;
    if (!n) throw new Error(`node ${id} is down`);
    return n;
  }

  isUp(id: string): boolean {
    return this.slot(id).node !== null;
  }

  /** The node's incarnation (0 at first start, +1 per restart). */
  incarnation(id: string): number {
    return this.slot(id).inc;
  }

  /** Nodes that are up. */
  upNodes(): ClusterNode[] {
    return [...this.slots.values()].flatMap((s) => (s.node ? [s.node] : []));
  }

  /** The leader of the highest term among up nodes, if any. */
  leader(): ClusterNode | undefined {
    let best: ClusterNode | undefined;
    for (const n of this.upNodes()) if (n.raft.isLeader && (!best || n.raft.currentTerm > best.raft.currentTerm)) best = n;
    return best;
  }

  status(): Record<string, (RaftStatus & { up: true; inc: number }) | { up: false; inc: number }> {
    const out: Record<string, (RaftStatus & { up: true; inc: number }) | { up: false; inc: number }> = {};
    for (const s of this.slots.values()) out[s.id] = s.node ? { ...s.node.raft.status(), up: true, inc: s.inc } : { up: false, inc: s.inc };
    return out;
  }

  /** Each up node's circuit breaker states (metrics): node → `link:peer` → state. */
  breakers(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const n of this.upNodes()) out[n.id] = n.breakerStates();
    return out;
  }

  /** Each up node's view of its peers' health (local opinions, not replicated). */
  health(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const n of this.upNodes()) out[n.id] = n.health.snapshot();
    return out;
  }

  /**
   * Registers a task handler on every node. A type that has a handler
   * already throws, unless `{ replace: true }`.
   */
  registerHandler(type: string, handler: TaskHandler, options: { replace?: boolean } = {}): void {
    this.handlers.register(type, handler, options);
  }

  /**
   * The events from log index `fromIndex` on (as far as the history keeps
   * them), then live ones: a watch that resumes where it left off.
   */
  watch(fromIndex = 0): Observable<GreyEvent> {
    return new Observable<GreyEvent>((sub) => {
      for (const e of this.history) if (e.index >= fromIndex) sub.next(e);
      return this.events$.subscribe(sub);
    });
  }

  /**
   * One task's events from `fromIndex` on, then live ones, completing after
   * its final event: what a task handle watches (indexed by task, so a
   * million handles cost nothing per event they do not care about).
   */
  watchTask(taskId: string, fromIndex = 0): Observable<TaskStreamEvent> {
    return new Observable<TaskStreamEvent>((sub) => {
      const kept = this.taskHistory.get(taskId);
      for (const e of kept ?? []) {
        if (e.index < fromIndex) continue;
        sub.next(e);
        if (isFinalTaskEvent(e)) {
          sub.complete();
          return;
        }
      }
      if (kept === undefined) {
        // Its events left the history (eventHistory bounds it): a task that
        // has ended ends its stream with what its record says.
        const final = this.finalEventOf(taskId, fromIndex);
        if (final !== null) {
          sub.next(final);
          sub.complete();
          return;
        }
      }
      const listener = (e: TaskStreamEvent) => {
        if (e.index < fromIndex) return;
        sub.next(e);
        if (isFinalTaskEvent(e)) sub.complete();
      };
      let set = this.taskWatchers.get(taskId);
      if (!set) this.taskWatchers.set(taskId, (set = new Set()));
      set.add(listener);
      return () => {
        set!.delete(listener);
        if (set!.size === 0) this.taskWatchers.delete(taskId);
      };
    });
  }

  /** The final event of an ended task as a node's replicated table has it (null: unknown here, or not ended). */
  private finalEventOf(taskId: string, index: number): TaskStreamEvent | null {
    const node = this.leader() ?? this.upNodes()[0];
    const record = node?.state.task(taskId) ?? node?.state.taskTable.deadLetters().find((t) => t.id === taskId);
    if (!record || !FINAL_TASK_STATUSES.has(record.status)) return null;
    const transition: TaskTransition = { index, taskId, from: null, to: record.status, attempt: record.attempt, worker: record.worker, reason: null, rejected: false, change: 'complete' };
    const e = taskEventOf(transition, record);
    return e !== null && isFinalTaskEvent(e) ? e : null;
  }

  private publish(e: GreyEvent): void {
    this.history.push(e);
    // Trim in chunks: one splice per tenth of the limit, not one per event.
    if (this.history.length > this.historyLimit * 1.1) this.history.splice(0, this.history.length - this.historyLimit);
    if ('taskId' in e) {
      let list = this.taskHistory.get(e.taskId);
      if (!list) this.taskHistory.set(e.taskId, (list = []));
      list.push(e);
      const watchers = this.taskWatchers.get(e.taskId);
      if (watchers) {
        this.kernel.wake();
        for (const w of [...watchers]) w(e);
      }
    }
    if (this.eventsSubject.observed) {
      this.kernel.wake(); // a listener may resolve a promise someone awaits
      this.eventsSubject.next(e);
    }
  }

  private onApplied(node: ClusterNode, inc: number, c: AppliedChanges): void {
    const trace = this.trace;
    if (trace) {
      for (const t of c.tasks) {
        trace.emit({ type: 'task', node: node.id, inc, index: t.index, taskId: t.taskId, from: t.from, to: t.to, attempt: t.attempt, worker: t.worker, reason: t.reason, rejected: t.rejected });
      }
    }
    if (c.entry.index <= this.emittedIndex) return;
    this.emittedIndex = c.entry.index;
    for (const e of eventsOfChanges(c, (id) => node.state.task(id))) this.publish(e);
  }

  // ---------------------------------------------------------------- faults

  /** Stops a node abruptly: volatile state is lost, and unsynced writes per the crash model. */
  crash(id: string, loss: CrashLoss = this.options.crashLoss ?? 'unsynced'): void {
    const s = this.slot(id);
    if (!s.node) return;
    s.node.stop();
    s.node = null;
    const lost = s.storage.crash(loss, this.kernel.random(`storage:${id}`));
    this.bus.setDown(id, true);
    this.trace?.emit({ type: 'fault', kind: 'crash', node: id, params: { loss, lostWrites: lost } });
    if (this.options.crashClosesConnections ?? true) this.closeConnectionsOf(s);
  }

  /** The peers that can reach crashed node `s` see its connections close, one link latency later (unless it is back by then). */
  private closeConnectionsOf(s: Slot): void {
    const inc = s.inc;
    for (const peer of this.slots.values()) {
      if (peer === s || !peer.node || this.bus.isPartitioned(s.id, peer.id) || this.bus.isCut(s.id, peer.id)) continue;
      const peerInc = peer.inc;
      this.kernel.schedule(this.bus.linkConfig(s.id, peer.id).latency.base, () => {
        if (s.inc === inc && s.node === null && peer.inc === peerInc) peer.node?.peerDisconnected(s.id);
      });
    }
  }

  /** Starts a new incarnation of a crashed node from its storage. */
  restart(id: string): void {
    const s = this.slot(id);
    if (s.node) throw new Error(`node ${id} is already up`);
    this.trace?.emit({ type: 'fault', kind: 'restart', node: id });
    this.bus.setDown(id, false);
    this.boot(id);
  }

  partition(groups: string[][]): void {
    this.bus.partition(groups);
  }

  heal(): void {
    this.bus.heal();
  }

  isolate(id: string): void {
    this.bus.isolate(id);
  }

  setLink(from: string, to: string, patch: LinkConfigPatch, bothWays = true): void {
    this.bus.configureLink(from, to, patch);
    if (bothWays) this.bus.configureLink(to, from, patch);
  }

  /**
   * Adds a node that is not in any configuration: it must ask to join
   * (with security on: `node.requestJoin(seeds)`, presenting `credentials`,
   * by default a certificate from the cluster CA and evidence from the
   * cluster's TEE; see {@link SimulatedSecurity.credentials}).
   */
  addNode(id: string, options: { credentials?: JoinCredentials } = {}): ClusterNode {
    if (this.slots.has(id)) throw new RangeError(`node ${id} exists`);
    if (options.credentials && !this.security) throw new TypeError(`addNode('${id}'): credentials need a cluster created with { security }`);
    this.bus.addNode(id);
    this.slots.set(id, { id, clock: this.newClock(id), storage: new MemoryStorage(), node: null, inc: -1, founding: false, audit: new MemoryAuditStore(), ...(options.credentials ? { credentials: options.credentials } : {}) });
    this.bus.inbox(id).subscribe((env) => this.deliver(id, env.from, env.type, env.payload));
    return this.boot(id);
  }

  // ---------------------------------------------------------------- time

  /** A node's clock, at a rate drawn within the drift bound (exact without one). */
  private newClock(id: string): DriftingClock {
    const bound = this.options.clockDrift ?? 0;
    return new DriftingClock(this.kernel, bound === 0 ? 1 : 1 + (this.kernel.random(`clock:${id}`).float() * 2 - 1) * bound);
  }

  /** The bound within which node clocks drift (0: exact clocks). */
  get clockDrift(): number {
    return this.options.clockDrift ?? 0;
  }

  /** How fast `id`'s clock runs (local ms per true ms). */
  clockRate(id: string): number {
    return this.slot(id).clock.rate;
  }

  /** `id`'s clock reading (its local time). */
  clockOf(id: string): number {
    return this.slot(id).clock.now();
  }

  /**
   * Sets how fast `id`'s clock runs from now on (local ms per true ms). A
   * rate outside the cluster's `clockDrift` bound is allowed on purpose:
   * that is how a test shows what an assumption on clocks protects.
   */
  setClockRate(id: string, rate: number): void {
    this.slot(id).clock.setRate(rate);
  }

  run(ms: number): Promise<void> {
    return this.kernel.run(ms);
  }

  runUntil(predicate: () => boolean, options: RunUntilOptions): Promise<number> {
    return this.kernel.runUntil(predicate, options);
  }

  /**
   * Runs the simulation until `promise` settles (a client call waits on
   * virtual time, so something must drive the kernel meanwhile), then
   * returns its value or throws its error.
   */
  async drive<T>(promise: Promise<T>, within = 60_000): Promise<T> {
    if (typeof within !== 'number') throw new TypeError(`drive(promise, within): within is a number of virtual ms (runUntil takes { within }), got ${JSON.stringify(within)}`);
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.runUntil(() => settled, { within, description: 'the awaited operation' });
    return promise;
  }

  /**
   * Runs until the cluster is quiet: one leader has committed everything in
   * its log (an entry of its own term included) and every up member of the
   * configuration has applied it. Returns the virtual time it took.
   */
  settle(within = 2_000): Promise<number> {
    return this.runUntil(() => isConverged(this), { within, description: 'every member caught up with the leader' });
  }

  /** Runs until some up node leads (and returns it). */
  async waitForLeader(within = 5_000): Promise<ClusterNode> {
    await this.runUntil(() => this.leader() !== undefined, { within, description: 'a leader' });
    return this.leader()!;
  }

  /**
   * A client with its own session (exactly-once retries), on the network:
   * its id is its address on the bus, so links, faults and partitions apply
   * to it like to a node (a client named in no partition group reaches
   * every group).
   */
  client(options: ClientOptions = {}): ClusterClient {
    checkClientOptions(options); // before the client takes an id and joins the network
    let id = options.id;
    if (id === undefined) while (this.bus.hasNode((id = `client${++this.clients}`)));
    if (this.bus.hasNode(id)) throw new RangeError(`a node or client '${id}' is already on the network`);
    // A client bound to a tenant acts for it, as a real client with a tenant's certificate does.
    const bound = this.boundTenants.get(id);
    if (bound !== undefined && options.tenant !== undefined && options.tenant !== bound) throw new RangeError(`client '${id}' is bound to tenant '${bound}'; it cannot act for tenant '${options.tenant}'`);
    this.bus.addNode(id, { kind: 'client' });
    this.clientList.push(id);
    return new ClusterClient(this, id, bound === undefined ? options : { ...options, tenant: bound });
  }

  /**
   * A client handle scoped to tenant `tenant` (registered through the log:
   * `system` and `default` at bootstrap, others with `registerTenant`): it
   * submits, sees, cancels and reads the metrics of that tenant's tasks only.
   * A client on the network like {@link Cluster.client}.
   */
  tenant(tenant: string, options: Omit<ClientOptions, 'tenant'> = {}): TenantClient {
    return new TenantClient(this.client({ ...options, tenant }), this.kernel);
  }

  /**
   * Binds the client at address `clientId` to `tenant`, as a real-mode
   * client certificate that names a tenant (`grey://tenant/<t>`) binds its
   * holder: every node then scopes that client's requests to the tenant,
   * whatever they claim. A request naming another tenant, or reaching the
   * key-value store or the cluster's administration, is refused
   * `Unauthorized` and recorded in the serving node's audit log; one
   * naming no tenant acts for this one. (Clients not bound stay trusted,
   * as every client of the simulation is.) A binding cannot change. Bind
   * before making the client ({@link Cluster.client} with `id`): it then
   * acts for the tenant, as `connect` makes a client with a tenant's
   * certificate do.
   */
  bindTenant(clientId: string, tenant: string): void {
    if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('bindTenant: clientId must be a non-empty string');
    if (typeof tenant !== 'string' || tenant.length === 0) throw new TypeError('bindTenant: tenant must be a non-empty string');
    const known = this.boundTenants.get(clientId);
    if (known !== undefined && known !== tenant) throw new RangeError(`bindTenant: client '${clientId}' is bound to tenant '${known}' already`);
    this.boundTenants.set(clientId, tenant);
  }

  /** The ids (network addresses) of the clients made so far. */
  get clientIds(): readonly string[] {
    return this.clientList;
  }

  /**
   * Runs `query` against the replicated state of a node of this process,
   * linearizably (a ReadIndex round on the leader), and returns a copy of
   * what it returns. A function cannot cross the network: clients ask named
   * queries instead ({@link ClusterClient.query}).
   */
  async read<T>(query: (state: ClusterState) => T, within = 5_000): Promise<T> {
    const deadline = this.kernel.now() + within;
    let last = 'no leader';
    while (this.kernel.now() < deadline) {
      const leader = this.leader();
      if (leader) {
        const outcome = await new Promise<{ ok: true; value: T } | { ok: false; message: string }>((resolve) =>
          leader.read(query, (o) => {
            this.kernel.wake();
            resolve(o.ok ? { ok: true, value: structuredClone(o.value) } : { ok: false, message: o.message });
          }),
        );
        if (outcome.ok) return outcome.value;
        last = outcome.message;
      }
      await this.kernel.sleep(10);
    }
    throw new ClientError('Timeout', `read: no linearizable answer within ${within} ms (last: ${last})`, 'unknown');
  }

  /** Emits the trace's `end` line; call once at the end of a run. */
  end(): void {
    if (this.ended || !this.trace) return;
    this.ended = true;
    const nodes: Record<string, { role: 'follower' | 'precandidate' | 'candidate' | 'leader' | null; term: number; commitIndex: number; lastApplied: number; inc: number }> = {};
    for (const s of this.slots.values()) {
      const st = s.node?.raft.status();
      nodes[s.id] = st
        ? { role: st.role, term: st.term, commitIndex: st.commitIndex, lastApplied: st.lastApplied, inc: s.inc }
        : { role: null, term: s.storage.load().hardState.term, commitIndex: 0, lastApplied: 0, inc: s.inc };
    }
    this.trace.emit({ type: 'end', nodes });
  }

  private slot(id: string): Slot {
    const s = this.slots.get(id);
    if (s) return s;
    if (typeof id !== 'string') {
      // A common slip: passing the node that `leader()` returns, not its id.
      const named = (id as { id?: unknown } | null)?.id;
      throw new TypeError(`a node is named by its id, such as '${this.ids[0]}'; got ${typeof named === 'string' ? `a node object (use its .id, '${named}')` : id === null ? 'null' : typeof id}`);
    }
    throw new RangeError(`no node '${id}' (nodes: ${this.ids.join(', ')})`);
  }

  /** The authenticated links of node slot `s`'s incarnation `inc`, refusing peers that are blocked or not members. */
  private linksFor(s: Slot, inc: number, node: () => ClusterNode | null): LinkAuthenticator {
    const sec = this.security!;
    const creds = s.credentials ?? sec.credentials(s.id);
    let dropsAudited = new Map<string, number>();
    return new LinkAuthenticator({
      self: s.id,
      incarnation: inc,
      certificate: creds.certificate,
      sign: (data) => creds.sign(data),
      kxSecret: this.kernel.random(`link:${s.id}:${inc}`).bytes(32),
      clock: s.clock,
      checkCertificate: (der, now) => sec.checkCertificate(der, now),
      verifySignature,
      refusal: (name, fp) => {
        const n = node();
        if (n === null) return 'not running';
        const blocked = n.state.blockedReason(name, fp);
        if (blocked !== null) return blocked;
        const m = n.state.member(name);
        if (m?.identity && m.identity.fingerprint !== fp) return `${name} joined with another key`;
        const inConfig = n.raft.config.voters.includes(name) || n.raft.config.learners.includes(name);
        if (inConfig || (m !== undefined && m.status !== 'rejected')) return null;
        // A node that knows no membership yet (joining) takes any node the cluster CA certified: the members are who talk to it.
        if (n.state.members().length === 0) return null;
        return `${name} is not a member`;
      },
      rawSend: (to, type, payload) => void this.bus.send(s.id, to, type, payload),
      onDrop: (from, type, reason, detail) => {
        const n = node();
        if (n === null) return;
        // One record per peer and reason per second: a flood must not flood the audit log.
        const key = `${from}\u0000${reason}`;
        const now = s.clock.now();
        const last = dropsAudited.get(key);
        if (last !== undefined && now - last < 1_000) return;
        if (dropsAudited.size > 1_000) dropsAudited = new Map();
        dropsAudited.set(key, now);
        n.audit.append({ kind: 'message', subject: from, outcome: 'dropped', reason: `${reason}: ${detail}`, detail: { type, reason } });
      },
    });
  }

  /** A message delivered to node `id`: authenticated first when the cluster is secure (node-to-node traffic only). */
  private deliver(id: string, from: string, type: string, payload: unknown): void {
    const s = this.slots.get(id)!;
    const node = s.node;
    if (node === null) return;
    if (s.links && !this.unauthenticated(from, type)) {
      const opened = s.links.receive(from, type, payload);
      if (opened === null) return;
      node.handle(from, type, opened);
      return;
    }
    node.handle(from, type, payload);
  }

  /** Traffic that carries no link MAC: clients (they are not members) and the join handshake (its own authentication). */
  private unauthenticated(peer: string, type: string): boolean {
    return this.bus.kindOf(peer) === 'client' || JOIN_MESSAGES.has(type);
  }

  private boot(id: string): ClusterNode {
    const s = this.slot(id);
    s.inc++;
    const inc = s.inc;
    s.links = this.security ? this.linksFor(s, inc, () => node) : null;
    const send = (to: string, type: string, payload: unknown) => {
      if (s.links && !this.unauthenticated(to, type)) s.links.send(to, type, payload);
      else void this.bus.send(id, to, type, payload);
    };
    const founders = [...this.slots.values()].filter((x) => x.founding).map((x) => x.id);
    let node: ClusterNode | null = null;
    const trace = this.trace;
    const traced = trace ? traceObserver(trace, id, inc, () => node!.raft) : undefined;
    node = new ClusterNode({
      id,
      clock: s.clock,
      random: this.kernel.random(`raft:${id}:${inc}`),
      transport: { send },
      storage: this.options.syncLatency ? new SimulatedDisk(s.storage, this.kernel, this.kernel.random(`disk:${id}:${inc}`), this.options.syncLatency) : s.storage,
      bootstrap: s.founding ? { voters: founders, learners: [] } : undefined,
      raft: this.options.raft,
      digests: trace ? new DigestChain() : undefined,
      handlers: this.handlers,
      tasks: this.options.tasks,
      executor: { concurrency: this.options.workerConcurrency, proofSigner: this.security?.proofSigner(id) },
      health: this.options.health,
      recovery: this.options.recovery,
      limits: this.options.limits,
      auditStore: s.audit,
      tenantOf: (from) => this.boundTenants.get(from) ?? null,
      ...(this.security ? { security: this.security.nodeSecurity(id, s.credentials, founders) } : {}),
      ...(this.options.inspect ? { inspect: this.options.inspect } : {}),
      observer: {
        ...traced,
        role: (role, term, leader) => {
          traced?.role?.(role, term, leader);
          if (role === 'leader' && term > this.lastLeaderTerm) {
            this.lastLeaderTerm = term;
            this.publish({ type: 'leader.elected', index: node!.raft.log.lastIndex, term, leader: id });
          }
        },
      },
    });
    s.node = node;
    const n = node;
    node.onChanges((c) => this.onApplied(n, inc, c));
    // A blocked node is cut off at once: its link session ends, its hellos are refused.
    const links = s.links;
    if (links) node.onChanges((c) => {
      for (const m of c.members) if (m.status === 'blocked') links.cut(m.node);
    });
    if (trace) {
      // Local opinions (not replicated) go to the trace too, so a run shows why the leader acted.
      node.health.onChange((h) => trace.emitCustom({ type: 'health', node: id, inc, peer: h.peer, from: h.from, to: h.to, reason: h.reason }));
      node.onBreaker((b) => trace.emitCustom({ type: 'breaker', node: id, inc, peer: b.peer, link: b.link, from: b.from, to: b.to }));
    }
    node.start();
    // Every node offers itself as a worker; re-registering after a restart refreshes its capacity.
    const capacity = this.options.workerCapacity === undefined ? { cpu: 8, memoryBytes: 16 * 2 ** 30 } : this.options.workerCapacity;
    if (capacity) node.forward({ op: 'registerWorker', worker: id, capacity });
    return node;
  }
}

/** Builds and starts a simulated cluster. */
export function createCluster(options: ClusterOptions): Cluster {
  return new Cluster(options);
}

/**
 * The seed's mock strategy: `n` real nodes on the simulated bus, founded
 * together, with a fast network (1–3 ms).
 */
export function createTestCluster(n: number, options: Partial<ClusterOptions> = {}): Cluster {
  return new Cluster({
    nodes: n,
    seed: 1,
    network: { latency: { base: 2, jitter: 1, distribution: 'uniform' } },
    ...options,
  });
}
