import { Subject, type Observable } from 'rxjs';
import { ClusterNode } from '../actors/clusterNode.js';
import type { ClusterStateLimits } from '../actors/clusterState.js';
import { DEFAULT_RAFT_OPTIONS, type RaftOptions, type RaftStatus } from '../actors/raftNode.js';
import { HandlerRegistry, type TaskHandler } from '../actors/taskHandlers.js';
import type { TaskControllerOptions } from '../actors/taskController.js';
import { ClusterClient, type ClientNetwork, type ClientOptions } from './client.js';
import { eventsOfChanges, type GreyEvent } from './events.js';
import { LmdbStorage } from './lmdbStorage.js';
import { foundingConfig } from './foundingVoters.js';
import type { RaftConfig } from '../actors/raftTypes.js';
import { AddressInUseError, type LocalNetwork } from './localNetwork.js';
import { identitiesOf, tenantOf, type TlsIdentity } from './certificates.js';
import { LmdbAuditStore } from './lmdbAuditStore.js';
import { realNodeSecurity } from './realSecurity.js';
import type { AuditLog } from '../actors/auditLog.js';
import type { JoinOutcome } from '../actors/joinRequester.js';
import { JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_HELLO, JOIN_RESULT } from '../actors/joinAuthenticator.js';
import { TlsNetwork, parseAddress, type Refusal } from './tlsNetwork.js';
import { pollTask } from './taskPolling.js';
import { NodeMetrics } from './nodeMetrics.js';
import { ApiGateway } from './apiGateway.js';
import type { ChartInspector } from '../actors/chartInspection.js';
import { EventHistory } from './eventHistory.js';
import { startHttpApi, type HttpApi } from './httpApi.js';
import { CryptoRandom, WallClock } from './wallClock.js';
import { identityFromPrivateKey } from '../actors/nodeIdentity.js';
import { PROOF_SIGNING_MODES, ProofSigner, type ProofSigningMode } from '../actors/proofSignature.js';
import { checkRaftFlags, checkStateLimits, checkTaskOptions, checkWorkerCapacity } from './nodeOptionsCheck.js';

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  /** This node's id: unique in the cluster, stable across restarts (its data directory belongs to it). */
  id: string;
  /**
   * The founding voters, this node included (used for the configuration
   * only when the data directory is empty: a first start). Over TCP, a map
   * from each node's id to its `host:port`. With `join`: the nodes of the
   * running cluster this node may reach (not a configuration).
   */
  peers: readonly string[] | Readonly<Record<string, string>>;
  /**
   * Join a running cluster instead of founding one: on a first start the
   * node takes no configuration of its own and waits, silent, until an
   * operator adds it (`join` with its address, then `approve`) and the
   * leader replicates to it. Ignored once its data directory holds a log.
   */
  join?: boolean;
  /** In-process: the network the nodes and clients of this process share. Give this, or `listen` and `tls`. */
  network?: LocalNetwork;
  /** Over TCP with mutual TLS: the address to accept connections on (`host:port`; port 0 picks one, see {@link GreyNode.address}). */
  listen?: string;
  /** This node's certificate (binding `grey://node/<id>`), key and the cluster CA, PEM; with `listen`. */
  tls?: TlsIdentity;
  /** Where the node keeps its log, hard state and snapshots (LMDB); created when absent. */
  dataDir: string;
  /** Task handlers this node runs as a worker, by task type: ordinary async functions doing real I/O. */
  handlers?: Record<string, TaskHandler>;
  /** What this node offers as a worker (`false`: it runs no tasks). Default 8 CPUs, 16 GiB. */
  workerCapacity?: { cpu: number; memoryBytes: number } | false;
  /** Raft timing and limits (wall-clock milliseconds). */
  raft?: Partial<RaftOptions>;
  tasks?: TaskControllerOptions;
  limits?: Partial<ClusterStateLimits>;
  /**
   * Serve the HTTP/JSON API and server-sent events on `listen` (see
   * {@link startHttpApi}): HTTPS with client certificates when the node
   * runs over TLS, plain HTTP on loopback in-process. Any node serves any
   * request, relaying to the leader. `history`: committed events kept for
   * watchers resuming from an index (default 10 000).
   */
  api?: { listen: string; history?: number };
  /** An XState inspection observer fed from every chart of this node (see `createCluster`'s `inspect`). */
  inspect?: ChartInspector;
  /**
   * How this node, as a worker, signs the proofs of the tasks it completes,
   * with the key of its TLS certificate: one signature per proof (`each`),
   * one per report to the leader (`batch`, the default), or `off`. A node
   * without `tls` (in-process) has no key: its proofs are unsigned.
   */
  proofSigning?: ProofSigningMode;
}

