/**
 * A deterministic harness for Raft paper tests, in the manner of etcd's
 * raft_paper_test.go: individual RaftNodes on one Kernel, talking through a
 * capturing transport. Every message a node sends lands in `world.pending`;
 * nothing moves until the test says so — it delivers messages one by one
 * (`deliver`, `take`), or lets the network deliver everything pending in
 * FIFO order (`settle`, `run`), minus what the network drops (isolated
 * nodes, cut links, drop rules) and what it holds back (hold rules).
 *
 * Delivery is instantaneous: a message sent at virtual time t is handled at
 * t, before the kernel fires the next timer. Messages to an id that has no
 * node in the world stay pending (a phantom peer whose mail the test reads).
 */
import { RaftNode, type RaftOptions, type StateMachine } from '../../actors/raftNode.js';
import type { LogEntry, OutgoingRaftMessages, RaftConfig, RaftMessages, RaftMessageType } from '../../actors/raftTypes.js';
import { MemoryStorage, type CrashLoss, type Storage } from '../../actors/storage.js';
import type { RaftRole } from '../../machines/raftRole.js';
import { msgpackCodec } from '../../system/codec.js';
import { Kernel } from '../../system/kernel.js';

// ---------------------------------------------------------------- messages

/** One message on the harness network. */
export type Msg = {
  [K in RaftMessageType]: { seq: number; at: number; from: string; to: string; type: K; payload: RaftMessages[K] };
}[RaftMessageType];

/** A message of one type, its payload typed. */
export type MsgOf<T extends RaftMessageType> = Extract<Msg, { type: T }>;

/** Selects messages by sender, receiver and type. */
export interface MsgFilter<T extends RaftMessageType = RaftMessageType> {
  from?: string;
  to?: string;
  type?: T;
}

function matches(m: Msg, f: MsgFilter): boolean {
  return (f.from === undefined || m.from === f.from) && (f.to === undefined || m.to === f.to) && (f.type === undefined || m.type === f.type);
}

/** The messages of `list` matching the filter, typed by its `type`. */
export function select<T extends RaftMessageType>(list: readonly Msg[], filter: MsgFilter<T> & { type: T }): MsgOf<T>[];
export function select(list: readonly Msg[], filter?: MsgFilter): Msg[];
export function select(list: readonly Msg[], filter: MsgFilter = {}): Msg[] {
  return list.filter((m) => matches(m, filter));
}

// ---------------------------------------------------------------- logs

/** The command the harness puts in a made-up entry: a function of its index and term. */
export function commandAt(index: number, term: number): string {
  return `c${index}@${term}`;
}

/** One command entry. */
export function entry(index: number, term: number, command: unknown = commandAt(index, term)): LogEntry {
  return { index, term, payload: { kind: 'command', command } };
}

/** A log given by the terms of its entries 1..n. */
export function logOf(terms: readonly number[]): LogEntry[] {
  return terms.map((t, i) => entry(i + 1, t));
}

/** Terms of a node's entries from its first held index to its last. */
export function termsOf(node: RaftNode): number[] {
  const out: number[] = [];
  for (let i = node.log.firstIndex; i <= node.log.lastIndex; i++) out.push(node.log.term(i)!);
  return out;
}

/** A node's entries from `from` (default: the first held) to its last. */
export function entriesOf(node: RaftNode, from = node.log.firstIndex): LogEntry[] {
  return node.log.slice(from, node.log.lastIndex, Number.MAX_SAFE_INTEGER);
}

// ---------------------------------------------------------------- state machine

/** A trivial state machine: the list of commands applied, in order. */
export class Recorder implements StateMachine {
  applied: Array<{ index: number; term: number; command: unknown }> = [];

  apply(e: LogEntry & { payload: { kind: 'command' } }): unknown {
    this.applied.push({ index: e.index, term: e.term, command: e.payload.command });
    return e.payload.command;
  }

  snapshot(): unknown {
    return structuredClone(this.applied);
  }

  restore(data: unknown): void {
    this.applied = structuredClone(data as Recorder['applied']);
  }

  get commands(): unknown[] {
    return this.applied.map((a) => a.command);
  }
}

// ---------------------------------------------------------------- world

/** How to build one node. */
export interface NodeSpec {
  /** Founding configuration when storage is empty; `null` for a node that is no member yet. Default: every world id votes. */
  bootstrap?: RaftConfig | null;
  /** Entries already in durable storage (contiguous from 1), or their terms. */
  log?: readonly LogEntry[] | readonly number[];
  /** Durable term; default the last entry's term. */
  term?: number;
  votedFor?: string | null;
  options?: Partial<RaftOptions>;
  /** Start the node's timers (default true). */
  start?: boolean;
}

