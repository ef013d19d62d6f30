import { closeSync, openSync, writeSync } from 'node:fs';
import { canonicalJson } from './canonical.js';

/**
 * The run trace, format version 1 (see DESIGN.md, "Trace format"): JSON
 * Lines, a header line, then one event per line in emission order.
 *
 * The required fields of each event type are typed exactly; more fields are
 * welcome (the index signature of the base), and more types go through
 * {@link Trace.emitCustom}.
 */

/** The trace format version this module writes and reads. */
export const TRACE_VERSION = 1;

/** The Raft roles a `role` event reports. */
export type TraceRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** One log entry as the trace shows it: `[term, digest]`. */
export type TraceEntry = [term: number, digest: string];

/** First line of a trace. */
export interface TraceHeader {
  type: 'header';
  version: 1;
  seed: number;
  nodes: string[];
  options: object;
}

/** Fields of every event; further fields are allowed. */
export interface TraceEventBase {
  /** Virtual milliseconds. */
  t: number;
  [extra: string]: unknown;
}

/** Fields of an event one node emits. */
export interface NodeEventBase extends TraceEventBase {
  node: string;
  /** Incarnation: 0 at first start, +1 at each restart. */
  inc: number;
}

/** At start and restart, and on every role or term change. */
export interface RoleEvent extends NodeEventBase {
  type: 'role';
  role: TraceRole;
  term: number;
  /** The leader this node knows of, or null. */
  leader: string | null;
}

/** A vote persisted (self-votes included). */
export interface VoteEvent extends NodeEventBase {
  type: 'vote';
  term: number;
  votedFor: string | null;
}

/** Entries written to a node's log, starting at index `from`. */
export interface AppendEvent extends NodeEventBase {
  type: 'append';
  from: number;
  entries: TraceEntry[];
}

/** A log suffix removed, starting at index `from`. */
export interface TruncateEvent extends NodeEventBase {
  type: 'truncate';
  from: number;
}

/** A node's commit index advanced to `index`. */
export interface CommitEvent extends NodeEventBase {
  type: 'commit';
  index: number;
  term: number;
  digest: string;
}

/** One entry applied to the node's replicated state. */
export interface ApplyEvent extends NodeEventBase {
  type: 'apply';
  index: number;
  term: number;
  digest: string;
  /** The command kind (`submit`, `assign`, `config`, `noop`, …). */
  kind: string;
  taskId?: string;
  /** The request applied, when the entry holds one client request. */
  client?: string;
  req?: string;
  /** How many client requests the entry holds, when the leader batched several into it. */
  requests?: number;
}

/** Why a snapshot event happened. */
export type SnapshotCause = 'take' | 'install' | 'restore';

/** A snapshot taken, installed from the leader, or restored from storage. */
export interface SnapshotEvent extends NodeEventBase {
  type: 'snapshot';
  index: number;
  term: number;
  digest: string;
  cause: SnapshotCause;
}

/** After a restart: what durable storage gave back. */
export interface RecoverEvent extends NodeEventBase {
  type: 'recover';
  term: number;
  votedFor: string | null;
  lastIndex: number;
  lastDigest: string;
  snapshotIndex: number;
  /** The commit index storage gave back, when it keeps one. */
  commitIndex?: number;
}

/** A node adopted a configuration (the one at log index `index`). */
export interface ConfigEvent extends NodeEventBase {
  type: 'config';
  index: number;
  voters: string[];
  learners: string[];
}

/** A task status change a node applied, or refused (`rejected: true`). */
export interface TaskEvent extends NodeEventBase {
  type: 'task';
  index: number;
  taskId: string;
  from: string | null;
  to: string;
  attempt: number;
  worker: string | null;
  reason: string | null;
  rejected: boolean;
}

/** Phases of a client request, as a linearizability checker reads them. */
export type ClientPhase = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * A client request: `invoke`; `ok` (applied at index/term/digest); `fail`
 * (never applied); `info` (outcome unknown).
 */
export interface ClientEvent extends TraceEventBase {
  type: 'client';
  client: string;
  req: string;
  op: string;
  phase: ClientPhase;
  taskId?: string | null;
  /** With `ok`: where the request was applied. */
  index?: number;
  term?: number;
  digest?: string;
  /** With `fail` and `info`: the error code. */
  error?: string;
}

/** An injected fault; which target fields are present depends on `kind`. */
export interface FaultEvent extends TraceEventBase {
  type: 'fault';
  kind: string;
  node?: string;
  groups?: string[][];
  from?: string;
  to?: string;
  params?: object;
}

