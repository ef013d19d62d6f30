import type { DurableState, Storage } from '../actors/storage.js';
import { MemoryStorage } from '../actors/storage.js';
import type { HardState, LogEntry, Snapshot } from '../actors/raftTypes.js';
import type { Kernel } from './kernel.js';
import type { Random } from './random.js';

/** How long a simulated disk takes to sync, in virtual milliseconds (drawn uniformly per sync). */
export interface SyncLatency {
  min: number;
  max: number;
}

/**
 * A disk in the simulation: {@link MemoryStorage} whose `sync()` takes
 * virtual time, as fsync does. Each sync returns a promise that resolves
 * after a delay drawn from `latency`, and never before an earlier sync
 * (a disk finishes its queue in order). A sync makes durable exactly the
 * writes made before it, not those queued behind it, so a crash while a
 * sync is in flight loses what the crash model says of unsynced writes
 * (the hard state excepted: see {@link SimulatedDisk.setHardState}).
 *
 * The node above it holds every message until the syncs before it finish,
 * so this is what exercises Raft's "durable before promised" rule with the
 * asynchronous storage of real mode, deterministically.
 */
export class SimulatedDisk implements Storage {
  /** When the last sync queued will finish (syncs finish in order). */
  private lastDone = 0;

  constructor(
    /** The durable state and the crash model. */
    readonly memory: MemoryStorage,
    private readonly kernel: Kernel,
    private readonly random: Random,
    private readonly latency: SyncLatency,
  ) {
    if (!(latency.min >= 0 && latency.max >= latency.min)) throw new RangeError(`sync latency: need 0 <= min <= max, got ${latency.min}-${latency.max}`);
  }

  load(): DurableState {
    return this.memory.load();
  }

  /**
   * The hard state (term, vote) goes through at once, with everything
   * written before it, as a small synchronous write would; log writes wait
   * for their sync. Why: the trace checker judges the terms and votes a
   * node reports, and a term or vote lost in a crash before its sync (safe:
   * the node's messages were held, it promised nothing) would look to it
   * like a broken promise. The node still waits for the sync before it
   * sends anything; `tests/raft/durable_sync.test.ts` covers a hard state
   * that is durable only at the sync, as on LMDB.
   */
  setHardState(state: HardState): void {
    this.memory.setHardState(state);
    this.memory.syncTo(this.memory.written);
  }

  append(entries: readonly LogEntry[]): void {
    this.memory.append(entries);
  }

  truncateFrom(index: number): void {
    this.memory.truncateFrom(index);
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.memory.saveSnapshot(snapshot);
  }

  sync(): Promise<void> {
    const mark = this.memory.written;
    const now = this.kernel.now();
    const done = Math.max(this.lastDone, now + this.random.uniform(this.latency.min, this.latency.max));
    this.lastDone = done;
    return new Promise<void>((resolve) => {
      this.kernel.schedule(done - now, () => {
        this.memory.syncTo(mark);
        this.kernel.wake(); // the node resumes in a promise callback
        resolve();
      });
    });
  }
}