/** A Grey node running inside this process, on the wall clock, with its log on disk. */
export interface GreyNode {
  readonly id: string;
  /** The node's Raft view: role, term, leader, commit and applied indexes. */
  status(): RaftStatus;
  /** One event per committed change this node applies, in log order (each node applies every change). */
  readonly events$: Observable<GreyEvent>;
  /** Adds a task handler (a type that has one already needs `{ replace: true }`). */
  registerHandler(type: string, handler: TaskHandler, options?: { replace?: boolean }): void;
  /** Where the node accepts connections (over TCP), or null (in-process). */
  readonly address: { host: string; port: number } | null;
  /** Where the HTTP API listens, or null (no `api` option). */
  readonly api: { host: string; port: number } | null;
  /** The node's Prometheus metrics (`grey_` names), in a registry of its own. */
  readonly metrics: NodeMetrics;
  /** Calls `listener` on every change of this node's role, term or leader; returns the unsubscribe. */
  onRole(listener: (role: string, term: number, leader: string | null) => void): () => void;
  /**
   * Calls `listener` on each connection refused over TLS, either way (a peer
   * this node would not take, or a peer that would not take this node, as
   * `handshake refused by …`: another process running with this node's id,
   * say); returns the unsubscribe. Never called for an in-process network.
   * `refusal` says what kind (`code`) and which side refused (`byPeer`):
   * match on those, not on the wording of `reason`.
   */
  onRefusal(listener: (peer: string | null, reason: string, refusal: Refusal) => void): () => void;
  /**
   * Hands leadership over when this node leads (to the most caught-up
   * voter) and waits until another node leads, up to `withinMs`; resolves
   * whether it no longer leads. What a graceful shutdown does before `stop`.
   */
  handOver(withinMs?: number): Promise<boolean>;
  /**
   * Drains this node's worker before a shutdown: the cluster assigns it
   * nothing more, what is assigned and not started is handed back at once,
   * attempts running may finish within `withinMs`; those still running then
   * are handed back (pending again under their ids, attempts aborted).
   * Resolves once the cluster has taken all of it back (or `withinMs` plus
   * a second have passed): how many finished here and how many were handed back.
   */
  drain(withinMs?: number): Promise<{ finished: number; handedBack: number }>;
  /** Stops the node: timers, executions and messages; waits for its storage to close. The data directory keeps what was synced. */
  stop(): Promise<void>;
  /** The node's audit log (joins it judged, membership changes and blocks it applied, refused requests), kept in its data directory. */
  readonly audit: AuditLog;
  /**
   * A node started with `join` over TLS on an empty data directory asks to
   * join through the join handshake (its certificate, a challenge, software
   * attestation): how that ended. An operator then approves it. Null otherwise.
   */
  readonly joined: Promise<JoinOutcome> | null;
}

const DEFAULT_CAPACITY = { cpu: 8, memoryBytes: 16 * 2 ** 30 };

const JOIN_TYPES: ReadonlySet<string> = new Set([JOIN_HELLO, JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_RESULT]);

