import { GENESIS_DIGEST } from './digest.js';
import { NODE_EVENT_TYPES } from './trace.js';
import type {
  AnyTraceEvent,
  AppendEvent,
  ApplyEvent,
  CommitEvent,
  EndEvent,
  ParsedTrace,
  RecoverEvent,
  RoleEvent,
  SnapshotEvent,
  TraceEvent,
  TraceListener,
  TraceRole,
  TruncateEvent,
  VoteEvent,
} from './trace.js';

/**
 * The properties the checker asserts. The first five are the Raft paper's
 * (Figure 3); the others keep the trace honest enough for those to mean
 * something.
 */
export type InvariantName =
  /** At most one leader per term; a node votes at most once per term. */
  | 'Election Safety'
  /** A leader never removes or overwrites entries of its log. */
  | 'Leader Append-Only'
  /** Entries with the same index and term have the same digest everywhere. */
  | 'Log Matching'
  /** A new leader holds every entry committed before it was elected. */
  | 'Leader Completeness'
  /** Every node commits and applies the same entry at each index, in order. */
  | 'State Machine Safety'
  /** A node's term never goes down, restarts included. */
  | 'Term Monotonicity'
  /** A node's commit index never goes down within an incarnation. */
  | 'Commit Monotonicity'
  /** Commit index ≤ last log index; applied index ≤ commit index. */
  | 'Commit Bounds'
  /** Appends extend the log at its end; truncations remove an existing suffix. */
  | 'Log Continuity'
  /** What storage gives back after a restart was written before, votes included. */
  | 'Durability'
  /** Incarnations start at 0 and go up by one; a crashed incarnation is silent. */
  | 'Incarnation Order'
  /** A node's events agree with each other and with the `end` event. */
  | 'Trace Consistency';

/** Thrown by {@link InvariantChecker.observe} at the first event that breaks an invariant. */
export class InvariantViolation extends Error {
  readonly code = 'InvariantViolation';
  constructor(
    readonly invariant: InvariantName,
    /** What happened, without the invariant name and the (t, seed) suffix. */
    readonly detail: string,
    readonly seed: number | undefined,
    /** Virtual time of the offending event. */
    readonly t: number,
    readonly node: string | undefined,
    /** The offending event. */
    readonly event: AnyTraceEvent,
    /** 1-based position of the offending event among the events observed. */
    readonly eventNumber: number,
  ) {
    super(`${invariant}: ${detail} (t=${t}ms${seed === undefined ? '' : `, seed ${seed}`})`);
    this.name = 'InvariantViolation';
  }
}

/** Options of an {@link InvariantChecker}; a trace header fits. */
export interface InvariantCheckerOptions {
  /** The run's seed, quoted in violations so the run can be replayed. */
  seed?: number;
  /** Nodes known from the start (the header's); others are added when seen. */
  nodes?: readonly string[];
  /** Cross-check the `end` event against the events before it (default true). */
  checkEnd?: boolean;
}

/** What a checked trace contained; see {@link InvariantChecker.summary}. */
export interface InvariantSummary {
  /** Events observed (all types, extensions included). */
  events: number;
  nodes: string[];
  maxTerm: number;
  /** Number of distinct terms nodes reported. */
  terms: number;
  /** The leader of each term that had one, by term. */
  leaders: Array<{ term: number; node: string }>;
  /** Highest index any node committed. */
  maxCommit: number;
  commits: number;
  /** Apply events checked (order, bounds, agreement). */
  applies: number;
  /** Log entries appended, over all nodes. */
  entriesAppended: number;
  truncates: number;
  snapshots: number;
  restarts: number;
}

interface Entry {
  term: number;
  digest: string;
}

/** An entry some node wrote, with the digest before it (its chain link). */
interface Written extends Entry {
  parent: string;
  node: string;
}

interface Committed extends Entry {
  node: string;
  t: number;
}

