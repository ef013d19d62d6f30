/**
 * A Map in insertion order whose oldest entry is found in O(1): taken with
 * {@link FifoMap.shift}, or forgotten past an optional limit on insert.
 *
 * Why not `map.delete(map.keys().next().value)`: V8's Map keeps deleted
 * slots until it rehashes, and an iterator skips them one by one, so
 * "the oldest key" after many evictions costs a walk over every slot
 * deleted since the last rehash: O(limit) per insert once the map is full.
 * At a limit of 100,000 that walk was a third of a busy cluster's time.
 *
 * Iteration (`keys`, `values`, `entries`) is the Map's own, in insertion
 * order; a key deleted and set again counts as new.
 */
export class FifoMap<K, V> {
  private readonly map = new Map<K, Slot<K, V>>();
  /** Slots in insertion order, from `head`; a deleted slot stays until it reaches the head. */
  private order: Slot<K, V>[] = [];
  private head = 0;

  /**
   * @param limit most entries kept (an integer ≥ 1, or Infinity): setting a new key past it forgets the oldest
   * @param onEvict told of each entry forgotten for the limit (not of `delete` or `shift`)
   */
  constructor(
    readonly limit = Number.POSITIVE_INFINITY,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`limit must be an integer ≥ 1 or Infinity, got ${limit}`);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  get(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Sets `key` (a known key keeps its place), then forgets the oldest entries past the limit. */
  set(key: K, value: V): this {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.value = value;
      return this;
    }
    const fresh: Slot<K, V> = { key, value, live: true };
    this.map.set(key, fresh);
    this.order.push(fresh);
    while (this.map.size > this.limit) this.evictOldest();
    return this;
  }

  delete(key: K): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    slot.live = false;
    this.map.delete(key);
    this.compactIfSparse();
    return true;
  }

  clear(): void {
    this.map.clear();
    this.order = [];
    this.head = 0;
  }

  *keys(): IterableIterator<K> {
    yield* this.map.keys();
  }

  *values(): IterableIterator<V> {
    for (const slot of this.map.values()) yield slot.value;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.map) yield [key, slot.value];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Removes and returns the oldest entry, or undefined when empty. */
  shift(): [K, V] | undefined {
    if (this.map.size === 0) return undefined;
    const slot = this.takeOldest();
    return [slot.key, slot.value];
  }

  private evictOldest(): void {
    const slot = this.takeOldest();
    this.onEvict?.(slot.key, slot.value);
  }

  /** The oldest live slot, removed (the map is not empty). */
  private takeOldest(): Slot<K, V> {
    let slot = this.order[this.head++];
    while (!slot.live) slot = this.order[this.head++];
    slot.live = false;
    this.map.delete(slot.key);
    this.compactIfSparse();
    return slot;
  }

  /** Drops dead slots once they are most of the queue, so it stays O(size) in memory. */
  private compactIfSparse(): void {
    const queued = this.order.length - this.head;
    if (queued > 64 && queued > 2 * this.map.size + 64) {
      this.order = this.order.slice(this.head).filter((s) => s.live);
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}

interface Slot<K, V> {
  readonly key: K;
  value: V;
  live: boolean;
}
