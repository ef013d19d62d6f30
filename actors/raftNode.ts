import { createActor, type Actor } from 'xstate';
import { raftRole, roleOf, quorumOf, type RaftRole, type RaftRoleEmitted } from '../machines/raftRole.js';
import { progressStepper } from '../machines/progressTable.js';
import type { ProgressState } from '../machines/replicationProgress.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import { batchValue, EncodeOnce } from '../system/codec.js';
import { decodeKept, keptEncoding } from '../system/keptEncodings.js';
import type { RandomSource } from '../system/random.js';
import { RaftLog } from './raftLog.js';
import { inspectorFor, TableInspection, type ChartInspector } from './chartInspection.js';
import type { Storage } from './storage.js';
import {
  normalizeConfig,
  type AppendResponse,
  type AppendSend,
  type EntryPayload,
  type LogDigests,
  type LogEntry,
  type OutgoingRaftMessages,
  type RaftConfig,
  type RaftMessageType,
  type Snapshot,
  type SnapshotRequest,
  type VoteRequest,
  type VoteResponse,
  type WireEntry,
} from './raftTypes.js';

/** Tunables of a Raft node; defaults as etcd runs. */
export interface RaftOptions {
  electionTimeoutMin: number;
  electionTimeoutMax: number;
  heartbeatMs: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Entries per AppendEntries message. */
  maxBatch: number;
  /** AppendEntries messages in flight per peer in the replicate state. */
  maxInflight: number;
  /** Applied entries after which a snapshot is taken (0: never). */
  snapshotThreshold: number;
  /** Entries kept in the log behind a snapshot, for slow followers. */
  snapshotKeep: number;
  /**
   * Serve reads on the leader's lease (dissertation §6.4.1) instead of a
   * ReadIndex round: while a quorum acknowledged a heartbeat sent less than
   * a lease ago, no other leader can have been elected, so the leader
   * answers at once. Safe only while clocks drift within
   * {@link RaftOptions.clockDriftBound}. Default false.
   */
  leaseReads: boolean;
  /**
   * How far any node's clock rate may stray from true time (0.01: ±1 %),
   * as lease reads assume: the lease lasts electionTimeoutMin × (1 − b) / (1 + b).
   */
  clockDriftBound: number;
  /**
   * When the transport reports that every connection to the leader closed
   * (its process ended: {@link RaftNode.peerDisconnected}), a follower
   * campaigns after a short delay staggered by its rank among the voters
   * left, through PreVote, instead of waiting out a whole election timeout.
   * A partition closes no connection, so it changes nothing there. Off
   * whenever `leaseReads` is on: a lease holds only if followers wait the
   * full timeout after their last contact. Default true.
   */
  fastFailover: boolean;
}

export const DEFAULT_RAFT_OPTIONS: RaftOptions = Object.freeze({
  electionTimeoutMin: 150,
  electionTimeoutMax: 300,
  heartbeatMs: 50,
  preVote: true,
  checkQuorum: true,
  maxBatch: 1024,
  maxInflight: 4,
  snapshotThreshold: 10_000,
  snapshotKeep: 1_000,
  leaseReads: false,
  clockDriftBound: 0.01,
  fastFailover: true,
});

/** The replicated state machine a Raft node applies committed commands to. */
export interface StateMachine {
  /** Applies a committed command; must be a pure function of the state and the entry (DESIGN rule 5). */
  apply(entry: LogEntry & { payload: { kind: 'command' } }): unknown;
  snapshot(): unknown;
  restore(data: unknown): void;
}

/** Sends Raft messages to peers. */
export interface RaftTransport {
  send<T extends RaftMessageType>(to: string, type: T, payload: OutgoingRaftMessages[T]): void;
}

/** What a node reports as it moves; the trace and the invariant checker hang off it. */
export interface RaftObserver {
  role?(role: RaftRole, term: number, leader: string | null): void;
  vote?(term: number, votedFor: string): void;
  append?(entries: readonly LogEntry[]): void;
  truncate?(from: number): void;
  commit?(index: number): void;
  apply?(entry: LogEntry, result: unknown): void;
  snapshot?(snapshot: Snapshot, cause: 'take' | 'install' | 'restore'): void;
  config?(index: number, config: RaftConfig): void;
  recover?(state: { term: number; votedFor: string | null; lastIndex: number; snapshotIndex: number }): void;
  /** Storage could not make a write durable; the node has stopped. */
  storageFailed?(err: unknown): void;
  /** A message from `from` held bytes that do not decode; it was dropped, as if lost. */
  malformed?(from: string, type: string, err: unknown): void;
}

/** Everything a Raft node runs on: its seams to time, chance, network and disk. */
export interface RaftNodeDeps {
  id: string;
  clock: Clock;
  random: RandomSource;
  transport: RaftTransport;
  storage: Storage;
  stateMachine: StateMachine;
  /** Configuration when storage is empty: the founding voters (bootstrap), or none for a node that will be added. */
  bootstrap?: RaftConfig;
  options?: Partial<RaftOptions>;
  observer?: RaftObserver;
  /** Keep the log's digest chain (tracing and checking); absent in benchmarks. */
  digests?: LogDigests;
  /** Inspection of the role chart and of each follower's replication progress. */
  inspect?: ChartInspector;
}

/** Why a request to a node was refused. */
export type RaftErrorCode = 'NotLeader' | 'LeaderNotReady' | 'TransferInProgress' | 'ConfigChangeInProgress' | 'InvalidConfigChange' | 'Stopped';

/** A refused request, with a leader hint when one is known. */
export class RaftError extends Error {
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    readonly leaderHint: string | null = null,
  ) {
    super(message);
    this.name = 'RaftError';
  }
}

/** A one-server-at-a-time change (dissertation §4.1). */
export type ConfigChange =
  | { type: 'addLearner'; node: string }
  | { type: 'promote'; node: string }
  | { type: 'demote'; node: string }
  | { type: 'remove'; node: string };

interface Progress {
  state: ProgressState;
  match: number;
  next: number;
  /** Last index of each append in flight (replicate state). */
  inflight: number[];
  probeSent: boolean;
  pendingSnapshot: number;
  snapshotSentAt: number;
  /** Highest ReadIndex round the peer has acknowledged. */
  readRound: number;
  /** When the window last made progress (match advanced, or it was empty and an append went out). */
  progressAt: number;
  /** Answered during the current CheckQuorum interval (etcd's RecentActive). */
  active: boolean;
  /** When this leader last had an answer from the peer (−∞: not yet). */
  heardAt: number;
}

/** An AppendEntries batch already built, by its range (see `RaftNode.batch`). */
interface CachedBatch {
  first: number;
  last: number;
  lastTerm: number;
  entries: EncodeOnce<WireEntry[]>;
}

interface PendingRead {
  round: number;
  index: number;
  done: (err: RaftError | null, index: number) => void;
}