/** The checker's model of one node. */
interface NodeState {
  id: string;
  inc: number;
  /** Highest term the node reported, persisted or not. */
  term: number;
  role: TraceRole | null;
  voteTerm: number;
  votedFor: string | null;
  snapIndex: number;
  snapTerm: number;
  snapDigest: string;
  /** Terms and digests of the entries after the snapshot, in order. */
  terms: number[];
  digests: string[];
  commit: number;
  applied: number;
}

const short = (digest: string) => digest.slice(0, 12);
const nobody = (v: string | null) => v ?? 'nobody';

/**
 * Checks a trace's events one by one, against the safety properties of Raft
 * and the bookkeeping around them (see {@link InvariantName}). It works
 * online, as a listener of a running {@link Trace} (then a violation is
 * thrown inside the component that emitted the event, at the moment it
 * happens), and offline on a parsed trace file (`grey check`).
 *
 * It reads no clock: a violation reports the event's virtual time `t`.
 *
 * What it expects of emitters, beyond DESIGN.md's table:
 * - an overwrite is a `truncate` followed by an `append` at the new end;
 * - `snapshot` `install`/`restore` replaces the log up to its index: entries
 *   after it are kept when the entry at the index has the same digest,
 *   otherwise the log ends at the index (no `truncate` for that);
 * - after a restart, `recover` describes the durable log by its last index
 *   and digest; the checker rebuilds the entries from what nodes wrote, and
 *   sets commit and applied index to the snapshot index (or to the
 *   recovered `commitIndex`, when given). Without a `recover`, a restarted
 *   node's storage is taken to be empty. Appends may restate entries the
 *   node holds, unchanged (the recovered log re-announced);
 * - a role event for a new term is emitted once the term is durable, since
 *   a restart must not come back with a lower term.
 *
 * After a violation, every later {@link InvariantChecker.observe} throws
 * the same violation again: it cannot be lost by a caller that swallows
 * errors.
 */
export class InvariantChecker {
  /** The first violation, once there is one. */
  violation: InvariantViolation | undefined;

  private readonly seed: number | undefined;
  private readonly checkEnd: boolean;
  private readonly nodes = new Map<string, NodeState>();
  private readonly declaredNodes: readonly string[];
  /** Per index, every distinct entry any node wrote there. */
  private readonly written: Array<Written[] | undefined> = [];
  /** Per index, the entry committed there, as first reported. */
  private readonly committed: Array<Committed | undefined> = [];
  private maxCommitted: (Committed & { index: number }) | undefined;
  private readonly leaders = new Map<number, { node: string; inc: number; t: number }>();
  private readonly termsSeen = new Set<number>();
  private events = 0;
  private commits = 0;
  private applies = 0;
  private entriesAppended = 0;
  private truncates = 0;
  private snapshots = 0;
  private restarts = 0;
  private current: AnyTraceEvent | undefined;

  constructor(options: InvariantCheckerOptions = {}) {
    this.seed = options.seed;
    this.checkEnd = options.checkEnd ?? true;
    this.declaredNodes = options.nodes ?? [];
  }

  /** A listener for {@link Trace.subscribe}, bound to this checker. */
  readonly listener: TraceListener = (event) => this.observe(event);

  /** Subscribes to a trace; returns the unsubscribe function. */
  attach(trace: { subscribe(listener: TraceListener): () => void }): () => void {
    return trace.subscribe(this.listener);
  }

  /**
   * Checks one event. Throws {@link InvariantViolation} if it breaks an
   * invariant. Unknown event types are counted and otherwise ignored,
   * except that they take part in incarnation tracking when they carry
   * `node` and `inc`.
   */
  observe(event: AnyTraceEvent): void {
    if (this.violation) throw this.violation;
    this.events++;
    this.current = event;
    const node = typeof event.node === 'string' && typeof event.inc === 'number' ? this.incarnation(event.node, event.inc) : undefined;
    const ev = event as TraceEvent;
    if (node && NODE_EVENT_TYPES.has(ev.type)) {
      switch (ev.type) {
        case 'role':
          return this.onRole(node, ev);
        case 'vote':
          return this.onVote(node, ev);
        case 'append':
          return this.onAppend(node, ev);
        case 'truncate':
          return this.onTruncate(node, ev);
        case 'commit':
          return this.onCommit(node, ev);
        case 'apply':
          return this.onApply(node, ev);
        case 'snapshot':
          return this.onSnapshot(node, ev);
        case 'recover':
          return this.onRecover(node, ev);
      }
    } else if (ev.type === 'end' && this.checkEnd) {
      this.onEnd(ev);
    }
  }

