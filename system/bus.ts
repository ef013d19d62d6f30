import { BehaviorSubject, Observable, Subject } from 'rxjs';
import { msgpackCodec, type Codec } from './codec.js';
import type { Envelope } from './envelope.js';
import type { Kernel } from './kernel.js';
import {
  DEFAULT_LINK_CONFIG,
  distributionCode,
  mergeLinkPatches,
  resolveLinkConfig,
  sampleLatency,
  type DistributionCode,
  type LinkConfig,
  type LinkConfigPatch,
} from './network.js';
import type { Random } from './random.js';

/** Why the bus did not deliver a message. */
export type DropReason = 'loss' | 'partition' | 'cut' | 'down' | 'backpressure';

/** Every {@link DropReason}, in a fixed order. */
export const DROP_REASONS: readonly DropReason[] = Object.freeze(['loss', 'partition', 'cut', 'down', 'backpressure']);

/** The message was accepted by the link and will be delivered later (unless a fault drops it in flight). */
export interface Scheduled<P = unknown> {
  readonly ok: true;
  readonly status: 'scheduled';
  readonly envelope: Envelope<P>;
}

/** The message was dropped at send time. */
export interface Dropped<P = unknown> {
  readonly ok: false;
  readonly status: 'dropped';
  readonly reason: DropReason;
  readonly envelope: Envelope<P>;
}

/** Outcome of {@link Bus.send}. Network conditions never throw; they give a {@link Dropped}. */
export type SendResult<P = unknown> = Scheduled<P> | Dropped<P>;

/** Emitted on {@link Bus.backpressure$} each time a send is refused because its link is full. */
export interface BackpressureSignal {
  readonly from: string;
  readonly to: string;
  /** Messages in flight on the link (= capacity, or more after a capacity decrease). */
  readonly depth: number;
  readonly capacity: number;
  /** Virtual time of the refusal. */
  readonly at: number;
}

/**
 * Emitted on {@link Bus.pressure$} at the edges of a link's pressure:
 * `pressured: true` when its depth reaches capacity, `false` once it has
 * drained back to at most half of capacity (hysteresis, so a link near the
 * limit does not flap).
 */
export interface PressureSignal {
  readonly from: string;
  readonly to: string;
  readonly pressured: boolean;
  readonly depth: number;
  readonly capacity: number;
  readonly at: number;
}

/**
 * Emitted on {@link Bus.drops$} for every message the bus drops. The
 * envelope of a drop at `send` is the sender's own; one dropped in flight
 * is decoded from the wire for the observer.
 */
export interface DropSignal {
  readonly envelope: Envelope;
  readonly reason: DropReason;
  /** `send`: refused when sent; `delivery`: dropped in flight, at its delivery time. */
  readonly stage: 'send' | 'delivery';
  readonly at: number;
}

/** One line of the delivery log ({@link BusOptions.deliveryLog}). */
export interface DeliveryRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly sentAt: number;
  readonly deliveredAt: number;
}

/**
 * A fault injected into the network, as emitted on {@link Bus.faults$}
 * (the trace records these as `fault` events). `at` is the virtual time.
 */
export type FaultEvent =
  | { readonly kind: 'partition'; readonly at: number; readonly groups: string[][] }
  | { readonly kind: 'heal'; readonly at: number }
  | { readonly kind: 'cut'; readonly at: number; readonly from: string; readonly to: string; readonly bothWays: boolean }
  | { readonly kind: 'restore'; readonly at: number; readonly from: string; readonly to: string; readonly bothWays: boolean }
  | { readonly kind: 'isolate'; readonly at: number; readonly node: string }
  | { readonly kind: 'down'; readonly at: number; readonly node: string }
  | { readonly kind: 'up'; readonly at: number; readonly node: string }
  | { readonly kind: 'link'; readonly at: number; readonly from: string; readonly to: string; readonly params: LinkConfigPatch }
  | { readonly kind: 'defaults'; readonly at: number; readonly params: LinkConfigPatch };

