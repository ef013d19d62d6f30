import type { Clock, TimerHandle } from '../system/clock.js';
import type { RandomSource } from '../system/random.js';
import { ClusterState, type ApplyResult, type ClusterCommand, type MemberRecord, type SessionCommand } from './clusterState.js';
import { RaftError, RaftNode, type ConfigChange, type RaftObserver, type RaftOptions, type RaftTransport } from './raftNode.js';
import type { LogDigests, LogEntry, RaftConfig } from './raftTypes.js';
import type { Storage } from './storage.js';

/** The outcome of a proposal made through a node. */
export type ProposeOutcome =
  | { ok: true; index: number; term: number; result: ApplyResult }
  /** Not applied: this node cannot take it (with a hint), or it was overwritten by another leader's entry. */
  | { ok: false; code: 'NotLeader' | 'TransferInProgress' | 'ProposalDropped' | 'Stopped'; leaderHint: string | null; message: string };

/** Dependencies of a cluster node: the Raft seams plus its incarnation. */
export interface ClusterNodeDeps {
  id: string;
  clock: Clock;
  random: RandomSource;
  transport: RaftTransport;
  storage: Storage;
  bootstrap?: RaftConfig;
  raft?: Partial<RaftOptions>;
  observer?: RaftObserver;
  digests?: LogDigests;
  /** How often the leader reconciles membership with the Raft configuration (ms). */
  reconcileMs?: number;
  /** A learner within this many entries of the leader's commit index is caught up. */
  catchUpLag?: number;
}

/**
 * One Grey node: a Raft node applying committed entries to the replicated
 * {@link ClusterState}, plus what a node does on top when it leads:
 * reconciling the Raft configuration with the replicated membership, one
 * change at a time (approved → learner, caught up → voter, removed → out).
 */
export class ClusterNode {
  readonly id: string;
  readonly raft: RaftNode;
  readonly state = new ClusterState();
  private readonly clock: Clock;
  private readonly waiters = new Map<number, Array<(entry: LogEntry, result: unknown) => void>>();
  private readonly reconcileMs: number;
  private readonly catchUpLag: number;
  private reconcileTimer: TimerHandle | undefined;
  /** Index of the bootstrap entry this leader proposed, while not yet applied. */
  private bootstrapAt = 0;
  /** Promotions proposed and not yet applied (node → index), so each is proposed once. */
  private readonly promoting = new Map<string, number>();
  private stopped = false;

  constructor(deps: ClusterNodeDeps) {
    this.id = deps.id;
    this.clock = deps.clock;
    this.reconcileMs = deps.reconcileMs ?? 100;
    this.catchUpLag = deps.catchUpLag ?? 16;
    const outer = deps.observer ?? {};
    this.raft = new RaftNode({
      id: deps.id,
      clock: deps.clock,
      random: deps.random,
      transport: deps.transport,
      storage: deps.storage,
      bootstrap: deps.bootstrap,
      options: deps.raft,
      digests: deps.digests,
      stateMachine: {
        apply: (e) => this.state.apply(e),
        snapshot: () => this.state.snapshot(),
        restore: (d) => this.state.restore(d),
      },
      observer: {
        ...outer,
        apply: (entry, result) => {
          outer.apply?.(entry, result);
          this.settle(entry, result);
        },
        role: (role, term, leader) => {
          outer.role?.(role, term, leader);
          // At once, so the bootstrap entry goes out in the same batch as the leader's no-op.
          if (role === 'leader') this.reconcile();
        },
      },
    });
  }

  start(): void {
    this.raft.start();
  }

  stop(): void {
    this.stopped = true;
    this.raft.stop();
    if (this.reconcileTimer !== undefined) this.clock.clearTimeout(this.reconcileTimer);
    this.waiters.clear();
  }

  handle(from: string, type: string, payload: unknown): void {
    if (!this.stopped) this.raft.handle(from, type, payload);
  }

  /**
   * Proposes a command; `done` is called once it is applied here (with the
   * state machine's result), or at once when this node cannot take it. A
   * crash of this node means `done` is never called: the caller times out.
   */
  propose(command: SessionCommand, done: (outcome: ProposeOutcome) => void): void {
    let at: { index: number; term: number };
    try {
      at = this.raft.propose(command);
    } catch (err) {
      done(this.refusal(err));
      return;
    }
    this.whenApplied(at.index, (entry, result) => {
      if (entry.term === at.term) done({ ok: true, index: at.index, term: at.term, result: result as ApplyResult });
      else done({ ok: false, code: 'ProposalDropped', leaderHint: this.raft.leader, message: `entry ${at.index} of term ${at.term} was replaced by term ${entry.term}` });
    });
  }

