import { ClusterState } from './clusterState.js';
import type { RaftNode } from './raftNode.js';
import type { LogEntry, Snapshot } from './raftTypes.js';
import type { TaskRecord } from './taskTable.js';

/** A checkpoint: the latest snapshot and the committed entries after it. */
export interface Checkpoint {
  snapshot: Snapshot | null;
  tail: LogEntry[];
}

/**
 * The node's event log, read from Raft itself (no second log beside it):
 * checkpoints are the latest snapshot plus the committed tail, and replaying
 * one rebuilds the replicated state as of the commit index. Recovery uses it
 * to find the tasks a failed node left incomplete.
 */
export class EventLog {
  constructor(private readonly raft: RaftNode) {}

  /** The latest checkpoint: snapshot (if any) and every committed entry after it still in the log. */
  checkpoint(): Checkpoint {
    const raft = this.raft;
    const snapshot = raft.latestSnapshot;
    const from = Math.max((snapshot?.index ?? 0) + 1, raft.log.firstIndex);
    const tail = from <= raft.commitIndex ? raft.log.slice(from, raft.commitIndex, Number.MAX_SAFE_INTEGER) : [];
    return { snapshot, tail };
  }

  /** Replays a checkpoint into a fresh replicated state. */
  replay(checkpoint: Checkpoint = this.checkpoint()): ClusterState {
    const state = new ClusterState();
    if (checkpoint.snapshot) state.restore(checkpoint.snapshot.data);
    for (const e of checkpoint.tail) if (e.payload.kind === 'command') state.apply(e as LogEntry & { payload: { kind: 'command' } });
    return state;
  }

  /** Tasks not finished as of the last commit, optionally only those assigned to or running on `worker`. */
  incompleteTasks(worker?: string): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const t of this.replay().tasks()) {
      if (t.status === 'completed' || t.status === 'failed' || t.status === 'cancelled') continue;
      if (worker !== undefined && !((t.status === 'assigned' || t.status === 'running') && t.worker === worker)) continue;
      out.push(t as TaskRecord);
    }
    return out;
  }
}
