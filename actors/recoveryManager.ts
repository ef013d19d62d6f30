import { FifoMap } from './fifoMap.js';
import { quorumOf } from '../machines/raftRole.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import type { ClusterNode } from './clusterNode.js';
import { EventLog } from './eventLog.js';
import type { HealthChange } from './peerHealth.js';
import type { TaskChange } from './taskTable.js';

/** Limits of the leader's recovery decisions. */
export interface RecoveryOptions {
  /** A voter quarantined this long is removed from the configuration (ms). */
  removeAfterMs?: number;
  /** Never shrink the voters below this by removals. */
  minVoters?: number;
  /** Tasks requeued per entry, at most (a bounded reassignment rate). */
  maxRequeuePerEntry?: number;
  /** Pause between requeue entries (ms). */
  requeueIntervalMs?: number;
  /**
   * How often the leader looks for work stranded on workers that may not
   * run it (removed from the membership, or quarantined), whichever leader
   * put it there (ms).
   */
  sweepMs?: number;
}

const DEFAULTS: Required<RecoveryOptions> = { removeAfterMs: 3_000, minVoters: 3, maxRequeuePerEntry: 256, requeueIntervalMs: 20, sweepMs: 500 };

/** What the recovery manager did, for tests, metrics and the demo. */
export interface RecoveryAction {
  at: number;
  kind: 'requeue' | 'remove' | 'rejoin' | 'skip-remove';
  peer: string;
  detail: string;
}

/**
 * The seed's recovery workflow, run by the leader only. Health verdicts are
 * each node's own opinion; only the leader turns its verdicts into
 * proposals, and only when the cluster can afford them:
 *
 * 1. detect — a peer's `quarantine` chart reaches `quarantined`;
 * 2. decide — the leader marks the worker unavailable to the scheduler;
 * 3. requeue — incomplete tasks, found by replaying the last checkpoint, go
 *    back to pending under the same id, at a bounded rate (a lost worker's
 *    attempt is not counted against the retries: the chart refunds it);
 * 4. reconfigure — a voter still quarantined after a grace period is removed,
 *    never below `minVoters` and never so that the live voters lose quorum;
 * 5. restore — a peer healthy again (after probation) gets work again, and a
 *    node removed for being unreachable rejoins through the learner path as
 *    soon as the leader hears from it.
 *
 * A failed leader needs none of this: its followers elect a new one.
 */
