/**
 * The replicated key-value store, with revisions as etcd keeps them: one
 * store revision, raised by every change (a put, a delete that removed
 * something, a compare-and-set that applied); each key remembers the
 * revision that created it, the one that last changed it and how many
 * times it changed. A bounded history of changes serves watches from a
 * past revision; older revisions are compacted away.
 *
 * Pure: the same commands in the same order give the same store on every
 * replica. Values are never changed in place (a put replaces them), so a
 * snapshot shares them.
 */

/** A key as a read returns it. */
export interface KvEntry {
  key: string;
  value: unknown;
  /** The revision of the key's last change (etcd's mod_revision). */
  revision: number;
  /** The revision that created the key (since its last delete). */
  createRevision: number;
  /** Changes since it was created: 1 after the first put. */
  version: number;
}

/** A read of one key: its entry, or a typed not-found; `storeRevision` is the store's revision at the read. */
export type KvRead = ({ found: true } & KvEntry & { storeRevision: number }) | { found: false; key: string; storeRevision: number };

/** One change, as a watch delivers it. */
export interface KvChange {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** The new value, for a put. */
  value?: unknown;
}

/** A compare-and-set's condition: the key's last change at this revision (0: the key is absent), or its value equal to this one. */
export type KvExpectation = { revision: number } | { value: unknown };

/** Limits of the store (explicit, as every table in Grey has). */
export interface KvLimits {
  /** Changes kept for watches; older revisions are compacted. */
  maxChanges: number;
  /** Entries a range read returns at most. */
  maxRange: number;
}

export const DEFAULT_KV_LIMITS: Readonly<KvLimits> = Object.freeze({ maxChanges: 10_000, maxRange: 1_000 });

/** The store as a snapshot holds it (entry lists: plain data). */
export interface KvSnapshot {
  revision: number;
  compacted: number;
  entries: [string, Omit<KvEntry, 'key'>][];
  changes: KvChange[];
}

/** The answer to changes asked from a compacted revision. */
export interface KvCompacted {
  compacted: true;
  /** The oldest revision still kept. */
  oldest: number;
}

/** Equality of two values of Grey's value domain (JSON data or Uint8Array), key order aside. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b as object, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export class KvStore {
  private revision = 0;
  /** Revisions at or below this are compacted: no watch can start there. */
  private compacted = 0;
  private entries = new Map<string, Omit<KvEntry, 'key'>>();
  private changes: KvChange[] = [];
  private readonly limits: KvLimits;

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = { ...DEFAULT_KV_LIMITS, ...limits };
    for (const k of ['maxChanges', 'maxRange'] as const) {
      if (!Number.isInteger(this.limits[k]) || this.limits[k] < 1) throw new RangeError(`kv limit ${k} must be an integer ≥ 1, got ${this.limits[k]}`);
    }
  }

  /** The store's revision: that of its last change (0 before any). */
  get storeRevision(): number {
    return this.revision;
  }

  /** The oldest revision a watch can start from. */
  get oldestRevision(): number {
    return this.compacted + 1;
  }

  /** The value under `key` (undefined when none). */
  value(key: string): unknown {
    return this.entries.get(key)?.value;
  }

  read(key: string): KvRead {
    const e = this.entries.get(key);
    return e === undefined ? { found: false, key, storeRevision: this.revision } : { found: true, key, ...e, storeRevision: this.revision };
  }

  /** Keys starting with `prefix`, in key order, at most `limit` (and {@link KvLimits.maxRange}); `more` when some were left out. */
  range(prefix: string, limit = this.limits.maxRange): { entries: KvEntry[]; more: boolean; storeRevision: number } {
    const keys = [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
    const n = Math.min(limit, this.limits.maxRange);
    return { entries: keys.slice(0, n).map((key) => ({ key, ...this.entries.get(key)! })), more: keys.length > n, storeRevision: this.revision };
  }

  put(key: string, value: unknown): { revision: number } {
    const revision = ++this.revision;
    const prev = this.entries.get(key);
    this.entries.set(key, { value, revision, createRevision: prev?.createRevision ?? revision, version: (prev?.version ?? 0) + 1 });
    this.record({ revision, key, type: 'put', value });
    return { revision };
  }

  /** Removes `key`; the revision moves only when there was something to remove. */
  delete(key: string): { deleted: boolean; revision: number } {
    if (!this.entries.has(key)) return { deleted: false, revision: this.revision };
    const revision = ++this.revision;
    this.entries.delete(key);
    this.record({ revision, key, type: 'delete' });
    return { deleted: true, revision };
  }

  /** Puts `value` if the key meets `expect`; answers whether it did, and the key's revision after (0: absent). */
  cas(key: string, expect: KvExpectation, value: unknown): { applied: boolean; revision: number } {
    const e = this.entries.get(key);
    const holds = 'revision' in expect ? (e?.revision ?? 0) === expect.revision : e !== undefined && sameValue(e.value, expect.value);
    if (!holds) return { applied: false, revision: e?.revision ?? 0 };
    return { applied: true, revision: this.put(key, value).revision };
  }

  /**
   * Changes to `key` (or, with `prefix`, to every key starting with it)
   * from revision `from` on, at most `limit`; {@link KvCompacted} when
   * `from` lies in the compacted past.
   */
  changesSince(key: string, prefix: boolean, from: number, limit: number): { changes: KvChange[]; storeRevision: number } | KvCompacted {
    if (from <= this.compacted) return { compacted: true, oldest: this.compacted + 1 };
    const out: KvChange[] = [];
    // Changes are in revision order: start at the first at or after `from`.
    let lo = 0;
    let hi = this.changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.changes[mid].revision < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.changes.length && out.length < limit; i++) {
      const c = this.changes[i];
      if (prefix ? c.key.startsWith(key) : c.key === key) out.push(c);
    }
    return { changes: out, storeRevision: this.revision };
  }

  snapshot(): KvSnapshot {
    return { revision: this.revision, compacted: this.compacted, entries: [...this.entries], changes: [...this.changes] };
  }

  restore(s: KvSnapshot | undefined): void {
    this.revision = s?.revision ?? 0;
    this.compacted = s?.compacted ?? 0;
    this.entries = new Map(s?.entries ?? []);
    this.changes = [...(s?.changes ?? [])];
  }

  private record(c: KvChange): void {
    this.changes.push(c);
    // Compact in chunks: one splice per tenth of the limit, not one per change.
    const over = this.changes.length - this.limits.maxChanges;
    if (over > this.limits.maxChanges / 10) {
      const dropped = this.changes.splice(0, over);
      this.compacted = dropped[dropped.length - 1].revision;
    }
  }
}