  /** Counts so far. */
  summary(): InvariantSummary {
    const nodes = [...this.declaredNodes];
    for (const id of this.nodes.keys()) if (!nodes.includes(id)) nodes.push(id);
    return {
      events: this.events,
      nodes,
      maxTerm: Math.max(0, ...this.termsSeen),
      terms: this.termsSeen.size,
      leaders: [...this.leaders].map(([term, l]) => ({ term, node: l.node })).sort((a, b) => a.term - b.term),
      maxCommit: this.maxCommitted?.index ?? 0,
      commits: this.commits,
      applies: this.applies,
      entriesAppended: this.entriesAppended,
      truncates: this.truncates,
      snapshots: this.snapshots,
      restarts: this.restarts,
    };
  }

  // ---- events ----

  /** The node's state for an event of incarnation `inc`; a new incarnation is a restart. */
  private incarnation(id: string, inc: number): NodeState {
    let n = this.nodes.get(id);
    if (!n) {
      if (inc !== 0) this.fail('Incarnation Order', `the first event of ${id} is from incarnation ${inc}; incarnations start at 0`, id);
      n = {
        id,
        inc,
        term: 0,
        role: null,
        voteTerm: 0,
        votedFor: null,
        snapIndex: 0,
        snapTerm: 0,
        snapDigest: GENESIS_DIGEST,
        terms: [],
        digests: [],
        commit: 0,
        applied: 0,
      };
      this.nodes.set(id, n);
    } else if (inc < n.inc) {
      this.fail('Incarnation Order', `${id} emits an event of incarnation ${inc} after incarnation ${n.inc} started: a crashed incarnation is still running`, id);
    } else if (inc > n.inc) {
      if (inc !== n.inc + 1) this.fail('Incarnation Order', `${id} jumps from incarnation ${n.inc} to ${inc}; a restart adds 1`, id);
      // A restart: volatile state is gone, and the log is what storage gives
      // back: nothing until `recover` says otherwise (a node that comes back
      // with empty storage may emit none). Term and vote stay as the
      // reference that `recover` must not fall below.
      n.inc = inc;
      n.role = null;
      n.commit = 0;
      n.applied = 0;
      this.setSnapshot(n, { index: 0, term: 0, digest: GENESIS_DIGEST });
      n.terms = [];
      n.digests = [];
      this.restarts++;
    }
    return n;
  }

  private onRole(n: NodeState, ev: RoleEvent): void {
    this.termNotBelow(n, ev.term, `reports term ${ev.term} (${ev.role})`);
    n.term = ev.term;
    this.termsSeen.add(ev.term);
    if (ev.role === 'leader') {
      const prev = this.leaders.get(ev.term);
      if (prev && prev.node !== n.id) {
        this.fail('Election Safety', `${prev.node} and ${n.id} both leader in term ${ev.term} (${prev.node} since t=${prev.t}ms)`, n.id);
      }
      if (prev && prev.inc !== n.inc) {
        this.fail('Election Safety', `${n.id} leader in term ${ev.term} in incarnation ${prev.inc} and again in incarnation ${n.inc}: it won one term twice`, n.id);
      }
      if (!prev) {
        this.leaders.set(ev.term, { node: n.id, inc: n.inc, t: ev.t });
        this.leaderCompleteness(n, ev.term);
      }
    }
    n.role = ev.role;
  }