/** Counters of one link, or of the whole bus. */
export interface LinkStats {
  /** Calls of `send` (accepted or not). */
  sent: number;
  /** Deliveries to an inbox, duplicates included. */
  delivered: number;
  /** Extra copies the network made. */
  duplicated: number;
  /** Drops, at send or in flight, by reason. */
  dropped: Record<DropReason, number>;
  /** Messages in flight now. `sent + duplicated = delivered + Σ dropped + inFlight`. */
  inFlight: number;
  /** Encoded bytes of the sends the link accepted, each counted once (duplicates not again); 0 without a codec. */
  bytes: number;
}

/** {@link LinkStats} of the whole bus, with the per-link breakdown (in link creation order). */
export interface BusStats extends LinkStats {
  links: Array<LinkStats & { from: string; to: string }>;
}

/** Options of a {@link Bus}. */
export interface BusOptions {
  /** Nodes to register up front (more with {@link Bus.addNode}). */
  nodes?: readonly string[];
  /** Default config of every link, over {@link DEFAULT_LINK_CONFIG}. */
  link?: LinkConfigPatch;
  /** Record every delivery in {@link Bus.deliveryLog} (for determinism tests). Default false. */
  deliveryLog?: boolean;
  /** Name of the kernel random stream the network draws from. Default `network`. */
  stream?: string;
  /**
   * How payloads travel: encoded once at send, decoded afresh at each
   * delivery. Default {@link msgpackCodec}. `null` hands the sender's
   * payload object to every receiver, shared (for benchmarks and comparison
   * only: nothing then checks that a payload would survive the wire).
   */
  codec?: Codec | null;
}

/** What a node is on the bus: a server, or a client beside the network (see {@link Bus.addNode}). */
export type NodeKind = 'node' | 'client';

/** Options of {@link Bus.addNode}. */
export interface AddNodeOptions {
  /** Default `node`. */
  kind?: NodeKind;
}

/** The partition group of a client named in no group: it reaches every group. */
const ANY_GROUP = -1;

class NodeState {
  /** Partition group: 0 for nodes not named in any group, {@link ANY_GROUP} for such clients. */
  group: number;
  down = false;
  isolated = false;
  /** Outgoing links, indexed by destination node index (created lazily). */
  readonly out: Array<Link | undefined> = [];
  readonly inbox = new Subject<Envelope>();
  readonly inbox$: Observable<Envelope> = this.inbox.asObservable();

  constructor(
    readonly id: string,
    readonly index: number,
    readonly kind: NodeKind,
  ) {
    this.group = kind === 'client' ? ANY_GROUP : 0;
  }

  /** The group of this node when a partition names it in none. */
  get unnamedGroup(): number {
    return this.kind === 'client' ? ANY_GROUP : 0;
  }
}

/** Whether a partition separates two nodes (a client in no group reaches every group). */
function separated(a: NodeState, b: NodeState): boolean {
  return a.group !== b.group && a.group !== ANY_GROUP && b.group !== ANY_GROUP;
}

/**
 * State of one directed link: its effective config (flattened for the hot
 * path), its FIFO queue of messages in flight, counters and signals.
 */
class Link {
  override: LinkConfigPatch | undefined = undefined;
  config: LinkConfig = DEFAULT_LINK_CONFIG;
  base = 0;
  jitter = 0;
  distribution: DistributionCode = 0;
  loss = 0;
  duplicate = 0;
  reorder = 0;
  capacity = 1;
  cut = false;

  // FIFO ring of messages in flight, as parallel arrays (no object per
  // message): envelope id, type, send time, wire data (the encoded bytes, or
  // the payload itself without a codec) and delivery time (non-decreasing).
  ids: Array<string | undefined> = new Array<string | undefined>(8).fill(undefined);
  types: Array<string | undefined> = new Array<string | undefined>(8).fill(undefined);
  sentAts = new Float64Array(8);
  data: unknown[] = new Array<unknown>(8).fill(undefined);
  times = new Float64Array(8);
  head = 0;
  size = 0;
  mask = 7;
  /** Whether a kernel event is pending for the head of the ring. */
  armed = false;
  /** Messages in flight: the ring plus reordered messages scheduled on their own. */
  depth = 0;
  pressured = false;
  depthSubject: BehaviorSubject<number> | null = null;

