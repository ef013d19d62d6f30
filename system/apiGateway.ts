import { Subject } from 'rxjs';
import { CLIENT_REPLY, CLIENT_REQUEST, type ClientReply, type ClientRequest } from '../actors/clientProtocol.js';
import type { ClusterNode } from '../actors/clusterNode.js';
import { ClusterClient, type ClientNetwork } from './client.js';
import { msgpackCodec } from './codec.js';
import type { Envelope } from './envelope.js';
import { pollTask } from './taskPolling.js';
import type { WallClock } from './wallClock.js';

/** Who a gateway client is: `client` or `operator` as its certificate says, or null for a trusted caller in this process. */
export type GatewayPrincipal = 'client' | 'operator' | null;

/** Callers a gateway keeps a client for at most; past it, new callers are refused (see {@link ApiGateway.clientFor}). */
export const MAX_GATEWAY_CALLERS = 4_096;

/**
 * Serves a node's API callers (HTTP) with the same client as everywhere
 * else: one {@link ClusterClient} per authenticated caller, whose requests
 * this node serves itself when it leads and otherwise relays to the node
 * the client picks (the leader, once a `NotLeader` hint named it). So a
 * caller may reach any node: sessions, retries under the same number,
 * leader discovery and size limits are the client's, unchanged.
 *
 * Every request and answer goes through the wire's codec, as if it had
 * crossed the network: no object is shared with the replica.
 */
export class ApiGateway {
  private readonly clients = new Map<string, { client: ClusterClient; principal: GatewayPrincipal; tenant: string | null }>();
  private readonly inboxes = new Map<string, Subject<Envelope>>();
  private readonly offRelayed: () => void;
  private sent = 0;

  constructor(
    private readonly node: ClusterNode,
    private readonly clock: WallClock,
    private readonly options: { timeoutMs?: number } = {},
  ) {
    this.offRelayed = node.onRelayed((from, answer) => this.deliver(answer?.client, from, answer?.reply));
  }

  /**
   * The client of caller `name`, made on first use. A name is bound to one
   * principal and one tenant: the same name with another role or tenant is
   * refused, since sessions are owned by name.
   *
   * `tenant`: the tenant the caller's client certificate binds, or null.
   * A bound caller's client acts for that tenant (its task specs default
   * to it), and every node it reaches scopes its requests to it, relayed
   * ones too (see {@link ClusterNode.serveClient}).
   */
  clientFor(name: string, principal: GatewayPrincipal, tenant: string | null = null): ClusterClient {
    const known = this.clients.get(name);
    if (known) {
      if (known.principal !== principal) throw new RangeError(`'${name}' is already a ${known.principal ?? 'trusted'} caller of this node; one name, one role`);
      if (known.tenant !== tenant) throw new RangeError(`'${name}' is already a caller of this node ${known.tenant === null ? 'bound to no tenant' : `bound to tenant '${known.tenant}'`}; one name, one tenant`);
      return known.client;
    }
    if (this.clients.size >= MAX_GATEWAY_CALLERS) throw new RangeError(`this node serves ${MAX_GATEWAY_CALLERS} API callers already`);
    const inbox = new Subject<Envelope>();
    this.inboxes.set(name, inbox);
    const node = this.node;
    const codec = msgpackCodec;
    const net: ClientNetwork = {
      kernel: this.clock,
      bus: {
        inbox: <P>() => inbox as unknown as Subject<Envelope<P>>,
        send: (from: string, to: string, type: string, payload: unknown) => {
          if (type !== CLIENT_REQUEST) return;
          const req = codec.decode(codec.encode(payload)) as ClientRequest;
          this.sent++;
          if (to === node.id) node.serveClient(from, principal, req, (reply) => this.deliver(from, node.id, reply), tenant);
          else node.relay(to, from, principal, req, tenant);
        },
      },
      trace: undefined,
      ids: this.endpoints(),
      watchTask: (taskId) => pollTask((t) => client.queryAt('task', { taskId: t }), this.clock, taskId),
    };
    const session = `${name}~gw-${node.id}-${Buffer.from(this.clock.random('session').bytes(6)).toString('hex')}`;
    const client: ClusterClient = new ClusterClient(net, name, { session, timeoutMs: this.options.timeoutMs ?? 10_000, endpoints: this.endpoints(), ...(tenant !== null ? { tenant } : {}) });
    this.clients.set(name, { client, principal, tenant });
    return client;
  }

  /** Requests this gateway has sent (served here or relayed). */
  get requestsSent(): number {
    return this.sent;
  }

  /** Stops delivering answers; clients' pending requests then time out. */
  close(): void {
    this.offRelayed();
    for (const inbox of this.inboxes.values()) inbox.complete();
    this.inboxes.clear();
    this.clients.clear();
  }

  /** This node first (it may lead), then the other members. */
  private endpoints(): string[] {
    const c = this.node.raft.config;
    return [this.node.id, ...[...c.voters, ...c.learners].filter((m) => m !== this.node.id)];
  }

  private deliver(client: unknown, from: string, reply: ClientReply | undefined): void {
    if (typeof client !== 'string' || reply === undefined) return;
    const inbox = this.inboxes.get(client);
    if (!inbox) return;
    const payload = msgpackCodec.decode(msgpackCodec.encode(reply));
    // Later, not now: the client is still inside its send when a node answers at once.
    queueMicrotask(() => inbox.next({ id: '', from, to: client, type: CLIENT_REPLY, payload, sentAt: this.clock.now() }));
  }
}