  private leaderCompleteness(n: NodeState, term: number): void {
    const c = this.maxCommitted;
    if (!c) return;
    const last = this.lastIndex(n);
    if (c.index > last) {
      this.fail(
        'Leader Completeness',
        `${n.id} became leader of term ${term} with a log ending at index ${last}, but index ${c.index} (term ${c.term}) was committed by ${c.node} at t=${c.t}ms`,
        n.id,
      );
    }
    // Below the snapshot the node holds the entry in its snapshot; its digest
    // was checked when the snapshot was taken or installed.
    if (c.index < n.snapIndex) return;
    const own = this.entryAt(n, c.index)!;
    if (own.digest !== c.digest) {
      this.fail(
        'Leader Completeness',
        `${n.id} became leader of term ${term} holding term ${own.term} digest ${short(own.digest)} at index ${c.index}, but ${c.node} committed term ${c.term} digest ${short(c.digest)} there at t=${c.t}ms`,
        n.id,
      );
    }
  }

  private onVote(n: NodeState, ev: VoteEvent): void {
    this.termNotBelow(n, ev.term, `votes in term ${ev.term}`);
    if (ev.term === n.voteTerm && n.votedFor !== null && ev.votedFor !== n.votedFor) {
      this.fail('Election Safety', `${n.id} voted for ${n.votedFor} and then for ${nobody(ev.votedFor)} in term ${ev.term}`, n.id);
    }
    n.term = ev.term;
    this.termsSeen.add(ev.term);
    n.voteTerm = ev.term;
    n.votedFor = ev.votedFor;
  }

  private onAppend(n: NodeState, ev: AppendEvent): void {
    const last = this.lastIndex(n);
    if (ev.from > last + 1) {
      this.fail('Log Continuity', `${n.id} appends at index ${ev.from} but its log ends at ${last}: a gap`, n.id);
    }
    // Entries the node already holds may be restated unchanged (a node
    // re-announcing its recovered log after a restart); a different one
    // would be an overwrite, which must go through a truncate.
    let k = 0;
    for (; k < ev.entries.length && ev.from + k <= last; k++) {
      const index = ev.from + k;
      const [term, digest] = ev.entries[k];
      const own = this.entryAt(n, index);
      if (own && (own.term !== term || own.digest !== digest)) {
        const who = n.role === 'leader' ? `${n.id}, leader of term ${n.term},` : n.id;
        this.fail(
          n.role === 'leader' ? 'Leader Append-Only' : 'Log Continuity',
          `${who} appends term ${term} digest ${short(digest)} at index ${index} over its entry of term ${own.term} digest ${short(own.digest)}; an overwrite needs a truncate first`,
          n.id,
        );
      }
    }
    let parent = this.lastDigest(n);
    for (; k < ev.entries.length; k++) {
      const [term, digest] = ev.entries[k];
      this.recordWritten(n, ev.from + k, term, digest, parent);
      n.terms.push(term);
      n.digests.push(digest);
      parent = digest;
      this.entriesAppended++;
    }
  }

  /** Log Matching across every entry any node ever wrote. */
  private recordWritten(n: NodeState, index: number, term: number, digest: string, parent: string): void {
    let list = this.written[index];
    if (!list) this.written[index] = list = [];
    for (const w of list) {
      if (w.digest === digest) {
        if (w.term !== term || w.parent !== parent) {
          this.fail(
            'Log Matching',
            `digest ${short(digest)} at index ${index} follows different logs on ${w.node} (term ${w.term}, after ${short(w.parent)}) and ${n.id} (term ${term}, after ${short(parent)}): the digest chain is broken`,
            n.id,
          );
        }
        return;
      }
      if (w.term === term) {
        this.fail(
          'Log Matching',
          `index ${index}, term ${term}: ${n.id} wrote digest ${short(digest)} but ${w.node} wrote ${short(w.digest)}`,
          n.id,
        );
      }
    }
    list.push({ term, digest, parent, node: n.id });
  }

