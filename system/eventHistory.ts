import { Subject, type Observable } from 'rxjs';
import type { GreyEvent } from './events.js';

/** Events a node keeps for watchers that resume from an index, by default. */
export const DEFAULT_EVENT_HISTORY = 10_000;

/** The events asked for are no longer kept: resume from `oldest` (or read the state afresh). */
export interface EventsCompacted {
  compacted: true;
  /** The lowest index whose events are all still kept. */
  oldest: number;
}

/**
 * The recent committed events of one node, for watchers that come and go
 * (server-sent events resumed with `Last-Event-ID`, say): a bounded window,
 * in log order, then the live stream. Like etcd's watch, a start below the
 * window is answered as compacted rather than silently skipped.
 *
 * Events are known from the index the node started applying at (its
 * snapshot's, after a restart), so a start before that is compacted too.
 */
export class EventHistory {
  private readonly kept: GreyEvent[] = [];
  private head = 0;
  /** Every event at or above this index is kept (events below were dropped or never seen). */
  private oldest: number;
  private readonly live = new Subject<GreyEvent>();

  constructor(
    startIndex: number,
    private readonly capacity = DEFAULT_EVENT_HISTORY,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`EventHistory: capacity must be a positive integer, got ${capacity}`);
    this.oldest = Math.max(1, startIndex);
  }

  /** Records an applied event (in log order) and passes it to live watchers. */
  push(e: GreyEvent): void {
    if (this.kept.length - this.head >= this.capacity) {
      // Whether or not more events of its index remain, that index is no longer whole.
      const dropped = this.kept[this.head++];
      this.oldest = Math.max(this.oldest, dropped.index + 1);
      if (this.head > 4_096 && this.head * 2 > this.kept.length) {
        this.kept.splice(0, this.head);
        this.head = 0;
      }
    }
    this.kept.push(e);
    this.live.next(e);
  }

  /** The lowest index from which a watcher can resume. */
  get oldestIndex(): number {
    return this.oldest;
  }

  /** Kept events with index ≥ `from`, or {@link EventsCompacted} when some of them are gone. */
  since(from: number): GreyEvent[] | EventsCompacted {
    if (from < this.oldest) return { compacted: true, oldest: this.oldest };
    const out: GreyEvent[] = [];
    // Binary search for the first kept event at or above `from`.
    let lo = this.head;
    let hi = this.kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.kept[mid].index < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.kept.length; i++) out.push(this.kept[i]);
    return out;
  }

  /** Events as they are applied from now on. */
  get events$(): Observable<GreyEvent> {
    return this.live.asObservable();
  }

  /** Ends the live stream (the node stopped). */
  complete(): void {
    this.live.complete();
  }
}
