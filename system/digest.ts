import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/** `d0`, the digest before the first log entry: 64 zeros. */
export const GENESIS_DIGEST = '0'.repeat(64);

/** What a digest covers of one log entry. */
export interface DigestEntry {
  index: number;
  term: number;
  command: unknown;
}

/** A position in a digest chain: the digest of the log up to `index`. */
export interface DigestPoint {
  index: number;
  digest: string;
}

/**
 * The digest of the log up to and including `entry`, given the digest `prev`
 * of the log before it: hex SHA-256 of `prev` (its 64 hex characters)
 * followed by `canonicalJson({ index, term, command })`, which with sorted
 * keys reads `{"command":…,"index":…,"term":…}`. Because each digest covers
 * the previous one, equal digests at an index mean equal logs up to it.
 */
export function nextDigest(prev: string, entry: DigestEntry): string {
  return createHash('sha256')
    .update(prev)
    .update(canonicalJson({ index: entry.index, term: entry.term, command: entry.command }))
    .digest('hex');
}

/**
 * The digest chain of one log, kept beside it when tracing or checking is
 * on. It mirrors the log's shape: a base point (genesis, or the snapshot the
 * log was compacted to) and one digest per entry after it.
 *
 * It enforces the log's own discipline: entries are appended at
 * `lastIndex + 1`, a truncation never reaches into the snapshot. A Raft bug
 * that breaks either is reported here, where it happens.
 */
export class DigestChain {
  private baseIndex: number;
  private baseDigest: string;
  /** `digests[k]` is the digest at index `baseIndex + 1 + k`. */
  private digests: string[] = [];

  constructor(base: DigestPoint = { index: 0, digest: GENESIS_DIGEST }) {
    checkIndex(base.index, 'base index');
    this.baseIndex = base.index;
    this.baseDigest = base.digest;
  }

  /** Index of the base point (0, or the snapshot the chain was compacted to). */
  get snapshotIndex(): number {
    return this.baseIndex;
  }

  /** Index of the last entry (the base index when no entry follows it). */
  get lastIndex(): number {
    return this.baseIndex + this.digests.length;
  }

  /** Digest of the whole log. */
  get lastDigest(): string {
    return this.digests.length === 0 ? this.baseDigest : this.digests[this.digests.length - 1];
  }

  /** Appends the entry at `lastIndex + 1` and returns its digest. */
  append(entry: DigestEntry): string {
    if (entry.index !== this.lastIndex + 1) {
      throw new RangeError(`DigestChain: append at index ${entry.index}, expected ${this.lastIndex + 1}`);
    }
    const digest = nextDigest(this.lastDigest, entry);
    this.digests.push(digest);
    return digest;
  }

  /**
   * The digest at `index`: the base digest at the base index, undefined
   * below it (compacted) or past the last entry.
   */
  digestAt(index: number): string | undefined {
    if (index === this.baseIndex) return this.baseDigest;
    if (index < this.baseIndex || index > this.lastIndex) return undefined;
    return this.digests[index - this.baseIndex - 1];
  }

  /** Removes the entries from `index` on (a no-op when `index > lastIndex`). */
  truncateFrom(index: number): void {
    checkIndex(index, 'truncate index');
    if (index <= this.baseIndex) {
      throw new RangeError(`DigestChain: cannot truncate from ${index}, entries up to ${this.baseIndex} are in the snapshot`);
    }
    if (index <= this.lastIndex) this.digests.length = index - this.baseIndex - 1;
  }

  /**
   * A snapshot was taken at `index`: forget the digests before it, keep the
   * entries after it.
   */
  compactTo(index: number): void {
    const digest = this.digestAt(index);
    if (digest === undefined) {
      throw new RangeError(`DigestChain: cannot compact to ${index}, the chain holds ${this.baseIndex}..${this.lastIndex}`);
    }
    this.digests = this.digests.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseDigest = digest;
  }

  /**
   * Resets the chain to a snapshot point (a snapshot installed from the
   * leader, or restored from storage): every entry is dropped.
   */
  restore(point: DigestPoint): void {
    checkIndex(point.index, 'snapshot index');
    this.baseIndex = point.index;
    this.baseDigest = point.digest;
    this.digests = [];
  }
}

function checkIndex(index: number, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`DigestChain: ${what} must be a non-negative integer, got ${index}`);
}