  private onTruncate(n: NodeState, ev: TruncateEvent): void {
    if (n.role === 'leader') {
      this.fail('Leader Append-Only', `${n.id} truncates its log from index ${ev.from} while leader of term ${n.term}`, n.id);
    }
    const last = this.lastIndex(n);
    if (ev.from > last) this.fail('Log Continuity', `${n.id} truncates from index ${ev.from} but its log ends at ${last}`, n.id);
    if (ev.from <= n.snapIndex) {
      this.fail('Log Continuity', `${n.id} truncates from index ${ev.from}, into its snapshot (index ${n.snapIndex})`, n.id);
    }
    if (ev.from <= n.commit) {
      this.fail('Commit Bounds', `${n.id} truncates from index ${ev.from}, removing committed entries (its commit index is ${n.commit})`, n.id);
    }
    // Digests chain: if the first removed entry is not the committed one,
    // none after it is either.
    const own = this.entryAt(n, ev.from)!;
    const c = this.committed[ev.from];
    if (c && c.digest === own.digest) {
      this.fail('State Machine Safety', `${n.id} truncates from index ${ev.from}, removing the entry ${c.node} committed there at t=${c.t}ms`, n.id);
    }
    n.terms.length = n.digests.length = ev.from - n.snapIndex - 1;
    this.truncates++;
  }

  private onCommit(n: NodeState, ev: CommitEvent): void {
    if (ev.index < n.commit) {
      this.fail('Commit Monotonicity', `${n.id} commit index went from ${n.commit} down to ${ev.index} (incarnation ${n.inc})`, n.id);
    }
    const last = this.lastIndex(n);
    if (ev.index > last) this.fail('Commit Bounds', `${n.id} commits index ${ev.index} but its log ends at ${last}`, n.id);
    this.sameAsOwn(n, ev.index, ev, 'Trace Consistency', 'commits');
    this.agreeCommitted(n, ev.index, ev, 'commits');
    n.commit = ev.index;
    this.commits++;
  }

  private onApply(n: NodeState, ev: ApplyEvent): void {
    if (ev.index !== n.applied + 1) {
      this.fail('State Machine Safety', `${n.id} applies index ${ev.index} after index ${n.applied}; applies go in order, one index at a time`, n.id);
    }
    if (ev.index > n.commit) this.fail('Commit Bounds', `${n.id} applies index ${ev.index} beyond its commit index ${n.commit}`, n.id);
    this.sameAsOwn(n, ev.index, ev, 'State Machine Safety', 'applies');
    this.agreeCommitted(n, ev.index, ev, 'applies');
    n.applied = ev.index;
    this.applies++;
  }

  private onSnapshot(n: NodeState, ev: SnapshotEvent): void {
    this.snapshots++;
    this.snapshotMatchesWritten(n, ev);
    if (ev.cause === 'take') {
      if (ev.index > n.applied) {
        this.fail('State Machine Safety', `${n.id} takes a snapshot at index ${ev.index} but has applied only up to ${n.applied}`, n.id);
      }
      this.sameAsOwn(n, ev.index, ev, 'Trace Consistency', 'snapshots');
      this.agreeCommitted(n, ev.index, ev, 'snapshots');
      // An older snapshot than the current one compacts nothing.
      if (ev.index > n.snapIndex) {
        const drop = ev.index - n.snapIndex;
        n.terms = n.terms.slice(drop);
        n.digests = n.digests.slice(drop);
        this.setSnapshot(n, ev);
      }
      return;
    }
    // install / restore: the node's state becomes the snapshot's.
    if (ev.index < n.applied) {
      this.fail(
        'State Machine Safety',
        `${n.id} ${ev.cause === 'install' ? 'installs' : 'restores'} a snapshot at index ${ev.index} after applying up to ${n.applied}: its state would go back`,
        n.id,
      );
    }
    this.agreeCommitted(n, ev.index, ev, ev.cause === 'install' ? 'installs' : 'restores');
    const own = this.entryAt(n, ev.index);
    if (own && own.digest === ev.digest && ev.index >= n.snapIndex) {
      const drop = ev.index - n.snapIndex;
      n.terms = n.terms.slice(drop);
      n.digests = n.digests.slice(drop);
    } else {
      n.terms = [];
      n.digests = [];
    }
    this.setSnapshot(n, ev);
    n.applied = ev.index;
    n.commit = Math.max(n.commit, ev.index);
    if (n.commit > this.lastIndex(n)) {
      this.fail('Commit Bounds', `${n.id} installs a snapshot at index ${ev.index} that drops its log, but its commit index is ${n.commit}`, n.id);
    }
  }

