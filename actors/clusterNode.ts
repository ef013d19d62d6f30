import type { Clock, TimerHandle } from '../system/clock.js';
import type { RandomSource } from '../system/random.js';
import { ClusterState, sessionCommandsOf, type ApplyResult, type BatchCommand, type ClusterCommand, type ClusterStateLimits, type SessionCommand } from './clusterState.js';
import { RaftError, RaftNode, type ConfigChange, type RaftObserver, type RaftOptions } from './raftNode.js';
import type { LogDigests, LogEntry, RaftConfig } from './raftTypes.js';
import type { MemberStatus } from '../machines/membership.js';
import type { TaskTransition } from './taskTable.js';
import { Executor, type ExecutorOptions } from './executor.js';
import type { HandlerRegistry } from './taskHandlers.js';
import { TaskController, type TaskControllerOptions } from './taskController.js';
import { PeerHealth, type PeerHealthOptions } from './peerHealth.js';
import { RecoveryManager, type RecoveryOptions } from './recoveryManager.js';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { inspectorFor, TableInspection, type ChartInspector } from './chartInspection.js';
import { taskStepper } from '../machines/taskTable.js';
import { membershipStepper } from '../machines/membershipTable.js';
import { breakerAdmits, breakerIgnores, circuitBreaker, type BreakerInput } from '../machines/circuitBreaker.js';
import type { Storage } from './storage.js';
import { refusalOf, scopeCommand, scopeQuery, type Principal } from './commandAccess.js';
import { CLIENT_RELAY, CLIENT_RELAYED, CLIENT_REPLY, CLIENT_REQUEST, type ClientReply, type ClientRequest, type RelayedReply, type RelayedRequest } from './clientProtocol.js';
import { QueryError, runQuery } from './queries.js';
import { checkCommandSized, COMMAND_LIMITS, InvalidCommandError } from '../system/commandCheck.js';
import { AuditLog, type AuditStore } from './auditLog.js';
import { auditEventOf } from './tenantBook.js';
import { JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_HELLO, JOIN_RESULT, JoinAuthenticator, type JoinAuthenticatorDeps, type JoinAuthenticatorLimits, type JoinVerdict, type JoinTrust, type MemberIdentity } from './joinAuthenticator.js';
import { JoinRequester, type JoinCredentials, type JoinOutcome } from './joinRequester.js';
import type { JoinHandshakeInput } from '../machines/joinHandshake.js';

/** The outcome of a proposal made through a node. */
export type ProposeOutcome =
  | { ok: true; index: number; term: number; result: ApplyResult }
  /** Not applied: this node cannot take it (with a hint), or it was overwritten by another leader's entry. */
  | { ok: false; code: 'NotLeader' | 'TransferInProgress' | 'ProposalDropped' | 'Stopped' | 'Backpressure'; leaderHint: string | null; message: string };

/** Sends any message to a peer (Raft's and the node's own). */
export interface NodeTransport {
  send(to: string, type: string, payload: unknown): void;
}

/** A command forwarded to the leader by a node that is not the leader. */
interface ForwardRequest {
  id: number;
  command: SessionCommand;
}

/** The leader's answer: where it proposed the command, or why it could not. */
interface ForwardReply {
  id: number;
  /** The session the answered request was sent in: a late answer to a send from a forgotten session is not this one's. */
  client?: string;
  ok: boolean;
  index: number;
  term: number;
  leaderHint: string | null;
}

interface Forwarding {
  id: number;
  command: SessionCommand;
  /** The peer the last send went to, while its answer is awaited (the breaker call). */
  to: string | null;
  /** Where the leader put it, once it answered. */
  at: { index: number; term: number } | null;
  sentAt: number;
}

/** What one apply changed, for the executor, the scheduler, the trace and the event stream. */
export interface AppliedChanges {
  entry: LogEntry;
  tasks: TaskTransition[];
  members: Array<{ index: number; node: string; status: MemberStatus }>;
}

/** Dependencies of a cluster node: the Raft seams plus its incarnation. */
interface Proposing {
  term: number;
  done: Array<(outcome: ProposeOutcome) => void>;
}

interface BatchedRequest {
  command: SessionCommand;
  key: string | null;
  mine: Proposing;
}

/**
 * At most this many requests, and about this many bytes of them, in one
 * log entry: past either, the batch is proposed and a new one begins.
 */
export const MAX_REQUESTS_PER_ENTRY = 256;
export const MAX_BATCH_BYTES = COMMAND_LIMITS.maxCommandBytes;