/** Why `peer` may not talk to this node as a node, or null: blocked, or not a member (a node that knows no membership yet takes any). */
function nonMember(node: ClusterNode, peer: string): string | null {
  const blocked = node.state.blockedReason(peer, null);
  if (blocked !== null) return blocked;
  const config = node.raft.config;
  if (config.voters.includes(peer) || config.learners.includes(peer)) return null;
  const m = node.state.member(peer);
  if (m !== undefined && m.status !== 'rejected') return null;
  return node.state.members().length === 0 ? null : `${peer} is not a member`;
}

/** Raft timing for the wall clock: what etcd uses on a LAN (100 ms heartbeats, elections after 1 s). */
const REAL_RAFT: Partial<RaftOptions> = { heartbeatMs: 100, electionTimeoutMin: 1_000, electionTimeoutMax: 2_000 };

/**
 * Starts one Grey node in this process: the same actors and statecharts
 * the simulation tests (Raft, membership, task lifecycle, breakers, failure
 * detectors), on the wall clock, with its log in LMDB under `dataDir` and
 * its messages on `network`. A restart with the same `dataDir` recovers
 * what the node had synced.
 *
 * @throws StorageFormatError when `dataDir` holds data of another format version.
 * @throws FoundingVotersError when `dataDir` belongs to a node founded with other voters than `peers` names (they are fixed at its first start).
 */
