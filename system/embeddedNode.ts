import { Subject, type Observable } from 'rxjs';
import { ClusterNode } from '../actors/clusterNode.js';
import type { ClusterStateLimits } from '../actors/clusterState.js';
import type { RaftOptions, RaftStatus } from '../actors/raftNode.js';
import { HandlerRegistry, type TaskHandler } from '../actors/taskHandlers.js';
import type { TaskControllerOptions } from '../actors/taskController.js';
import { ClusterClient, type ClientNetwork, type ClientOptions } from './client.js';
import { taskEventOf, type GreyEvent } from './events.js';
import { LmdbStorage } from './lmdbStorage.js';
import type { LocalNetwork } from './localNetwork.js';
import { pollTask } from './taskPolling.js';
import { CryptoRandom, WallClock } from './wallClock.js';

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  /** This node's id: unique in the cluster, stable across restarts (its data directory belongs to it). */
  id: string;
  /** The founding voters, this node included: used only when the data directory is empty (a first start). */
  peers: readonly string[];
  /** How the nodes and clients of this process reach each other (sockets between processes come with the network transport). */
  network: LocalNetwork;
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
  /** Stops the node: timers, executions and messages; waits for its storage to close. The data directory keeps what was synced. */
  stop(): Promise<void>;
}

const DEFAULT_CAPACITY = { cpu: 8, memoryBytes: 16 * 2 ** 30 };

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
 */
export async function startNode(options: StartNodeOptions): Promise<GreyNode> {
  checkStartOptions(options);
  const { id, network } = options;
  const clock = new WallClock();
  const random = new CryptoRandom();
  const storage = LmdbStorage.open(options.dataDir);
  const registry = new HandlerRegistry();
  for (const [type, handler] of Object.entries(options.handlers ?? {})) registry.register(type, handler);
  const events = new Subject<GreyEvent>();
  const node = new ClusterNode({
    id,
    clock,
    random,
    transport: { send: (to, type, payload) => network.send(id, to, type, payload) },
    storage,
    bootstrap: { voters: [...options.peers], learners: [] },
    raft: { ...REAL_RAFT, ...options.raft },
    handlers: registry,
    tasks: options.tasks,
    limits: options.limits,
  });
  const inbox = network.inbox(id).subscribe((env) => node.handle(env.from, env.type, env.payload));
  node.onChanges((c) => {
    for (const t of c.tasks) {
      const e = taskEventOf(t, node.state.task(t.taskId));
      if (e) events.next(e);
    }
    for (const m of c.members) {
      const type = m.status === 'voter' || m.status === 'learner' ? 'node.joined' : m.status === 'removed' || m.status === 'blocked' ? 'node.left' : 'member.changed';
      events.next({ type, index: m.index, node: m.node, status: m.status });
    }
  });
  node.start();
  const capacity = options.workerCapacity ?? DEFAULT_CAPACITY;
  if (capacity) node.forward({ op: 'registerWorker', worker: id, capacity });
  let stopping: Promise<void> | null = null;
  return {
    id,
    status: () => node.raft.status(),
    events$: events.asObservable(),
    registerHandler: (type, handler, opts) => registry.register(type, handler, opts),
    stop: () =>
      (stopping ??= (async () => {
        inbox.unsubscribe();
        node.stop();
        events.complete();
        await storage.close();
      })()),
  };
}

function checkStartOptions(o: StartNodeOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('startNode: options must be an object');
  if (typeof o.id !== 'string' || o.id.length === 0) throw new TypeError('startNode: id must be a non-empty string');
  if (!Array.isArray(o.peers) || o.peers.length === 0 || o.peers.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new TypeError('startNode: peers must be a non-empty list of node ids (the founding voters, this node included)');
  }
  if (!o.peers.includes(o.id)) throw new RangeError(`startNode: peers must include the node itself ('${o.id}'); got ${o.peers.join(', ')}`);
  if (typeof o.dataDir !== 'string' || o.dataDir.length === 0) throw new TypeError('startNode: dataDir must be a path');
  if (!o.network || typeof o.network.send !== 'function' || typeof o.network.inbox !== 'function') throw new TypeError('startNode: network must be a LocalNetwork');
}

/** Options of {@link connect}. */
export interface ConnectOptions extends Omit<ClientOptions, 'endpoints'> {
  /** The node ids to talk to; the client finds the leader among them. */
  endpoints: readonly string[];
  /** How the client reaches them. */
  network: LocalNetwork;
  /** The client's id on the network (default: a random one). Two clients must not share one. */
  id?: string;
}

/**
 * A client of a real-mode cluster, with the simulated client's API
 * (submit, submitTask, named reads, cancel, the key-value store). It knows
 * only what answers tell it; a task's events (`status$`, `result`) come
 * from reading its status until it is final (see {@link pollTask}).
 */
export function connect(options: ConnectOptions): ClusterClient {
  const { network, endpoints, id: givenId, ...clientOptions } = options;
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw new TypeError('connect: endpoints must be a non-empty list of node ids');
  const clock = new WallClock();
  const id = givenId ?? `client-${Buffer.from(clock.random('id').bytes(6)).toString('hex')}`;
  let client: ClusterClient | null = null;
  const net: ClientNetwork = {
    kernel: clock,
    bus: network,
    trace: undefined,
    ids: endpoints,
    watchTask: (taskId) => pollTask((t) => client!.queryAt('task', { taskId: t }), clock, taskId),
  };
  client = new ClusterClient(net, id, { ...clientOptions, endpoints });
  return client;
}
