import { Observable, Subject, type Subscriber } from 'rxjs';
import { msgpackCodec, type Codec } from './codec.js';
import type { Envelope } from './envelope.js';

/**
 * The in-process transport of real mode: nodes and clients of one process
 * exchange messages through it, each encoded to bytes when sent and
 * decoded into a fresh value when delivered, as a socket would carry it.
 * Delivery is asynchronous (the next turn of Node's event loop, in send
 * order), so no handler runs inside another's call stack. Sockets between
 * processes come with the network transport; nodes and clients use either
 * through the same two calls (`send`, `inbox`).
 *
 * A message to an id with no subscriber is dropped, as a packet to a
 * closed port is.
 */
export class LocalNetwork {
  private readonly inboxes = new Map<string, Subject<Envelope>>();
  private seq = 0;
  private readonly origin = performance.now();
  /** Messages sent, and dropped for want of a receiver. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0 };

  constructor(private readonly codec: Codec = msgpackCodec) {}

  /**
   * Whether a node or client receives at `id` now. Two at one address would
   * each get the other's messages: a second node `n1` would answer for the
   * first (with none of its log), so `startNode` and `connect` refuse one.
   */
  inUse(id: string): boolean {
    return this.inboxes.get(id)?.observed === true;
  }

  /** The messages delivered to `id`. Once its last subscriber leaves, the address is forgotten (clients come and go under fresh ids). */
  inbox<P = unknown>(id: string): Observable<Envelope<P>> {
    return new Observable<Envelope<P>>((subscriber) => {
      const s = this.subject(id);
      const inner = s.subscribe(subscriber as unknown as Subscriber<Envelope>);
      return () => {
        inner.unsubscribe();
        if (!s.observed && this.inboxes.get(id) === s) this.inboxes.delete(id);
      };
    });
  }

  /** Addresses some node or client receives at now. */
  get addresses(): number {
    return this.inboxes.size;
  }

  /** Sends `payload` from `from` to `to`; throws a TypeError at once for a payload outside the wire's domain. */
  send<P>(from: string, to: string, type: string, payload: P): void {
    const bytes = this.codec.encode(payload);
    const id = `l${++this.seq}`;
    const sentAt = performance.now() - this.origin;
    this.stats.sent++;
    setImmediate(() => {
      const inbox = this.inboxes.get(to);
      if (!inbox?.observed) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      inbox.next({ id, from, to, type, payload: this.codec.decode(bytes), sentAt });
    });
  }

  private subject(id: string): Subject<Envelope> {
    let s = this.inboxes.get(id);
    if (!s) this.inboxes.set(id, (s = new Subject<Envelope>()));
    return s;
  }
}

/** Thrown by `startNode` or `connect` for an id some node or client of the same {@link LocalNetwork} already receives at. */
export class AddressInUseError extends Error {
  readonly code = 'AddressInUse';
  constructor(readonly id: string) {
    super(`'${id}' is in use on this LocalNetwork: a node or client already receives there (stop it first, or pick another id)`);
    this.name = 'AddressInUseError';
  }
}
