import type { ApplyResult, SessionCommand } from './clusterState.js';
import type { RaftStatus } from './raftNode.js';

/**
 * What a node says of itself: its Raft view, how many tasks and workers it
 * knows, and how many tasks its own worker holds (`running`: running,
 * starting, or assigned to it and waiting for a slot; absent from nodes of
 * a build before it).
 */
export type NodeStatus = RaftStatus & { tasks: number; workers: number; running?: number };

/** Message type of a client's request to a node. */
export const CLIENT_REQUEST = 'client.request';
/** Message type of a node's answer to a client. */
export const CLIENT_REPLY = 'client.reply';
/** Message type of a client request that the node the client reached (its API gateway) relays to another node. */
export const CLIENT_RELAY = 'client.relay';
/** Message type of the answer to a relayed request, back to the relaying node. */
export const CLIENT_RELAYED = 'client.relayed';

/**
 * A client's request relayed by a node: who the client is, as the relaying
 * node authenticated it (never `node`: a gateway serves clients and
 * operators only), and the request itself.
 */
export interface RelayedRequest {
  client: string;
  principal: 'client' | 'operator' | null;
  /**
   * The tenant the client's certificate binds, as the relaying node
   * authenticated it: the node served scopes the request to it, as the
   * relaying node would have (a relay never widens a client's rights).
   * Absent: the client is bound to no tenant.
   */
  tenant?: string;
  request: ClientRequest;
  /** The relaying node passes the answer on to the client over its transport (not to its API gateway). */
  back?: boolean;
}

/** The answer to a {@link RelayedRequest}, for the client it names. */
export interface RelayedReply {
  client: string;
  reply: ClientReply;
  back?: boolean;
}

/**
 * A client's request, as it travels to a node. `rid` numbers the client's
 * attempts (one per send), so the answer finds its waiter; the session
 * number that makes a retry apply once is inside the command.
 */
export type ClientRequest =
  | { kind: 'propose'; rid: number; command: SessionCommand }
  | { kind: 'query'; rid: number; name: string; args: unknown }
  /** The node's own view (role, term, indexes), answered by the node asked, at once: not linearizable, for operators. */
  | { kind: 'status'; rid: number };

/** Why a node did not take a request; the client tries elsewhere (or later). */
export type RefusalCode = 'NotLeader' | 'TransferInProgress' | 'ProposalDropped' | 'Stopped' | 'Backpressure' | 'UnknownQuery' | 'InvalidQuery' | 'InvalidCommand' | 'Unauthorized';

/** A node's answer to a {@link ClientRequest}. */
export type ClientReply =
  /** A proposal was applied at `index` (its result may still be an error of the state machine). `digest` is the log digest there, when the node keeps them. */
  | { rid: number; ok: true; kind: 'propose'; index: number; term: number; result: ApplyResult; digest?: string }
  /** A query was answered at read index `index`. */
  | { rid: number; ok: true; kind: 'query'; index: number; value: unknown }
  /** A node's own Raft view. */
  | { rid: number; ok: true; kind: 'status'; value: NodeStatus }
  | { rid: number; ok: false; code: RefusalCode; leaderHint: string | null; message: string };
