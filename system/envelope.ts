/**
 * One message between two nodes, as it travels on the bus.
 *
 * The bus creates the envelope when a node sends; the receiving node sees the
 * very same object in its inbox. A duplicated message (see the network model)
 * is delivered twice as the same envelope, so `id` identifies the send, not
 * the delivery.
 *
 * @typeParam P - type of the payload (the bus never inspects it).
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
  /** Message body. Treat it as immutable: duplicates share it. */
  readonly payload: P;
  /** Virtual time (ms) at which the message was sent. */
  readonly sentAt: number;
}
