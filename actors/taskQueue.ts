/**
 * An intrusive doubly-linked FIFO: the `prev`/`next` links live on the items
 * themselves, so pushing, shifting and removing an item by reference are
 * O(1) and allocate nothing. The scheduler keeps one per priority level and
 * two per worker; an item sits in at most one queue at a time (the owner
 * guarantees it, because the links are shared).
 *
 * `detach`/`restore` support tentative changes ("dancing links"): `detach`
 * unlinks an item but leaves the item's own links pointing at its old
 * neighbours, and `restore` puts it back there. Restores must happen in the
 * exact reverse order of the detaches, with no other change to the queue in
 * between; then every item returns to its original position.
 */

/** An item that can sit in a {@link LinkedQueue}. */
export interface Linked<T> {
  prev: T | null;
  next: T | null;
}

/** An intrusive doubly-linked FIFO of {@link Linked} items. */
export class LinkedQueue<T extends Linked<T>> {
  private first: T | null = null;
  private last: T | null = null;
  private count = 0;

  /** The oldest item, or null when empty. */
  get head(): T | null {
    return this.first;
  }

  /** The newest item, or null when empty. */
  get tail(): T | null {
    return this.last;
  }

  /** Number of items linked in. */
  get size(): number {
    return this.count;
  }

  /** Appends `item` at the tail. */
  push(item: T): void {
    this.insertAfter(item, this.last);
  }

  /**
   * Links `item` right after `ref` (which must be in this queue), or at the
   * head when `ref` is null.
   */
  insertAfter(item: T, ref: T | null): void {
    const after = ref === null ? this.first : ref.next;
    item.prev = ref;
    item.next = after;
    if (ref === null) this.first = item;
    else ref.next = item;
    if (after === null) this.last = item;
    else after.prev = item;
    this.count++;
  }

  /** Unlinks and returns the head, or null when empty. */
  shift(): T | null {
    const item = this.first;
    if (item !== null) this.remove(item);
    return item;
  }

  /** Unlinks `item` (which must be in this queue) and clears its links. */
  remove(item: T): void {
    this.detach(item);
    item.prev = null;
    item.next = null;
  }

  /** Unlinks `item` (which must be in this queue) but keeps its links, for {@link restore}. */
  detach(item: T): void {
    const { prev, next } = item;
    if (prev === null) this.first = next;
    else prev.next = next;
    if (next === null) this.last = prev;
    else next.prev = prev;
    this.count--;
  }

  /** Relinks an item {@link detach}ed from this queue at its old position (undo in reverse order only). */
  restore(item: T): void {
    const { prev, next } = item;
    if (prev === null) this.first = item;
    else prev.next = item;
    if (next === null) this.last = item;
    else next.prev = item;
    this.count++;
  }

  /** Items from head to tail (allocates an iterator: for inspection and checks, not hot paths). */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let item = this.first; item !== null; item = item.next) yield item;
  }
}