/** One node's state in the `end` event (`role` null when it is down). */
export interface EndNodeState {
  role: TraceRole | null;
  term: number;
  commitIndex: number;
  lastApplied: number;
  inc: number;
}

/** Last line of a run. */
export interface EndEvent extends TraceEventBase {
  type: 'end';
  nodes: Record<string, EndNodeState>;
}

/** Every event type of format version 1. */
export type TraceEvent =
  | RoleEvent
  | VoteEvent
  | AppendEvent
  | TruncateEvent
  | CommitEvent
  | ApplyEvent
  | SnapshotEvent
  | RecoverEvent
  | ConfigEvent
  | TaskEvent
  | ClientEvent
  | FaultEvent
  | EndEvent;

/** The `type` of every event of format version 1. */
export type TraceEventType = TraceEvent['type'];

/** An event of a type this format does not define (an extension). */
export interface CustomTraceEvent extends TraceEventBase {
  type: string;
  node?: string;
  inc?: number;
}

/** What a trace line holds after the header: a known or an extension event. */
export type AnyTraceEvent = TraceEvent | CustomTraceEvent;

/** An event as handed to {@link Trace.emit}: `t` may be left to the clock. */
export type TraceEventInit = OptionalT<TraceEvent>;

/**
 * `E` with `t` optional, member by member. (`Omit` would not do: on a type
 * with an index signature it drops every named field.)
 */
type OptionalT<E> = E extends unknown ? { [K in keyof E as K extends 't' ? never : K]: E[K] } & { t?: number } : never;

/** A custom event as handed to {@link Trace.emitCustom}. */
export type CustomTraceEventInit = Omit<CustomTraceEvent, 't'> & { type: string; t?: number };

/** The types of node events: they carry `node` and `inc`. */
export const NODE_EVENT_TYPES: ReadonlySet<string> = new Set([
  'role',
  'vote',
  'append',
  'truncate',
  'commit',
  'apply',
  'snapshot',
  'recover',
  'config',
  'task',
]);

/** Options of a {@link Trace}. */
export interface TraceOptions {
  seed: number;
  nodes: string[];
  /** The run's options, as plain data (encoded with {@link canonicalJson}). */
  options?: object;
  /** Fills `t` of events emitted without one (the kernel, in simulation). */
  clock?: { now(): number };
  /** Keep every line in memory, for {@link Trace.toJSONL}. */
  keep?: boolean;
}

/** Receives each trace line (without the newline). */
export type TraceSink = (line: string) => void;
/** Receives each trace event as an object (the online checker). */
export type TraceListener = (event: AnyTraceEvent) => void;

/**
 * A run's trace. Events are serialized once, written to every sink (and
 * kept, with `keep`), then handed to the listeners; so when a listener (the
 * online invariant checker) throws, the offending line is already written.
 *
 * With no sink, no listener and no `keep`, {@link Trace.emit} returns at
 * once; components hold `trace?: Trace` and skip building events entirely
 * when it is undefined, so untraced runs (benchmarks) pay nothing.
 *
 * Events must not be mutated after they are emitted: listeners may hold them.
 */
export class Trace {
  readonly header: TraceHeader;
  private readonly clock: { now(): number } | undefined;
  private readonly keep: boolean;
  private readonly headerLine: string;
  private readonly kept: string[] = [];
  private sinks: TraceSink[] = [];
  private listeners: TraceListener[] = [];
  private emitted = 0;

  constructor(options: TraceOptions) {
    if (!Number.isSafeInteger(options.seed)) throw new TypeError(`trace seed must be an integer, got ${options.seed}`);
    const opts = options.options ?? {};
    // Canonical encoding: the header's bytes must not depend on the order
    // in which the caller happened to build its options object.
    const optionsJson = canonicalJson(opts);
    this.header = { type: 'header', version: TRACE_VERSION, seed: options.seed, nodes: [...options.nodes], options: opts };
    this.headerLine =
      `{"type":"header","version":${TRACE_VERSION},"seed":${options.seed},` +
      `"nodes":${canonicalJson(this.header.nodes)},"options":${optionsJson}}`;
    this.clock = options.clock;
    this.keep = options.keep ?? false;
  }

  /** Whether anything consumes events: when false, emitting is wasted work. */
  get enabled(): boolean {
    return this.keep || this.sinks.length > 0 || this.listeners.length > 0;
  }

  /** Number of events emitted so far. */
  get size(): number {
    return this.emitted;
  }