export async function startNode(options: StartNodeOptions): Promise<GreyNode> {
  checkStartOptions(options);
  const { id } = options;
  // Handlers first: a bad one is refused before any socket or file is opened.
  const registry = new HandlerRegistry();
  for (const [type, handler] of Object.entries(options.handlers ?? {})) registry.register(type, handler);
  // And the signing key: a key that is not Ed25519 is refused before anything opens too.
  const proofSigner = proofSignerOf(options);
  const voters = Array.isArray(options.peers) ? [...(options.peers as readonly string[])] : Object.keys(options.peers);
  if (!voters.includes(id)) voters.push(id);
  // Declared before the network, which asks it for the addresses of nodes added later.
  let node: ClusterNode | undefined;
  const tcp =
    options.listen !== undefined
      ? new TlsNetwork({
          id,
          role: 'node',
          tls: options.tls!,
          listen: options.listen,
          peers: withoutSelf(options.peers as Record<string, string>, id),
          resolvePeer: (peer) => node?.state.member(peer)?.address,
          // A blocked node is refused at the handshake (its existing links are cut when the block applies).
          refusePeer: (peer, role) => (role === 'node' && node ? node.state.blockedReason(peer, null) : null),
        })
      : null;
  const network: Pick<LocalNetwork, 'send' | 'inbox'> = tcp ?? options.network!;
  const address = tcp ? await tcp.start() : null;
  const clock = new WallClock();
  const random = new CryptoRandom();
  let storage: LmdbStorage;
  let metrics: NodeMetrics | undefined;
  try {
    storage = LmdbStorage.open(options.dataDir, { onSynced: (s) => metrics?.syncSeconds.observe(s) });
  } catch (err) {
    await tcp?.close();
    throw err;
  }
  // Founding voters come from the directory's first start, not from this one's peers.
  let bootstrap: RaftConfig | undefined;
  try {
    bootstrap = foundingConfig(storage, options.join ? { joined: true } : { voters });
  } catch (err) {
    await tcp?.close();
    await storage.close();
    throw err;
  }
  const events = new Subject<GreyEvent>();
  const traffic = { sent: 0, delivered: 0 };
  const roleListeners = new Set<(role: string, term: number, leader: string | null) => void>();
  try {
    node = makeNode();
  } catch (err) {
    // A bad option the node refused (raft timing, say): leave nothing open, so a corrected start can take the directory.
    await tcp?.close();
    await storage.close();
    throw err;
  }
  function makeNode(): ClusterNode {
    return new ClusterNode({
      id,
      clock,
      random,
      transport: {
        send: (to, type, payload) => {
          traffic.sent++;
          network.send(id, to, type, payload);
        },
      },
      storage,
      // A joining node knows no configuration: it learns it from the leader's log once it is added.
      bootstrap,
      raft: { ...REAL_RAFT, ...options.raft },
      handlers: registry,
      executor: { proofSigner },
      tasks: options.tasks,
      limits: options.limits,
      auditStore: LmdbAuditStore.of(storage),
      auditClock: { now: () => Date.now() }, // records dated on the calendar, readable after the process is gone
      ...(options.tls ? { security: realNodeSecurity(id, options.tls) } : {}),
      observer: { role: (role, term, leader) => roleListeners.forEach((l) => l(role, term, leader)) },
      ...(options.inspect ? { inspect: options.inspect } : {}),
      ...(tcp ? { principalOf: (from: string) => tcp.roleOf(from), tenantOf: (from: string) => tcp.tenantOf(from) } : {}),
    });
  }
  // A peer's connections all closed: Raft may fail over at once if it was the leader.
  const disconnects = tcp ? tcp.disconnects$.subscribe((peer) => node!.peerDisconnected(peer)) : null;
  let dropsAudited = new Map<string, number>();
  const inbox = network.inbox(id).subscribe((env) => {
    traffic.delivered++;
    // Node-to-node traffic from a node that is no member (and not joining through the handshake) is dropped and audited.
    const refused = tcp && tcp.roleOf(env.from) === 'node' && !JOIN_TYPES.has(env.type) ? nonMember(node!, env.from) : null;
    if (refused !== null) {
      const now = clock.now();
      const last = dropsAudited.get(env.from);
      if (last === undefined || now - last >= 1_000) {
        if (dropsAudited.size > 1_000) dropsAudited = new Map();
        dropsAudited.set(env.from, now);
        node!.audit.append({ kind: 'message', subject: env.from, outcome: 'dropped', reason: `Refused: ${refused}`, detail: { type: env.type, reason: 'Refused' } });
      }
      return;
    }
    node.handle(env.from, env.type, env.payload);
  });
  // A blocked node is cut off at once.
  if (tcp) node.onChanges((c) => {
    for (const m of c.members) if (m.status === 'blocked') tcp.disconnect(m.node);
  });
  metrics = new NodeMetrics(node, {
    get sent() {
      return traffic.sent;
    },
    get delivered() {
      return traffic.delivered;
    },
    get dropped() {
      return tcp?.stats.dropped ?? 0;
    },
    get connects() {
      return tcp?.stats.connects ?? 0;
    },
    get refused() {
      return tcp?.stats.refused ?? 0;
    },
    get linksOpen() {
      return tcp ? Object.values(tcp.linkStates()).filter((s) => s === 'open').length : 0;
    },
  });
  // Kept from the first index this node applies (after its snapshot), for watchers that resume.
  const history = options.api ? new EventHistory(node.raft.lastApplied + 1, options.api.history) : null;
  node.onChanges((c) => {
    for (const e of eventsOfChanges(c, (taskId) => node.state.task(taskId))) {
      history?.push(e);
      events.next(e);
    }
  });
  const firstStart = node.raft.log.lastIndex === 0 && node.raft.currentTerm === 0;
  node.start();
  // A new node over TLS asks to join itself, through the handshake (the operator still approves it).
  const seeds = voters.filter((v) => v !== id);
  const reachable = address && address.host !== '0.0.0.0' && address.host !== '::' ? `${address.host}:${address.port}` : undefined;
  const joined = options.join && options.tls && firstStart && seeds.length > 0 ? node.requestJoin(seeds, reachable) : null;
  const gateway = options.api ? new ApiGateway(node, clock) : null;
  let api: HttpApi | null = null;
  if (options.api) {
    try {
      api = await startHttpApi(
        {
          id,
          gateway: gateway!,
          history: history!,
          taskTenant: (taskId) => node.state.task(taskId)?.spec.tenant,
          status: () => ({ ...node.raft.status(), tasks: node.state.taskTable.size, workers: node.state.workers().length, running: node.executor?.held ?? 0 }),
          onRole: (l) => {
            roleListeners.add(l);
            return () => roleListeners.delete(l);
          },
        },
        { listen: options.api.listen, ...(options.tls ? { tls: options.tls } : {}) },
      );
    } catch (err) {
      // Undo the start: the node's address on the network is free again, its storage closed.
      node.stop();
      inbox.unsubscribe();
      disconnects?.unsubscribe();
      gateway?.close();
      await tcp?.close();
      await storage.close();
      throw err;
    }
  }
  const capacity = options.workerCapacity ?? DEFAULT_CAPACITY;
  if (capacity) node.forward({ op: 'registerWorker', worker: id, capacity });
  let stopping: Promise<void> | null = null;
  return {
    id,
    status: () => node.raft.status(),
    audit: node.audit,
    joined,
    events$: events.asObservable(),
    registerHandler: (type, handler, opts) => registry.register(type, handler, opts),
    address,
    api: api?.address ?? null,
    metrics,
    onRole: (listener) => {
      roleListeners.add(listener);
      return () => roleListeners.delete(listener);
    },
    onRefusal: (listener) => {
      const sub = tcp?.refusals$.subscribe((r) => listener(r.peer, r.reason, r));
      return () => sub?.unsubscribe();
    },
    handOver: async (withinMs = 3_000) => {
      const raft = node.raft;
      if (!raft.isLeader) return true;
      const deadline = clock.now() + withinMs;
      while (raft.isLeader && clock.now() < deadline) {
        const target = raft.config.voters.filter((v) => v !== id).sort((a, b) => (raft.progressOf(b)?.match ?? 0) - (raft.progressOf(a)?.match ?? 0))[0];
        if (target === undefined) return false;
        try {
          raft.transferLeadership(target);
        } catch {
          return !raft.isLeader;
        }
        // Wait for the role to change, or for this attempt to lapse (an election timeout).
        await new Promise<void>((resolve) => {
          const off = () => {
            roleListeners.delete(onChange);
            clearTimeout(t);
            resolve();
          };
          const onChange = () => {
            if (!raft.isLeader) off();
          };
          roleListeners.add(onChange);
          const t = setTimeout(off, Math.max(1, Math.min(deadline - clock.now(), 1_000)));
        });
      }
      return !raft.isLeader;
    },
    drain: async (withinMs = 10_000) => {
      const executor = node.executor;
      if (!executor) return { finished: 0, handedBack: 0 };
      const mine = () => node.state.tasks().filter((t) => t.worker === id && (t.status === 'assigned' || t.status === 'running')).length;
      const before = executor.busy;
      node.drainWorker();
      const deadline = Date.now() + withinMs;
      while (executor.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const handedBack = executor.busy;
      if (handedBack > 0) executor.handBack(`handed back: ${id} is shutting down`);
      // Until the cluster took them back: a stop now would drop the changes on their way.
      const settle = Date.now() + 1_000 + (handedBack > 0 ? 2_000 : 0);
      while (mine() > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
      return { finished: Math.max(0, before - handedBack), handedBack };
    },
    stop: () =>
      (stopping ??= (async () => {
        await api?.close();
        gateway?.close();
        inbox.unsubscribe();
        disconnects?.unsubscribe();
        node.stop();
        history?.complete();
        events.complete();
        await tcp?.close();
        await storage.close();
      })()),
  };
}

/** Every option {@link startNode} knows; anything else is a typo worth an error. */
const START_OPTION_KEYS: ReadonlySet<string> = new Set<keyof StartNodeOptions>(['id', 'peers', 'join', 'network', 'listen', 'tls', 'dataDir', 'handlers', 'workerCapacity', 'raft', 'tasks', 'limits', 'api', 'inspect', 'proofSigning']);

function checkStartOptions(o: StartNodeOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('startNode: options must be an object');
  if (typeof o.id !== 'string' || o.id.length === 0) throw new TypeError('startNode: id must be a non-empty string');
  if (typeof o.dataDir !== 'string' || o.dataDir.length === 0) throw new TypeError('startNode: dataDir must be a path');
  if (o.join !== undefined && typeof o.join !== 'boolean') throw new TypeError('startNode: join must be a boolean');
  for (const key of Object.keys(o)) if (!START_OPTION_KEYS.has(key)) throw new TypeError(`startNode: unknown option '${key}'; known: ${[...START_OPTION_KEYS].join(', ')}`);
  for (const key of Object.keys(o.raft ?? {})) if (!Object.hasOwn(DEFAULT_RAFT_OPTIONS, key)) throw new TypeError(`startNode: unknown option 'raft.${key}'; known: ${Object.keys(DEFAULT_RAFT_OPTIONS).join(', ')}`);
  checkTaskOptions('startNode', o.tasks);
  checkStateLimits('startNode', o.limits);
  checkRaftFlags('startNode', o.raft);
  if (o.workerCapacity !== false) checkWorkerCapacity('startNode', o.workerCapacity, false);
  if (o.proofSigning !== undefined && !PROOF_SIGNING_MODES.includes(o.proofSigning)) throw new TypeError(`startNode: proofSigning must be 'each', 'batch' or 'off', got ${String(o.proofSigning)}`);
  if (o.listen !== undefined) {
    if (o.network !== undefined) throw new TypeError('startNode: give network (in-process) or listen and tls (TCP), not both');
    if (!o.tls) throw new TypeError('startNode: listen needs tls (the node certificate, its key and the cluster CA)');
    parseAddress(o.listen, 'startNode: listen');
    if (o.peers === null || typeof o.peers !== 'object' || Array.isArray(o.peers)) throw new TypeError("startNode: over TCP, peers maps each node id to its host:port ({ n2: '10.0.0.2:7001', … })");
    for (const [peer, addr] of Object.entries(o.peers)) if (peer !== o.id) parseAddress(addr, `startNode: peer ${peer}`);
    return;
  }
  if (!Array.isArray(o.peers) || (o.peers.length === 0 && !o.join) || o.peers.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new TypeError('startNode: peers must be a non-empty list of node ids (the founding voters, this node included)');
  }
  if (!o.join && !o.peers.includes(o.id)) throw new RangeError(`startNode: peers must include the node itself ('${o.id}'); got ${o.peers.join(', ')}`);
  if (!o.network || typeof o.network.send !== 'function' || typeof o.network.inbox !== 'function') throw new TypeError('startNode: give network (a LocalNetwork), or listen and tls to run over TCP');
  if (o.network.inUse?.(o.id)) throw new AddressInUseError(o.id);
}

/** The node's proof signer: its TLS key (the one its certificate binds), unless signing is off or it has none. */
function proofSignerOf(o: StartNodeOptions): ProofSigner | undefined {
  const mode = o.proofSigning ?? 'batch';
  if (mode === 'off' || !o.tls) return undefined;
  return new ProofSigner(identityFromPrivateKey(o.id, o.tls.key), mode);
}

function withoutSelf(peers: Readonly<Record<string, string>>, id: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(peers)) if (k !== id) out[k] = v;
  return out;
}

/** Options of {@link connect}. */
export interface ConnectOptions extends Omit<ClientOptions, 'endpoints'> {
  /** The nodes to talk to (the client finds the leader among them): ids in-process, or ids → `host:port` over TCP. */
  endpoints: readonly string[] | Readonly<Record<string, string>>;
  /** In-process: the network the nodes share. Give this, or `tls` with addressed endpoints. */
  network?: LocalNetwork;
  /**
   * Over TCP: the client's certificate (binding `grey://client/<id>` or
   * `grey://operator/<id>`), key and the cluster CA. A client certificate
   * that binds a tenant (`grey://tenant/<t>`) makes the client act for that
   * tenant: `tenant` defaults to it (and may not name another), and the
   * nodes refuse it anything beyond that tenant's tasks.
   */
  tls?: TlsIdentity;
  /**
   * The client's id on the network (default: a random one in-process). Over
   * TCP: which name of its certificate to use (default its first client or
   * operator name); the network id is that name tagged, `name~<random>`.
   */
  id?: string;
}

/** A client of a real-mode cluster; `close()` ends its connections. */
export type RealClient = ClusterClient & { close(): Promise<void> };

/**
 * A client of a real-mode cluster, with the simulated client's API
 * (submit, submitTask, named reads, cancel, the key-value store). It knows
 * only what answers tell it; a task's events (`status$`, `result`) come
 * from reading its status until it is final (see {@link pollTask}).
 */
export function connect(options: ConnectOptions): RealClient {
  const { network: local, endpoints, id: givenId, tls: identity, ...clientOptions } = options ?? ({} as ConnectOptions);
  const ids = Array.isArray(endpoints) ? [...(endpoints as readonly string[])] : endpoints && typeof endpoints === 'object' ? Object.keys(endpoints) : [];
  if (ids.length === 0) throw new TypeError('connect: endpoints must name at least one node');
  const clock = new WallClock();
  let network: Pick<LocalNetwork, 'send' | 'inbox'>;
  let id: string;
  let tcp: TlsNetwork | null = null;
  if (identity) {
    if (Array.isArray(endpoints)) throw new TypeError("connect: over TCP, endpoints maps node ids to host:port ({ n1: '127.0.0.1:7001', … })");
    const bound = identitiesOf(identity.cert).find((i) => (i.role === 'client' || i.role === 'operator') && (givenId === undefined || i.name === givenId));
    if (!bound) {
      const binds = identitiesOf(identity.cert).map((i) => `${i.role}:${i.name}`).join(', ') || 'no Grey identity';
      throw new RangeError(`connect: the certificate binds no client or operator${givenId ? ` named '${givenId}'` : ''} (it binds ${binds}); a client connects with a client or operator certificate ('grey certs --clients NAME' or '--operators NAME'; 'grey cluster up' makes .grey/tls/admin)`);
    }
    // Tagged, so that two processes with one certificate (a watch and a submit, say) are two peers: a node
    // answers each on its own connection, and each numbers its requests in a session of its own.
    if (bound.role === 'client') {
      const bindsTenant = tenantOf(identity.cert);
      if (bindsTenant !== null) {
        if (clientOptions.tenant !== undefined && clientOptions.tenant !== bindsTenant) {
          throw new RangeError(`connect: the certificate binds tenant '${bindsTenant}'; this client cannot act for tenant '${clientOptions.tenant}'`);
        }
        clientOptions.tenant = bindsTenant;
      }
    }
    id = `${bound.name}~${Buffer.from(clock.random('connection').bytes(6)).toString('hex')}`;
    tcp = new TlsNetwork({ id, role: bound.role, tls: identity, peers: endpoints as Record<string, string> });
    network = tcp;
  } else {
    if (!local || typeof local.send !== 'function') throw new TypeError('connect: give network (a LocalNetwork), or tls with addressed endpoints');
    network = local;
    id = givenId ?? `client-${Buffer.from(clock.random('id').bytes(6)).toString('hex')}`;
    if (local.inUse?.(id)) throw new AddressInUseError(id);
  }
  let client: ClusterClient | null = null;
  const net: ClientNetwork = {
    kernel: clock,
    bus: network,
    trace: undefined,
    ids,
    watchTask: (taskId) => pollTask((t) => client!.queryAt('task', { taskId: t }), clock, taskId),
  };
  // A fresh session for each client: its request numbers start at 1, and a
  // session an earlier client of the same name used must not answer them.
  // (Over TCP the id is tagged already, one of a kind.)
  const session = clientOptions.session ?? (tcp ? id : `${id}~${Buffer.from(clock.random('session').bytes(6)).toString('hex')}`);
  client = new ClusterClient(net, id, { ...clientOptions, session, endpoints: ids });
  const real = client as RealClient;
  real.close = async () => {
    client!.detach(); // the id is free again on a LocalNetwork (close() is this function now)
    await tcp?.close();
  };
  return real;
}