  /** A snapshot's entry is an entry some node wrote: same term, same digest. */
  private snapshotMatchesWritten(n: NodeState, ev: SnapshotEvent): void {
    for (const w of this.written[ev.index] ?? []) {
      if (w.term === ev.term && w.digest !== ev.digest) {
        this.fail('Log Matching', `${n.id} snapshot at index ${ev.index}, term ${ev.term} has digest ${short(ev.digest)} but ${w.node} wrote ${short(w.digest)} there`, n.id);
      }
    }
  }

  private setSnapshot(n: NodeState, point: { index: number; term: number; digest: string }): void {
    n.snapIndex = point.index;
    n.snapTerm = point.term;
    n.snapDigest = point.digest;
  }

  private onRecover(n: NodeState, ev: RecoverEvent): void {
    if (ev.term < n.term) {
      this.fail('Term Monotonicity', `${n.id} restarted (incarnation ${n.inc}) with term ${ev.term} from storage, but it had reached term ${n.term}`, n.id);
    }
    if (ev.term === n.voteTerm && n.votedFor !== null && ev.votedFor !== n.votedFor) {
      this.fail('Durability', `${n.id} voted for ${n.votedFor} in term ${ev.term}, but storage gave back a vote for ${nobody(ev.votedFor)}`, n.id);
    }
    n.term = ev.term;
    n.voteTerm = ev.term;
    n.votedFor = ev.votedFor;
    if (ev.lastIndex < ev.snapshotIndex) {
      this.fail('Durability', `${n.id} recovered a log ending at ${ev.lastIndex}, before its snapshot at ${ev.snapshotIndex}`, n.id);
    }
    // Rebuild the durable log from its last digest along the chain links of
    // what was written: storage may legitimately have lost unsynced writes
    // (even a truncate), but never hands back an entry nobody wrote.
    const terms: number[] = [];
    const digests: string[] = [];
    let digest = ev.lastDigest;
    for (let i = ev.lastIndex; i > ev.snapshotIndex; i--) {
      const w = this.written[i]?.find((x) => x.digest === digest);
      if (!w) this.fail('Durability', `${n.id} recovered a log whose entry ${i} (digest ${short(digest)}) no node ever wrote`, n.id);
      terms.push(w.term);
      digests.push(digest);
      digest = w.parent;
    }
    terms.reverse();
    digests.reverse();
    const snap = this.recoveredSnapshot(n, ev.snapshotIndex, digest);
    if (!snap) {
      this.fail('Durability', `${n.id} recovered a snapshot at index ${ev.snapshotIndex} with digest ${short(digest)} that no node ever had`, n.id);
    }
    this.setSnapshot(n, { index: ev.snapshotIndex, ...snap });
    n.terms = terms;
    n.digests = digests;
    n.applied = Math.max(n.applied, ev.snapshotIndex);
    n.commit = Math.max(n.commit, ev.snapshotIndex);
    if (ev.commitIndex !== undefined) {
      if (ev.commitIndex > ev.lastIndex) {
        this.fail('Commit Bounds', `${n.id} recovered commit index ${ev.commitIndex} beyond its recovered log (last index ${ev.lastIndex})`, n.id);
      }
      n.commit = Math.max(n.commit, ev.commitIndex);
    }
  }

  /** The entry at a recovered snapshot point, if any node ever had it. */
  private recoveredSnapshot(n: NodeState, index: number, digest: string): Entry | undefined {
    if (index === 0) return digest === GENESIS_DIGEST ? { term: 0, digest } : undefined;
    if (index === n.snapIndex && digest === n.snapDigest) return { term: n.snapTerm, digest };
    const w = this.written[index]?.find((x) => x.digest === digest);
    if (w) return { term: w.term, digest };
    const c = this.committed[index];
    return c && c.digest === digest ? { term: c.term, digest } : undefined;
  }

