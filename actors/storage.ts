import type { RandomSource } from '../system/random.js';
import type { HardState, LogEntry, Snapshot } from './raftTypes.js';

/** What durable storage gives back after a restart. */
export interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  entries: LogEntry[];
}

/**
 * Raft's persistent state (§5, Figure 2). Writes may be buffered; `sync()`
 * makes everything written so far durable. A node syncs before it answers a
 * vote or acknowledges entries, so nothing it has promised is ever lost.
 *
 * `sync()` either finishes before it returns (memory: it returns nothing),
 * or returns a promise that resolves once every write before it is durable
 * (a disk). With a promise, the node holds every message it sends until
 * the syncs started before it resolve, and counts its own log toward a
 * quorum only as far as it is durable. A rejected sync stops the node.
 * `load()` is synchronous: a disk storage reads its data when it opens.
 */
export interface Storage {
  load(): DurableState;
  setHardState(state: HardState): void;
  /** Appends entries after the current last one. */
  append(entries: readonly LogEntry[]): void;
  /** Removes entries from `index` on. */
  truncateFrom(index: number): void;
  /** Stores a snapshot and drops the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void;
  sync(): void | Promise<void>;
}

/** What survives a crash of writes that were never synced. */
export type CrashLoss = 'none' | 'unsynced' | 'random';

type Op =
  | { kind: 'hard'; state: HardState }
  | { kind: 'append'; entries: readonly LogEntry[] }
  | { kind: 'truncate'; index: number }
  | { kind: 'snapshot'; snapshot: Snapshot };

/**
 * In-memory storage with a crash fault model: synced writes always survive;
 * unsynced ones survive all (`none`), none (`unsynced`) or a random prefix
 * (`random`, as a disk that had written some of its queue).
 */
export class MemoryStorage implements Storage {
  private durable: DurableState = { hardState: { term: 0, votedFor: null }, snapshot: null, entries: [] };
  private pending: Op[] = [];
  /** Writes made durable (or lost in a crash) so far. */
  private flushed = 0;
  private writes = 0;
  private syncs = 0;

  load(): DurableState {
    return {
      hardState: { ...this.durable.hardState },
      snapshot: this.durable.snapshot,
      entries: [...this.durable.entries],
    };
  }

  setHardState(state: HardState): void {
    this.pending.push({ kind: 'hard', state: { ...state } });
    this.writes++;
  }

  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.pending.push({ kind: 'append', entries });
    this.writes++;
  }

  truncateFrom(index: number): void {
    this.pending.push({ kind: 'truncate', index });
    this.writes++;
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.pending.push({ kind: 'snapshot', snapshot });
    this.writes++;
  }

  sync(): void {
    if (this.pending.length === 0) return;
    for (const op of this.pending) this.applyOp(op);
    this.flushed += this.pending.length;
    this.pending = [];
    this.syncs++;
  }

  /** Writes made so far, counted from the start: a mark for {@link MemoryStorage.syncTo}. */
  get written(): number {
    return this.flushed + this.pending.length;
  }

  /**
   * Makes the writes before `mark` (a {@link MemoryStorage.written} value)
   * durable, and no later one: a disk that finished one sync while the
   * writes after it are still queued.
   */
  syncTo(mark: number): void {
    const n = Math.min(mark - this.flushed, this.pending.length);
    if (n <= 0) return;
    for (let i = 0; i < n; i++) this.applyOp(this.pending[i]);
    this.pending = this.pending.slice(n);
    this.flushed += n;
    this.syncs++;
  }

  /** Writes not yet synced. */
  get unsynced(): number {
    return this.pending.length;
  }

  get stats(): { writes: number; syncs: number } {
    return { writes: this.writes, syncs: this.syncs };
  }

  /**
   * The process died: decides which unsynced writes reached the disk.
   * Returns how many were lost.
   */
  crash(loss: CrashLoss, random?: RandomSource): number {
    let keep = this.pending.length;
    if (loss === 'unsynced') keep = 0;
    else if (loss === 'random') {
      if (!random) throw new TypeError("crash('random') needs a random source");
      keep = random.int(0, this.pending.length);
    }
    for (let i = 0; i < keep; i++) this.applyOp(this.pending[i]);
    const lost = this.pending.length - keep;
    this.flushed += this.pending.length;
    this.pending = [];
    return lost;
  }

  private applyOp(op: Op): void {
    const d = this.durable;
    switch (op.kind) {
      case 'hard':
        d.hardState = op.state;
        break;
      case 'append': {
        const base = (d.snapshot?.index ?? 0) + d.entries.length;
        const first = op.entries[0].index;
        if (first !== base + 1) throw new Error(`storage append at ${first} after ${base}`);
        for (const e of op.entries) d.entries.push(e);
        break;
      }
      case 'truncate': {
        const offset = d.snapshot?.index ?? 0;
        d.entries.length = Math.max(0, Math.min(d.entries.length, op.index - offset - 1));
        break;
      }
      case 'snapshot': {
        const offset = d.snapshot?.index ?? 0;
        const s = op.snapshot;
        const lastIndex = offset + d.entries.length;
        const keepTail = s.index < lastIndex && d.entries[s.index - offset - 1]?.term === s.term;
        d.entries = keepTail ? d.entries.slice(s.index - offset) : [];
        d.snapshot = s;
        break;
      }
    }
  }
}