/** A node of the world: its incarnation, and what survives it. */
export interface WorldNode {
  readonly id: string;
  raft: RaftNode;
  sm: Recorder;
  readonly storage: MemoryStorage;
  inc: number;
  up: boolean;
  readonly spec: NodeSpec;
  readonly bootstrap: RaftConfig | undefined;
}

/** A role change, as the observer saw it. */
export interface RoleEvent {
  at: number;
  node: string;
  inc: number;
  role: RaftRole;
  term: number;
  leader: string | null;
}

export interface WorldOptions {
  /** Every id of the cluster (the default founding voters). */
  ids: string[];
  /** Ids to build nodes for (default: all of `ids`); the others are phantom peers. */
  nodes?: string[];
  seed?: number;
  /** Options of every node (a node's own spec overrides). */
  options?: Partial<RaftOptions>;
  specs?: Record<string, NodeSpec>;
  /** The storage a node's incarnation writes through (default: its MemoryStorage itself), e.g. a disk whose syncs take time. */
  storageFor?: (id: string, memory: MemoryStorage) => Storage;
}

type Rule = (m: Msg) => boolean;

/** A handle on a drop or hold rule, to lift it again. */
export interface RuleHandle {
  remove(): void;
}

/** Thrown by {@link World.settle} once a safety property was violated (Election Safety). */
export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

export class World {
  readonly kernel: Kernel;
  readonly ids: string[];
  readonly nodes = new Map<string, WorldNode>();
  /** Messages sent and not yet delivered or dropped (the outbox). */
  pending: Msg[] = [];
  /** Every message ever sent, in order. */
  readonly sent: Msg[] = [];
  /** Every message the network dropped. */
  readonly dropped: Msg[] = [];
  /** Every role change of every node. */
  readonly roles: RoleEvent[] = [];
  /** Nodes stopped because their storage refused a sync. */
  readonly storageFailures: Array<{ node: string; err: unknown }> = [];
  /** Messages a node dropped because their bytes did not decode. */
  readonly malformed: Array<{ node: string; from: string; type: string }> = [];
  /** Safety violations seen (reported by the next settle, which throws). */
  readonly violations: string[] = [];
  private seq = 0;
  private readonly options: Partial<RaftOptions>;
  private readonly storageFor: WorldOptions['storageFor'];
  private readonly isolated = new Set<string>();
  private readonly cuts = new Set<string>();
  private readonly dropRules = new Set<Rule>();
  private readonly holdRules = new Set<Rule>();

  constructor(opts: WorldOptions) {
    this.kernel = new Kernel({ seed: opts.seed ?? 1 });
    this.ids = [...opts.ids];
    this.options = opts.options ?? {};
    this.storageFor = opts.storageFor;
    for (const id of opts.nodes ?? opts.ids) this.add(id, opts.specs?.[id] ?? {});
  }

  // ------------------------------------------------------------ nodes

  /** Builds (and by default starts) a node from a spec. */
  add(id: string, spec: NodeSpec = {}): WorldNode {
    if (this.nodes.has(id)) throw new Error(`harness: node ${id} exists`);
    const storage = new MemoryStorage();
    const log: LogEntry[] = (spec.log ?? []).map((e, i) => (typeof e === 'number' ? entry(i + 1, e) : e));
    if (log.length > 0) storage.append(log);
    const term = spec.term ?? (log.length > 0 ? log[log.length - 1].term : 0);
    if (term > 0 || spec.votedFor) storage.setHardState({ term, votedFor: spec.votedFor ?? null });
    storage.sync();
    const bootstrap = spec.bootstrap === null ? undefined : (spec.bootstrap ?? { voters: [...this.ids], learners: [] });
    const wn: WorldNode = { id, storage, spec, bootstrap, inc: -1, up: false, raft: undefined as unknown as RaftNode, sm: new Recorder() };
    this.nodes.set(id, wn);
    this.boot(wn, spec.start ?? true);
    return wn;
  }