/** A point-in-time view of a node, for tests, the CLI and the demo. */
export interface RaftStatus {
  id: string;
  role: RaftRole;
  term: number;
  leader: string | null;
  votedFor: string | null;
  commitIndex: number;
  lastApplied: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  config: RaftConfig;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Raft assertion failed: ${message}`);
}

/**
 * A Raft node (the paper's Figure 2, with the dissertation's PreVote,
 * CheckQuorum, leadership transfer, ReadIndex and single-server membership
 * changes). Its role and term are the `raftRole` statechart; it owns the
 * log, the per-peer replication progress and the commit/apply pipeline.
 * It does no I/O of its own: messages go through the transport, state
 * through the storage seam, time and chance through the kernel.
 */
export class RaftNode {
  readonly id: string;
  readonly options: RaftOptions;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly transport: RaftTransport;
  private readonly storage: Storage;
  private readonly sm: StateMachine;
  private readonly observer: RaftObserver;
  private readonly digests: LogDigests | undefined;
  private readonly role: Actor<typeof raftRole>;

  readonly log = new RaftLog();
  private commit = 0;
  private applied = 0;
  private snapshot: Snapshot | null = null;
  private baseConfig: RaftConfig;
  private configs: Array<{ index: number; config: RaftConfig }> = [];

  // Cached from the role chart (updated by its observer).
  private roleName: RaftRole = 'follower';
  private term = 0;
  private leaderId: string | null = null;
  private votedFor: string | null = null;

  private lastContactAt = Number.NEGATIVE_INFINITY;
  /** When this incarnation started (local time): with lease reads, it votes for no one for an election timeout after. */
  private startedAt = 0;
  /** Lease reads: local send time of each heartbeat round not yet acknowledged by a quorum. */
  private roundSentAt = new Map<number, number>();
  /** Lease reads: local send time of the latest round a quorum acknowledged (the lease runs from there). */
  private leaseFrom = Number.NEGATIVE_INFINITY;
  /** Heard from the leader (or granted a vote) since the election timer was last armed: the chart's `heardFromLeader`. */
  private contactSinceArmed = false;
  /** The leader whose connections all closed, while this follower campaigns early (see {@link RaftNode.peerDisconnected}). */
  private goneLeader: string | null = null;
  private matchScratch = new Float64Array(0);
  private lastArmedAt = Number.NEGATIVE_INFINITY;
  private readonly progress = new Map<string, Progress>();
  /** Each follower's progress chart, for an inspector (null: not inspected). */
  private readonly progressInspection: TableInspection | null;
  /** The last few batches sent, newest last: at most maxInflight. */
  private readonly batches: CachedBatch[] = [];
  private flushHandle: TimerHandle | undefined;
  private transferTarget: string | null = null;
  private transferTimer: TimerHandle | undefined;
  private transferCampaign = false;
  private readRound = 0;
  private reads: PendingRead[] = [];
  private readsAwaitingCommit: Array<(err: RaftError | null, index: number) => void> = [];
  private stopped = false;
  /**
   * Syncs of an asynchronous storage (a disk) started and finished. A
   * message waits for every sync started before it was sent: nothing that
   * promises durable state (a vote, an acknowledgement, entries a follower
   * may count on) leaves before that state is on disk.
   */
  private syncsStarted = 0;
  private syncsDone = 0;
  /** Syncs in flight, oldest first, each with the last index it makes durable (lowered by a truncation). */
  private syncing: Array<{ n: number; upTo: number }> = [];
  private syncTail: Promise<unknown> = Promise.resolve();
  /** Messages held until the syncs before them finish, in send order. */
  private held: Array<{ after: number; to: string; type: RaftMessageType; payload: unknown }> = [];
  /** The highest index durable here: what a leader counts for itself toward a quorum. */
  private durableIndex = 0;
  /** The sync that makes the latest term and vote durable (0: durable already). */
  private hardStateSync = 0;

  constructor(deps: RaftNodeDeps) {
    this.id = deps.id;
    this.progressInspection = deps.inspect ? new TableInspection(deps.id, 'replicationProgress', deps.inspect) : null;
    this.options = { ...DEFAULT_RAFT_OPTIONS, ...deps.options };
    const o = this.options;
    if (!(o.heartbeatMs > 0 && Number.isFinite(o.electionTimeoutMax))) throw new RangeError(`raft timing: heartbeatMs must be > 0 and the election timeouts finite, got ${o.heartbeatMs}, ${o.electionTimeoutMin}-${o.electionTimeoutMax}`);
    if (!(Number.isSafeInteger(o.snapshotThreshold) && o.snapshotThreshold >= 0 && Number.isSafeInteger(o.snapshotKeep) && o.snapshotKeep >= 0)) {
      throw new RangeError(`raft: snapshotThreshold and snapshotKeep must be integers ≥ 0, got ${o.snapshotThreshold}, ${o.snapshotKeep}`);
    }
    if (!(o.electionTimeoutMin > o.heartbeatMs && o.electionTimeoutMax >= o.electionTimeoutMin)) {
      throw new RangeError(`raft timing: need heartbeatMs < electionTimeoutMin <= electionTimeoutMax, got ${o.heartbeatMs}, ${o.electionTimeoutMin}-${o.electionTimeoutMax}`);
    }
    if (!(o.maxBatch >= 1 && o.maxInflight >= 1)) throw new RangeError('raft: maxBatch and maxInflight must be >= 1');
    if (!(o.clockDriftBound >= 0 && o.clockDriftBound < 1)) throw new RangeError(`raft: clockDriftBound must be in [0, 1), got ${o.clockDriftBound}`);
    this.clock = deps.clock;
    this.random = deps.random;
    this.transport = deps.transport;
    this.storage = deps.storage;
    this.sm = deps.stateMachine;
    this.observer = deps.observer ?? {};
    this.digests = deps.digests;

    // Recover whatever durable storage holds (nothing on a first start).
    const durable = deps.storage.load();
    this.baseConfig = normalizeConfig(deps.bootstrap ?? { voters: [], learners: [] });
    if (durable.snapshot) {
      const s = durable.snapshot;
      this.snapshot = s;
      this.log.reset(s.index, s.term);
      this.baseConfig = s.config;
      this.sm.restore(s.data);
      this.commit = this.applied = s.index;
      this.digests?.restore({ index: s.index, digest: s.digest ?? '' });
    }
    this.log.append(durable.entries);
    if (this.digests) for (const e of durable.entries) this.digests.append({ index: e.index, term: e.term, command: e.payload });
    for (const e of durable.entries) if (e.payload.kind === 'config') this.configs.push({ index: e.index, config: e.payload.config });
    this.term = durable.hardState.term;
    this.votedFor = durable.hardState.votedFor;
    this.durableIndex = this.log.lastIndex;

    const config = this.config;
    // The chart decides with its own guards, on its own context: the node
    // tells it of contact with the leader and of active peers (etcd's
    // RecentActive), but only when the chart does not know yet, so that is
    // at most one event per peer per interval, not one per message. The
    // randomized election timeout is measured from the last contact.
    const role = raftRole.provide({
      delays: { electionTimeout: () => this.electionDelay(), failoverDelay: () => this.failoverDelay() },
      guards: {
        heardFromLeader: () => this.contactSinceArmed,
        quorumActive: () => !o.checkQuorum || this.activeVoters() >= this.quorumSize,
      },
      actions: { resetActive: () => this.resetActive() },
    });
    this.role = createActor(role, {
      clock: this.clock,
      id: `raft(${this.id})`,
      ...(deps.inspect ? { inspect: inspectorFor(this.id, deps.inspect) } : {}),
      input: {
        self: this.id,
        term: this.term,
        votedFor: this.votedFor,
        voters: Math.max(1, config.voters.length),
        isVoter: config.voters.includes(this.id),
        preVote: o.preVote,
        checkQuorum: o.checkQuorum,
        electionTimeoutMin: o.electionTimeoutMin,
        electionTimeoutMax: o.electionTimeoutMax,
        heartbeatMs: o.heartbeatMs,
      },
    });
    this.role.on('campaign', (e) => this.onCampaign(e));
    this.role.on('becameLeader', (e) => this.onBecameLeader(e.term));
    this.role.on('heartbeat', () => this.broadcastHeartbeat(this.options.leaseReads ? this.newRound() : 0));
    this.role.on('steppedDown', () => this.onSteppedDown());
    this.role.subscribe((snap) => this.onRoleSnapshot(snap.value, snap.context));
  }

  /** Starts the node's timers (as a follower). */
  start(): void {
    this.startedAt = this.clock.now();
    const durableLast = this.log.lastIndex;
    if (durableLast > 0 || this.term > 0 || this.snapshot) {
      this.observer.recover?.({ term: this.term, votedFor: this.votedFor, lastIndex: durableLast, snapshotIndex: this.snapshot?.index ?? 0 });
      if (this.snapshot) this.observer.snapshot?.(this.snapshot, 'restore');
    }
    this.observer.config?.(this.configIndex(), this.config);
    this.role.start();
    this.observer.role?.(this.roleName, this.term, this.leaderId);
  }

  /** Stops everything (a crash, or a graceful shutdown); volatile state is gone with the object. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.role.stop();
    if (this.flushHandle !== undefined) this.clock.clearTimeout(this.flushHandle);
    if (this.transferTimer !== undefined) this.clock.clearTimeout(this.transferTimer);
    this.held = []; // a crashed process never sent them
    this.failReads(new RaftError('Stopped', `node ${this.id} stopped`));
  }

  // ------------------------------------------------------------------ queries

  get isLeader(): boolean {
    return this.roleName === 'leader';
  }

  /** Votes (or active voters) that make a quorum of the configuration in effect. */
  private get quorumSize(): number {
    return quorumOf(this.config.voters.length);
  }

  /** Whether this leader's commit index is in its own term (it has committed an entry of its term, §5.4.2). */
  get committedOwnTerm(): boolean {
    return this.roleName === 'leader' && this.log.term(this.commit) === this.term;
  }

  get commitIndex(): number {
    return this.commit;
  }

  get lastApplied(): number {
    return this.applied;
  }

  get currentTerm(): number {
    return this.term;
  }

  get currentRole(): RaftRole {
    return this.roleName;
  }

  get leader(): string | null {
    return this.leaderId;
  }

  /** The configuration in effect: the latest one in the log, committed or not (§4.1). */
  get config(): RaftConfig {
    return this.configs.length > 0 ? this.configs[this.configs.length - 1].config : this.baseConfig;
  }

  /** Peers' replication state, as the leader sees it. */
  progressOf(peer: string): Readonly<Progress> | undefined {
    return this.progress.get(peer);
  }

  /** Digest of the log up to `index`, when digests are kept. */
  digestAt(index: number): string | undefined {
    return this.digests?.digestAt(index);
  }

  /** The latest snapshot (taken, installed or restored), if any. */
  get latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.roleName,
      term: this.term,
      leader: this.leaderId,
      votedFor: this.votedFor,
      commitIndex: this.commit,
      lastApplied: this.applied,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      snapshotIndex: this.log.snapshotIndex,
      config: this.config,
    };
  }

  // ------------------------------------------------------------------ client requests

  /**
   * Appends a command to the leader's log. Returns where it will commit if it
   * commits; the caller learns the outcome from what is applied there.
   */
  propose(command: unknown): { index: number; term: number } {
    return this.proposeEntry({ kind: 'command', command });
  }

  /**
   * Proposes a single-server configuration change. Refused (`LeaderNotReady`)
   * until this leader has committed an entry of its own term, and
   * (`ConfigChangeInProgress`) while an earlier change is uncommitted.
   */
  changeConfig(change: ConfigChange): { index: number; term: number } {
    this.requireLeader();
    // Single-server changes are safe only between leaders that have each
    // committed an entry of their own term (Ongaro, raft-dev 2015; the
    // dissertation's errata): otherwise a deposed leader's stale change can
    // win an election under the old configuration.
    if (this.log.term(this.commit) !== this.term) {
      throw new RaftError('LeaderNotReady', `leader ${this.id} has not yet committed an entry of term ${this.term}; retry once it has`, this.id);
    }
    if (this.configs.some((c) => c.index > this.commit)) {
      throw new RaftError('ConfigChangeInProgress', 'a configuration change is still uncommitted; retry after it commits', this.id);
    }
    const cur = this.config;
    const voters = new Set(cur.voters);
    const learners = new Set(cur.learners);
    const n = change.node;
    const member = voters.has(n) || learners.has(n);
    switch (change.type) {
      case 'addLearner':
        if (member) throw new RaftError('InvalidConfigChange', `${n} is already a member`);
        learners.add(n);
        break;
      case 'promote':
        if (!learners.has(n)) throw new RaftError('InvalidConfigChange', `${n} is not a learner`);
        learners.delete(n);
        voters.add(n);
        break;
      case 'demote':
        if (!voters.has(n)) throw new RaftError('InvalidConfigChange', `${n} is not a voter`);
        if (voters.size === 1) throw new RaftError('InvalidConfigChange', 'cannot demote the last voter');
        voters.delete(n);
        learners.add(n);
        break;
      case 'remove':
        if (!member) throw new RaftError('InvalidConfigChange', `${n} is not a member`);
        if (voters.has(n) && voters.size === 1) throw new RaftError('InvalidConfigChange', 'cannot remove the last voter');
        voters.delete(n);
        learners.delete(n);
        break;
    }
    return this.proposeEntry({ kind: 'config', config: normalizeConfig({ voters: [...voters], learners: [...learners] }) });
  }

  /**
   * Linearizable read (dissertation §6.4, ReadIndex): calls back with an
   * index such that the state machine, once applied up to it, reflects
   * every write acknowledged before the read began.
   */
  readIndex(done: (err: RaftError | null, index: number) => void): void {
    if (this.roleName !== 'leader') {
      done(new RaftError('NotLeader', `node ${this.id} is not the leader`, this.leaderId), 0);
      return;
    }
    // Until an entry of its own term commits, a leader's commit index may be stale (§6.4 step 1).
    if (this.log.term(this.commit) !== this.term) {
      this.readsAwaitingCommit.push(done);
      return;
    }
    if (this.options.leaseReads && this.transferTarget === null && this.clock.now() < this.leaseFrom + this.leaseMs()) {
      // Within the lease no other leader can exist: the commit index is current.
      this.reads.push({ round: -1, index: this.commit, done });
      this.serveReads();
      return;
    }
    const round = this.newRound();
    this.reads.push({ round, index: this.commit, done });
    if (this.config.voters.length <= 1) this.confirmReads();
    else this.broadcastHeartbeat(round);
  }

  /** How long a lease lasts on this node's clock: short enough that no follower's vote window ends first, at any drift within the bound. */
  private leaseMs(): number {
    const b = this.options.clockDriftBound;
    return (this.options.electionTimeoutMin * (1 - b)) / (1 + b);
  }

  private newRound(): number {
    const round = ++this.readRound;
    if (this.options.leaseReads) this.roundSentAt.set(round, this.clock.now());
    return round;
  }

  /** Hands leadership to `target` (dissertation §3.10); proposals are refused meanwhile. */
  transferLeadership(target: string): void {
    this.requireLeader();
    if (target === this.id) return;
    if (!this.config.voters.includes(target)) throw new RaftError('InvalidConfigChange', `${target} is not a voter`);
    this.transferTarget = target;
    if (this.transferTimer !== undefined) this.clock.clearTimeout(this.transferTimer);
    // Abort if the target has not taken over within an election timeout.
    this.transferTimer = this.clock.setTimeout(() => {
      this.transferTarget = null;
      this.transferTimer = undefined;
    }, this.options.electionTimeoutMin);
    this.maybeSendTimeoutNow(target);
    this.sendAppends(target);
  }

  /**
   * The transport saw every connection to `peer` close: the peer's process
   * ended, since its operating system closed them (a partition or a lost
   * packet closes nothing). A follower of that leader then campaigns after
   * a short staggered delay instead of a whole election timeout, through
   * PreVote, so a connection reset while the leader lives costs no
   * leadership: the other voters still hear from it and refuse. Ignored
   * unless {@link RaftOptions.fastFailover} is on and lease reads are off.
   */
  peerDisconnected(peer: string): void {
    if (this.stopped || !this.options.fastFailover || this.options.leaseReads) return;
    if (this.roleName !== 'follower' || this.leaderId !== peer) return;
    this.goneLeader = peer;
    this.role.send({ type: 'LEADER_GONE', leader: peer });
  }

  // ------------------------------------------------------------------ messages

  /** Handles one message from a peer. */
  handle(from: string, type: string, payload: unknown): void {
    if (this.stopped) return;
    switch (type) {
      case 'raft.vote':
        return this.onVoteRequest(from, payload as VoteRequest);
      case 'raft.voteResponse':
        return this.onVoteResponse(from, payload as VoteResponse);
      case 'raft.append':
        return this.onAppend(from, payload as AppendSend);
      case 'raft.appendResponse':
        return this.onAppendResponse(from, payload as AppendResponse);
      case 'raft.snapshot':
        return this.onSnapshot(from, payload as SnapshotRequest);
      case 'raft.timeoutNow':
        return this.onTimeoutNow((payload as { term: number }).term);
      default:
        throw new TypeError(`raft node ${this.id}: unknown message type '${type}' from ${from}`);
    }
  }

  private onVoteRequest(from: string, m: VoteRequest): void {
    if (m.term > this.term) {
      // Leader lease (CheckQuorum): a node that hears from a live leader ignores
      // campaigns, so a rejoining partitioned node cannot depose it (§4.2.3).
      const now = this.clock.now();
      const inLease =
        (this.options.checkQuorum &&
          (this.roleName === 'leader' || (this.leaderId !== null && now - this.lastContactAt < this.options.electionTimeoutMin))) ||
        // A node that just (re)started may have acknowledged a leader's lease it no longer remembers.
        (this.options.leaseReads && now - this.startedAt < this.options.electionTimeoutMin);
      if (inLease && !m.transfer) return;
      if (!m.preVote) this.role.send({ type: 'TERM_SEEN', term: m.term });
    }
    const upToDate = this.log.isUpToDate(m.lastIndex, m.lastTerm);
    if (m.preVote) {
      const granted = m.term > this.term && upToDate;
      this.send(from, 'raft.voteResponse', { term: granted ? m.term : this.term, granted, preVote: true });
      return;
    }
    const canVote = this.votedFor === m.candidate || (this.votedFor === null && this.leaderId === null);
    const granted = m.term === this.term && canVote && upToDate;
    if (granted) {
      this.lastContactAt = this.clock.now();
      this.contactSinceArmed = true;
      this.role.send({ type: 'VOTED', candidate: m.candidate, term: m.term }); // persisted by the role observer
    }
    this.send(from, 'raft.voteResponse', { term: this.term, granted, preVote: false });
  }

  private onVoteResponse(from: string, m: VoteResponse): void {
    if (m.preVote) {
      if (m.granted) {
        if (m.term === this.term + 1) this.role.send({ type: 'PREVOTE_GRANTED', from, term: m.term });
      } else if (m.term > this.term) {
        this.role.send({ type: 'TERM_SEEN', term: m.term });
      } else {
        this.role.send({ type: 'PREVOTE_DENIED', from, term: this.term + 1 });
      }
      return;
    }
    if (m.term > this.term) {
      this.role.send({ type: 'TERM_SEEN', term: m.term });
      return;
    }
    if (m.term < this.term) return; // stale
    this.role.send({ type: m.granted ? 'VOTE_GRANTED' : 'VOTE_DENIED', from, term: m.term });
  }

  /** Common term handling for messages from a leader. Returns false when the message is stale. */
  private acceptLeader(from: string, term: number): boolean {
    if (term < this.term) {
      // Tell a deposed leader about the newer term so it steps down.
      this.send(from, 'raft.appendResponse', { term: this.term, success: false, match: 0, conflictIndex: 0, conflictTerm: 0, lastIndex: this.log.lastIndex, readRound: 0 });
      return false;
    }
    this.lastContactAt = this.clock.now();
    // Set before the event: a transition it causes re-arms the timer and clears it, as the chart's entry does.
    this.contactSinceArmed = true;
    if (term > this.term || this.roleName !== 'follower' || this.leaderId !== from) {
      this.role.send({ type: 'LEADER_SEEN', term, leader: from });
    }
    assert(this.roleName !== 'leader' || this.leaderId === this.id, 'two leaders in one term');
    return true;
  }

  private onAppend(from: string, m: AppendSend): void {
    if (!this.acceptLeader(from, m.term)) return;
    let prevIndex = m.prevIndex;
    let prevTerm = m.prevTerm;
    // Decoded through a codec it is the plain array; without one, the leader's wrapper.
    let entries: LogEntry[];
    try {
      entries = fromWire(batchValue(m.entries));
    } catch (err) {
      this.observer.malformed?.(from, 'raft.append', err);
      return; // bytes that do not decode: as if the message were lost (the leader sends again)
    }
    const compacted = this.log.snapshotIndex;
    if (prevIndex < compacted) {
      // Our compacted prefix is committed, hence equal to the leader's: skip it.
      entries = entries.filter((e) => e.index > compacted);
      prevIndex = compacted;
      prevTerm = this.log.snapshotTerm;
    }
    const localPrevTerm = this.log.term(prevIndex);
    if (localPrevTerm === undefined) {
      this.send(from, 'raft.appendResponse', {
        term: this.term, success: false, match: 0, conflictIndex: this.log.lastIndex + 1, conflictTerm: 0, lastIndex: this.log.lastIndex, readRound: m.readRound,
      });
      return;
    }
    if (localPrevTerm !== prevTerm) {
      this.send(from, 'raft.appendResponse', {
        term: this.term, success: false, match: 0, conflictIndex: this.log.firstIndexOfTerm(prevIndex), conflictTerm: localPrevTerm, lastIndex: this.log.lastIndex, readRound: m.readRound,
      });
      return;
    }
    // Skip entries we already have; truncate at the first conflict (§5.3).
    let i = 0;
    for (; i < entries.length; i++) {
      const e = entries[i];
      const local = this.log.term(e.index);
      if (local === undefined) break;
      if (local !== e.term) {
        assert(e.index > this.commit, `truncating committed entry ${e.index} (commit ${this.commit})`);
        this.truncateFrom(e.index);
        break;
      }
    }
    if (i < entries.length) this.appendEntries(i === 0 ? entries : entries.slice(i));
    this.persist();
    const match = prevIndex + entries.length;
    const newCommit = Math.min(m.commit, match);
    if (newCommit > this.commit) this.advanceCommit(newCommit);
    this.respondAppend(from, true, match, m.readRound);
  }

  private respondAppend(to: string, success: boolean, match: number, readRound: number): void {
    this.send(to, 'raft.appendResponse', { term: this.term, success, match, conflictIndex: 0, conflictTerm: 0, lastIndex: this.log.lastIndex, readRound });
  }

  private onSnapshot(from: string, m: SnapshotRequest): void {
    if (!this.acceptLeader(from, m.term)) return;
    const s = m.snapshot;
    if (s.index <= this.commit) {
      this.respondAppend(from, true, this.commit, 0);
      return;
    }
    if (this.log.term(s.index) === s.term) {
      // We hold the snapshot's last entry: our log matches up to it (Log Matching).
      this.advanceCommit(s.index);
      this.respondAppend(from, true, s.index, 0);
      return;
    }
    this.sm.restore(s.data);
    this.log.reset(s.index, s.term);
    // The log after the snapshot is gone: nothing past it is durable here, whatever a sync in flight was for.
    this.durableIndex = Math.min(this.durableIndex, s.index);
    for (const p of this.syncing) p.upTo = Math.min(p.upTo, s.index);
    this.digests?.restore({ index: s.index, digest: s.digest ?? '' });
    this.snapshot = s;
    this.baseConfig = s.config;
    this.configs = [];
    this.storage.saveSnapshot(s);
    this.persist();
    this.commit = this.applied = s.index;
    this.observer.snapshot?.(s, 'install');
    this.observer.commit?.(s.index);
    this.applyConfigToRole();
    this.observer.config?.(s.index, s.config);
    this.respondAppend(from, true, s.index, 0);
  }

  private onTimeoutNow(term: number): void {
    if (term !== this.term || !this.config.voters.includes(this.id)) return;
    this.transferCampaign = true;
    this.role.send({ type: 'TIMEOUT_NOW' });
    this.transferCampaign = false;
  }

  private onAppendResponse(from: string, m: AppendResponse): void {
    if (m.term > this.term) {
      this.role.send({ type: 'TERM_SEEN', term: m.term });
      return;
    }
    if (m.term < this.term || this.roleName !== 'leader') return;
    const pr = this.progress.get(from);
    if (!pr) return; // no longer a member
    // CheckQuorum: the chart's quorumActive guard counts these at its interval.
    pr.active = true;
    pr.heardAt = this.clock.now();
    if (m.readRound > pr.readRound) {
      pr.readRound = m.readRound;
      this.confirmReads();
    }
    if (!m.success) {
      if (m.conflictIndex === 0 || m.conflictIndex <= pr.match) return; // stale rejection
      let next = m.conflictIndex;
      if (m.conflictTerm > 0) {
        const last = this.log.lastIndexOfTerm(m.conflictTerm);
        if (last > 0) next = last + 1;
      }
      pr.next = Math.max(pr.match + 1, Math.min(next, m.lastIndex + 1));
      pr.inflight.length = 0;
      pr.probeSent = false;
      this.stepProgress(pr, 'REJECTED');
      this.sendAppends(from);
      return;
    }
    if (pr.state === 'snapshot') {
      if (m.match >= pr.pendingSnapshot) {
        this.stepProgress(pr, 'SNAPSHOT_DONE');
        pr.pendingSnapshot = 0;
      }
    }
    // Free the window up to what is acknowledged first, so the commit notice below sees idle peers.
    const inflight = pr.inflight;
    let freed = 0;
    while (freed < inflight.length && inflight[freed] <= m.match) freed++;
    if (freed === 0 && inflight.length >= this.options.maxInflight) freed = 1;
    if (freed > 0) inflight.splice(0, freed);
    pr.probeSent = false;
    if (m.match > pr.match) {
      pr.match = m.match;
      pr.progressAt = this.clock.now();
      if (pr.state === 'probe') this.stepProgress(pr, 'ACCEPTED');
      if (pr.next <= pr.match) pr.next = pr.match + 1;
      this.maybeCommit();
    }
    if (pr.next <= pr.match) pr.next = pr.match + 1;
    if (from === this.transferTarget) this.maybeSendTimeoutNow(from);
    this.sendAppends(from);
  }

  // ------------------------------------------------------------------ role chart hooks

  /**
   * After the leader's process ended: the voters left campaign one after
   * another, a stagger apart in the order of their ids, each with a little
   * jitter, so the first usually wins before the next starts (no split vote).
   * The first waits a few ms, time for the others to see the connection
   * close too and drop the leader's lease, or they would ignore its PreVote.
   */
  private failoverDelay(): number {
    const gone = this.goneLeader;
    const rest = this.config.voters.filter((v) => v !== gone).sort();
    const rank = Math.max(0, rest.indexOf(this.id));
    // A heartbeat interval apart: ample for the first's PreVote and vote (two round trips and a sync).
    const step = Math.max(2, this.options.heartbeatMs);
    const jitter = Math.max(1, Math.round(this.options.heartbeatMs / 10));
    return 2 + rank * step + this.random.int(0, jitter);
  }

  private electionDelay(): number {
    const r = this.random.int(this.options.electionTimeoutMin, this.options.electionTimeoutMax);
    const now = this.clock.now();
    this.contactSinceArmed = false;
    // Measured from the last contact with a leader, as etcd's ticks are.
    const delay = this.lastContactAt > this.lastArmedAt ? Math.max(1, this.lastContactAt + r - now) : r;
    this.lastArmedAt = now;
    return delay;
  }

  private onRoleSnapshot(value: unknown, ctx: { term: number; votedFor: string | null; leader: string | null }): void {
    const role = roleOf(value);
    const termChanged = ctx.term !== this.term;
    const voteChanged = ctx.votedFor !== this.votedFor;
    if (termChanged || voteChanged) {
      // Persist before anything else is sent: a vote must survive a crash (§5.2).
      this.storage.setHardState({ term: ctx.term, votedFor: ctx.votedFor });
      this.persist();
      this.hardStateSync = this.syncsStarted;
    }
    const changed = role !== this.roleName || termChanged || ctx.leader !== this.leaderId;
    this.term = ctx.term;
    this.votedFor = ctx.votedFor;
    this.roleName = role;
    this.leaderId = ctx.leader;
    if (voteChanged && ctx.votedFor !== null) this.observer.vote?.(ctx.term, ctx.votedFor);
    if (changed && this.role.getSnapshot().status === 'active') this.observer.role?.(role, ctx.term, ctx.leader);
  }

  private onCampaign(e: Extract<RaftRoleEmitted, { type: 'campaign' }>): void {
    if (!e.preVote) {
      // Persist the self-vote before asking for votes.
      this.storage.setHardState({ term: e.term, votedFor: this.id });
      this.persist();
      this.hardStateSync = this.syncsStarted;
    }
    const req: VoteRequest = {
      term: e.term,
      candidate: this.id,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      preVote: e.preVote,
      transfer: this.transferCampaign,
    };
    for (const peer of this.config.voters) if (peer !== this.id) this.send(peer, 'raft.vote', req);
  }

  /** Runs inside the chart's transition, before the role observer has cached the new term: use `term`. */
  private onBecameLeader(term: number): void {
    this.leaseFrom = Number.NEGATIVE_INFINITY; // no lease until a quorum acknowledges a round of this term
    this.roundSentAt.clear();
    this.progress.clear();
    const last = this.log.lastIndex;
    for (const peer of this.peers()) {
      this.progress.set(peer, this.freshProgress(last));
      this.progressInspection?.created(peer, 'probe', { match: 0, next: last + 1 });
    }
    this.transferTarget = null;
    // Commit an entry of the new term at once: it commits everything before it (§5.4.2, §6.4).
    this.proposeEntry({ kind: 'noop' }, term);
  }

  /** This leader and the voters heard from this CheckQuorum interval. */
  private activeVoters(): number {
    let n = 1;
    for (const v of this.config.voters) if (v !== this.id && this.progress.get(v)?.active) n++;
    return n;
  }

  private resetActive(): void {
    for (const pr of this.progress.values()) pr.active = false;
  }

  private onSteppedDown(): void {
    this.leaseFrom = Number.NEGATIVE_INFINITY;
    this.roundSentAt.clear();
    this.progress.clear();
    this.transferTarget = null;
    this.failReads(new RaftError('NotLeader', `node ${this.id} is no longer the leader`, null));
  }

  // ------------------------------------------------------------------ leader: replication

  private requireLeader(): void {
    const refusal = this.proposalRefusal();
    if (refusal !== null) throw refusal;
  }

  /** Why {@link RaftNode.propose} would refuse a command now (stopped, not the leader, or handing leadership over), or null when it would take it. */
  proposalRefusal(): RaftError | null {
    if (this.stopped) return new RaftError('Stopped', `node ${this.id} is stopped`);
    if (this.roleName !== 'leader') return new RaftError('NotLeader', `node ${this.id} is not the leader`, this.leaderId);
    if (this.transferTarget !== null) return new RaftError('TransferInProgress', `leadership is moving to ${this.transferTarget}`, this.transferTarget);
    return null;
  }

  private proposeEntry(payload: EntryPayload, term = this.term): { index: number; term: number } {
    if (payload.kind !== 'noop') this.requireLeader();
    assert(term >= this.log.lastTerm, `appending term ${term} after term ${this.log.lastTerm}`);
    const entry: LogEntry = { index: this.log.lastIndex + 1, term, payload };
    this.appendEntries([entry]);
    // Batch everything proposed at this instant into one write and one round of appends.
    if (this.flushHandle === undefined) this.flushHandle = this.clock.setTimeout(() => this.flush(), 0);
    return { index: entry.index, term: entry.term };
  }

  private flush(): void {
    this.flushHandle = undefined;
    this.persist();
    if (this.stopped || this.roleName !== 'leader') return;
    for (const peer of this.progress.keys()) this.sendAppends(peer);
    this.maybeCommit();
  }

  private peers(): string[] {
    const c = this.config;
    const out: string[] = [];
    for (const v of c.voters) if (v !== this.id) out.push(v);
    for (const l of c.learners) if (l !== this.id) out.push(l);
    return out;
  }

  private freshProgress(last: number): Progress {
    return { state: 'probe', match: 0, next: last + 1, inflight: [], probeSent: false, pendingSnapshot: 0, snapshotSentAt: 0, readRound: 0, progressAt: this.clock.now(), active: false, heardAt: Number.NEGATIVE_INFINITY };
  }

  private stepProgress(pr: Progress, type: 'ACCEPTED' | 'REJECTED' | 'UNREACHABLE' | 'NEED_SNAPSHOT' | 'SNAPSHOT_DONE' | 'SNAPSHOT_FAILED'): void {
    const next = progressStepper.step(pr.state, pr, { type });
    if (next !== null) pr.state = next as ProgressState;
    if (next !== null && this.progressInspection) {
      for (const [peer, p] of this.progress) if (p === pr) this.progressInspection.stepped(peer, { type }, next, { match: pr.match, next: pr.next });
    }
  }

  /**
   * Called when an AppendEntries is about to go to a follower whose pipeline
   * has room, before its entries are chosen: what the caller proposes in it
   * goes out in this very message. The cluster node folds the client
   * requests it held while every pipeline was full into one entry here.
   */
  onAppendSlot: (() => void) | null = null;

  /**
   * True while this leader can send no follower anything new: every peer is
   * replicating with {@link RaftOptions.maxInflight} appends unanswered. A
   * proposal now would wait for an answer anyway; a caller may hold its
   * commands until {@link RaftNode.onAppendSlot} and propose them as one.
   * False with no peers, or with a peer probing or catching up (whose pace
   * answers do not set).
   */
  replicationSaturated(): boolean {
    if (this.roleName !== 'leader' || this.progress.size === 0) return false;
    for (const pr of this.progress.values()) if (pr.state !== 'replicate' || pr.inflight.length < this.options.maxInflight) return false;
    return true;
  }

  private sendAppends(peer: string): void {
    let pr = this.progress.get(peer);
    if (!pr || this.flushHandle !== undefined) return; // unflushed entries go out with the flush
    if (this.onAppendSlot !== null && pr.state === 'replicate' && pr.inflight.length < this.options.maxInflight) {
      this.onAppendSlot();
      pr = this.progress.get(peer);
      if (!pr || this.flushHandle !== undefined) return;
    }
    if (pr.state === 'snapshot') {
      if (this.clock.now() - pr.snapshotSentAt >= this.options.electionTimeoutMin) this.stepProgress(pr, 'SNAPSHOT_FAILED');
      else return;
    }
    const last = this.log.lastIndex;
    if (pr.state === 'probe') {
      if (pr.probeSent) return;
      if (!this.sendAppendFrom(peer, pr, last)) return;
      pr.probeSent = true;
      return;
    }
    while (pr.inflight.length < this.options.maxInflight && pr.next <= last) {
      if (!this.sendAppendFrom(peer, pr, last)) return;
    }
  }

  /** Sends one AppendEntries from pr.next (or a snapshot when compacted). Returns false when it sent a snapshot. */
  private sendAppendFrom(peer: string, pr: Progress, last: number): boolean {
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      this.sendSnapshot(peer, pr);
      return false;
    }
    const batch = this.batch(pr.next, last);
    this.send(peer, 'raft.append', { term: this.term, leader: this.id, prevIndex, prevTerm, entries: batch ?? [], commit: this.commit, readRound: 0 });
    const entries = batch === null ? [] : batch.value;
    if (entries.length > 0 && pr.state === 'replicate') {
      if (pr.inflight.length === 0) pr.progressAt = this.clock.now();
      pr.next = prevIndex + entries.length + 1; // the batch holds the entries after prevIndex, in order
      pr.inflight.push(pr.next - 1);
    }
    return true;
  }

  /**
   * The entries from `from` to `last` (at most maxBatch), or null for none;
   * wrapped so that sending the same batch to several followers encodes it
   * once. A batch sent before that starts at `from` is sent again, even if
   * it ends before `last`: its entries are encoded already, and the rest
   * goes in the next append. So followers a batch apart take the same
   * batches and each entry is encoded once (a follower answering after
   * more entries arrived would otherwise get a batch of its own, and every
   * entry would be encoded about twice). By Log Matching (§5.3) equal
   * (index, term) of its last entry means equal entries up to it, whatever
   * happened to the log between; the caller advances the follower by what
   * the batch holds, not by `last`.
   */
  private batch(from: number, last: number): EncodeOnce<WireEntry[]> | null {
    const end = Math.min(last, this.log.lastIndex, from + this.options.maxBatch - 1);
    if (end < from) return null;
    let reuse: CachedBatch | null = null;
    for (const b of this.batches) {
      if (b.first === from && b.last <= end && (reuse === null || b.last > reuse.last) && this.log.term(b.last) === b.lastTerm) reuse = b;
    }
    if (reuse !== null) return reuse.entries;
    const lastTerm = this.log.term(end)!;
    const entries = new EncodeOnce(toWire(this.log.slice(from, end, this.options.maxBatch)));
    // Keep maxInflight: a follower in step takes up to that many batches before the next follower asks for the first again.
    if (this.batches.length >= this.options.maxInflight) this.batches.shift();
    this.batches.push({ first: from, last: end, lastTerm, entries });
    return entries;
  }

  private sendSnapshot(peer: string, pr: Progress): void {
    const s = this.snapshot;
    assert(s !== null, `no snapshot to send to ${peer} (next ${pr.next}, compacted to ${this.log.snapshotIndex})`);
    this.stepProgress(pr, 'NEED_SNAPSHOT');
    pr.pendingSnapshot = s.index;
    pr.snapshotSentAt = this.clock.now();
    pr.inflight.length = 0;
    this.send(peer, 'raft.snapshot', { term: this.term, leader: this.id, snapshot: s });
  }

  private broadcastHeartbeat(readRound: number): void {
    if (this.roleName !== 'leader') return;
    const now = this.clock.now();
    for (const [peer, pr] of this.progress) {
      if (pr.state === 'replicate' && pr.inflight.length > 0 && now - pr.progressAt >= this.options.electionTimeoutMin) {
        // Appends went unanswered for an election timeout: assume them lost and
        // probe again from what the peer is known to hold.
        this.stepProgress(pr, 'UNREACHABLE');
        pr.next = pr.match + 1;
        pr.inflight.length = 0;
        pr.probeSent = false;
        this.sendAppends(peer);
      }
      // The prefix up to match is known equal, so the heartbeat's consistency check passes.
      let prevIndex = pr.match;
      if (pr.state === 'replicate' && pr.inflight.length > 0 && now - pr.progressAt >= this.options.heartbeatMs && this.log.term(pr.next - 1) !== undefined) {
        // Appends in flight for a heartbeat interval with no progress: check
        // at the end of what was sent instead. A follower that missed some
        // rejects it, and the rejection brings the resend now rather than
        // after an election timeout (as etcd's heartbeat-response append).
        prevIndex = pr.next - 1;
      }
      const prevTerm = this.log.term(prevIndex);
      if (prevTerm === undefined) {
        // What the peer holds lies inside our snapshot, so no heartbeat can
        // carry a consistency check: re-probe instead. The previous probe may
        // have been lost, so it must not hold this one back.
        if (pr.state === 'probe') pr.probeSent = false;
        this.sendAppends(peer);
        continue;
      }
      this.send(peer, 'raft.append', {
        term: this.term, leader: this.id, prevIndex, prevTerm, entries: [], commit: Math.min(this.commit, prevIndex), readRound,
      });
      if (pr.state === 'probe') pr.probeSent = false;
    }
  }

  private maybeCommit(): void {
    const voters = this.config.voters;
    if (voters.length === 0) return;
    // The quorum-th highest match index. (A reused typed array, sorted ascending with no comparator: no garbage per answer.)
    if (this.matchScratch.length !== voters.length) this.matchScratch = new Float64Array(voters.length);
    const matches = this.matchScratch;
    for (let i = 0; i < voters.length; i++) matches[i] = voters[i] === this.id ? this.durableIndex : (this.progress.get(voters[i])?.match ?? 0);
    matches.sort();
    const n = matches[voters.length - quorumOf(voters.length)];
    // Only entries of the current term commit by counting (§5.4.2, Figure 8).
    if (n > this.commit && this.log.term(n) === this.term) {
      this.advanceCommit(n);
      // Tell idle followers at once rather than at the next heartbeat.
      for (const [peer, pr] of this.progress) {
        if (pr.state === 'replicate' && pr.inflight.length === 0) {
          this.send(peer, 'raft.append', {
            term: this.term, leader: this.id, prevIndex: pr.match, prevTerm: this.log.term(pr.match) ?? 0, entries: [], commit: Math.min(this.commit, pr.match), readRound: 0,
          });
        }
      }
    }
  }

  private maybeSendTimeoutNow(target: string): void {
    const pr = this.progress.get(target);
    if (pr && pr.match === this.log.lastIndex) this.send(target, 'raft.timeoutNow', { term: this.term });
  }

  // ------------------------------------------------------------------ log, commit, apply

  private appendEntries(entries: readonly LogEntry[]): void {
    this.log.append(entries);
    if (this.digests) for (const e of entries) this.digests.append({ index: e.index, term: e.term, command: e.payload });
    this.storage.append(entries);
    let configChanged = false;
    for (const e of entries) {
      if (e.payload.kind === 'config') {
        this.configs.push({ index: e.index, config: e.payload.config });
        configChanged = true;
      }
    }
    this.observer.append?.(entries);
    if (configChanged) this.onConfigChanged();
  }

  private truncateFrom(index: number): void {
    this.log.truncateFrom(index);
    // Entries a sync in flight was to make durable from here on are gone.
    this.durableIndex = Math.min(this.durableIndex, index - 1);
    for (const s of this.syncing) s.upTo = Math.min(s.upTo, index - 1);
    this.digests?.truncateFrom(index);
    this.storage.truncateFrom(index);
    this.observer.truncate?.(index);
    const before = this.configs.length;
    this.configs = this.configs.filter((c) => c.index < index);
    if (this.configs.length !== before) this.onConfigChanged();
  }

  private configIndex(): number {
    return this.configs.length > 0 ? this.configs[this.configs.length - 1].index : (this.snapshot?.index ?? 0);
  }

  private onConfigChanged(): void {
    const config = this.config;
    this.observer.config?.(this.configIndex(), config);
    this.applyConfigToRole();
    if (this.roleName === 'leader') {
      const peers = new Set(this.peers());
      for (const p of [...this.progress.keys()]) if (!peers.has(p)) this.progress.delete(p);
      for (const p of peers) if (!this.progress.has(p)) this.progress.set(p, this.freshProgress(this.log.lastIndex));
    }
  }

  private applyConfigToRole(): void {
    const c = this.config;
    if (!this.stopped) {
      this.role.send({ type: 'CONFIG', voters: Math.max(1, c.voters.length), isVoter: c.voters.includes(this.id) });
    }
  }

  private advanceCommit(index: number): void {
    assert(index > this.commit, `commit index going from ${this.commit} to ${index}`);
    assert(index <= this.log.lastIndex, `commit ${index} beyond last index ${this.log.lastIndex}`);
    this.commit = index;
    this.observer.commit?.(index);
    this.applyCommitted();
    if (this.readsAwaitingCommit.length > 0 && this.log.term(this.commit) === this.term) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const done of waiting) this.readIndex(done);
    }
  }

  private applyCommitted(): void {
    while (this.applied < this.commit) {
      const e = this.log.entry(this.applied + 1)!;
      this.applied = e.index;
      let result: unknown;
      if (e.payload.kind === 'command') result = this.sm.apply(e as LogEntry & { payload: { kind: 'command' } });
      this.observer.apply?.(e, result);
      if (e.payload.kind === 'config' && this.roleName === 'leader' && !e.payload.config.voters.includes(this.id) && e.index === this.configIndex()) {
        // A leader removed from the configuration steps down once the change commits (§4.2.2).
        this.role.send({ type: 'STEP_DOWN' });
      }
    }
    this.serveReads();
    const o = this.options;
    if (o.snapshotThreshold > 0 && this.applied - (this.snapshot?.index ?? 0) >= o.snapshotThreshold) this.takeSnapshot();
  }

  /** Snapshots the state machine at the applied index and compacts the log behind it. */
  takeSnapshot(): Snapshot | null {
    if (this.applied === 0 || this.applied === this.snapshot?.index) return this.snapshot;
    const index = this.applied;
    const s: Snapshot = { index, term: this.log.term(index)!, config: this.configAt(index), data: this.sm.snapshot() };
    if (this.digests) s.digest = this.digests.digestAt(index);
    this.snapshot = s;
    this.storage.saveSnapshot(s);
    this.persist();
    this.observer.snapshot?.(s, 'take');
    const keepFrom = index - this.options.snapshotKeep;
    if (keepFrom > this.log.snapshotIndex) {
      this.log.compact(keepFrom, this.log.term(keepFrom)!);
      this.digests?.compactTo(keepFrom);
      this.baseConfig = this.configAt(keepFrom);
      this.configs = this.configs.filter((c) => c.index > keepFrom);
    }
    return s;
  }

  private configAt(index: number): RaftConfig {
    let config = this.baseConfig;
    for (const c of this.configs) if (c.index <= index) config = c.config;
    return config;
  }

  // ------------------------------------------------------------------ ReadIndex

  private confirmReads(): void {
    if (this.reads.length === 0 && !this.options.leaseReads) return;
    const voters = this.config.voters;
    const need = quorumOf(voters.length);
    // A read is confirmed once a quorum acknowledged a heartbeat of its round or later.
    const rounds: number[] = [];
    for (const v of voters) rounds.push(v === this.id ? this.readRound : (this.progress.get(v)?.readRound ?? 0));
    rounds.sort((a, b) => b - a);
    const confirmed = rounds[need - 1];
    if (this.options.leaseReads && confirmed > 0) {
      const at = this.roundSentAt.get(confirmed);
      if (at !== undefined) this.leaseFrom = Math.max(this.leaseFrom, at);
      for (const r of this.roundSentAt.keys()) if (r <= confirmed) this.roundSentAt.delete(r);
    }
    for (const r of this.reads) if (r.round <= confirmed) r.round = -1; // mark confirmed
    this.serveReads();
  }

  private serveReads(): void {
    if (this.reads.length === 0) return;
    const remaining: PendingRead[] = [];
    for (const r of this.reads) {
      if (r.round === -1 && r.index <= this.applied) r.done(null, r.index);
      else remaining.push(r);
    }
    this.reads = remaining;
  }

  private failReads(err: RaftError): void {
    const reads = this.reads;
    const waiting = this.readsAwaitingCommit;
    this.reads = [];
    this.readsAwaitingCommit = [];
    for (const r of reads) r.done(err, 0);
    for (const done of waiting) done(err, 0);
  }

  private send<T extends RaftMessageType>(to: string, type: T, payload: OutgoingRaftMessages[T]): void {
    // A leader's appends (only leaders send them) need not wait for its own log to be durable (Raft
    // thesis §10.2.1): the leader counts itself toward a quorum only up to
    // its durable index, so entries it lost in a crash were committed only
    // if a quorum of followers holds them. They do wait for the term they
    // carry to be durable (a leader of one voter and learners has heard no
    // vote that would prove it), else a restarted node could lead that
    // term again with another log.
    if (this.syncsDone < this.syncsStarted) {
      const after = type === 'raft.append' ? this.hardStateSync : this.syncsStarted;
      if (this.syncsDone < after) {
        this.held.push({ after, to, type, payload });
        return;
      }
    }
    this.transport.send(to, type, payload);
  }

  /**
   * Makes every write so far durable. With a storage that syncs at once
   * (memory) that is done on return; with one that returns a promise (a
   * disk), messages sent from now on are held until it resolves, and syncs
   * complete in the order they started.
   */
  private persist(): void {
    const pending = this.storage.sync();
    if (pending === undefined && this.syncing.length === 0) {
      this.durableIndex = this.log.lastIndex;
      return;
    }
    const n = ++this.syncsStarted;
    this.syncing.push({ n, upTo: this.log.lastIndex });
    this.syncTail = Promise.all([this.syncTail, pending]).then(
      () => this.onSynced(n),
      (err: unknown) => this.onSyncFailed(err),
    );
  }

  private onSynced(n: number): void {
    if (this.stopped) return;
    const s = this.syncing.shift();
    assert(s !== undefined && s.n === n, `sync ${n} finished out of order`);
    this.syncsDone = n;
    this.durableIndex = Math.max(this.durableIndex, s.upTo);
    if (this.held.length > 0) {
      // In send order; an append may wait for fewer syncs than a message held before it.
      const due = this.held.filter((m) => m.after <= n);
      if (due.length > 0) {
        this.held = this.held.filter((m) => m.after > n);
        for (const m of due) this.transport.send(m.to, m.type, m.payload as never);
      }
    }
    if (this.roleName === 'leader') this.maybeCommit();
  }

  /** A write that cannot be made durable: the node can keep none of its promises, so it stops (fail-stop). */
  private onSyncFailed(err: unknown): void {
    if (this.stopped) return;
    this.observer.storageFailed?.(err);
    this.stop();
  }
}

/** Entries as AppendEntries carries them: a large one whose encoding this node keeps (written to its disk) as those bytes. */
function toWire(entries: LogEntry[]): WireEntry[] {
  let out: WireEntry[] | null = null;
  for (let i = 0; i < entries.length; i++) {
    const bytes = keptEncoding(entries[i]);
    if (bytes === undefined) continue;
    out ??= entries.slice();
    out[i] = bytes;
  }
  return out ?? entries;
}

/** The entries an AppendEntries carries, each sent as bytes decoded (and its bytes kept for this node's disk). */
function fromWire(entries: WireEntry[]): LogEntry[] {
  let out: LogEntry[] | null = null;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!(e instanceof Uint8Array)) continue;
    out ??= entries.slice() as LogEntry[];
    const decoded = decodeKept(e) as Partial<LogEntry> | null;
    if (typeof decoded !== 'object' || decoded === null || !Number.isSafeInteger(decoded.index) || !Number.isSafeInteger(decoded.term) || typeof decoded.payload !== 'object' || decoded.payload === null) {
      throw new TypeError('an entry sent as bytes does not decode to a log entry');
    }
    out[i] = decoded as LogEntry;
  }
  return out ?? (entries as LogEntry[]);
}