  sent = 0;
  delivered = 0;
  duplicated = 0;
  dropLoss = 0;
  dropPartition = 0;
  dropCut = 0;
  dropDown = 0;
  dropBackpressure = 0;
  bytes = 0;

  constructor(
    readonly bus: Bus,
    readonly from: NodeState,
    readonly to: NodeState,
  ) {}

  apply(config: LinkConfig): void {
    this.config = config;
    this.base = config.latency.base;
    this.jitter = config.latency.jitter;
    this.distribution = distributionCode(config.latency.distribution);
    this.loss = config.loss;
    this.duplicate = config.duplicate;
    this.reorder = config.reorder;
    this.capacity = config.capacity;
  }

  stats(): LinkStats {
    return {
      sent: this.sent,
      delivered: this.delivered,
      duplicated: this.duplicated,
      dropped: {
        loss: this.dropLoss,
        partition: this.dropPartition,
        cut: this.dropCut,
        down: this.dropDown,
        backpressure: this.dropBackpressure,
      },
      inFlight: this.depth,
      bytes: this.bytes,
    };
  }
}

/** A reordered message: delivered by its own kernel event, outside the link's FIFO ring. */
class Stray {
  constructor(
    readonly link: Link,
    readonly id: string,
    readonly type: string,
    readonly sentAt: number,
    readonly data: unknown,
  ) {}
}


/**
 * The message bus of a simulated cluster, with its network model.
 *
 * Nodes are registered by id; each reads its inbox as an Observable
 * ({@link Bus.inbox}) and sends with {@link Bus.send}. Every directed link
 * has a latency model, loss, duplication, reordering and a bounded queue
 * ({@link LinkConfig}); faults (partitions, cuts, isolation, down nodes)
 * can be injected at any time and are announced on {@link Bus.faults$}.
 *
 * Wire: every payload crosses the bus as bytes. The bus encodes it once
 * when it is sent ({@link BusOptions.codec}), keeps only the bytes while it
 * is in flight, and decodes a new envelope at each delivery, so no receiver
 * shares an object with the sender or with another receiver (the two
 * deliveries of a duplicated message included). A payload the codec cannot
 * encode is a TypeError from {@link Bus.send}: a programming error.
 *
 * Delivery is an event on the kernel: a message is handed to the inbox
 * (`Subject.next`) at its delivery virtual time. All randomness comes from
 * the kernel stream `network`, so a run is a function of the seed.
 *
 * Order: a link is FIFO. Each link keeps its messages in flight in a queue
 * whose head alone has a kernel event, so a message is delivered at
 * max(its own delivery time, the previous message's delivery time) and
 * never overtakes. Only a message drawn for reordering ({@link LinkConfig.reorder})
 * leaves the queue and travels on its own event.
 *
 * Drops are checked twice: when sending (down endpoint, partition, cut,
 * full link, then loss) and at delivery (down receiver, partition, cut), so
 * a message in flight when a fault starts is dropped too. Nothing is
 * dropped silently: see {@link Bus.stats} and {@link Bus.drops$}.
 *
 * Clients ({@link Bus.addNode} with kind `client`) sit beside the network:
 * a partition that names a client in none of its groups does not confine
 * it. Everything else (cuts, isolation, down, link configs) applies to them
 * as to nodes.
 */
export class Bus {
  /** Every injected fault, as it happens. */
  readonly faults$: Observable<FaultEvent>;
  /** A send refused because its link was full. */
  readonly backpressure$: Observable<BackpressureSignal>;
  /** Pressure edges of every link (see {@link PressureSignal}). */
  readonly pressure$: Observable<PressureSignal>;