  node(id: string): RaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`harness: no node ${id}`);
    return n.raft;
  }

  sm(id: string): Recorder {
    return this.nodes.get(id)!.sm;
  }

  storage(id: string): MemoryStorage {
    return this.nodes.get(id)!.storage;
  }

  /** Live nodes. */
  live(): WorldNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  /** The leader of the highest term among live nodes, if any. */
  leader(): RaftNode | undefined {
    let best: RaftNode | undefined;
    for (const n of this.live()) if (n.raft.isLeader && (!best || n.raft.currentTerm > best.currentTerm)) best = n.raft;
    return best;
  }

  /** Stops a node; storage keeps what was synced (and per `loss` what was not). */
  crash(id: string, loss: CrashLoss = 'unsynced'): void {
    const n = this.nodes.get(id)!;
    if (!n.up) return;
    n.raft.stop();
    n.up = false;
    n.storage.crash(loss);
    const gone = this.pending.filter((m) => m.to === id);
    this.pending = this.pending.filter((m) => m.to !== id);
    this.dropped.push(...gone);
  }

  /** A new incarnation of a crashed node, from its storage, with an empty state machine. */
  restart(id: string): RaftNode {
    const n = this.nodes.get(id)!;
    if (n.up) throw new Error(`harness: ${id} is up`);
    n.sm = new Recorder();
    this.boot(n, true);
    return n.raft;
  }

  private boot(n: WorldNode, start: boolean): void {
    n.inc++;
    const inc = n.inc;
    const id = n.id;
    n.raft = new RaftNode({
      id,
      clock: this.kernel,
      random: this.kernel.random(`raft:${id}:${inc}`),
      transport: { send: (to, type, payload) => this.enqueue(id, to, type, payload) },
      storage: this.storageFor?.(id, n.storage) ?? n.storage,
      stateMachine: { apply: (e) => n.sm.apply(e), snapshot: () => n.sm.snapshot(), restore: (d) => n.sm.restore(d) },
      bootstrap: n.bootstrap,
      options: { ...this.options, ...n.spec.options },
      observer: {
        role: (role, term, leader) => this.onRole({ at: this.kernel.now(), node: id, inc, role, term, leader }),
        storageFailed: (err) => this.storageFailures.push({ node: id, err }),
        malformed: (from, type) => this.malformed.push({ node: id, from, type }),
      },
    });
    n.up = true;
    if (start) n.raft.start();
  }

  private onRole(e: RoleEvent): void {
    this.roles.push(e);
    if (e.role === 'leader') {
      // Election Safety (§5.2, Figure 3): at most one leader per term, over the whole run.
      const other = this.roles.find((r) => r.role === 'leader' && r.term === e.term && r.node !== e.node);
      if (other) this.violations.push(`two leaders in term ${e.term}: ${other.node} and ${e.node} (t=${e.at})`);
    }
  }

  /** Leaders seen per term over the run (Election Safety says one each). */
  leadersByTerm(): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const r of this.roles) {
      if (r.role !== 'leader') continue;
      const list = out.get(r.term) ?? [];
      if (!list.includes(r.node)) list.push(r.node);
      out.set(r.term, list);
    }
    return out;
  }

  // ------------------------------------------------------------ the network

  private enqueue<T extends RaftMessageType>(from: string, to: string, type: T, payload: OutgoingRaftMessages[T]): void {
    // Through the wire codec, as the bus carries it: no aliasing between
    // sender and receiver, and an append's entries arrive as a plain array.
    const m = { seq: ++this.seq, at: this.kernel.now(), from, to, type, payload: msgpackCodec.decode(msgpackCodec.encode(payload)) } as Msg;
    this.sent.push(m);
    this.pending.push(m);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: string): void {
    this.isolated.add(id);
  }

  /** Cuts the link between `a` and `b`, both ways. */
  cut(a: string, b: string): void {
    this.cuts.add(`${a}|${b}`);
    this.cuts.add(`${b}|${a}`);
  }

  /** Drops messages matching the filter (or predicate) until the rule is removed or the network heals. */
  drop(rule: MsgFilter | Rule): RuleHandle {
    const fn: Rule = typeof rule === 'function' ? rule : (m) => matches(m, rule);
    this.dropRules.add(fn);
    return { remove: () => this.dropRules.delete(fn) };
  }

  /** Holds matching messages back in `pending` (a slow link) until the rule is removed. */
  hold(rule: MsgFilter | Rule): RuleHandle {
    const fn: Rule = typeof rule === 'function' ? rule : (m) => matches(m, rule);
    this.holdRules.add(fn);
    return { remove: () => this.holdRules.delete(fn) };
  }

  /** Restores every link and lifts every drop rule (hold rules stay). */
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
    this.dropRules.clear();
  }

  private isDropped(m: Msg): boolean {
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cuts.has(`${m.from}|${m.to}`)) return true;
    for (const r of this.dropRules) if (r(m)) return true;
    const n = this.nodes.get(m.to);
    return n !== undefined && !n.up;
  }

  private isHeld(m: Msg): boolean {
    for (const r of this.holdRules) if (r(m)) return true;
    return !this.nodes.has(m.to); // a phantom peer's mail waits for the test
  }

  /** Removes and returns pending messages matching the filter (the test delivers or discards them). */
  take<T extends RaftMessageType>(filter: MsgFilter<T> & { type: T }): MsgOf<T>[];
  take(filter?: MsgFilter): Msg[];
  take(filter: MsgFilter = {}): Msg[] {
    const out = this.pending.filter((m) => matches(m, filter));
    this.pending = this.pending.filter((m) => !matches(m, filter));
    return out;
  }

  /** Hands one message to its receiver now, whatever the network's rules. */
  deliver(m: Msg): void {
    const i = this.pending.indexOf(m);
    if (i >= 0) this.pending.splice(i, 1);
    const n = this.nodes.get(m.to);
    if (!n || !n.up) throw new Error(`harness: ${m.to} cannot receive ${m.type}`);
    n.raft.handle(m.from, m.type, m.payload);
  }

  /** Injects a message as if `from` had sent it, and hands it to `to` at once, as it is (not through the codec). */
  send<T extends RaftMessageType>(from: string, to: string, type: T, payload: OutgoingRaftMessages[T]): void {
    this.node(to).handle(from, type, payload);
  }

  /**
   * Runs everything due now: zero-delay timers, then pending messages in FIFO
   * order (dropping or holding per the rules), until nothing is left to do
   * at this instant. Virtual time does not move.
   */
  settle(): void {
    try {
      this.settleUnchecked();
    } finally {
      if (this.violations.length > 0) throw new SafetyViolation(this.violations.join('; '));
    }
  }

  private settleUnchecked(): void {
    for (let steps = 0; ; steps++) {
      if (steps > 1_000_000) throw new Error('harness: the world does not settle');
      if (this.kernel.peek() === this.kernel.now()) {
        this.kernel.step();
        continue;
      }
      const i = this.pending.findIndex((m) => this.isDropped(m) || !this.isHeld(m));
      if (i < 0) return;
      const [m] = this.pending.splice(i, 1);
      if (this.isDropped(m)) this.dropped.push(m);
      else this.nodes.get(m.to)!.raft.handle(m.from, m.type, m.payload);
    }
  }

  /** Runs `ms` of virtual time, settling after every timer. */
  run(ms: number): void {
    const end = this.kernel.now() + ms;
    this.settle();
    for (;;) {
      const t = this.kernel.peek();
      if (t === undefined || t > end) break;
      this.kernel.step();
      this.settle();
    }
    this.kernel.advance(end - this.kernel.now());
  }

  /** Runs until `predicate` holds (checked after every settle); throws after `within` ms. Returns the time taken. */
  runUntil(predicate: () => boolean, within: number, what = 'condition'): number {
    const start = this.kernel.now();
    const end = start + within;
    this.settle();
    if (predicate()) return 0;
    for (;;) {
      const t = this.kernel.peek();
      if (t === undefined || t > end) break;
      this.kernel.step();
      this.settle();
      if (predicate()) return this.kernel.now() - start;
    }
    throw new Error(`harness: ${what} did not happen within ${within} ms (t=${this.kernel.now()})`);
  }

  /** Moves virtual time, firing timers but delivering nothing (mail piles up in `pending`). */
  advance(ms: number): void {
    this.kernel.advance(ms);
  }

  /**
   * Makes `id` campaign at once, as etcd's MsgHup does: the harness hands it
   * a TimeoutNow for its current term (the node skips PreVote and its voters
   * waive their leader lease). Then settles.
   */
  campaign(id: string): void {
    const n = this.node(id);
    n.handle('harness', 'raft.timeoutNow', { term: n.currentTerm });
    this.settle();
  }

  /** Runs until a leader is elected and everything due has been delivered; returns it. */
  electLeader(within = 5_000): RaftNode {
    this.runUntil(() => this.leader() !== undefined, within, 'a leader');
    this.settle();
    return this.leader()!;
  }

  /** Proposes through `id` and settles; returns where the command went. */
  propose(id: string, command: unknown): { index: number; term: number } {
    const at = this.node(id).propose(command);
    this.settle();
    return at;
  }
}

/** A world of `n` nodes `n1`…`nN` (all founding voters). */
export function world(n: number, opts: Omit<WorldOptions, 'ids'> = {}): World {
  return new World({ ids: Array.from({ length: n }, (_, i) => `n${i + 1}`), ...opts });
}

/** Plain Raft: no PreVote, no CheckQuorum (for claims about the paper's algorithm as published). */
export const PLAIN: Partial<RaftOptions> = Object.freeze({ preVote: false, checkQuorum: false });
