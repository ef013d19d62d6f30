import type { RaftNode, RaftObserver } from '../actors/raftNode.js';
import type { SessionCommand } from '../actors/clusterState.js';
import type { LogEntry } from '../actors/raftTypes.js';
import type { Trace } from './trace.js';

/** The `kind` of an applied entry in the trace: the command's op, or `noop` / `config`. */
export function entryKind(entry: LogEntry): string {
  if (entry.payload.kind !== 'command') return entry.payload.kind;
  const op = (entry.payload.command as SessionCommand | undefined)?.cmd?.op;
  return typeof op === 'string' ? op : 'command';
}

/**
 * A {@link RaftObserver} that writes one node incarnation's events to the
 * trace (DESIGN.md, format version 1). `raft` is read lazily: the observer
 * is created before the node it watches.
 */
export function traceObserver(trace: Trace, node: string, inc: number, raft: () => RaftNode): RaftObserver {
  const digest = (index: number) => raft().digestAt(index) ?? '';
  return {
    role: (role, term, leader) => trace.emit({ type: 'role', node, inc, role, term, leader }),
    vote: (term, votedFor) => trace.emit({ type: 'vote', node, inc, term, votedFor }),
    append: (entries) => {
      if (entries.length === 0) return;
      trace.emit({ type: 'append', node, inc, from: entries[0].index, entries: entries.map((e) => [e.term, digest(e.index)]) });
    },
    truncate: (from) => trace.emit({ type: 'truncate', node, inc, from }),
    commit: (index) => trace.emit({ type: 'commit', node, inc, index, term: raft().log.term(index) ?? raft().latestSnapshot?.term ?? 0, digest: digest(index) }),
    apply: (entry) => {
      const sc = entry.payload.kind === 'command' ? (entry.payload.command as SessionCommand) : undefined;
      const cmd = sc?.cmd;
      const taskId = cmd?.op === 'submitTasks' && cmd.tasks.length === 1 ? cmd.tasks[0].id : cmd?.op === 'taskChanges' && cmd.changes.length === 1 ? cmd.changes[0].taskId : undefined;
      trace.emit({
        type: 'apply',
        node,
        inc,
        index: entry.index,
        term: entry.term,
        digest: digest(entry.index),
        kind: entryKind(entry),
        ...(taskId !== undefined ? { taskId } : {}),
        ...(sc?.client !== undefined ? { client: sc.client, req: String(sc.seq) } : {}),
      });
    },
    snapshot: (s, cause) => trace.emit({ type: 'snapshot', node, inc, index: s.index, term: s.term, digest: s.digest ?? '', cause }),
    config: (index, config) => trace.emit({ type: 'config', node, inc, index, voters: [...config.voters], learners: [...config.learners] }),
    recover: (r) =>
      trace.emit({ type: 'recover', node, inc, term: r.term, votedFor: r.votedFor, lastIndex: r.lastIndex, lastDigest: digest(r.lastIndex), snapshotIndex: r.snapshotIndex }),
  };
}