export interface ClusterNodeDeps {
  id: string;
  clock: Clock;
  random: RandomSource;
  transport: NodeTransport;
  storage: Storage;
  bootstrap?: RaftConfig;
  raft?: Partial<RaftOptions>;
  observer?: RaftObserver;
  digests?: LogDigests;
  /** How often the leader reconciles membership with the Raft configuration (ms). */
  reconcileMs?: number;
  /** A learner within this many entries of the leader's commit index is caught up. */
  catchUpLag?: number;
  /** Resend a forwarded command that got no answer within this long (ms). */
  forwardRetryMs?: number;
  /** Bounds of the replicated state (sessions kept, answers per session, …). */
  limits?: Partial<ClusterStateLimits>;
  /** While outside the configuration, greet its voters this often (ms), so a leader can re-admit it. */
  helloMs?: number;
  /** Task handlers this node runs as a worker (none: it runs no tasks). */
  handlers?: HandlerRegistry;
  /** Options of the task controller the node runs while it leads. */
  tasks?: TaskControllerOptions;
  /** Options of this node's executor. */
  executor?: ExecutorOptions;
  /** How this node judges its peers (failure detectors, quarantine timings). */
  health?: PeerHealthOptions;
  /** Limits of the leader's recovery decisions. */
  recovery?: RecoveryOptions;
  /** Circuit breakers on this node's request/response links (forwarding to the leader). */
  breaker?: BreakerInput;
  /**
   * Who sent a client request, as the transport authenticated it (over
   * mutual TLS: the certificate's role). Absent (in-process, simulation):
   * every sender is trusted. An unknown sender counts as a client.
   */
  principalOf?: (from: string) => Principal | null;
  /**
   * The tenant a client's credential binds it to, or null (not bound): over
   * mutual TLS, the `grey://tenant/<t>` URI of its client certificate; in
   * the simulation, what `Cluster.bindTenant` set. A bound client's
   * requests are scoped to its tenant (see {@link ClusterNode.serveClient});
   * operators and nodes are never scoped.
   */
  tenantOf?: (from: string) => string | null;
  /**
   * An inspection observer fed from every chart of this node: the Raft
   * role, each follower's replication progress, each member, each task's
   * lifecycle (replicated, and each attempt run here), each peer's
   * quarantine and each circuit breaker. XState's event shapes, with the
   * node's id added.
   */
  inspect?: ChartInspector;
  /**
   * The session this incarnation forwards commands in (unique per
   * incarnation, since its request numbers restart at 1). Default: the node
   * id and random bytes from `random`.
   */
  sessionId?: string;
  /** Node security: how this node checks nodes that ask to join, and its own credentials to join with. */
  security?: NodeSecurity;
  /** Where this node's audit log keeps its records durably (real mode: the data directory); memory otherwise. */
  auditStore?: AuditStore;
  /** What the audit log dates its records by (default the node's clock; real mode: the calendar, ms since the epoch). */
  auditClock?: { now(): number };
}

/**
 * What a node needs to take part in authenticated joins: the checks it
 * runs on a node that asks to join (its certificate against the cluster
 * CA, its attestation evidence), and the credentials it presents itself.
 */
export interface NodeSecurity {
  /** Checks a presented certificate: expiry, signature, trusted issuer (revocation is added from the replicated state). */
  checkCertificate: JoinAuthenticatorDeps['checkCertificate'];
  verifyEvidence: JoinAuthenticatorDeps['verifyEvidence'];
  verifySignature: JoinAuthenticatorDeps['verifySignature'];
  limits?: Partial<JoinAuthenticatorLimits>;
  /** This node's certificate, key and evidence, to join a cluster it is not a member of. */
  credentials?: JoinCredentials;
  handshake?: Partial<JoinHandshakeInput>;
  /** The policy a founding member writes with the cluster's bootstrap entry. */
  policy?: { minTrust: JoinTrust; requireAuthenticatedJoin: boolean };
  /** The founding members' identities, recorded with the bootstrap entry (a later join under their names with another key is refused). */
  founders?: Record<string, MemberIdentity>;
}

/** The forwarding breaker's configuration unless a node is given one. */
export const DEFAULT_FORWARD_BREAKER: BreakerInput = Object.freeze({
  failureThreshold: 8,
  resetTimeoutMs: 1_000,
  halfOpenMaxCalls: 1,
  successThreshold: 1,
  windowSize: 20,
  minimumVolume: 10,
  failureRateThreshold: 0.5,
});

/** A circuit breaker's state change on one of this node's links. */
export interface BreakerChange {
  peer: string;
  link: 'forward';
  from: string;
  to: string;
  at: number;
}

/**
 * One Grey node: a Raft node applying committed entries to the replicated
 * {@link ClusterState}, plus what a node does on top when it leads:
 * reconciling the Raft configuration with the replicated membership, one
 * change at a time (approved → learner, caught up → voter, removed → out).
 */
export class ClusterNode {
  readonly id: string;
  /** What this node saw and decided that matters to security (joins, blocks, refused requests): hash-chained, append-only. */
  readonly audit: AuditLog;
  private readonly security: NodeSecurity | null;
  private readonly joinAuth: JoinAuthenticator | null = null;
  private joining: JoinRequester | null = null;
  readonly raft: RaftNode;
  readonly state: ClusterState;
  private readonly clock: Clock;
  private readonly waiters = new Map<number, Array<(entry: LogEntry, result: unknown) => void>>();
  /** Session requests proposed here and not yet applied, by `client#seq`: a repeat waits on the first. */
  private readonly proposing = new Map<string, Proposing>();
  /** Requests of this instant, folded into one entry when the instant's work is done (see {@link ClusterNode.propose}). */
  private batch: BatchedRequest[] = [];
  private batchBytes = 0;
  private batchTasks = 0;
  private batchTimer: TimerHandle | undefined;
  /** The longest requests are held for a free pipeline slot: a heartbeat interval. */
  private readonly holdLimitMs: number;
  private readonly reconcileMs: number;
  private readonly catchUpLag: number;
  private reconcileTimer: TimerHandle | undefined;
  /** Index of the bootstrap entry this leader proposed, while not yet applied. */
  private bootstrapAt = 0;
  /** Promotions proposed and not yet applied (node → index), so each is proposed once. */
  private readonly promoting = new Map<string, number>();
  private stopped = false;
  private readonly transport: NodeTransport;
  private readonly principalOf: ((from: string) => Principal | null) | undefined;
  private readonly tenantOf: ((from: string) => string | null) | undefined;
  private readonly relayListeners = new Set<(from: string, answer: RelayedReply) => void>();
  private actorInspect: ((event: InspectionEvent) => void) | null = null;
  private readonly forwardRetryMs: number;
  private forwardSeq = 0;
  /** The session forwarded commands are numbered in (a new one if the cluster forgets it). */
  private session: string;
  private sessionEpoch = 0;
  private readonly forwarding = new Map<number, Forwarding>();
  private forwardTimer: TimerHandle | undefined;
  private readonly helloMs: number;
  private helloTimer: TimerHandle | undefined;
  /** Since when this node has known no leader (null: it knows one). */
  private leaderLostAt: number | null = null;
  /** Listeners of what each apply changed (executor, task controller, cluster). */
  private readonly changeListeners: Array<(changes: AppliedChanges) => void> = [];
  /** Runs the tasks assigned to this node. */
  readonly executor: Executor | null;
  /** Drives the task pipeline while this node leads. */
  readonly tasks: TaskController;
  /** This node's own view of its peers' health. */
  readonly health: PeerHealth;
  /** Turns the leader's health verdicts into proposals. */
  readonly recovery: RecoveryManager;
  private readonly breakerInput: BreakerInput;
  private readonly breakers = new Map<string, Actor<typeof circuitBreaker>>();
  private readonly breakerListeners: Array<(c: BreakerChange) => void> = [];