  /** The kept lines after the header (empty unless `keep`). */
  get lines(): readonly string[] {
    return this.kept;
  }

  /** Emits one event of format version 1; `t` defaults to the clock's time. */
  emit(event: TraceEventInit): void {
    this.write(event as CustomTraceEventInit);
  }

  /** Emits an event of a type the format does not define (an extension). */
  emitCustom(event: CustomTraceEventInit): void {
    this.write(event);
  }

  /**
   * Adds a line sink. It gets the header at once, then every later line. A
   * sink added after events were emitted also gets them when `keep` is on;
   * without `keep` that would be a trace with a hole, so it is refused.
   * Returns a function that removes the sink.
   */
  addSink(sink: TraceSink): () => void {
    if (this.emitted > 0 && !this.keep) {
      throw new Error(`Trace: cannot add a sink after ${this.emitted} events were emitted without keep: true; the sink would get a trace with a hole`);
    }
    sink(this.headerLine);
    for (const line of this.kept) sink(line);
    this.sinks = [...this.sinks, sink];
    return () => {
      this.sinks = this.sinks.filter((s) => s !== sink);
    };
  }

  /** Adds a listener for events emitted from now on; returns its remover. */
  subscribe(listener: TraceListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** The whole trace as JSON Lines (needs `keep: true`). */
  toJSONL(): string {
    if (!this.keep) throw new Error('Trace: toJSONL needs a trace created with keep: true');
    return this.kept.length === 0 ? `${this.headerLine}\n` : `${this.headerLine}\n${this.kept.join('\n')}\n`;
  }

  private write(init: CustomTraceEventInit): void {
    if (!this.keep && this.sinks.length === 0 && this.listeners.length === 0) return;
    let t = init.t;
    if (t === undefined) {
      if (!this.clock) throw new TypeError(`Trace: a '${init.type}' event has no t and the trace has no clock`);
      t = this.clock.now();
    }
    // `t` and `type` lead every line, whatever order the emitter used.
    const event: CustomTraceEvent = Object.assign({ t, type: init.type }, init);
    event.t = t;
    this.emitted++;
    if (this.keep || this.sinks.length > 0) {
      const line = JSON.stringify(event);
      if (this.keep) this.kept.push(line);
      // Safe if a sink (un)subscribes meanwhile: the arrays are replaced, never mutated.
      for (const sink of this.sinks) sink(line);
    }
    for (const listener of this.listeners) listener(event);
  }
}

/** A sink writing to a file, with {@link TraceFileSink.close}. */
export interface TraceFileSink extends TraceSink {
  /** Closes the file; later lines are an error. */
  close(): void;
}

/**
 * A sink that writes each line to `path` (created or emptied), synchronously,
 * so that the file is complete up to the last event even when the run stops
 * on an exception.
 */
export function writeTraceFile(path: string): TraceFileSink {
  let fd: number | undefined = openSync(path, 'w');
  const sink = ((line: string) => {
    if (fd === undefined) throw new Error(`trace file ${path} is closed`);
    writeSync(fd, `${line}\n`);
  }) as TraceFileSink;
  sink.close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return sink;
}

/** A trace that cannot be read: `line` is 1-based. */
export class TraceFormatError extends Error {
  readonly code = 'TraceFormat';
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
    this.name = 'TraceFormatError';
  }
}

/** A parsed trace; `lines[i]` is the line number of `events[i]`. */
export interface ParsedTrace {
  header: TraceHeader;
  events: AnyTraceEvent[];
  lines: number[];
}

type FieldKind = 'int' | 'string' | 'string?' | 'entries' | 'strings' | 'object' | readonly string[];

const ROLES = ['follower', 'precandidate', 'candidate', 'leader'] as const;

/**
 * Required fields per known type, as far as readers depend on them. Fields
 * the table of DESIGN.md lists but that depend on the case (`taskId` of an
 * apply, `index` of a client `ok`) are not required here.
 */
const REQUIRED: Record<TraceEventType, Record<string, FieldKind>> = {
  role: { role: ROLES, term: 'int', leader: 'string?' },
  vote: { term: 'int', votedFor: 'string?' },
  append: { from: 'int', entries: 'entries' },
  truncate: { from: 'int' },
  commit: { index: 'int', term: 'int', digest: 'string' },
  apply: { index: 'int', term: 'int', digest: 'string', kind: 'string' },
  snapshot: { index: 'int', term: 'int', digest: 'string', cause: ['take', 'install', 'restore'] },
  recover: { term: 'int', votedFor: 'string?', lastIndex: 'int', lastDigest: 'string', snapshotIndex: 'int' },
  config: { index: 'int', voters: 'strings', learners: 'strings' },
  task: { index: 'int', taskId: 'string', to: 'string' },
  client: { client: 'string', req: 'string', op: 'string', phase: ['invoke', 'ok', 'fail', 'info'] },
  fault: { kind: 'string' },
  end: { nodes: 'object' },
};

