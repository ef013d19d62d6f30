/** Data shared by the Raft actors: log entries, configurations, messages. */
import type { EncodeOnce } from '../system/codec.js';

/** A cluster configuration: who votes, who only replicates. */
export interface RaftConfig {
  voters: string[];
  learners: string[];
}

/**
 * What an entry carries. `noop` is the entry a new leader appends to commit
 * its term (§5.4.2); `config` changes the configuration one server at a time
 * (dissertation §4.1) and takes effect when appended; `command` is opaque to
 * Raft and applied by the state machine.
 */
export type EntryPayload =
  | { kind: 'noop' }
  | { kind: 'config'; config: RaftConfig }
  | { kind: 'command'; command: unknown };

/** One log entry. */
export interface LogEntry {
  index: number;
  term: number;
  payload: EntryPayload;
}

/** A snapshot: the state machine at `index`, and the configuration then. */
export interface Snapshot {
  index: number;
  term: number;
  config: RaftConfig;
  data: unknown;
  /** Digest of the log up to `index`, when digests are kept. */
  digest?: string;
}

/** Persistent Raft state besides the log (§5, Figure 2). */
export interface HardState {
  term: number;
  votedFor: string | null;
}

/** RequestVote and PreVote (dissertation §9.6). */
export interface VoteRequest {
  term: number;
  candidate: string;
  lastIndex: number;
  lastTerm: number;
  preVote: boolean;
  /** Set by a leadership transfer: voters waive their leader lease (§3.10). */
  transfer: boolean;
}

export interface VoteResponse {
  term: number;
  granted: boolean;
  preVote: boolean;
}

/** AppendEntries, as it arrives through a codec. */
export interface AppendRequest {
  term: number;
  leader: string;
  prevIndex: number;
  prevTerm: number;
  /**
   * The entries after `prevIndex`, in order. A large entry whose encoding
   * the leader keeps (`system/keptEncodings.ts`) travels as those bytes,
   * which the follower decodes and stores as they are.
   */
  entries: WireEntry[];
  commit: number;
  /** ReadIndex round this heartbeat confirms leadership for (0: none). */
  readRound: number;
}

export interface AppendResponse {
  term: number;
  success: boolean;
  /** On success: the highest index known to match the leader's log. */
  match: number;
  /** On rejection (fast backtracking): where the leader should retry. */
  conflictIndex: number;
  /** On rejection: the follower's term at prevIndex, or 0 when it has no entry there. */
  conflictTerm: number;
  /** The follower's last index, for the leader's bookkeeping. */
  lastIndex: number;
  readRound: number;
}

export interface SnapshotRequest {
  term: number;
  leader: string;
  snapshot: Snapshot;
}

export interface TimeoutNowRequest {
  term: number;
}

/**
 * The entries of an AppendEntries as a leader sends them: wrapped, so that
 * the batch it sends to every follower is encoded once; a codec delivers
 * the plain array. A transport without a codec hands the wrapper over.
 */
export type EntryBatch = WireEntry[] | EncodeOnce<WireEntry[]>;

/** A log entry as AppendEntries carries it: itself, or its kept standalone encoding. */
export type WireEntry = LogEntry | Uint8Array;

/** AppendEntries as a leader sends it, or as it arrives without a codec. */
export interface AppendSend extends Omit<AppendRequest, 'entries'> {
  entries: EntryBatch;
}

/** Every Raft message type and its payload, as it arrives through a codec. */
export interface RaftMessages {
  'raft.vote': VoteRequest;
  'raft.voteResponse': VoteResponse;
  'raft.append': AppendRequest;
  'raft.appendResponse': AppendResponse;
  'raft.snapshot': SnapshotRequest;
  'raft.timeoutNow': TimeoutNowRequest;
}

export type RaftMessageType = keyof RaftMessages;

/** Every Raft message type and its payload as a node sends it (see {@link EntryBatch}). */
export type OutgoingRaftMessages = { [K in RaftMessageType]: K extends 'raft.append' ? AppendSend : RaftMessages[K] };

/** Returns a configuration with both lists sorted (a canonical form). */
export function normalizeConfig(config: RaftConfig): RaftConfig {
  return { voters: [...config.voters].sort(), learners: [...config.learners].sort() };
}

/**
 * The digest chain of a log (DESIGN.md, trace format), kept beside it when
 * tracing or checking. The node feeds it every append, truncation,
 * compaction and snapshot so that snapshots carry their digest.
 */
export interface LogDigests {
  append(entry: { index: number; term: number; command: unknown }): string;
  digestAt(index: number): string | undefined;
  truncateFrom(index: number): void;
  compactTo(index: number): void;
  restore(point: { index: number; digest: string }): void;
}