  constructor(deps: ClusterNodeDeps) {
    this.id = deps.id;
    this.audit = new AuditLog({ node: deps.id, clock: deps.auditClock ?? deps.clock, ...(deps.auditStore ? { store: deps.auditStore } : {}) });
    this.security = deps.security ?? null;
    if (deps.security) {
      const sec = deps.security;
      this.joinAuth = new JoinAuthenticator(
        {
          clock: deps.clock,
          random: deps.random,
          checkCertificate: sec.checkCertificate,
          verifyEvidence: sec.verifyEvidence,
          verifySignature: sec.verifySignature,
          membership: {
            member: (name) => this.state.member(name),
            blocked: (name, fp) => this.state.blockedReason(name, fp),
            minTrust: () => this.state.securityPolicy.minTrust,
          },
          admit: (name, identity, address) => this.forward({ op: 'join', node: name, identity, ...(address !== undefined ? { address } : {}) }),
          onVerdict: (v) => this.auditJoin(v),
        },
        sec.limits,
      );
    }
    this.state = new ClusterState(deps.limits);
    // Refusals of tenants' requests (quota, rate, cross-tenant) go to this node's audit log.
    this.state.onDenial((d) => this.audit.append(auditEventOf(d)));
    this.clock = deps.clock;
    this.reconcileMs = deps.reconcileMs ?? 100;
    this.catchUpLag = deps.catchUpLag ?? 16;
    this.transport = deps.transport;
    this.principalOf = deps.principalOf;
    this.tenantOf = deps.tenantOf;
    this.forwardRetryMs = deps.forwardRetryMs ?? 300;
    this.helloMs = deps.helloMs ?? 500;
    this.session = deps.sessionId ?? `${deps.id}/${Buffer.from(deps.random.bytes(6)).toString('hex')}`;
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
      ...(deps.inspect ? { inspect: deps.inspect } : {}),
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
          if ((result as ApplyResult | undefined)?.ok === false && (result as { code?: string }).code === 'SessionExpired') this.sessionForgotten(entry);
          else this.forwardApplied(entry);
          this.executor?.applied(entry.index);
          const changes = this.state.takeChanges();
          for (const m of changes.members) this.auditMember(m.node, m.status, m.index);
          if (this.changeListeners.length > 0 && (changes.tasks.length > 0 || changes.members.length > 0)) {
            const applied: AppliedChanges = { entry, tasks: changes.tasks, members: changes.members };
            for (const l of this.changeListeners) l(applied);
          }
        },
        snapshot: (snapshot, cause) => {
          outer.snapshot?.(snapshot, cause);
          if (cause === 'install') this.executor?.restored();
        },
        config: (index, config) => {
          outer.config?.(index, config);
          if (this.health) this.expectPeers();
          this.armHello();
        },
        role: (role, term, leader) => {
          outer.role?.(role, term, leader);
          // Held requests cannot wait for a slot that will not come: refused now (not the leader any more).
          if (role !== 'leader' && this.batch.length > 0) this.proposeBatch();
          // At once, so the bootstrap entry goes out in the same batch as the leader's no-op.
          if (role === 'leader') this.reconcile();
          this.tasks?.onRole(role === 'leader');
          this.expectPeers();
          if (role === 'leader') this.recovery?.onLeadership();
          // A leader is known (again): send what waits for one now, not at the next retry.
          if (leader !== null) {
            this.leaderLostAt = null;
            for (const f of this.forwarding?.values() ?? []) if (!f.at) this.sendForward(f);
          } else {
            this.leaderLostAt ??= this.clock.now();
            this.armHello(); // a member that lost its leader may have been removed without hearing of it
          }
        },
      },
    });
    this.holdLimitMs = this.raft.options.heartbeatMs;
    this.raft.onAppendSlot = () => {
      if (this.batch.length > 0) this.proposeBatch();
    };
    this.health = new PeerHealth(deps.clock, deps.health);
    // Trips on half the last 20 calls failing, or on 8 failures in a row: a
    // link that loses a few percent of messages reports several timeouts in
    // one retry tick, and must not be cut off for it.
    this.breakerInput = deps.breaker ?? DEFAULT_FORWARD_BREAKER;
    this.tasks = new TaskController(this, deps.clock, deps.tasks);
    this.recovery = new RecoveryManager(this, deps.clock, deps.recovery);
    this.executor = deps.handlers ? new Executor(this, deps.clock, deps.random, deps.handlers, deps.executor) : null;
    if (deps.inspect) {
      const inspect = inspectorFor(this.id, deps.inspect);
      this.actorInspect = inspect;
      this.state.taskTable.inspection = new TableInspection(this.id, 'taskLifecycle', deps.inspect, taskStepper.finals);
      this.state.memberInspection = new TableInspection(this.id, 'membership', deps.inspect, membershipStepper.finals);
      this.health.inspect = inspect;
      if (this.executor) this.executor.inspect = inspect;
    }
  }

  start(): void {
    this.raft.start();
  }

  stop(): void {
    this.stopped = true;
    this.recovery.stop();
    this.health.stop();
    for (const b of this.breakers.values()) b.stop();
    this.tasks.stop();
    this.executor?.stop();
    this.raft.stop();
    this.joining?.stop();
    if (this.reconcileTimer !== undefined) this.clock.clearTimeout(this.reconcileTimer);
    if (this.forwardTimer !== undefined) this.clock.clearTimeout(this.forwardTimer);
    if (this.helloTimer !== undefined) this.clock.clearTimeout(this.helloTimer);
    if (this.batchTimer !== undefined) this.clock.clearTimeout(this.batchTimer);
    this.batch = [];
    this.waiters.clear();
    this.proposing.clear();
    this.forwarding.clear();
  }

  /**
   * The transport saw every connection to `peer` close (its process ended).
   * Raft uses it to fail over without waiting out an election timeout
   * ({@link RaftNode.peerDisconnected}).
   */
  peerDisconnected(peer: string): void {
    if (!this.stopped) this.raft.peerDisconnected(peer);
  }

  /**
   * Sends `client`'s request to node `to`, which serves it as if the client
   * had reached it (with the same principal and tenant): answers come to
   * {@link onRelayed} listeners.
   */
  relay(to: string, client: string, principal: RelayedRequest['principal'], request: ClientRequest, tenant?: string | null): void {
    if (!this.stopped) this.transport.send(to, CLIENT_RELAY, { client, principal, ...(typeof tenant === 'string' ? { tenant } : {}), request } satisfies RelayedRequest);
  }

  /** Subscribes to answers of relayed requests (`from` is the node that served it); returns the unsubscribe function. */
  onRelayed(listener: (from: string, answer: RelayedReply) => void): () => void {
    this.relayListeners.add(listener);
    return () => this.relayListeners.delete(listener);
  }

  /** Subscribes to what each applied entry changed; returns the unsubscribe function. */
  onChanges(listener: (changes: AppliedChanges) => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      const i = this.changeListeners.indexOf(listener);
      if (i >= 0) this.changeListeners.splice(i, 1);
    };
  }

  handle(from: string, type: string, payload: unknown): void {
    if (this.stopped) return;
    // The join handshake: non-members may send it; it is neither health nor Raft traffic.
    if (type === JOIN_HELLO || type === JOIN_EVIDENCE) return this.onJoinMessage(from, type, payload);
    if (type === JOIN_CHALLENGE || type === JOIN_RESULT) {
      this.joining?.handle(from, type, payload); // (unasked answers are dropped)
      return;
    }
    // Clients are not peers: they are neither judged for health nor greeted back into the configuration.
    if (type === CLIENT_REQUEST) return this.onClientRequest(from, payload as ClientRequest);
    if (type === CLIENT_RELAY) return this.onRelay(from, payload as RelayedRequest);
    if (type === CLIENT_RELAYED) {
      const answer = payload as RelayedReply;
      if (answer?.back === true) {
        if (typeof answer.client === 'string') this.transport.send(answer.client, CLIENT_REPLY, answer.reply);
      } else for (const l of this.relayListeners) l(from, answer);
      return;
    }
    this.health.observe(from);
    if (this.raft.isLeader && !this.raft.config.voters.includes(from) && !this.raft.config.learners.includes(from)) this.recovery.heardFromRemoved(from);
    if (type === 'grey.hello') return; // a node outside the configuration is alive: observed above
    if (type === 'grey.forward') this.onForward(from, payload as ForwardRequest);
    else if (type === 'grey.forwarded') this.onForwarded(payload as ForwardReply);
    else this.raft.handle(from, type, payload);
  }

  // ---------------------------------------------------------------- joining, authenticated

  /**
   * Asks to join the cluster through the join handshake, presenting this
   * node's credentials to `seeds` (members) in turn. Resolves once a member
   * accepted it into the approval workflow (an operator approves it next),
   * or with the refusal. `address` is where its peers reach it (real mode).
   */
  requestJoin(seeds: readonly string[], address?: string): Promise<JoinOutcome> {
    const credentials = this.security?.credentials;
    if (!credentials) return Promise.reject(new RangeError(`${this.id} has no credentials to join with (security.credentials)`));
    this.joining?.stop();
    const r = new JoinRequester({
      clock: this.clock,
      send: (to, type, payload) => {
        if (!this.stopped) this.transport.send(to, type, payload);
      },
      credentials,
      seeds,
      ...(address !== undefined ? { address } : {}),
      ...(this.security?.handshake ? { handshake: this.security.handshake } : {}),
      ...(this.actorInspect ? { inspect: this.actorInspect } : {}),
    });
    this.joining = r;
    void r.done.then((o) =>
      this.audit.append({ kind: 'join', subject: this.id, outcome: o.ok ? 'accepted' : 'rejected', reason: o.ok ? `admitted for approval (${o.trust} attestation)` : `${o.code}: ${o.reason}`, detail: { side: 'joiner' } }),
    );
    return r.start(this.id);
  }

  private onJoinMessage(from: string, type: string, payload: unknown): void {
    if (this.joinAuth === null) {
      this.transport.send(from, JOIN_RESULT, { ok: false, code: 'Unsupported', reason: `${this.id} does not authenticate joins (no security configured)` });
      return;
    }
    if (type === JOIN_HELLO) {
      const r = this.joinAuth.hello(from, payload);
      this.transport.send(from, 'nonce' in r ? JOIN_CHALLENGE : JOIN_RESULT, r);
    } else this.transport.send(from, JOIN_RESULT, this.joinAuth.evidence(from, payload));
  }

  private auditJoin(v: JoinVerdict): void {
    if (v.outcome === 'challenged') return; // the verdict that follows says what came of it
    this.audit.append({
      kind: 'join',
      subject: v.name ?? v.from,
      outcome: v.outcome === 'accepted' ? 'accepted' : 'rejected',
      reason: v.code ? `${v.code}: ${v.reason}` : v.reason,
      detail: { from: v.from, step: v.step, code: v.code, fingerprint: v.fingerprint },
    });
  }

  /** Membership changes applied here that matter to security go into the audit log. */
  private auditMember(node: string, status: MemberStatus, index: number): void {
    if (status === 'blocked') {
      const reason = this.state.member(node)?.context.reason;
      this.audit.append({ kind: 'block', subject: node, outcome: 'applied', reason: reason ?? 'blocked by an operator', detail: { index, fingerprint: this.state.member(node)?.identity?.fingerprint ?? null } });
    } else {
      this.audit.append({ kind: 'membership', subject: node, outcome: 'applied', reason: status, detail: { index } });
    }
  }

  // ---------------------------------------------------------------- forwarding to the leader

  /**
   * Gets a command into the log from any node, reliably: proposed here when
   * this node leads, otherwise forwarded to the leader, and sent again (to
   * whoever leads then) until it is applied at the index and term the leader
   * gave it. Forwarded commands carry this node's session, so a resend the
   * leader already applied is answered from the session, not applied again.
   */
  /**
   * Begins a graceful shutdown of this node's worker: the cluster assigns it
   * nothing more, tasks assigned and not started are handed back, attempts
   * running go on until they end or {@link Executor.handBack}.
   */
  drainWorker(): void {
    if (this.stopped) return;
    this.forward({ op: 'drainWorker', worker: this.id });
    this.executor?.drain();
  }

  forward(cmd: ClusterCommand): number {
    const id = ++this.forwardSeq;
    const f: Forwarding = { id, command: { client: this.session, seq: id, cmd }, at: null, sentAt: Number.NEGATIVE_INFINITY, to: null };
    this.forwarding.set(f.id, f);
    this.sendForward(f);
    this.armForwardTimer();
    return id;
  }

  /** Whether the command {@link ClusterNode.forward} numbered `id` is still on its way (not applied, or refused, yet). */
  forwardPending(id: number): boolean {
    return this.forwarding.has(id);
  }

  /**
   * The cluster forgot this node's session (evicted as least recently
   * used): the command that learnt it was not applied. Number what is
   * pending in a new session and send it again; task changes tolerate the
   * repeat (a change already made is refused as stale).
   */
  private sessionForgotten(entry: LogEntry): void {
    const sc = (entry.payload as { command?: SessionCommand }).command;
    if (sc?.client !== this.session) return;
    this.session = `${this.session.split('~')[0]}~${++this.sessionEpoch}`;
    for (const f of this.forwarding.values()) {
      f.command = { client: this.session, seq: f.id, cmd: f.command.cmd };
      this.sendForward(f);
    }
  }

  /** The session this node forwards commands in. */
  get sessionId(): string {
    return this.session;
  }

  /** Commands forwarded and not yet known applied. */
  get forwardsPending(): number {
    return this.forwarding.size;
  }

  private sendForward(f: Forwarding): void {
    if (f.to !== null) {
      // Moving on while a call is open (a new leader, say): that link did not
      // answer in time. Every admitted call must end, or a half-open
      // breaker would wait for its trial forever.
      this.breakers.get(f.to)?.send({ type: 'FAILURE' });
      f.to = null;
    }
    f.sentAt = this.clock.now();
    f.at = null;
    // Answers below the oldest command still pending may be forgotten.
    // (A Map iterates in insertion order: its first key is the oldest.)
    const lowest = this.forwarding.keys().next().value ?? f.id;
    f.command = { ...f.command, firstUnanswered: Math.min(lowest, f.id) };
    if (this.raft.isLeader) {
      try {
        f.at = this.raft.propose(f.command);
      } catch (err) {
        if (!(err instanceof RaftError)) throw err;
      }
      return;
    }
    const leader = this.raft.leader;
    if (leader === null || leader === this.id) return;
    // A leader that keeps not answering trips the breaker: fail fast (keep the
    // command queued) instead of piling requests onto it; half-open probes later.
    const breaker = this.breakerFor(leader);
    if (!breakerAdmits(breaker.getSnapshot())) return;
    if (!breakerIgnores(breaker.getSnapshot(), { type: 'CALL' })) breaker.send({ type: 'CALL' });
    f.to = leader;
    this.transport.send(leader, 'grey.forward', { id: f.id, command: f.command } satisfies ForwardRequest);
  }

  /** Subscribes to this node's circuit breaker changes; returns the unsubscribe function. */
  onBreaker(listener: (c: BreakerChange) => void): () => void {
    this.breakerListeners.push(listener);
    return () => this.breakerListeners.splice(this.breakerListeners.indexOf(listener), 1);
  }

  /** The state of each of this node's circuit breakers (metrics). */
  breakerStates(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [peer, b] of this.breakers) out[`forward:${peer}`] = b.getSnapshot().value as string;
    return out;
  }

  private breakerFor(peer: string): Actor<typeof circuitBreaker> {
    let b = this.breakers.get(peer);
    if (!b) {
      b = createActor(circuitBreaker, { clock: this.clock, id: `breaker(forward:${peer})`, input: this.breakerInput, ...(this.actorInspect ? { inspect: this.actorInspect } : {}) });
      let state = 'closed';
      b.subscribe((snap) => {
        const to = snap.value as string;
        if (to === state) return;
        const change: BreakerChange = { peer, link: 'forward', from: state, to, at: this.clock.now() };
        state = to;
        if (to === 'open') this.health.reportFailure(peer, 'forwarding breaker open');
        for (const l of [...this.breakerListeners]) l(change);
      });
      b.start();
      this.breakers.set(peer, b);
    }
    return b;
  }

  /**
   * A node outside the configuration hears from nobody: leaders replicate to
   * members only. So while it is out (removed while unreachable, say) it
   * greets the members it last knew, now and then; a leader that hears from
   * a node it removed as unreachable re-admits it through the learner path.
   * A node removed on purpose, blocked or rejected stays quiet. A learner
   * that knows no leader, and a voter that has known none for long, greet
   * too (see {@link ClusterNode.isOutside}).
   */
  private armHello(): void {
    if (this.stopped || this.helloTimer !== undefined || !(this.isOutside() || this.leaderLostAt !== null)) return;
    this.helloTimer = this.clock.setTimeout(() => {
      this.helloTimer = undefined;
      if (this.isOutside()) {
        const c = this.raft.config;
        for (const m of [...c.voters, ...c.learners]) if (m !== this.id) this.transport.send(m, 'grey.hello', {});
      }
      this.armHello();
    }, this.helloMs);
  }

  private isOutside(): boolean {
    const c = this.raft.config;
    if (c.voters.length === 0) return false;
    // A voter that has known no leader for many election timeouts may be one
    // only in its own log: removed while cut off, its pre-votes go to voters
    // that ignore them, and the leader, which may be a learner in its old
    // configuration, never hears from it. Greeting costs a member nothing.
    if (c.voters.includes(this.id)) return this.leaderLostAt !== null && this.clock.now() - this.leaderLostAt >= 4 * this.raft.options.electionTimeoutMax;
    // A learner that knows no leader may be one only in its own log: removed
    // by an entry it never received (a learner never speaks first).
    if (c.learners.includes(this.id)) return this.raft.leader === null;
    const me = this.state.member(this.id);
    if (me && (me.status === 'blocked' || me.status === 'rejected')) return false;
    return !(me?.status === 'removed' && me.context.reason !== 'unreachable');
  }

  /** The peers this node judges: a leader its members, a follower its leader. */
  private expectPeers(): void {
    if (this.stopped) return;
    const raft = this.raft;
    if (raft.isLeader) {
      const c = raft.config;
      this.health.expectOnly([...c.voters, ...c.learners].filter((p) => p !== this.id));
    } else {
      this.health.expectOnly(raft.leader && raft.leader !== this.id ? [raft.leader] : []);
    }
  }

  /**
   * A client's request, from across the network: a proposal (answered once
   * applied here) or a named query (answered after a ReadIndex round). The
   * command is checked again here, since a node cannot trust what arrives.
   */
  private onClientRequest(from: string, req: ClientRequest): void {
    const principal = this.principalOf ? (this.principalOf(from) ?? 'client') : null;
    const tenant = this.tenantOf?.(from) ?? null;
    // Over the network, a follower that knows the leader relays a client's
    // command or query to it, as etcd's members do: a client may know only
    // some nodes' addresses, and a NotLeader hint naming a node it cannot
    // reach would leave it stuck. (In the simulation every client knows
    // every node and follows hints itself.)
    const leader = this.raft.leader;
    if ((principal === 'client' || principal === 'operator') && (req?.kind === 'propose' || req?.kind === 'query') && !this.raft.isLeader && leader !== null && leader !== this.id) {
      this.transport.send(leader, CLIENT_RELAY, { client: from, principal, ...(tenant !== null ? { tenant } : {}), request: req, back: true } satisfies RelayedRequest);
      return;
    }
    this.serveClient(from, principal, req, (reply) => this.transport.send(from, CLIENT_REPLY, reply), tenant);
  }

  /**
   * A request another node relays for a client of its API. Only a node may
   * relay (a client cannot claim to speak for another), and it relays for
   * clients and operators only, never with a node's rights; a tenant-bound
   * client's tenant comes along and scopes the request here too.
   */
  private onRelay(from: string, relayed: RelayedRequest): void {
    if (this.principalOf && this.principalOf(from) !== 'node') return;
    const principal = relayed?.principal;
    if (typeof relayed?.client !== 'string' || relayed.client.length === 0) return;
    if (principal !== 'client' && principal !== 'operator' && !(principal === null && !this.principalOf)) return;
    const tenant = relayed.tenant;
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) return; // malformed: served with no scope would widen it
    const back = relayed.back === true;
    this.serveClient(
      relayed.client,
      principal,
      relayed.request,
      (reply) => this.transport.send(from, CLIENT_RELAYED, { client: relayed.client, reply, ...(back ? { back } : {}) } satisfies RelayedReply),
      tenant ?? null,
    );
  }

  /**
   * Serves a request of `client`, authenticated as `principal` (null: a
   * trusted caller in this process, nothing checked), answering through
   * `reply`. What the transport delivers, what another node relays and what
   * this node's own API gateway asks all come through here.
   *
   * `tenant`: the tenant the client's credential binds it to (null or
   * absent: none). A bound client (a `client` principal, or a trusted one in
   * the simulation; never an operator or a node) acts for that tenant only:
   * its commands and named reads are scoped to it ({@link scopeCommand},
   * {@link scopeQuery}), and one that names another tenant, or reaches the
   * key-value store or the cluster's administration, is refused
   * `Unauthorized` and recorded in the audit log (`crossTenant`). Reaching
   * another tenant's task by id is refused where the state is read or
   * changed, and recorded there.
   */
  serveClient(client: string, principal: Principal | null, req: ClientRequest, reply: (r: ClientReply) => void, tenant?: string | null): void {
    const from = client;
    const send = (r: ClientReply) => {
      if (!this.stopped) reply(r);
    };
    const rid = typeof req?.rid === 'number' ? req.rid : 0;
    const scope = (principal === 'client' || principal === null) && typeof tenant === 'string' ? tenant : null;
    const outOfScope = (op: string, code: 'Unauthorized' | 'InvalidQuery', reason: string) => {
      this.audit.append({ kind: 'crossTenant', subject: from, outcome: 'denied', reason: `${code}: ${reason}`, detail: { principal, tenant: scope, op } });
      send({ rid, ok: false, code, leaderHint: null, message: reason });
    };
    if (req?.kind === 'propose') {
      let command: SessionCommand;
      let bytes: number;
      try {
        const sc = req.command;
        if (sc === null || typeof sc !== 'object') throw new InvalidCommandError('$', 'a request must carry a session command');
        if (typeof sc.client !== 'string' || sc.client.length === 0) throw new InvalidCommandError('client', 'must be a non-empty string');
        if (!Number.isSafeInteger(sc.seq) || sc.seq! < 1) throw new InvalidCommandError('seq', 'must be a positive integer');
        if (sc.firstUnanswered !== undefined && (!Number.isSafeInteger(sc.firstUnanswered) || sc.firstUnanswered > sc.seq!)) {
          throw new InvalidCommandError('firstUnanswered', 'must be an integer no greater than seq');
        }
        const checked = checkCommandSized(sc.cmd, COMMAND_LIMITS, false); // decoded: already a private copy
        if (checked.cmd.op === 'submitTasks') {
          // The cluster's time, not the client's: a client's clock may be
          // off (or started at another time), and rate limits and queue
          // waits are computed from these times on every replica.
          const now = this.clock.now();
          for (const t of checked.cmd.tasks) t.submittedAt = now;
        }
        command = { client: sc.client, seq: sc.seq, firstUnanswered: sc.firstUnanswered, cmd: checked.cmd };
        bytes = checked.bytes;
        if (principal !== null) {
          const refused = refusalOf(principal, from, command);
          if (refused !== null) {
            this.audit.append({ kind: 'unauthorized', subject: from, outcome: 'denied', reason: refused, detail: { principal, op: command.cmd.op } });
            send({ rid, ok: false, code: 'Unauthorized', leaderHint: null, message: refused });
            return;
          }
        }
        if (scope !== null) {
          const scoped = scopeCommand(scope, command);
          if (!scoped.ok) return outOfScope(command.cmd.op, scoped.code, scoped.reason);
          command = scoped.value;
        }
      } catch (err) {
        if (!(err instanceof InvalidCommandError)) throw err;
        send({ rid, ok: false, code: 'InvalidCommand', leaderHint: null, message: err.message });
        return;
      }
      this.propose(
        command,
        (o) => {
          if (!o.ok) return send({ rid, ...o });
          const digest = this.raft.digestAt(o.index);
          send({ rid, ok: true, kind: 'propose', index: o.index, term: o.term, result: o.result, ...(digest ? { digest } : {}) });
        },
        bytes,
      );
    } else if (req?.kind === 'query') {
      let args = req.args;
      if (scope !== null) {
        const scoped = scopeQuery(scope, req.name, args);
        if (!scoped.ok) return outOfScope(`query:${String(req.name)}`, scoped.code, scoped.reason);
        args = scoped.value;
      }
      this.read(
        (s) => runQuery(s, req.name, args),
        (o) => send(o.ok ? { rid, ok: true, kind: 'query', index: o.index, value: o.value } : { rid, ...o }),
      );
    } else if (req?.kind === 'status') {
      send({ rid, ok: true, kind: 'status', value: { ...this.raft.status(), tasks: this.state.taskTable.size, workers: this.state.workers().length, running: this.executor?.held ?? 0 } });
    }
  }

  private onForward(from: string, req: ForwardRequest): void {
    let reply: ForwardReply;
    try {
      const at = this.raft.propose(req.command);
      reply = { id: req.id, client: req.command.client, ok: true, index: at.index, term: at.term, leaderHint: this.id };
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      reply = { id: req.id, client: req.command.client, ok: false, index: 0, term: 0, leaderHint: err.leaderHint };
    }
    this.transport.send(from, 'grey.forwarded', reply);
  }

  private onForwarded(reply: ForwardReply): void {
    const f = this.forwarding.get(reply.id);
    // A late answer to a send made before the cluster forgot this node's
    // session points at the entry that expired: taking it would settle the
    // command renumbered since, which may never have arrived.
    if (!f || (reply.client !== undefined && reply.client !== f.command.client)) return;
    if (f.to !== null) {
      const b = this.breakers.get(f.to);
      if (b && !breakerIgnores(b.getSnapshot(), { type: 'SUCCESS' })) b.send({ type: 'SUCCESS' });
      f.to = null;
    }
    if (reply.ok) {
      f.at = { index: reply.index, term: reply.term };
      this.checkForwardApplied(f);
    }
  }

  /**
   * One of this node's commands is in the log and applied here (as new, or
   * answered from the session): it is done. Dropped at once, so the
   * session's lowest unanswered request moves on and the cluster forgets
   * the answers below it. On a follower this is also the answer to the
   * forward: the leader got it, even if its reply was lost, so the open call
   * ends as a success. Otherwise a lost reply counted as a failure of a
   * working link, and with 5 % loss each way the retries of one lossy
   * stretch could open the breaker to a healthy leader, which then let one
   * trial through per reset timeout (seed 64 of the task sweep held a
   * worker's report back past the convergence window that way).
   */
  private forwardApplied(entry: LogEntry): void {
    if (this.forwarding.size === 0 || entry.payload.kind !== 'command') return;
    for (const sc of sessionCommandsOf(entry.payload.command)) {
      if (sc?.client !== this.session || sc.seq === undefined) continue;
      const f = this.forwarding.get(sc.seq);
      if (f === undefined) continue;
      if (f.to !== null) {
        const b = this.breakers.get(f.to);
        if (b && !breakerIgnores(b.getSnapshot(), { type: 'SUCCESS' })) b.send({ type: 'SUCCESS' });
        f.to = null;
      }
      this.forwarding.delete(f.id);
    }
  }

  private checkForwardApplied(f: Forwarding): void {
    if (!f.at || this.raft.lastApplied < f.at.index) return;
    const term = this.raft.log.term(f.at.index) ?? (this.raft.latestSnapshot && this.raft.latestSnapshot.index >= f.at.index ? f.at.term : undefined);
    if (term === f.at.term) this.forwarding.delete(f.id);
    else this.sendForward(f); // the leader lost it: try again
  }

  private armForwardTimer(): void {
    if (this.forwardTimer !== undefined || this.stopped) return;
    this.forwardTimer = this.clock.setTimeout(() => {
      this.forwardTimer = undefined;
      const now = this.clock.now();
      for (const f of [...this.forwarding.values()]) {
        this.checkForwardApplied(f);
        if (!this.forwarding.has(f.id)) continue;
        if (!f.at && now - f.sentAt >= this.forwardRetryMs) {
          this.sendForward(f); // no answer in time: a failure of the call, if one was open
        } else if (f.at && f.at.term < this.raft.currentTerm && this.raft.log.term(f.at.index) !== f.at.term) {
          // The leader that took it was deposed and our log does not hold its
          // entry: it may be lost for good (a new leader need never write
          // that index). Send it again; a repeat is refused as stale.
          this.sendForward(f);
        }
      }
      if (this.forwarding.size > 0) this.armForwardTimer();
    }, this.forwardRetryMs / 2);
  }

  /**
   * Proposes a command; `done` is called once it is applied here (with the
   * state machine's result), or at once when this node cannot take it. A
   * crash of this node means `done` is never called: the caller times out.
   *
   * The leader batches: requests proposed at one virtual instant (the
   * requests of many clients that arrive together) go into one log entry
   * ({@link BatchCommand}) once that instant's other work is done, up to
   * {@link MAX_REQUESTS_PER_ENTRY} requests and {@link MAX_BATCH_BYTES}.
   * One entry, one digest, one apply call per replica for all of them; no
   * request waits longer than it would have alone. `bytes` is the request's
   * size when known (as {@link checkCommandSized} measures it).
   */
  propose(command: SessionCommand, done: (outcome: ProposeOutcome) => void, bytes = 0): void {
    const cmd = command.cmd;
    // A client that heard nothing sends its request again: while the first
    // copy awaits its commit here, answer both from it instead of proposing twice.
    const key = command.client !== undefined && command.seq !== undefined ? `${command.client}#${command.seq}` : null;
    const waiting = key === null ? undefined : this.proposing.get(key);
    if (waiting && waiting.term === this.raft.currentTerm && this.raft.isLeader) {
      waiting.done.push(done);
      return;
    }
    if (cmd?.op === 'submitTasks' && this.raft.isLeader && this.tasks.wouldOverload(this.batchTasks + cmd.tasks.length)) {
      // Shed load before the leader is overloaded: refuse now, nothing was
      // accepted. Not a retry of a request the cluster already decided,
      // whose first copy may have been accepted: it goes on, and its session
      // answers it as the first time (it adds no task).
      if (!(command.client !== undefined && command.seq !== undefined && this.state.decided(command.client, command.seq))) {
        done({ ok: false, code: 'Backpressure', leaderHint: this.id, message: `the cluster has too many tasks waiting; ${cmd.tasks.length} more refused, retry later` });
        return;
      }
    }
    const refusal = this.raft.proposalRefusal();
    if (refusal !== null) {
      done(this.refusal(refusal));
      return;
    }
    const mine: Proposing = { term: this.raft.currentTerm, done: [done] };
    if (key !== null) this.proposing.set(key, mine);
    if (this.batch.length > 0 && (this.batch.length >= MAX_REQUESTS_PER_ENTRY || this.batchBytes + bytes > MAX_BATCH_BYTES)) this.proposeBatch();
    this.batch.push({ command, key, mine });
    this.batchBytes += bytes;
    if (cmd?.op === 'submitTasks') this.batchTasks += cmd.tasks.length;
    if (this.batchTimer !== undefined) return;
    // Every follower's pipeline full: nothing proposed now could leave before
    // an answer frees a slot, so hold the requests and propose them as one
    // entry then (RaftNode.onAppendSlot). Otherwise at the end of this
    // instant. The timer bounds the hold should no slot free (a leader that
    // is about to lose its followers).
    const holding = this.raft.replicationSaturated();
    this.batchTimer = this.clock.setTimeout(() => this.proposeBatch(), holding ? this.holdLimitMs : 0);
  }

  /** Proposes the requests batched so far as one entry (a single request as itself). */
  private proposeBatch(): void {
    if (this.batchTimer !== undefined) this.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const items = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.batchTasks = 0;
    if (items.length === 0 || this.stopped) return;
    const command: SessionCommand | BatchCommand = items.length === 1 ? items[0].command : { batch: items.map((r) => r.command) };
    let at: { index: number; term: number };
    try {
      at = this.raft.propose(command);
    } catch (err) {
      const refused = this.refusal(err);
      for (const r of items) this.answer(r, refused);
      return;
    }
    this.whenApplied(at.index, (entry, result) => {
      if (entry.term !== at.term) {
        const dropped: ProposeOutcome = { ok: false, code: 'ProposalDropped', leaderHint: this.raft.leader, message: `entry ${at.index} of term ${at.term} was replaced by term ${entry.term}` };
        for (const r of items) this.answer(r, dropped);
        return;
      }
      for (let i = 0; i < items.length; i++) {
        const one = items.length === 1 ? result : (result as ApplyResult[])[i];
        this.answer(items[i], { ok: true, index: at.index, term: at.term, result: one as ApplyResult });
      }
    });
  }

  private answer(r: BatchedRequest, outcome: ProposeOutcome): void {
    if (r.key !== null && this.proposing.get(r.key) === r.mine) this.proposing.delete(r.key);
    for (const d of r.mine.done) d(outcome);
  }

  /** Linearizable read of the replicated state (ReadIndex), applied here. */
  read<T>(
    query: (state: ClusterState) => T,
    done: (outcome: { ok: true; value: T; index: number } | Extract<ProposeOutcome, { ok: false }> | { ok: false; code: QueryError['code']; leaderHint: null; message: string }) => void,
  ): void {
    this.raft.readIndex((err, index) => {
      if (err) {
        done(this.refusal(err));
        return;
      }
      let value: T;
      try {
        value = query(this.state);
      } catch (e) {
        if (!(e instanceof QueryError)) throw e;
        done({ ok: false, code: e.code, leaderHint: null, message: e.message });
        return;
      }
      done({ ok: true, value, index });
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
    const sec = this.security;
    const cmd: ClusterCommand = {
      op: 'bootstrap',
      voters: [...voters],
      ...(sec?.policy ? { security: { ...sec.policy } } : {}),
      ...(sec?.founders ? { identities: structuredClone(sec.founders) } : {}),
    };
    this.bootstrapAt = this.raft.propose({ cmd }).index;
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
}