  /** Linearizable read of the replicated state (ReadIndex), applied here. */
  read<T>(query: (state: ClusterState) => T, done: (outcome: { ok: true; value: T; index: number } | Extract<ProposeOutcome, { ok: false }>) => void): void {
    this.raft.readIndex((err, index) => {
      if (err) {
        done(this.refusal(err));
        return;
      }
      done({ ok: true, value: query(this.state), index });
    });
  }

  private refusal(err: unknown): Extract<ProposeOutcome, { ok: false }> {
    if (err instanceof RaftError) {
      const code = err.code === 'TransferInProgress' || err.code === 'Stopped' ? err.code : 'NotLeader';
      return { ok: false, code, leaderHint: err.leaderHint, message: err.message };
    }
    throw err;
  }

  private whenApplied(index: number, fn: (entry: LogEntry, result: unknown) => void): void {
    let list = this.waiters.get(index);
    if (!list) this.waiters.set(index, (list = []));
    list.push(fn);
  }

  private settle(entry: LogEntry, result: unknown): void {
    const list = this.waiters.get(entry.index);
    if (!list) return;
    this.waiters.delete(entry.index);
    for (const fn of list) fn(entry, result);
  }

  // ---------------------------------------------------------------- membership reconciliation (leader)

  private scheduleReconcile(delay: number): void {
    if (this.stopped) return;
    if (this.reconcileTimer !== undefined) this.clock.clearTimeout(this.reconcileTimer);
    this.reconcileTimer = this.clock.setTimeout(() => this.reconcile(), delay);
  }

  /**
   * Moves the Raft configuration one step towards what the replicated
   * membership says, and promotes caught-up learners. Level-triggered, so a
   * new leader simply picks up where the old one stopped.
   */
  private reconcile(): void {
    this.reconcileTimer = undefined;
    if (this.stopped || !this.raft.isLeader) return;
    try {
      if (this.state.members().length === 0) this.proposeBootstrap();
      const change = this.nextConfigChange();
      if (change) this.raft.changeConfig(change);
      else this.promoteCaughtUpLearner();
    } catch (err) {
      if (!(err instanceof RaftError)) throw err; // in progress or lost leadership: try again later
    }
    this.scheduleReconcile(this.reconcileMs);
  }

  /**
   * The first leader of a new cluster records its founding members and the
   * bootstrap tenants in the replicated state (members of the bootstrap
   * configuration are voters without an approval round).
   */
  private proposeBootstrap(): void {
    if (this.bootstrapAt > this.raft.lastApplied) return;
    const voters = this.raft.config.voters;
    if (voters.length === 0) return;
    this.bootstrapAt = this.raft.propose({ cmd: { op: 'bootstrap', voters: [...voters] } satisfies ClusterCommand }).index;
  }

  private nextConfigChange(): ConfigChange | null {
    const config = this.raft.config;
    const voters = new Set(config.voters);
    const learners = new Set(config.learners);
    for (const m of this.state.members()) {
      const inConfig = voters.has(m.node) || learners.has(m.node);
      if ((m.status === 'learner' || m.status === 'voter') && !inConfig) return { type: 'addLearner', node: m.node };
      if (m.status === 'voter' && learners.has(m.node)) return { type: 'promote', node: m.node };
      if (m.status === 'learner' && voters.has(m.node)) return { type: 'demote', node: m.node };
      if ((m.status === 'removed' || m.status === 'blocked' || m.status === 'rejected') && inConfig) return { type: 'remove', node: m.node };
    }
    return null;
  }

  private promoteCaughtUpLearner(): void {
    const learners = new Set(this.raft.config.learners);
    for (const m of this.state.members()) {
      if (m.status !== 'learner' || !learners.has(m.node)) continue;
      const pr = this.raft.progressOf(m.node);
      const pending = this.promoting.get(m.node);
      if (pending !== undefined && pending > this.raft.lastApplied) continue;
      if (pr && pr.match + this.catchUpLag >= this.raft.commitIndex) {
        const at = this.raft.propose({ cmd: { op: 'promote', node: m.node } satisfies ClusterCommand });
        this.promoting.set(m.node, at.index);
        return;
      }
    }
  }

  /** Members as this node's replicated state has them. */
  members(): readonly MemberRecord[] {
    return this.state.members();
  }
}
