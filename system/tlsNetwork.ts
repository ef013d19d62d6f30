import { randomBytes, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { Subject, type Observable } from 'rxjs';
import { createActor, type Actor } from 'xstate';
import { breakerAdmits, circuitBreaker, type BreakerInput, type BreakerState } from '../machines/circuitBreaker.js';
import { CLIENT_REQUEST } from '../actors/clientProtocol.js';
import { caBundleProblem, certificateValidityProblem, identitiesOf, tenantOf, tlsIdentityProblem, type CertificateRole, type TlsIdentity } from './certificates.js';
import { msgpackCodec, type Codec } from './codec.js';
import type { Envelope } from './envelope.js';
import { listenOn } from './listen.js';

/** The version of Grey's wire protocol, exchanged in the handshake; a peer speaking another is refused. */
export const PROTOCOL_VERSION = 1;

/** Options of a {@link TlsNetwork}. */
export interface TlsNetworkOptions {
  /**
   * This process's id on the network: a node id (`n1`), or a client's name,
   * optionally tagged (`app~3f9c`, see {@link certifiedName}) so that two
   * processes with one client certificate are two peers, each answered on
   * its own connection.
   */
  id: string;
  /** Which certificate identity `id` must be: `node` for nodes; clients present a `client` or `operator` certificate. */
  role: CertificateRole;
  /** Certificate, key and the cluster CA (PEM). */
  tls: TlsIdentity;
  /** Where to accept connections (`host:port`; port 0 picks a free one). Nodes listen; clients do not. */
  listen?: string;
  /** Addresses of the nodes this process may dial, by id (`{ n2: '10.0.0.2:7001' }`). */
  peers?: Record<string, string>;
  /**
   * The address (`host:port`) of a node not in `peers`, when known some
   * other way (a node: the membership record of a node added later), or
   * undefined. Asked at each dial, so a node that moved is dialed where it
   * is now; the certificate check still decides who the peer is.
   */
  resolvePeer?: (id: string) => string | undefined;
  codec?: Codec;
  /** Messages held per peer while it is unreachable (default 10 000); past it, new ones are dropped (Raft and clients resend). */
  maxQueuedMessages?: number;
  /** Bytes buffered per connection before new messages are dropped (default 16 MiB): backpressure. */
  maxBufferedBytes?: number;
  /** Largest frame accepted (default 64 MiB): a larger one closes the connection. */
  maxFrameBytes?: number;
  /** An accepted connection that has not completed its TLS handshake, or said its hello after it, within this long is closed (default 5 000 ms). */
  handshakeTimeoutMs?: number;
  /**
   * The circuit breaker of each link this process dials (Grey's breaker
   * chart): failed dials and handshakes trip it, and while it is open
   * messages to that peer are dropped at once rather than queued, until a
   * trial dial after `resetTimeoutMs` finds the peer again. Default: 3
   * failures in a row, 1 s open.
   */
  breaker?: BreakerInput;
  /**
   * Why an authenticated peer may not connect now, or null: asked once its
   * certificate checked out (a node: whether the cluster blocked it).
   */
  refusePeer?: (id: string, role: CertificateRole) => string | null;
}

/**
 * What kind of refusal a {@link Refusal} is, for code to act on (its
 * `reason` is for people, and its wording may change):
 * - `tls`: the TLS handshake failed (a certificate from another CA, say);
 * - `handshake-timeout`: no handshake within the time allowed;
 * - `protocol`: another wire protocol version, or a malformed handshake;
 * - `identity`: the certificate does not bind the id the peer claims (or that was dialed);
 * - `not-accepting`: a client process takes no connections;
 * - `blocked`: the cluster blocked the peer;
 * - `tenant`: a client's tenant binding conflicts with its open connection, or is malformed;
 * - `superseded`: another process runs as that node id, started later (two processes must not share one);
 * - `frame`: a frame over the size limit, or one that does not decode;
 * - `message`: a message a client may not send;
 * - `other`: a refusal by a peer that gave no code (a build before codes).
 */
export type ConnectionRefusalCode = 'tls' | 'handshake-timeout' | 'protocol' | 'identity' | 'not-accepting' | 'blocked' | 'tenant' | 'superseded' | 'frame' | 'message' | 'other';

const CONNECTION_REFUSAL_CODES: ReadonlySet<string> = new Set<ConnectionRefusalCode>(['tls', 'handshake-timeout', 'protocol', 'identity', 'not-accepting', 'blocked', 'tenant', 'superseded', 'frame', 'message', 'other']);

/** Why a connection was refused (see {@link TlsNetwork.refusals}). */
export interface Refusal {
  /** The peer's id, when known. */
  peer: string | null;
  /** Why, in words (for people: match on `code`, not on this). */
  reason: string;
  code: ConnectionRefusalCode;
  /** Whether the peer refused this process (its handshake answer said no), rather than this process the peer. */
  byPeer: boolean;
}


const HANDSHAKE_TIMEOUT_MS = 5_000;
/** What a peer without a node certificate may send: requests. Raft and forwarding between nodes need a node certificate. */
const CLIENT_MESSAGE_TYPES: ReadonlySet<string> = new Set([CLIENT_REQUEST]);
const BACKOFF_MIN_MS = 50;
/** An incarnation as the handshake carries it: the start time (ms, 16 digits) and a random part, so that comparing the strings orders them by start. */
const INCARNATION = /^\d{16}-[0-9a-f]{16}$/;
const LINK_BREAKER: BreakerInput = { failureThreshold: 3, resetTimeoutMs: 1_000, windowSize: 10, minimumVolume: 10, failureRateThreshold: 1 };
const BACKOFF_MAX_MS = 2_000;

/**
 * Grey's network between processes: TCP with mutual TLS 1.3. Every peer
 * presents a certificate from the cluster CA that binds its name
 * (`grey://node/n1`); a connection whose certificate does not bind the name
 * the peer claims, or that comes from another CA, is refused. Messages are
 * length-prefixed frames encoded with the wire codec; the sender of a
 * message is the authenticated peer of its connection, never a field it
 * wrote. The first frame each way is a handshake carrying the protocol
 * version.
 *
 * A message to a node with no connection is queued (bounded) while the
 * connection is dialed, again with exponential backoff while it fails.
 * Like the simulated network it may drop: past a queue bound, or while a
 * connection's send buffer is over its bound (backpressure). Raft and
 * clients resend what matters.
 */
export class TlsNetwork {
  private readonly codec: Codec;
  private readonly inboxSubject = new Subject<Envelope>();
  private readonly disconnectSubject = new Subject<string>();
  private readonly refusalSubject = new Subject<Refusal>();
  /** Open, authenticated connections by peer (either side may have dialed); messages go out on the first. */
  private readonly links = new Map<string, TLSSocket[]>();
  private readonly queues = new Map<string, Uint8Array[]>();
  private readonly dialing = new Map<string, { timer: ReturnType<typeof setTimeout> | null; backoff: number; active: boolean }>();
  private readonly breakers = new Map<string, Actor<typeof circuitBreaker>>();
  private readonly peers: Map<string, { host: string; port: number }>;
  private server: tls.Server | null = null;
  private closed = false;
  private seq = 0;
  private readonly origin = performance.now();
  private readonly maxQueued: number;
  private readonly maxBuffered: number;
  private readonly maxFrame: number;
  /** The role each connected peer's certificate binds for its name. */
  private readonly roles = new Map<string, CertificateRole>();
  /** The tenant each connected client's certificate binds, when it binds one. */
  private readonly tenants = new Map<string, string>();
  /** Refused connections, newest last (at most 100). */
  readonly refusals: Refusal[] = [];
  /** Why the last dial to each peer failed, until one succeeds (see {@link TlsNetwork.whyUnreachable}). */
  private readonly dialErrors = new Map<string, string>();
  /** Connections dialed and not yet a link (or failed): closing the network ends them too. */
  private readonly dials = new Set<TLSSocket>();
  /**
   * Accepted TCP connections until they close, links or not: `close()` ends
   * them all, those still in their TLS handshake or before their hello
   * too, which it would otherwise wait on (a server closes once its last
   * connection has) until their handshake timed out.
   */
  private readonly accepted = new Set<Socket>();
  /**
   * This process's incarnation, said in every handshake: when it started
   * (wall clock) and a random part. Two processes running with one node id
   * (a certificate copied to a second machine, a node started twice) would
   * each vote in its own right, and a term could elect two leaders. See
   * {@link TlsNetwork.admitIncarnation} for what a peer does about it.
   */
  readonly incarnation = `${String(Date.now()).padStart(16, '0')}-${randomBytes(8).toString('hex')}`;
  /** The incarnation each node link was opened with. */
  private readonly linkIncarnations = new WeakMap<TLSSocket, string>();
  readonly stats = { sent: 0, delivered: 0, dropped: 0, connects: 0, refused: 0 };

  constructor(private readonly options: TlsNetworkOptions) {
    if (!options || typeof options.id !== 'string' || options.id.length === 0) throw new TypeError('TlsNetwork: id must be a non-empty string');
    if (!options.tls?.cert || !options.tls?.key || !options.tls?.ca) throw new TypeError('TlsNetwork: tls needs cert, key and ca (PEM)');
    // Unreadable files, or a key not the certificate's, first; the CA's problems after its dates (the more telling).
    const files = tlsIdentityProblem(options.tls);
    const fileProblem = () => new RangeError(`TlsNetwork: the ${{ cert: 'certificate', key: 'private key', ca: 'CA bundle' }[files!.file]} ${files!.problem}`);
    if (files !== null && files.file !== 'ca') throw fileProblem();
    const own = identitiesOf(options.tls.cert);
    const name = options.role === 'node' ? options.id : certifiedName(options.id);
    if (!own.some((i) => i.role === options.role && i.name === name)) {
      throw new RangeError(`TlsNetwork: the certificate binds ${own.map((i) => `${i.role}:${i.name}`).join(', ') || 'no Grey identity'}, not ${options.role}:${options.id}`);
    }
    // An expired certificate (or CA) would only show as handshakes failing with a bare alert: refuse it here, plainly.
    const ownProblem = certificateValidityProblem(options.tls.cert);
    if (ownProblem !== null) throw new RangeError(`TlsNetwork: the certificate for ${options.role}:${name} is ${ownProblem}; issue a new one ('grey certs')`);
    let caProblem: string | null;
    try {
      caProblem = caBundleProblem(options.tls.ca);
    } catch (err) {
      throw new RangeError(`TlsNetwork: the cluster CA: ${(err as Error).message}`);
    }
    if (caProblem !== null) throw new RangeError(`TlsNetwork: the cluster CA certificate is ${caProblem}; every certificate it issued fails with it`);
    if (files !== null) throw fileProblem();
    this.codec = options.codec ?? msgpackCodec;
    this.peers = new Map(Object.entries(options.peers ?? {}).map(([id, addr]) => [id, parseAddress(addr, `peer ${id}`)]));
    this.maxQueued = options.maxQueuedMessages ?? 10_000;
    this.maxBuffered = options.maxBufferedBytes ?? 16 * 2 ** 20;
    this.maxFrame = options.maxFrameBytes ?? 64 * 2 ** 20;
  }

  /**
   * Why this process cannot reach `peer`, as far as it knows: the error of
   * its last failed dial (a refused connection, a certificate the peer
   * rejected), or null once a dial succeeds or none failed. Clients add it
   * to a timeout's message, so a certificate problem does not read as a
   * node that is down.
   */
  whyUnreachable(peer: string): string | null {
    return this.dialErrors.get(peer) ?? null;
  }

  /** The state of each dialed link's circuit breaker (`closed`, `open`, `halfOpen`), by peer. */
  linkStates(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [peer, b] of this.breakers) out[peer] = b.getSnapshot().value as BreakerState;
    return out;
  }

  private breakerOf(peer: string): Actor<typeof circuitBreaker> {
    let b = this.breakers.get(peer);
    if (!b) {
      b = createActor(circuitBreaker, { id: `breaker(link:${peer})`, input: { ...LINK_BREAKER, ...this.options.breaker } });
      let last: BreakerState = 'closed';
      b.subscribe((snap) => {
        const now = snap.value as BreakerState;
        if (now === last) return;
        last = now;
        // Tripped: what waits for the peer is stale by the time it answers again (Raft and clients resend).
        if (now === 'open') {
          this.stats.dropped += this.queues.get(peer)?.length ?? 0;
          this.queues.delete(peer);
        }
      });
      b.start();
      this.breakers.set(peer, b);
    }
    return b;
  }

  get id(): string {
    return this.options.id;
  }

  /** The role of a connected peer, as its certificate binds it (`node` over `operator` over `client`), or null when unknown. */
  roleOf(peer: string): CertificateRole | null {
    return this.roles.get(peer) ?? null;
  }

  /** The tenant a connected client's certificate binds (`grey://tenant/<t>`), or null: none, or not a client. */
  tenantOf(peer: string): string | null {
    return this.roles.get(peer) === 'client' ? (this.tenants.get(peer) ?? null) : null;
  }

  /** Starts listening (when `listen` is set); resolves with the address bound. */
  async start(): Promise<{ host: string; port: number } | null> {
    if (!this.options.listen) return null;
    const { host, port } = parseAddress(this.options.listen, 'listen');
    // A connection that has not finished its handshake within the timeout is
    // closed: Node reports it (tlsClientError) but leaves the socket open, and
    // idle unauthenticated connections would hold file descriptors for good.
    const server = tls.createServer({ ...this.tlsOptions(), requestCert: true, rejectUnauthorized: true, handshakeTimeout: this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS }, (socket) => this.onAccepted(socket));
    server.on('connection', (raw: Socket) => {
      if (this.closed) return void raw.destroy();
      this.accepted.add(raw);
      raw.once('close', () => this.accepted.delete(raw));
    });
    server.on('tlsClientError', (err, socket) => {
      this.refuse(null, `TLS handshake: ${err.message}`, 'tls');
      socket.destroy();
    });
    this.server = server;
    return listenOn(server, host, port);
  }

  /** The messages delivered to this process's id. */
  inbox<P = unknown>(id: string): Observable<Envelope<P>> {
    if (id !== this.options.id) throw new RangeError(`TlsNetwork of ${this.options.id} has no inbox for ${id}`);
    return this.inboxSubject.asObservable() as Observable<Envelope<P>>;
  }

  /** Each connection refused, either way: by this process (a peer it would not take) or by the peer (`handshake refused by …`). */
  get refusals$(): Observable<Refusal> {
    return this.refusalSubject.asObservable();
  }

  /**
   * A peer each time its last open connection closes: its process ended, or
   * its host reset the connections (a partition or lost packets close
   * nothing, so they never show here); and each time a later-started
   * process of the node replaces the links of the one before (a restart
   * found first by the new process's link). The Raft node uses it to fail
   * over without waiting out an election timeout.
   */
  get disconnects$(): Observable<string> {
    return this.disconnectSubject.asObservable();
  }

  /** Sends `payload` to `to` (a TypeError at once for a payload outside the wire's domain). */
  send<P>(from: string, to: string, type: string, payload: P): void {
    if (from !== this.options.id) throw new RangeError(`TlsNetwork of ${this.options.id} cannot send as ${from}`);
    if (this.closed) return;
    const frame = frameOf(this.codec.encode({ t: type, p: payload }));
    this.stats.sent++;
    const link = this.links.get(to)?.[0];
    if (link) {
      this.write(link, frame);
      return;
    }
    if (this.addressOf(to) === null) {
      this.stats.dropped++; // a client that is gone: nowhere to send
      return;
    }
    if (!this.dialing.get(to)?.active && !breakerAdmits(this.breakerOf(to).getSnapshot())) {
      this.stats.dropped++; // the link's breaker is open: fail fast
      return;
    }
    let q = this.queues.get(to);
    if (!q) this.queues.set(to, (q = []));
    if (q.length >= this.maxQueued) {
      this.stats.dropped++;
      return;
    }
    q.push(frame);
    this.dial(to);
  }

  /** Closes every connection with `peer` at once (it was blocked, say); it may dial again, and is asked {@link TlsNetworkOptions.refusePeer}. */
  disconnect(peer: string): void {
    for (const socket of this.links.get(peer) ?? []) socket.destroy();
    this.links.delete(peer);
    this.queues.delete(peer);
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.dialing.values()) if (d.timer) clearTimeout(d.timer);
    for (const b of this.breakers.values()) b.stop();
    for (const socket of this.dials) socket.destroy();
    this.dials.clear();
    for (const socket of this.accepted) socket.destroy();
    this.accepted.clear();
    for (const list of this.links.values()) for (const socket of list) socket.destroy();
    this.links.clear();
    this.inboxSubject.complete();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private tlsOptions(): { cert: string; key: string; ca: string; minVersion: 'TLSv1.3' } {
    return { cert: this.options.tls.cert, key: this.options.tls.key, ca: this.options.tls.ca, minVersion: 'TLSv1.3' };
  }

  private write(socket: TLSSocket, frame: Uint8Array): void {
    if (socket.writableLength > this.maxBuffered) {
      this.stats.dropped++;
      return;
    }
    // Frames written in one tick leave as one TLS record and one system call (TLS encrypts a corked batch as one buffer):
    // a leader's appends, answers and heartbeats of an instant cost one write, not one each.
    if (socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    socket.write(frame);
  }

  // ------------------------------------------------------------ dialing

  private dial(peer: string): void {
    let d = this.dialing.get(peer);
    if (!d) this.dialing.set(peer, (d = { timer: null, backoff: BACKOFF_MIN_MS, active: false }));
    if (d.active || d.timer !== null || this.closed) return;
    const addr = this.addressOf(peer);
    if (addr === null) {
      // No longer known (its record went away): what was queued for it goes nowhere.
      this.stats.dropped += this.queues.get(peer)?.length ?? 0;
      this.queues.delete(peer);
      return;
    }
    const breaker = this.breakerOf(peer);
    if (!breakerAdmits(breaker.getSnapshot())) return; // open: no dial until its trial
    breaker.send({ type: 'CALL' });
    const dial = d;
    dial.active = true;
    const socket = tls.connect({ ...this.tlsOptions(), host: addr.host, port: addr.port, servername: isIp(addr.host) ? undefined : addr.host, checkServerIdentity: () => undefined });
    this.dials.add(socket);
    let settled = false;
    const fail = (reason: string) => {
      socket.destroy();
      this.dials.delete(socket);
      if (settled || this.closed) return; // (closed: its breaker is stopped, and nothing is redialled)
      settled = true;
      dial.active = false;
      this.dialErrors.set(peer, reason);
      breaker.send({ type: 'FAILURE' });
      this.retry(peer, reason);
    };
    socket.once('error', (err) => fail(err.message));
    socket.once('close', () => fail('closed'));
    socket.once('secureConnect', () => {
      // The peer must be the node we dialed: its certificate binds node:<peer>.
      const reason = this.checkPeer(socket, 'node', peer);
      if (reason) {
        this.refuse(peer, reason, 'identity');
        fail(reason);
        return;
      }
      socket.write(frameOf(this.codec.encode({ grey: PROTOCOL_VERSION, id: this.options.id, inc: this.incarnation })));
      this.readFrames(socket, (first) => {
        if (this.closed) {
          fail('closed'); // an answer that came as the network closed: no link is opened
          return null;
        }
        const ack = first as { ok?: unknown; grey?: unknown; error?: unknown; code?: unknown; inc?: unknown };
        if (ack?.ok !== true || ack.grey !== PROTOCOL_VERSION) {
          const said = typeof ack?.error === 'string';
          const why = `handshake refused by ${peer}: ${said ? ack.error : `protocol ${String(ack?.grey)}`}`;
          const code: ConnectionRefusalCode = typeof ack?.code === 'string' && CONNECTION_REFUSAL_CODES.has(ack.code) ? (ack.code as ConnectionRefusalCode) : said ? 'other' : 'protocol';
          this.refuse(peer, why, code, true);
          fail(why);
          return null;
        }
        const replaced = this.admitIncarnation(peer, ack.inc, socket);
        if (replaced !== null) {
          this.refuse(peer, replaced, 'superseded');
          fail(replaced);
          return null;
        }
        this.dials.delete(socket);
        settled = true;
        dial.active = false;
        dial.backoff = BACKOFF_MIN_MS;
        this.dialErrors.delete(peer);
        breaker.send({ type: 'SUCCESS' });
        this.roles.set(peer, 'node');
        this.attach(peer, socket);
        return { peer, node: true }; // checked at secureConnect: its certificate binds node:<peer>
      });
    });
  }

  /** Where to dial `peer`: its configured address, else the one {@link TlsNetworkOptions.resolvePeer} knows, else null. */
  private addressOf(peer: string): { host: string; port: number } | null {
    const configured = this.peers.get(peer);
    if (configured) return configured;
    const learned = this.options.resolvePeer?.(peer);
    if (learned === undefined) return null;
    try {
      return parseAddress(learned, `peer ${peer}`);
    } catch {
      return null; // a malformed address in a record: as if none
    }
  }

  private retry(peer: string, _reason: string): void {
    const d = this.dialing.get(peer)!;
    if (this.closed || (this.links.get(peer)?.length ?? 0) > 0 || (this.queues.get(peer)?.length ?? 0) === 0) return;
    if (!breakerAdmits(this.breakerOf(peer).getSnapshot())) return; // open: the next send after its timeout dials
    const wait = d.backoff * (0.5 + Math.random() * 0.5); // jitter: reconnect storms spread out
    d.backoff = Math.min(BACKOFF_MAX_MS, d.backoff * 2);
    d.timer = setTimeout(() => {
      d.timer = null;
      this.dial(peer);
    }, wait);
  }

  // ------------------------------------------------------------ accepting

  private onAccepted(socket: TLSSocket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.refuse(null, 'no handshake in time', 'handshake-timeout');
      socket.destroy();
    }, this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.on('error', () => socket.destroy());
    this.readFrames(socket, (first) => {
      clearTimeout(timer);
      const hello = first as { grey?: unknown; id?: unknown; inc?: unknown };
      const id = typeof hello?.id === 'string' ? hello.id : null;
      let reason: string | null = null;
      let code: ConnectionRefusalCode = 'protocol';
      if (hello?.grey !== PROTOCOL_VERSION) reason = `protocol version ${String(hello?.grey)}, this node speaks ${PROTOCOL_VERSION}`;
      else if (id === null) reason = 'no id in the handshake';
      else {
        code = 'identity';
        if (id !== certifiedName(id)) {
          // A tagged client id: its certificate must bind the name before the tag, as a client or an operator (never a node).
          const name = certifiedName(id);
          reason = this.checkPeer(socket, 'operator', name) === null ? null : this.checkPeer(socket, 'client', name);
        } else reason = this.checkPeer(socket, null, id);
      }
      if (reason === null && this.options.role !== 'node') [reason, code] = ['a client accepts no connections', 'not-accepting'];
      const node = reason === null && this.checkPeer(socket, 'node', id!) === null;
      if (reason === null) {
        const ids = identitiesOf(socket.getPeerX509Certificate() as X509Certificate);
        const name = certifiedName(id!);
        const role = (['node', 'operator', 'client'] as const).find((r) => (r !== 'node' || name === id) && ids.some((i) => i.role === r && i.name === name));
        if (role) this.roles.set(id!, role);
        if (role) [reason, code] = [this.options.refusePeer?.(id!, role) ?? null, 'blocked'];
        if (reason === null && role === 'client') {
          code = 'tenant';
          try {
            const tenant = tenantOf(socket.getPeerX509Certificate() as X509Certificate);
            const known = this.tenants.get(id!) ?? null;
            // Messages carry the peer id only: while it has a connection open, another may not change its tenant.
            if (this.links.has(id!) && known !== tenant) reason = `${id} is connected already, bound to ${known === null ? 'no tenant' : `tenant '${known}'`}`;
            else if (tenant === null) this.tenants.delete(id!);
            else this.tenants.set(id!, tenant);
          } catch (e) {
            reason = (e as Error).message;
          }
        }
      }
      // Last, once nothing else refuses it: a new incarnation closes the links of the one before.
      if (reason === null && node) [reason, code] = [this.admitIncarnation(id!, hello.inc, socket), 'superseded'];
      if (reason !== null) {
        this.refuse(id, reason, code);
        socket.end(frameOf(this.codec.encode({ ok: false, grey: PROTOCOL_VERSION, error: reason, code })));
        return null;
      }
      socket.write(frameOf(this.codec.encode({ ok: true, grey: PROTOCOL_VERSION, id: this.options.id, inc: this.incarnation })));
      this.attach(id!, socket);
      return { peer: id!, node };
    });
  }

  /**
   * Why node `peer`, met on `socket` as incarnation `inc`, is refused, or
   * null (and the link is recorded as that incarnation's). Of the
   * incarnations of one node with a link open here, the latest started
   * wins: a newer one closes the links of older ones, and an older one is
   * refused while a newer one is connected. Every peer orders incarnations
   * the same way, whatever order they connect in, so once both are
   * connected to a peer it talks to the same one as every other peer. A
   * restarted node is newer than its former process (whose half-open
   * links it closes); a second process running with a node's id is
   * refused wherever the later-started one is connected. A peer that says
   * no incarnation (a build before it) is not checked, and its links count
   * as older than any incarnation.
   */
  private admitIncarnation(peer: string, inc: unknown, socket: TLSSocket): string | null {
    if (typeof inc !== 'string' || !INCARNATION.test(inc)) return null;
    const live = this.links.get(peer) ?? [];
    for (const other of live) {
      const o = this.linkIncarnations.get(other);
      if (o !== undefined && o > inc) {
        return `another process runs as ${peer}, started later (incarnation ${o}, connected here; this one is ${inc}): two processes must not share a node id. If ${peer} restarted, this is its former process`;
      }
    }
    // Older: a smaller incarnation, or none (a link made before the peer said one: a build before it, since replaced).
    const older = live.filter((other) => {
      const o = this.linkIncarnations.get(other);
      return o === undefined || o < inc;
    });
    if (older.length > 0) {
      // Out of the list now: a destroyed socket leaves it only at its close event, and frames written to it meanwhile are lost.
      const kept = live.filter((other) => !older.includes(other));
      if (kept.length > 0) this.links.set(peer, kept);
      else this.links.delete(peer);
      for (const other of older) other.destroy();
      // That process is gone as far as this one is concerned (its links here are), though a link
      // of the node's stays: said as a disconnect, so that a follower whose leader it was fails over early.
      if (!this.closed) this.disconnectSubject.next(peer);
    }
    this.linkIncarnations.set(socket, inc);
    return null;
  }

  /** Why `socket`'s peer may not be `name` (its certificate must bind it, in `role` or, for an inbound peer, any role), or null. */
  private checkPeer(socket: TLSSocket, role: CertificateRole | null, name: string): string | null {
    if (!socket.authorized) return `certificate not trusted: ${String(socket.authorizationError)}`;
    const cert = socket.getPeerX509Certificate() as X509Certificate | undefined;
    if (!cert) return 'no certificate';
    const ids = identitiesOf(cert);
    const ok = ids.some((i) => i.name === name && (role === null || i.role === role));
    return ok ? null : `certificate binds ${ids.map((i) => `${i.role}:${i.name}`).join(', ') || 'no Grey identity'}, not ${role ?? 'any'}:${name}`;
  }

  private refuse(peer: string | null, reason: string, code: ConnectionRefusalCode, byPeer = false): void {
    this.stats.refused++;
    const refusal: Refusal = { peer, reason, code, byPeer };
    this.refusals.push(refusal);
    if (this.refusals.length > 100) this.refusals.shift();
    if (!this.closed) this.refusalSubject.next(refusal);
  }

  // ------------------------------------------------------------ links

  private attach(peer: string, socket: TLSSocket): void {
    let list = this.links.get(peer);
    if (!list) this.links.set(peer, (list = []));
    list.push(socket);
    this.stats.connects++;
    // A live link, dialed or accepted, shows the peer is there: its breaker closes.
    const b = this.breakers.get(peer);
    if (b && b.getSnapshot().value !== 'closed') b.send({ type: 'RESET' });
    socket.setNoDelay(true);
    // A peer whose host died leaves a link open here until a write to it fails, which TCP may take many
    // minutes to decide while nothing is written: probes after 10 s of silence find it dead sooner.
    socket.setKeepAlive(true, 10_000);
    socket.on('close', () => {
      const l = this.links.get(peer);
      if (!l) return;
      const i = l.indexOf(socket);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) {
        this.links.delete(peer);
        if (!this.closed) this.disconnectSubject.next(peer);
      }
    });
    socket.on('error', () => socket.destroy());
    const q = this.queues.get(peer);
    if (q) {
      this.queues.delete(peer);
      for (const f of q) this.write(list[0], f);
    }
  }

  /**
   * Reads length-prefixed frames from `socket`. The first goes to
   * `onFirst` (the handshake), which returns the authenticated peer, or
   * null to stop; the rest are messages from that peer.
   */
  private readFrames(socket: TLSSocket, onFirst: (value: unknown) => { peer: string; node: boolean } | null): void {
    let buffer: Buffer = Buffer.alloc(0);
    // The chunks of a frame not yet whole, joined once it is (joining at each chunk would copy a large frame over and over).
    let partial: Buffer[] = [];
    let partialBytes = 0;
    let wanted = 0;
    let first = true;
    let peer: string | null = null;
    let peerIsNode = false;
    socket.on('data', (chunk: Buffer) => {
      if (wanted > 0) {
        partial.push(chunk);
        partialBytes += chunk.length;
        if (partialBytes < wanted) return;
        buffer = Buffer.concat(partial, partialBytes);
        partial = [];
        partialBytes = 0;
        wanted = 0;
      } else {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      }
      while (buffer.length >= 4) {
        const n = buffer.readUInt32BE(0);
        if (n > this.maxFrame) {
          this.refuse(peer, `frame of ${n} bytes, over the ${this.maxFrame} limit`, 'frame');
          socket.destroy();
          return;
        }
        if (buffer.length < 4 + n) {
          wanted = 4 + n;
          partial = [buffer];
          partialBytes = buffer.length;
          buffer = EMPTY;
          break;
        }
        const body = buffer.subarray(4, 4 + n);
        buffer = buffer.subarray(4 + n);
        let value: unknown;
        try {
          value = this.codec.decode(body);
        } catch {
          this.refuse(peer, 'a frame that does not decode', 'frame');
          socket.destroy();
          return;
        }
        if (first) {
          first = false;
          const who = onFirst(value);
          if (who === null) return;
          peer = who.peer;
          peerIsNode = who.node;
          continue;
        }
        const m = value as { t?: unknown; p?: unknown };
        if (peer === null || typeof m?.t !== 'string') continue;
        // A client may only make requests: node-to-node messages (Raft, forwarding) need a node certificate.
        if (!peerIsNode && !CLIENT_MESSAGE_TYPES.has(m.t)) {
          this.stats.dropped++;
          this.refuse(peer, `a ${m.t} message from a client`, 'message');
          continue;
        }
        this.stats.delivered++;
        this.inboxSubject.next({ id: `t${++this.seq}`, from: peer, to: this.options.id, type: m.t, payload: m.p, sentAt: performance.now() - this.origin });
      }
    });
  }
}

/**
 * The name a client's certificate must bind for network id `id`: the part
 * before the first `~` (`app~3f9c` → `app`), or the whole id. A client's
 * process tags its id so that replies find its own connection; the tag
 * proves nothing and grants nothing beyond the certified name's role.
 */
export function certifiedName(id: string): string {
  const tag = id.indexOf('~');
  return tag > 0 ? id.slice(0, tag) : id;
}

const EMPTY: Buffer = Buffer.alloc(0);

function uncork(socket: TLSSocket): void {
  socket.uncork();
}

function frameOf(body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(4 + body.byteLength);
  out.writeUInt32BE(body.byteLength, 0);
  out.set(body, 4);
  return out;
}

/** `host:port` (IPv6 in brackets) → parts; a RangeError naming `what` otherwise. */
export function parseAddress(text: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(String(text).trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65_535)) throw new RangeError(`${what}: '${text}' is not host:port`);
  return { host: m[1] ?? m[2], port };
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