export class RecoveryManager {
  private readonly o: Required<RecoveryOptions>;
  private readonly removeTimers = new Map<string, TimerHandle>();
  private readonly eventLog: EventLog;
  private requeueQueue: TaskChange[] = [];
  private requeueTimer: TimerHandle | undefined;
  private sweepTimer: TimerHandle | undefined;
  /** When each task was last queued for requeue, and from which worker (so one loss is proposed once per sweep period). */
  private readonly requeuedAt = new FifoMap<string, { worker: string; at: number }>(100_000);
  /** When each removed node was last re-admitted (so one burst of messages re-admits it once). */
  private readonly readmitted = new Map<string, number>();
  /**
   * The last removal proposed (its forwarding's number): one at a time. It
   * is over once its command applied (or was refused) and the
   * configuration no longer holds a voter the membership removed; whatever
   * happens to the node after (it may rejoin) is not part of it.
   */
  private removing: { peer: string; forward: number } | null = null;
  readonly actions: RecoveryAction[] = [];
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly clock: Clock,
    options: RecoveryOptions = {},
  ) {
    this.o = { ...DEFAULTS, ...options };
    this.eventLog = new EventLog(node.raft);
    this.unsubscribe = node.health.onChange((c) => this.onHealth(c));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const h of this.removeTimers.values()) this.clock.clearTimeout(h);
    if (this.requeueTimer !== undefined) this.clock.clearTimeout(this.requeueTimer);
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
  }

  private record(kind: RecoveryAction['kind'], peer: string, detail: string): void {
    this.actions.push({ at: this.clock.now(), kind, peer, detail });
    if (this.actions.length > 1_000) this.actions.splice(0, this.actions.length - 1_000);
  }

  /** Called when this node becomes leader: verdicts it reached as a follower count now. */
  onLeadership(): void {
    if (this.stopped) return;
    for (const peer of this.node.health.quarantined()) this.quarantined(peer);
    this.armSweep();
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.stopped) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      if (this.stopped || !this.node.raft.isLeader) return;
      this.sweep();
      this.armSweep();
    }, this.o.sweepMs);
  }

  /**
   * Level-triggered safety net under the edge-triggered requeue: work held
   * by a worker that may not run it (its member record says removed, or
   * this leader judges it quarantined) goes back to pending, however it got
   * there (an earlier leader's assignment, a verdict this leader never saw).
   */
  private sweep(): void {
    const stranded = new Set<string>();
    for (const w of this.node.state.workers()) if (!this.node.tasks.workerMayKeepWork(w.worker)) stranded.add(w.worker);
    if (stranded.size === 0) return;
    const now = this.clock.now();
    let found = 0;
    for (const t of this.node.state.tasks()) {
      if ((t.status !== 'assigned' && t.status !== 'running') || t.worker === null || !stranded.has(t.worker)) continue;
      if (!this.queueLost(t.id, t.worker, now)) continue;
      found++;
    }
    if (found > 0) {
      this.record('requeue', [...stranded].join(','), `${found} tasks stranded on workers that may not run them`);
      this.drainRequeue();
    }
  }

  /** Queues a `lost` change unless the same loss was queued within a sweep period; returns whether it queued. */
  private queueLost(taskId: string, worker: string, now: number): boolean {
    const prev = this.requeuedAt.get(taskId);
    if (prev && prev.worker === worker && now - prev.at < this.o.sweepMs * 2) return false;
    this.requeuedAt.set(taskId, { worker, at: now });
    this.requeueQueue.push({ kind: 'lost', taskId, worker, at: now });
    return true;
  }

  /**
   * The leader heard from `peer`, a member it removed as unreachable: it is
   * back. It rejoins through the learner path (join, approved at once since
   * it was removed for silence, not refused), catches up, then is promoted.
   */
  heardFromRemoved(peer: string): void {
    if (this.stopped || !this.node.raft.isLeader) return;
    const m = this.node.state.member(peer);
    if (!(m?.status === 'removed' && m.context.reason === 'unreachable')) return;
    const last = this.readmitted.get(peer);
    if (last !== undefined && this.clock.now() - last < this.o.removeAfterMs) return;
    this.readmitted.set(peer, this.clock.now());
    this.node.forward({ op: 'join', node: peer });
    this.node.forward({ op: 'approve', node: peer });
    this.record('rejoin', peer, 'heard from again after removal: rejoining as a learner');
  }

  private onHealth(c: HealthChange): void {
    if (this.stopped || !this.node.raft.isLeader) return;
    if (c.to === 'quarantined') this.quarantined(c.peer);
    else if (c.to === 'healthy') {
      const h = this.removeTimers.get(c.peer);
      if (h !== undefined) this.clock.clearTimeout(h);
      this.removeTimers.delete(c.peer);
      this.node.tasks.setWorkerAvailable(c.peer, true);
    }
  }

  private quarantined(peer: string): void {
    this.node.tasks.setWorkerAvailable(peer, false);
    this.requeue(peer);
    if (this.node.raft.config.voters.includes(peer) && !this.removeTimers.has(peer)) {
      this.removeTimers.set(peer, this.clock.setTimeout(() => this.maybeRemove(peer), this.o.removeAfterMs));
    }
  }

  /** Step 3: the worker's incomplete tasks, from the last checkpoint, back to pending. */
  private requeue(worker: string): void {
    const now = this.clock.now();
    const tasks = this.eventLog.incompleteTasks(worker);
    for (const t of tasks) this.queueLost(t.id, worker, now);
    if (tasks.length > 0) this.record('requeue', worker, `${tasks.length} incomplete tasks found from the checkpoint`);
    this.drainRequeue();
  }

  private drainRequeue(): void {
    if (this.requeueTimer !== undefined || this.requeueQueue.length === 0) return;
    const batch = this.requeueQueue.splice(0, this.o.maxRequeuePerEntry);
    this.node.forward({ op: 'taskChanges', changes: batch });
    if (this.requeueQueue.length > 0) {
      this.requeueTimer = this.clock.setTimeout(() => {
        this.requeueTimer = undefined;
        this.drainRequeue();
      }, this.o.requeueIntervalMs);
    }
  }

  /** Step 4: remove a voter quarantined past the grace period, if the cluster can afford it. */
  private maybeRemove(peer: string): void {
    this.removeTimers.delete(peer);
    const raft = this.node.raft;
    if (this.stopped || !raft.isLeader || this.node.health.state(peer) !== 'quarantined') return;
    const voters = raft.config.voters;
    if (!voters.includes(peer)) return;
    const now = this.clock.now();
    const r = this.removing;
    if (r !== null && !this.node.forwardPending(r.forward) && !(this.node.state.member(r.peer)?.status === 'removed' && voters.includes(r.peer))) this.removing = null;
    // Counted without voters the membership removed already (the configuration follows it a step behind).
    const remaining = voters.filter((v) => v !== peer && this.node.state.member(v)?.status !== 'removed');
    const live = remaining.filter((v) => v === this.node.id || this.node.health.state(v) !== 'quarantined');
    const heard = now - (raft.progressOf(peer)?.heardAt ?? Number.NEGATIVE_INFINITY);
    let why: string | null = null;
    if (!raft.committedOwnTerm) why = 'this leader has not committed an entry of its own term yet';
    // Quarantine is a verdict on the past (it lasts longer with each strike); removal is for a voter that is gone now.
    else if (heard < this.o.removeAfterMs) why = `it answered ${Math.round(heard)} ms ago: reachable, though still quarantined`;
    else if (this.removing !== null) why = `removal of ${this.removing.peer} still in progress`;
    else if (remaining.length < this.o.minVoters) why = `would leave ${remaining.length} voters (minimum ${this.o.minVoters})`;
    else if (live.length < quorumOf(remaining.length)) why = `only ${live.length} of ${remaining.length} remaining voters are healthy`;
    if (why) {
      this.record('skip-remove', peer, why);
      // Try again later: health or membership may change.
      this.removeTimers.set(peer, this.clock.setTimeout(() => this.maybeRemove(peer), this.o.removeAfterMs));
      return;
    }
    this.removing = { peer, forward: this.node.forward({ op: 'remove', node: peer, reason: 'unreachable' }) };
    this.record('remove', peer, `quarantined for ${this.o.removeAfterMs} ms, no answer for ${heard === Number.POSITIVE_INFINITY ? 'as long as this node has led' : `${Math.round(heard)} ms`}`);
  }
}