function fieldProblem(value: unknown, kind: FieldKind): string | undefined {
  const isInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (Array.isArray(kind)) return typeof value === 'string' && kind.includes(value) ? undefined : `one of ${kind.join(', ')}`;
  switch (kind) {
    case 'int':
      return isInt(value) ? undefined : 'a non-negative integer';
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'string?':
      return value === null || typeof value === 'string' ? undefined : 'a string or null';
    case 'strings':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? undefined : 'an array of strings';
    case 'entries':
      return Array.isArray(value) &&
        value.every((e) => Array.isArray(e) && e.length === 2 && isInt(e[0]) && typeof e[1] === 'string')
        ? undefined
        : 'an array of [term, digest]';
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : 'an object';
  }
  return undefined;
}

function parseLine(text: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TraceFormatError(line, `not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TraceFormatError(line, 'a trace line must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function readHeader(obj: Record<string, unknown>, line: number): TraceHeader {
  if (obj.type !== 'header') {
    throw new TraceFormatError(line, `the first line must be the header ({"type":"header","version":1,…}), got type ${JSON.stringify(obj.type)}`);
  }
  if (obj.version !== TRACE_VERSION) {
    throw new TraceFormatError(line, `unsupported trace version ${JSON.stringify(obj.version)}; this reader knows version ${TRACE_VERSION}`);
  }
  if (typeof obj.seed !== 'number' || !Number.isSafeInteger(obj.seed)) throw new TraceFormatError(line, 'header: seed must be an integer');
  if (fieldProblem(obj.nodes, 'strings')) throw new TraceFormatError(line, 'header: nodes must be an array of strings');
  if (fieldProblem(obj.options, 'object')) throw new TraceFormatError(line, 'header: options must be an object');
  return obj as unknown as TraceHeader;
}

function checkEvent(obj: Record<string, unknown>, line: number): AnyTraceEvent {
  if (typeof obj.type !== 'string') throw new TraceFormatError(line, 'an event needs a string "type"');
  if (obj.type === 'header') throw new TraceFormatError(line, 'a second header');
  if (typeof obj.t !== 'number' || !Number.isFinite(obj.t)) throw new TraceFormatError(line, `a '${obj.type}' event needs a numeric "t"`);
  const required = (REQUIRED as Record<string, Record<string, FieldKind>>)[obj.type];
  if (required) {
    if (NODE_EVENT_TYPES.has(obj.type)) {
      if (typeof obj.node !== 'string') throw new TraceFormatError(line, `a '${obj.type}' event needs "node" (a string)`);
      const problem = fieldProblem(obj.inc, 'int');
      if (problem) throw new TraceFormatError(line, `a '${obj.type}' event needs "inc" (${problem})`);
    }
    for (const [field, kind] of Object.entries(required)) {
      const problem = fieldProblem(obj[field], kind);
      if (problem) {
        const got = obj[field] === undefined ? 'missing' : `got ${JSON.stringify(obj[field])}`;
        throw new TraceFormatError(line, `'${obj.type}' field "${field}" must be ${problem} (${got})`);
      }
    }
  }
  return obj as AnyTraceEvent;
}

/**
 * Parses a JSON Lines trace. Blank lines are skipped; everything else must be
 * a JSON object. Known event types are checked for their required fields;
 * unknown types (extensions) only for `t` and `type`. Throws
 * {@link TraceFormatError} with the 1-based line number of the first problem.
 */
export function readTrace(text: string): ParsedTrace {
  const rows = text.split('\n');
  let header: TraceHeader | undefined;
  const events: AnyTraceEvent[] = [];
  const lines: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].endsWith('\r') ? rows[i].slice(0, -1) : rows[i];
    if (row.trim() === '') continue;
    const obj = parseLine(row, i + 1);
    if (header === undefined) header = readHeader(obj, i + 1);
    else {
      events.push(checkEvent(obj, i + 1));
      lines.push(i + 1);
    }
  }
  if (header === undefined) throw new TraceFormatError(1, 'empty trace: no header line');
  return { header, events, lines };
}