  private readonly random: Random;
  private readonly codec: Codec | null;
  private readonly nodeMap = new Map<string, NodeState>();
  private readonly nodeList: NodeState[] = [];
  private readonly links: Link[] = [];
  private defaults: LinkConfig;
  private partitioned = false;
  private seq = 0;
  private readonly log: DeliveryRecord[] | null;
  private readonly faultSubject = new Subject<FaultEvent>();
  private readonly backpressureSubject = new Subject<BackpressureSignal>();
  private readonly pressureSubject = new Subject<PressureSignal>();
  private dropSubject: Subject<DropSignal> | null = null;

  constructor(
    readonly kernel: Kernel,
    options: BusOptions = {},
  ) {
    this.random = kernel.random(options.stream ?? 'network');
    this.codec = options.codec === undefined ? msgpackCodec : options.codec;
    this.defaults = resolveLinkConfig(DEFAULT_LINK_CONFIG, options.link, 'bus default link config');
    this.log = options.deliveryLog ? [] : null;
    this.faults$ = this.faultSubject.asObservable();
    this.backpressure$ = this.backpressureSubject.asObservable();
    this.pressure$ = this.pressureSubject.asObservable();
    for (const id of options.nodes ?? []) this.addNode(id);
  }

  // ---------------------------------------------------------------- nodes

  /**
   * Registers a node, or with `kind: 'client'` a client: one that a
   * partition naming it in no group leaves free to reach every group (and
   * be reached from each). Throws a TypeError for an empty or already
   * registered id, or an unknown kind.
   */
  addNode(id: string, options: AddNodeOptions = {}): void {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError(`node id must be a non-empty string, got ${String(id)}`);
    if (this.nodeMap.has(id)) throw new TypeError(`node '${id}' is already registered on the bus`);
    const kind = options.kind ?? 'node';
    if (kind !== 'node' && kind !== 'client') throw new TypeError(`addNode('${id}'): kind must be 'node' or 'client', got ${String(kind)}`);
    const node = new NodeState(id, this.nodeList.length, kind);
    this.nodeMap.set(id, node);
    this.nodeList.push(node);
    // Keep every `out` array dense (indexed by node number, no holes).
    for (const n of this.nodeList) while (n.out.length < this.nodeList.length) n.out.push(undefined);
  }

  /** Whether `id` is registered. */
  hasNode(id: string): boolean {
    return this.nodeMap.has(id);
  }

  /** Whether `id` was registered as a node or as a client. */
  kindOf(id: string): NodeKind {
    return this.node(id).kind;
  }

  /** Registered node ids (clients included), in registration order. */
  get nodes(): readonly string[] {
    return this.nodeList.map((n) => n.id);
  }