  private onEnd(ev: EndEvent): void {
    for (const [id, st] of Object.entries(ev.nodes)) {
      const n = this.nodes.get(id);
      // A node that is down at the end reports what it had; nothing volatile to compare.
      if (!n || st.role === null) continue;
      const fields: Array<[string, unknown, unknown]> = [
        ['inc', st.inc, n.inc],
        ['role', st.role, n.role],
        ['term', st.term, n.term],
        ['commitIndex', st.commitIndex, n.commit],
        ['lastApplied', st.lastApplied, n.applied],
      ];
      for (const [field, reported, seen] of fields) {
        if (reported !== seen) {
          this.fail('Trace Consistency', `the end event reports ${id} ${field} ${String(reported)}, but its events show ${String(seen)}`, id);
        }
      }
    }
  }

  // ---- helpers ----

  private termNotBelow(n: NodeState, term: number, what: string): void {
    if (term < n.term) this.fail('Term Monotonicity', `${n.id} ${what} after reaching term ${n.term}`, n.id);
  }

  /** The event's entry is the one the node's own log holds at `index`. */
  private sameAsOwn(n: NodeState, index: number, e: Entry, invariant: InvariantName, verb: string): void {
    const own = this.entryAt(n, index);
    if (own && (own.digest !== e.digest || own.term !== e.term)) {
      this.fail(
        invariant,
        `${n.id} ${verb} index ${index} as term ${e.term} digest ${short(e.digest)}, but its log holds term ${own.term} digest ${short(own.digest)} there`,
        n.id,
      );
    }
  }

  /** State Machine Safety: one committed entry per index, for every node. */
  private agreeCommitted(n: NodeState, index: number, e: Entry & { t: number }, verb: string): void {
    if (index === 0) return;
    const c = this.committed[index];
    if (!c) {
      const entry = { term: e.term, digest: e.digest, node: n.id, t: e.t };
      this.committed[index] = entry;
      if (!this.maxCommitted || index > this.maxCommitted.index) this.maxCommitted = { index, ...entry };
      return;
    }
    if (c.digest !== e.digest || c.term !== e.term) {
      this.fail(
        'State Machine Safety',
        `${n.id} ${verb} term ${e.term} digest ${short(e.digest)} at index ${index}, but ${c.node} had term ${c.term} digest ${short(c.digest)} there (t=${c.t}ms)`,
        n.id,
      );
    }
  }

  private lastIndex(n: NodeState): number {
    return n.snapIndex + n.terms.length;
  }

  private lastDigest(n: NodeState): string {
    return n.digests.length === 0 ? n.snapDigest : n.digests[n.digests.length - 1];
  }

  /**
   * The node's entry at `index`: from its log or snapshot point; below the
   * snapshot, the committed entry (a snapshot holds only applied entries).
   */
  private entryAt(n: NodeState, index: number): Entry | undefined {
    if (index === n.snapIndex) return { term: n.snapTerm, digest: n.snapDigest };
    if (index > n.snapIndex) {
      const k = index - n.snapIndex - 1;
      return k < n.terms.length ? { term: n.terms[k], digest: n.digests[k] } : undefined;
    }
    if (index === 0) return { term: 0, digest: GENESIS_DIGEST };
    return this.committed[index];
  }

  private fail(invariant: InvariantName, detail: string, node: string | undefined): never {
    const event = this.current!;
    this.violation = new InvariantViolation(invariant, detail, this.seed, event.t, node, event, this.events);
    throw this.violation;
  }
}

/**
 * Checks a whole parsed trace; returns the summary, or throws the first
 * {@link InvariantViolation} (its `eventNumber` indexes `trace.lines`).
 */
export function checkTrace(trace: ParsedTrace, options: Omit<InvariantCheckerOptions, 'seed' | 'nodes'> = {}): InvariantSummary {
  const checker = new InvariantChecker({ ...options, seed: trace.header.seed, nodes: trace.header.nodes });
  for (const event of trace.events) checker.observe(event);
  return checker.summary();
}
