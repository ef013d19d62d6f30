import type { RaftNode, RaftObserver } from '../actors/raftNode.js';
import { sessionCommandsOf, type SessionCommand } from '../actors/clusterState.js';
import type { LogEntry } from '../actors/raftTypes.js';
import type { Trace } from './trace.js';

/**
 * The `kind` of an applied entry in the trace: the command's op (the op its
 * requests share, for a batch of client requests; `batch` when they differ),
 * or `noop` / `config`.
 */
export function entryKind(entry: LogEntry): string {
  if (entry.payload.kind !== 'command') return entry.payload.kind;
  const commands = sessionCommandsOf(entry.payload.command);
  const op = commands[0]?.cmd?.op;
  if (typeof op !== 'string') return 'command';
  for (let i = 1; i < commands.length; i++) if (commands[i]?.cmd?.op !== op) return 'batch';
  return op;
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
      const commands = entry.payload.kind === 'command' ? sessionCommandsOf(entry.payload.command) : [];
      const sc: SessionCommand | undefined = commands.length === 1 ? commands[0] : undefined;
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
        ...(commands.length > 1 ? { requests: commands.length } : {}),
      });
    },
    snapshot: (s, cause) => trace.emit({ type: 'snapshot', node, inc, index: s.index, term: s.term, digest: s.digest ?? '', cause }),
    config: (index, config) => trace.emit({ type: 'config', node, inc, index, voters: [...config.voters], learners: [...config.learners] }),
    recover: (r) =>
      trace.emit({ type: 'recover', node, inc, term: r.term, votedFor: r.votedFor, lastIndex: r.lastIndex, lastDigest: digest(r.lastIndex), snapshotIndex: r.snapshotIndex }),
  };
}
