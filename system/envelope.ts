/**
 * One message between two nodes, as it travels on the bus.
 *
 * The bus creates the envelope when a node sends (the sender gets it back in
 * the send result) and encodes the payload to bytes at once; each delivery
 * decodes a new envelope from those bytes. So the receiver never sees the
 * sender's objects, and a duplicated message (see the network model) is
 * delivered twice as two equal but distinct envelopes: `id` identifies the
 * send, not the delivery. (A bus built with `codec: null`, for benchmarks,
 * still makes a new envelope per delivery but shares the sender's payload.)
 *
 * @typeParam P - type of the payload (the bus encodes it, never interprets it).
 */
export interface Envelope<P = unknown> {
  /** Unique per send, sequential and deterministic (`m1`, `m2`, …). */
  readonly id: string;
  /** Id of the sending node. */
  readonly from: string;
  /** Id of the receiving node. */
  readonly to: string;
  /** Message type, a non-empty string chosen by the sender (`AppendEntries`, …). */
  readonly type: string;
  /** Message body: a value of the wire's domain (JSON values and Uint8Array, see `msgpackCodec`), owned by whoever holds this envelope. */
  readonly payload: P;
  /** Virtual time (ms) at which the message was sent. */
  readonly sentAt: number;
}
