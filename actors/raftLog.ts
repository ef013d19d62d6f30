import type { LogEntry } from './raftTypes.js';

/**
 * The in-memory Raft log of one node: entries after the snapshot point.
 * Index `snapshotIndex` is the last compacted entry (0 with no snapshot);
 * its term is kept so the consistency check works at the boundary.
 */
export class RaftLog {
  private entries: LogEntry[] = [];
  private offset = 0; // index of entries[0] is offset + 1
  private snapTerm = 0;

  /** Index of the last entry compacted into the snapshot. */
  get snapshotIndex(): number {
    return this.offset;
  }

  get snapshotTerm(): number {
    return this.snapTerm;
  }

  get lastIndex(): number {
    return this.offset + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1].term : this.snapTerm;
  }

  /** First index still held as an entry. */
  get firstIndex(): number {
    return this.offset + 1;
  }

  /** Term at `index`; 0 for index 0; undefined if compacted away (below the snapshot) or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.snapTerm;
    if (index < this.offset || index > this.lastIndex) return undefined;
    return this.entries[index - this.offset - 1].term;
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.offset || index > this.lastIndex) return undefined;
    return this.entries[index - this.offset - 1];
  }

  /** Entries in [from, to] (inclusive), at most `max`. `from` must be > snapshotIndex. */
  slice(from: number, to: number, max: number): LogEntry[] {
    if (from <= this.offset) throw new RangeError(`entries from ${from} are compacted (snapshot at ${this.offset})`);
    const end = Math.min(to, this.lastIndex, from + max - 1);
    if (end < from) return [];
    return this.entries.slice(from - this.offset - 1, end - this.offset);
  }

  /** Appends entries that must directly follow the last one. */
  append(batch: readonly LogEntry[]): void {
    for (const e of batch) {
      if (e.index !== this.lastIndex + 1) throw new Error(`log append at ${e.index} after ${this.lastIndex}: not contiguous`);
      if (e.term < this.lastTerm) throw new Error(`log append of term ${e.term} after term ${this.lastTerm}`);
      this.entries.push(e);
    }
  }

  /** Removes entries from `from` on. */
  truncateFrom(from: number): void {
    if (from <= this.offset) throw new Error(`cannot truncate at ${from}: compacted up to ${this.offset}`);
    this.entries.length = Math.max(0, from - this.offset - 1);
  }

  /** First index of the run of entries with the same term as `index` (for conflict hints). */
  firstIndexOfTerm(index: number): number {
    const t = this.term(index);
    let i = index;
    while (i - 1 > this.offset && this.term(i - 1) === t) i--;
    return i;
  }

  /** Last index whose term is `term`, or 0 when the log has none. */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex; i > this.offset; i--) {
      const t = this.entries[i - this.offset - 1].term;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return this.snapTerm === term ? this.offset : 0;
  }

  /** Drops entries up to `index` (inclusive) into the snapshot point. */
  compact(index: number, term: number): void {
    if (index <= this.offset) return;
    if (index > this.lastIndex) {
      this.entries = [];
    } else {
      this.entries = this.entries.slice(index - this.offset);
    }
    this.offset = index;
    this.snapTerm = term;
  }

  /** Replaces everything with an empty log starting after a snapshot. */
  reset(index: number, term: number): void {
    this.entries = [];
    this.offset = index;
    this.snapTerm = term;
  }

  /** Whether a candidate's log (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }
}