  /**
   * The messages delivered to `id`, as a hot Observable: a subscriber sees
   * the deliveries after it subscribed, each at its delivery virtual time.
   * Each delivery is a new envelope, decoded from the wire.
   */
  inbox<P = unknown>(id: string): Observable<Envelope<P>> {
    return this.node(id).inbox$ as Observable<Envelope<P>>;
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a message from `from` to `to`. Returns {@link Scheduled} when the
   * link accepted it (it is delivered later, or dropped in flight by a fault)
   * or {@link Dropped} with the reason; either carries the sender's own
   * envelope. The payload is encoded now, whatever becomes of the message,
   * so changing it afterwards does not change what is delivered. Throws a
   * TypeError only for bad input: an unregistered node, an empty type, or a
   * payload the codec cannot encode (the message names type and link).
   */
  send<P>(from: string, to: string, type: string, payload: P): SendResult<P> {
    const src = this.nodeMap.get(from);
    const dst = this.nodeMap.get(to);
    if (src === undefined || dst === undefined) {
      throw new TypeError(`send(${from} → ${to}): unknown node '${src === undefined ? from : to}'`);
    }
    if (typeof type !== 'string' || type.length === 0) {
      throw new TypeError(`send(${from} → ${to}): message type must be a non-empty string, got ${String(type)}`);
    }
    // Encoded before any network check, so that a payload off the wire's
    // domain fails every time, not only when the network lets it through.
    const data = this.codec === null ? payload : this.encode(payload, type, src, dst);
    const link = src.out[dst.index] ?? this.createLink(src, dst);
    const env: Envelope<P> = { id: `m${++this.seq}`, from: src.id, to: dst.id, type, payload, sentAt: this.kernel.now() };
    link.sent++;
    if (src.down || dst.down) return this.refuse(link, env, 'down');
    if (this.partitioned && separated(src, dst)) return this.refuse(link, env, 'partition');
    if (link.cut) return this.refuse(link, env, 'cut');
    if (link.depth >= link.capacity) {
      this.backpressureSubject.next({ from: src.id, to: dst.id, depth: link.depth, capacity: link.capacity, at: this.kernel.now() });
      return this.refuse(link, env, 'backpressure');
    }
    if (link.loss > 0 && this.random.float() < link.loss) return this.refuse(link, env, 'loss');
    if (this.codec !== null) link.bytes += (data as Uint8Array).byteLength;
    this.enqueue(link, env.id, type, env.sentAt, data);
    if (link.duplicate > 0 && this.random.float() < link.duplicate && link.depth < link.capacity) {
      link.duplicated++;
      this.enqueue(link, env.id, type, env.sentAt, data);
    }
    return { ok: true, status: 'scheduled', envelope: env };
  }

  private encode(payload: unknown, type: string, src: NodeState, dst: NodeState): Uint8Array {
    try {
      return this.codec!.encode(payload);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new TypeError(`send(${src.id} → ${dst.id}, '${type}'): payload cannot be encoded: ${why}`, { cause: err });
    }
  }

  private refuse<P>(link: Link, env: Envelope<P>, reason: DropReason): Dropped<P> {
    this.countDrop(link, reason);
    const drops = this.dropSubject;
    if (drops !== null && drops.observed) drops.next({ envelope: env, reason, stage: 'send', at: this.kernel.now() });
    return { ok: false, status: 'dropped', reason, envelope: env };
  }

  private enqueue(link: Link, id: string, type: string, sentAt: number, data: unknown): void {
    const now = this.kernel.now();
    const random = this.random;
    const delay = link.jitter === 0 ? link.base : sampleLatency(link.base, link.jitter, link.distribution, random);
    if (link.reorder > 0 && random.float() < link.reorder) {
      const extra = random.float() * (link.base + link.jitter);
      this.kernel.schedule(delay + extra, this.deliverStray, new Stray(link, id, type, sentAt, data));
    } else {
      let size = link.size;
      if (size === link.ids.length) this.grow(link);
      const i = (link.head + size) & link.mask;
      link.ids[i] = id;
      link.types[i] = type;
      link.sentAts[i] = sentAt;
      link.data[i] = data;
      link.times[i] = now + delay;
      link.size = ++size;
      if (!link.armed) {
        link.armed = true;
        this.kernel.schedule(delay, this.deliverHead, link);
      }
    }
    const depth = ++link.depth;
    if (link.depthSubject !== null) link.depthSubject.next(depth);
    if (!link.pressured && depth >= link.capacity) this.setPressure(link, true);
  }

  private grow(link: Link): void {
    const n = link.ids.length;
    const ids = new Array<string | undefined>(n * 2).fill(undefined);
    const types = new Array<string | undefined>(n * 2).fill(undefined);
    const sentAts = new Float64Array(n * 2);
    const data = new Array<unknown>(n * 2).fill(undefined);
    const times = new Float64Array(n * 2);
    for (let k = 0; k < n; k++) {
      const j = (link.head + k) & link.mask;
      ids[k] = link.ids[j];
      types[k] = link.types[j];
      sentAts[k] = link.sentAts[j];
      data[k] = link.data[j];
      times[k] = link.times[j];
    }
    link.ids = ids;
    link.types = types;
    link.sentAts = sentAts;
    link.data = data;
    link.times = times;
    link.head = 0;
    link.mask = n * 2 - 1;
  }

  /** Kernel event: the head of a link's FIFO ring is due. */
  // Kernel callbacks bound once per bus: each takes its state as the event
  // argument, so scheduling a delivery allocates no closure.
  private readonly deliverHead = (link: Link): void => this.onHead(link);
  private readonly deliverStray = (stray: Stray): void => this.onStray(stray);

  private onHead(link: Link): void {
    const h = link.head;
    const id = link.ids[h]!;
    const type = link.types[h]!;
    const sentAt = link.sentAts[h];
    const data = link.data[h];
    link.ids[h] = undefined;
    link.types[h] = undefined;
    link.data[h] = undefined;
    link.head = (h + 1) & link.mask;
    if (--link.size > 0) {
      // Re-arm for the next message before delivering this one, so that a
      // send made by the receiver finds the link armed.
      const wait = link.times[link.head] - this.kernel.now();
      this.kernel.schedule(wait > 0 ? wait : 0, this.deliverHead, link);
    } else {
      link.armed = false;
    }
    this.arrive(link, id, type, sentAt, data);
  }

  /** Kernel event: a reordered message is due. */
  private onStray(stray: Stray): void {
    this.arrive(stray.link, stray.id, stray.type, stray.sentAt, stray.data);
  }

  private arrive(link: Link, id: string, type: string, sentAt: number, data: unknown): void {
    const depth = --link.depth;
    if (link.depthSubject !== null) link.depthSubject.next(depth);
    if (link.pressured && depth <= link.capacity / 2) this.setPressure(link, false);
    const dst = link.to;
    let reason: DropReason | null = null;
    if (dst.down) reason = 'down';
    else if (this.partitioned && separated(link.from, dst)) reason = 'partition';
    else if (link.cut) reason = 'cut';
    if (reason !== null) {
      this.countDrop(link, reason);
      const drops = this.dropSubject;
      // Decoded only for an observer: nobody else will read it.
      if (drops !== null && drops.observed) drops.next({ envelope: this.open(link, id, type, sentAt, data), reason, stage: 'delivery', at: this.kernel.now() });
      return;
    }
    link.delivered++;
    if (this.log !== null) {
      this.log.push({ id, from: link.from.id, to: dst.id, type, sentAt, deliveredAt: this.kernel.now() });
    }
    dst.inbox.next(this.open(link, id, type, sentAt, data));
  }

  /** A new envelope for one delivery, its payload decoded from the wire. */
  private open(link: Link, id: string, type: string, sentAt: number, data: unknown): Envelope {
    const payload = this.codec === null ? data : this.codec.decode(data as Uint8Array);
    return { id, from: link.from.id, to: link.to.id, type, payload, sentAt };
  }

  private countDrop(link: Link, reason: DropReason): void {
    switch (reason) {
      case 'loss':
        link.dropLoss++;
        break;
      case 'partition':
        link.dropPartition++;
        break;
      case 'cut':
        link.dropCut++;
        break;
      case 'down':
        link.dropDown++;
        break;
      case 'backpressure':
        link.dropBackpressure++;
        break;
    }
  }

  private setPressure(link: Link, pressured: boolean): void {
    link.pressured = pressured;
    this.pressureSubject.next({
      from: link.from.id,
      to: link.to.id,
      pressured,
      depth: link.depth,
      capacity: link.capacity,
      at: this.kernel.now(),
    });
  }

  // ---------------------------------------------------------------- observation

  /** Every dropped message, at send or in flight (created on first use). */
  get drops$(): Observable<DropSignal> {
    if (this.dropSubject === null) this.dropSubject = new Subject<DropSignal>();
    return this.dropSubject.asObservable();
  }

  /** Messages in flight on the link `from → to`. */
  depth(from: string, to: string): number {
    return this.node(from).out[this.node(to).index]?.depth ?? 0;
  }

  /**
   * The depth of the link `from → to`: its current value on subscription,
   * then every change. Costs nothing on the hot path until first asked for.
   */
  depth$(from: string, to: string): Observable<number> {
    const link = this.link(from, to);
    if (link.depthSubject === null) link.depthSubject = new BehaviorSubject(link.depth);
    return link.depthSubject.asObservable();
  }

  /** Messages in flight on the whole bus. */
  get inFlight(): number {
    let n = 0;
    for (const link of this.links) n += link.depth;
    return n;
  }

  /** Effective config of the link `from → to`. */
  linkConfig(from: string, to: string): LinkConfig {
    const src = this.node(from);
    const dst = this.node(to);
    return src.out[dst.index]?.config ?? this.defaults;
  }

  /** Default link config. */
  get defaultLinkConfig(): LinkConfig {
    return this.defaults;
  }

  /** Counters of the link `from → to`. */
  linkStats(from: string, to: string): LinkStats {
    const src = this.node(from);
    const link = src.out[this.node(to).index];
    return link ? link.stats() : new Link(this, src, this.node(to)).stats();
  }

  /** Counters of the whole bus, with the per-link breakdown. */
  stats(): BusStats {
    const total: BusStats = {
      sent: 0,
      delivered: 0,
      duplicated: 0,
      dropped: { loss: 0, partition: 0, cut: 0, down: 0, backpressure: 0 },
      inFlight: 0,
      bytes: 0,
      links: [],
    };
    for (const link of this.links) {
      const s = link.stats();
      total.sent += s.sent;
      total.delivered += s.delivered;
      total.duplicated += s.duplicated;
      total.inFlight += s.inFlight;
      total.bytes += s.bytes;
      for (const reason of DROP_REASONS) total.dropped[reason] += s.dropped[reason];
      total.links.push({ from: link.from.id, to: link.to.id, ...s });
    }
    return total;
  }

  /** The deliveries so far, in delivery order (empty unless {@link BusOptions.deliveryLog}). */
  get deliveryLog(): readonly DeliveryRecord[] {
    return this.log ?? [];
  }

  /** Whether `id` is marked down. */
  isDown(id: string): boolean {
    return this.node(id).down;
  }

  /** Whether the link `from → to` is cut. */
  isCut(from: string, to: string): boolean {
    const src = this.node(from);
    const dst = this.node(to);
    const link = src.out[dst.index];
    return link ? link.cut : src !== dst && (src.isolated || dst.isolated);
  }

  /** Whether a partition separates `a` and `b` now. */
  isPartitioned(a: string, b: string): boolean {
    return this.partitioned && separated(this.node(a), this.node(b));
  }

  // ---------------------------------------------------------------- configuration and faults

  /**
   * Overrides part of the config of the link `from → to` (merged with
   * earlier overrides; unset fields follow the defaults). Messages already in
   * flight keep their delivery time; a lower capacity refuses new sends until
   * the link drains below it. RangeError naming the field on a bad value.
   */
  configureLink(from: string, to: string, patch: LinkConfigPatch): void {
    const link = this.link(from, to);
    const override = mergeLinkPatches(link.override, patch);
    const config = resolveLinkConfig(this.defaults, override, `link ${from} → ${to}`);
    link.override = override;
    link.apply(config);
    this.recheckPressure(link);
    this.fault({ kind: 'link', at: this.kernel.now(), from, to, params: structuredClone(patch) });
  }

  /** Changes the default config, under every link's own overrides. */
  configureDefaults(patch: LinkConfigPatch): void {
    const defaults = resolveLinkConfig(this.defaults, patch, 'bus default link config');
    this.defaults = defaults;
    for (const link of this.links) {
      link.apply(resolveLinkConfig(defaults, link.override, `link ${link.from.id} → ${link.to.id}`));
      this.recheckPressure(link);
    }
    this.fault({ kind: 'defaults', at: this.kernel.now(), params: structuredClone(patch) });
  }

  /**
   * Splits the nodes into groups; messages between groups are dropped, at
   * send and in flight. Nodes not named in any group form one more group
   * together; a client named in no group is in all of them (it reaches, and
   * is reached from, every group), while a client named in a group is
   * confined to it like a node. Replaces any earlier partition; cuts stay.
   */
  partition(groups: readonly (readonly string[])[]): void {
    const seen = new Set<string>();
    for (const group of groups) {
      for (const id of group) {
        this.node(id);
        if (seen.has(id)) throw new RangeError(`partition: node '${id}' is in more than one group`);
        seen.add(id);
      }
    }
    for (const node of this.nodeList) node.group = node.unnamedGroup;
    groups.forEach((group, g) => {
      for (const id of group) this.nodeMap.get(id)!.group = g + 1;
    });
    this.partitioned = true;
    this.fault({ kind: 'partition', at: this.kernel.now(), groups: groups.map((g) => [...g]) });
  }

  /** Removes the partition and every cut and isolation. Down nodes stay down. */
  heal(): void {
    this.partitioned = false;
    for (const node of this.nodeList) {
      node.group = node.unnamedGroup;
      node.isolated = false;
    }
    for (const link of this.links) link.cut = false;
    this.fault({ kind: 'heal', at: this.kernel.now() });
  }

  /** Cuts the link `from → to` (and `to → from` with `bothWays`), dropping its messages at send and in flight. */
  cut(from: string, to: string, options: { bothWays?: boolean } = {}): void {
    const bothWays = options.bothWays ?? false;
    this.link(from, to).cut = true;
    if (bothWays) this.link(to, from).cut = true;
    this.fault({ kind: 'cut', at: this.kernel.now(), from, to, bothWays });
  }

  /** Restores a cut link (both directions with `bothWays`). */
  restore(from: string, to: string, options: { bothWays?: boolean } = {}): void {
    const bothWays = options.bothWays ?? false;
    this.link(from, to).cut = false;
    if (bothWays) this.link(to, from).cut = false;
    this.fault({ kind: 'restore', at: this.kernel.now(), from, to, bothWays });
  }

  /**
   * Cuts every link to and from `id` (its link to itself excepted), including
   * links to nodes registered later, until {@link Bus.heal} or a
   * {@link Bus.restore} of a link.
   */
  isolate(id: string): void {
    const node = this.node(id);
    node.isolated = true;
    for (const other of this.nodeList) {
      if (other === node) continue;
      this.link(id, other.id).cut = true;
      this.link(other.id, id).cut = true;
    }
    this.fault({ kind: 'isolate', at: this.kernel.now(), node: id });
  }

  /**
   * Marks a node down (crashed) or up again. Messages from or to a down node
   * are dropped at send; messages in flight to it are dropped at delivery.
   */
  setDown(id: string, down: boolean): void {
    this.node(id).down = down;
    this.fault({ kind: down ? 'down' : 'up', at: this.kernel.now(), node: id });
  }

  // ---------------------------------------------------------------- internals

  private node(id: string): NodeState {
    const node = this.nodeMap.get(id);
    if (node === undefined) throw new TypeError(`unknown node '${String(id)}' (registered: ${this.nodeList.map((n) => n.id).join(', ') || 'none'})`);
    return node;
  }

  private link(from: string, to: string): Link {
    const src = this.node(from);
    const dst = this.node(to);
    return src.out[dst.index] ?? this.createLink(src, dst);
  }

  private createLink(src: NodeState, dst: NodeState): Link {
    const link = new Link(this, src, dst);
    link.apply(this.defaults);
    link.cut = src !== dst && (src.isolated || dst.isolated);
    src.out[dst.index] = link;
    this.links.push(link);
    return link;
  }

  private recheckPressure(link: Link): void {
    if (!link.pressured && link.depth >= link.capacity) this.setPressure(link, true);
    else if (link.pressured && link.depth <= link.capacity / 2) this.setPressure(link, false);
  }

  private fault(event: FaultEvent): void {
    this.faultSubject.next(event);
  }
}
