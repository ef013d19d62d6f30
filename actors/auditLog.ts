import { createHash } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import { copyValue, ValueDomainError } from '../system/valueDomain.js';
import { canonicalJson, toWellFormed } from './canonical.js';

/**
 * A node's audit log: what it saw and decided about who may do what. Each
 * node keeps its own; the log is not replicated through Raft, so a flood of
 * refused requests grows the refusing node's audit log (within its limits)
 * and never the replicated log every member must store and apply.
 *
 * Append-only and hash-chained: a record holds the hash of the one before
 * it, so changing or removing a record breaks the chain from there on
 * ({@link verifyAuditChain}). A hash chain alone cannot see its last
 * records removed; give the head recorded elsewhere (`expectedHead`) to
 * catch that.
 */

/** What a record is about. */
export type AuditKind = 'join' | 'block' | 'unblock' | 'membership' | 'unauthorized' | 'message' | 'certificate' | 'quota' | 'crossTenant';

/** What the node did about it. */
export type AuditOutcome = 'accepted' | 'rejected' | 'denied' | 'dropped' | 'applied';

/** Every {@link AuditKind}, in a fixed order. */
export const AUDIT_KINDS: readonly AuditKind[] = Object.freeze(['join', 'block', 'unblock', 'membership', 'unauthorized', 'message', 'certificate', 'quota', 'crossTenant']);

/** Every {@link AuditOutcome}, in a fixed order. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = Object.freeze(['accepted', 'rejected', 'denied', 'dropped', 'applied']);

/** The `prev` of record #1: 64 zeros (no record before it). */
export const AUDIT_GENESIS = '0'.repeat(64);

/** One record of the audit log. Frozen once made. */
export interface AuditRecord {
  /** Its place: 1, 2, … without gaps. */
  readonly seq: number;
  /** When, in the node's clock (ms; virtual ms in simulation). */
  readonly at: number;
  /** The node that wrote it. */
  readonly node: string;
  readonly kind: AuditKind;
  /** Who: a node, client or operator name. */
  readonly subject: string;
  readonly outcome: AuditOutcome;
  /** Why, for a person reading it. */
  readonly reason: string;
  /** More, as data in Grey's value domain (JSON values and `Uint8Array`). */
  readonly detail?: unknown;
  /** Hex SHA-256 {@link AuditRecord.hash} of the record before ({@link AUDIT_GENESIS} for #1). */
  readonly prev: string;
  /** Hex SHA-256 over the canonical encoding of every other field, `prev` included ({@link auditRecordHash}). */
  readonly hash: string;
}

/** What a caller gives {@link AuditLog.append}; the log adds seq, time, node and the chain. */
export interface AuditEvent {
  kind: AuditKind;
  subject: string;
  outcome: AuditOutcome;
  reason: string;
  detail?: unknown;
}

/** The last record's place and hash: what to keep elsewhere to catch a truncated tail. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** What a problem in the chain is (see {@link verifyAuditChain}). */
export type AuditProblem = 'modified' | 'deleted' | 'reordered' | 'badGenesis' | 'truncated';

/**
 * The result of checking a chain of records. A failure's `seq` is the
 * record at fault (the first missing one for `deleted` and `truncated`);
 * its `message` reads `record #17 modified (…)`: the verdict, then the
 * evidence in parentheses.
 */
export type AuditVerification =
  | { ok: true; count: number; head: AuditHead }
  | { ok: false; seq: number; problem: AuditProblem; message: string };

/**
 * Where audit records are kept durably. `load()` gives back every record
 * appended before, oldest first (an array or a lazy iterator: the log keeps
 * only its last `maxRecordsInMemory`). `append` may buffer; `sync`, when
 * there is one, resolves once every record appended before it is durable.
 * A store that throws from `append` leaves the log unchanged.
 */
export interface AuditStore {
  load(): Iterable<AuditRecord>;
  append(record: AuditRecord): void;
  sync?(): Promise<void>;
}

/**
 * An {@link AuditStore} in memory, for tests and simulation: it keeps every
 * record (like a disk would, unbounded), so a restarted {@link AuditLog}
 * continues its chain.
 */
export class MemoryAuditStore implements AuditStore {
  private readonly kept: AuditRecord[] = [];
  load(): AuditRecord[] {
    return [...this.kept];
  }
  append(record: AuditRecord): void {
    this.kept.push(record);
  }
  /** Everything appended, oldest first. */
  get records(): readonly AuditRecord[] {
    return this.kept;
  }
}

/**
 * The audit log's limits, explicit so its memory and each record's size are
 * bounded whatever arrives. Subject and reason can carry names an attacker
 * chose (a client's claimed name), so text over a limit is cut (marked with
 * `…`) and an over-large detail replaced, rather than refused: a refusal
 * must never become unloggable because of what was refused.
 */
export interface AuditLimits {
  /** Records kept in memory (older ones stay in the store, if any). Default 10 000. */
  maxRecordsInMemory: number;
  /** UTF-16 code units of a subject; longer ones are cut. Default 256. */
  maxSubjectLength: number;
  /** UTF-16 code units of a reason; longer ones are cut. Default 1 024. */
  maxReasonLength: number;
  /** Bytes of a detail (as Grey's value domain counts them); a larger one becomes `{ omittedBytes: n }`. Default 4 096. */
  maxDetailBytes: number;
}

/** The default {@link AuditLimits}. */
export const AUDIT_LIMITS: Readonly<AuditLimits> = Object.freeze({
  maxRecordsInMemory: 10_000,
  maxSubjectLength: 256,
  maxReasonLength: 1_024,
  maxDetailBytes: 4_096,
});

/** A bad argument to the audit log (an unknown kind, a subject that is not a string, a detail outside the value domain). */
export class AuditInputError extends TypeError {
  readonly code = 'InvalidAuditRecord';
  constructor(
    /** The argument at fault: `kind`, `detail.items[2]`, `limits.maxRecordsInMemory`. */
    readonly field: string,
    message: string,
  ) {
    super(`audit log: ${field}: ${message}`);
    this.name = 'AuditInputError';
  }
}

/** A store gave back records the log cannot continue from (a malformed last record, or seqs out of order). */
export class AuditStoreError extends Error {
  readonly code = 'AuditStoreCorrupt';
  constructor(message: string) {
    super(`audit log: ${message}`);
    this.name = 'AuditStoreError';
  }
}

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  /** This node's id, written into every record. */
  node: string;
  /** Where record times come from (virtual in simulation). */
  clock: { now(): number };
  /** Where records are kept durably; without one, only the last `maxRecordsInMemory` exist. */
  store?: AuditStore;
  limits?: Partial<AuditLimits>;
}

/** Filters of {@link AuditLog.records}. */
export interface AuditQuery {
  /** Only records from this seq on. */
  fromSeq?: number;
  kind?: AuditKind;
  subject?: string;
  /** At most this many (the oldest that match). */
  limit?: number;
}

// A fixed prefix: hashes of audit records never collide with other SHA-256
// uses in Grey, and a change of encoding gets a new prefix, not silent mismatches.
const HASH_DOMAIN = 'grey-audit/1\n';

/**
 * The hash a record must carry: hex SHA-256 of a domain prefix and the
 * canonical JSON of every field but `hash` (so `prev` is covered and the
 * records form a chain). Stable across processes and platforms. Throws a
 * TypeError when a field is not JSON data.
 */
export function auditRecordHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { seq, at, node, kind, subject, outcome, reason, detail, prev } = record;
  const body = canonicalJson({ seq, at, node, kind, subject, outcome, reason, detail, prev });
  return createHash('sha256').update(HASH_DOMAIN + body).digest('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;
const KINDS = new Set<string>(AUDIT_KINDS);
const OUTCOMES = new Set<string>(AUDIT_OUTCOMES);

/** What is wrong with the shape of a stored record, or null: for records read back from a store or a file. */
function shapeProblem(r: unknown): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not an object';
  const o = r as Record<string, unknown>;
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return `seq ${JSON.stringify(o.seq)} is not a positive integer`;
  if (typeof o.at !== 'number' || !Number.isFinite(o.at)) return 'at is not a finite number';
  for (const f of ['node', 'subject', 'reason'] as const) if (typeof o[f] !== 'string') return `${f} is not a string`;
  if (!KINDS.has(o.kind as string)) return `unknown kind ${JSON.stringify(o.kind)}`;
  if (!OUTCOMES.has(o.outcome as string)) return `unknown outcome ${JSON.stringify(o.outcome)}`;
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return 'prev is not a hex SHA-256';
  if (typeof o.hash !== 'string' || !HEX64.test(o.hash)) return 'hash is not a hex SHA-256';
  return null;
}

/** Options of {@link verifyAuditChain}. */
export interface AuditChainOptions {
  /**
   * The head recorded elsewhere (a peer, a monitoring system, an earlier
   * `grey audit verify`). Without it a chain whose last records were
   * removed still verifies: every remaining link is intact. With it, a
   * log ending before that seq is reported `truncated`, and one whose
   * record at that seq has another hash `modified`.
   */
  expectedHead?: AuditHead;
  /**
   * The record just before the first one given, when the records are a
   * window of a longer log (an {@link AuditLog} that dropped its oldest
   * records from memory): the first record must follow it. Default:
   * `{ seq: 0, hash: AUDIT_GENESIS }`, the records start at #1.
   */
  from?: AuditHead;
}

/**
 * Checks a chain of audit records, oldest first, and names the first
 * problem:
 * - `modified`: a record whose hash does not match its fields (a field was
 *   changed), a malformed record, or a record rewritten with a new hash
 *   (its successor chains to the old one);
 * - `deleted`: a gap in the seqs (the record after the gap does not chain
 *   to the one before it either), records at the start included;
 * - `reordered`: a record out of its place (seqs that go back, or a gap
 *   whose missing records come later);
 * - `badGenesis`: record #1 does not start from {@link AUDIT_GENESIS};
 * - `truncated`: the log ends before `options.expectedHead`.
 *
 * A hash chain alone cannot see its last records removed (what is left is
 * a valid chain), nor a tail rewritten and rehashed from some record on:
 * only a head kept elsewhere (`expectedHead`) catches those.
 */
export function verifyAuditChain(records: readonly AuditRecord[], options: AuditChainOptions = {}): AuditVerification {
  const from = options.from ?? { seq: 0, hash: AUDIT_GENESIS };
  let prevSeq = from.seq;
  let prevHash = from.hash;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const expected = prevSeq + 1;
    const shape = shapeProblem(r);
    if (shape !== null) {
      const seq = Number.isSafeInteger((r as { seq?: unknown })?.seq) ? r.seq : expected;
      return fail(seq, 'modified', `record #${seq} modified (malformed at position ${i + 1}: ${shape})`);
    }
    let hash: string;
    try {
      hash = auditRecordHash(r);
    } catch (err) {
      return fail(r.seq, 'modified', `record #${r.seq} modified (malformed: ${(err as Error).message})`);
    }
    // A changed field first: a record whose seq was edited is modified, not a gap.
    if (hash !== r.hash) return fail(r.seq, 'modified', `record #${r.seq} modified (its hash does not match its contents)`);
    if (r.seq < expected) {
      return fail(r.seq, 'reordered', `record #${r.seq} reordered (found after #${prevSeq})`);
    }
    if (r.seq > expected) {
      const misplaced = records.slice(i + 1).find((later) => typeof later?.seq === 'number' && later.seq >= expected && later.seq < r.seq);
      if (misplaced !== undefined) return fail(misplaced.seq, 'reordered', `record #${misplaced.seq} reordered (found after #${r.seq})`);
      const missing = expected === r.seq - 1 ? `record #${expected}` : `records #${expected}…#${r.seq - 1}`;
      const link = r.prev === prevHash ? '' : `, and #${r.seq} does not chain to ${prevSeq === 0 ? 'the genesis' : `#${prevSeq}`}`;
      return fail(expected, 'deleted', `${missing} deleted (the log goes from ${prevSeq === 0 ? 'its start' : `#${prevSeq}`} to #${r.seq}${link})`);
    }
    if (r.prev !== prevHash) {
      if (r.seq === 1) return fail(1, 'badGenesis', `record #1 does not start the chain (its prev is not the genesis ${AUDIT_GENESIS.slice(0, 12)}…)`);
      return fail(prevSeq, 'modified', `record #${prevSeq} modified (#${r.seq} chains to another hash: #${prevSeq} was rewritten and rehashed)`);
    }
    prevSeq = r.seq;
    prevHash = r.hash;
  }
  const want = options.expectedHead;
  if (want !== undefined) {
    if (want.seq > prevSeq) {
      const missing = want.seq === prevSeq + 1 ? `record #${want.seq}` : `records #${prevSeq + 1}…#${want.seq}`;
      return fail(prevSeq + 1, 'truncated', `${missing} truncated (the log ends at #${prevSeq} but its head was #${want.seq})`);
    }
    // The expected head inside what was checked must be the record there, unchanged.
    const at = want.seq === from.seq ? from.hash : want.seq > from.seq ? records[want.seq - from.seq - 1]?.hash : undefined;
    if (at !== undefined && at !== want.hash) {
      return fail(want.seq, 'modified', `record #${want.seq} modified (its hash is not the head recorded for it, ${want.hash.slice(0, 12)}…)`);
    }
  }
  return { ok: true, count: records.length, head: { seq: prevSeq, hash: prevHash } };
}

function fail(seq: number, problem: AuditProblem, message: string): AuditVerification {
  return { ok: false, seq, problem, message };
}

/** Deep-freezes a checked copy (byte arrays cannot be frozen, and are already private copies). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** `s` cut to `max` code units, with `…` as the last one, never splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max - 1;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return `${s.slice(0, end)}…`;
}

function checkLimits(given: Partial<AuditLimits> | undefined): AuditLimits {
  const limits = { ...AUDIT_LIMITS };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (!(key in AUDIT_LIMITS)) throw new AuditInputError(`limits.${key}`, `unknown limit; known: ${Object.keys(AUDIT_LIMITS).join(', ')}`);
    if (value === undefined) continue;
    const least = key === 'maxDetailBytes' ? 0 : key === 'maxRecordsInMemory' ? 1 : 2;
    if (!Number.isSafeInteger(value) || value < least) throw new AuditInputError(`limits.${key}`, `must be an integer ≥ ${least}, got ${String(value)}`);
    limits[key as keyof AuditLimits] = value;
  }
  return limits;
}

/**
 * A node's append-only, hash-chained audit log (see the top of this file).
 *
 * Memory is bounded: the last `limits.maxRecordsInMemory` records are kept
 * (older ones are dropped from memory, and stay in the store when there is
 * one). {@link AuditLog.verify} checks what is in memory: from record #1
 * while nothing was dropped, else from the first kept record's `prev`.
 *
 * Deterministic: times come from the clock given, and nothing else varies.
 */
export class AuditLog {
  private readonly node: string;
  private readonly clock: { now(): number };
  private readonly store: AuditStore | undefined;
  /** The limits in force. */
  readonly limits: Readonly<AuditLimits>;
  // A ring of the last maxRecordsInMemory records: appending never copies the window.
  private readonly ring: AuditRecord[] = [];
  private start = 0;
  /** The record before the oldest one in memory: the genesis until one is dropped. */
  private before: AuditHead = { seq: 0, hash: AUDIT_GENESIS };
  private last: AuditHead = { seq: 0, hash: AUDIT_GENESIS };
  private readonly appended = new Subject<AuditRecord>();

  /** Each new record, as it is appended (records loaded from the store are not replayed). */
  readonly records$: Observable<AuditRecord> = this.appended.asObservable();

  /**
   * Opens the log, continuing the chain of the records in `store`. Throws
   * {@link AuditInputError} for bad options, {@link AuditStoreError} when
   * the stored records cannot be continued (their seqs go back, or the last
   * one is malformed). A chain broken inside is not refused here: the log
   * goes on, and {@link AuditLog.verify} (or `grey audit verify`) reports it.
   */
  constructor(opts: AuditLogOptions) {
    if (typeof opts?.node !== 'string' || opts.node.length === 0) throw new AuditInputError('node', 'must be a non-empty string');
    if (typeof opts.clock?.now !== 'function') throw new AuditInputError('clock', 'must have a now() method');
    this.node = opts.node;
    this.clock = opts.clock;
    this.store = opts.store;
    this.limits = Object.freeze(checkLimits(opts.limits));
    if (this.store !== undefined) {
      for (const record of this.store.load()) {
        const shape = shapeProblem(record);
        if (shape !== null) throw new AuditStoreError(`stored record after #${this.last.seq} is malformed (${shape}); 'grey audit verify' names the damage`);
        if (record.seq <= this.last.seq) throw new AuditStoreError(`stored record #${record.seq} comes after #${this.last.seq}; 'grey audit verify' names the damage`);
        this.keep(Object.isFrozen(record) ? record : deepFreeze({ ...record }));
      }
    }
  }

  /** The last record's seq and hash (`{ seq: 0, hash: AUDIT_GENESIS }` when empty): keep it elsewhere to detect a truncated tail. */
  get head(): AuditHead {
    return { ...this.last };
  }

  /** How many records are in memory now. */
  get size(): number {
    return this.ring.length;
  }

  /**
   * Appends a record: the event given, with the next seq, the clock's time,
   * this node and the chain. Writes it to the store (if any) before it
   * counts, then emits it on {@link AuditLog.records$}. Subject and reason
   * over their limits are cut, a detail over its limit is replaced (see
   * {@link AuditLimits}); a lone surrogate in text becomes U+FFFD. Throws
   * {@link AuditInputError} for an unknown kind or outcome, text that is
   * not a string, or a detail outside Grey's value domain.
   */
  append(e: AuditEvent): AuditRecord {
    if (typeof e !== 'object' || e === null) throw new AuditInputError('event', 'must be an object { kind, subject, outcome, reason, detail? }');
    if (!KINDS.has(e.kind)) throw new AuditInputError('kind', `unknown kind ${JSON.stringify(e.kind)}; known: ${AUDIT_KINDS.join(', ')}`);
    if (!OUTCOMES.has(e.outcome)) throw new AuditInputError('outcome', `unknown outcome ${JSON.stringify(e.outcome)}; known: ${AUDIT_OUTCOMES.join(', ')}`);
    if (typeof e.subject !== 'string') throw new AuditInputError('subject', `must be a string, got ${typeof e.subject}`);
    if (typeof e.reason !== 'string') throw new AuditInputError('reason', `must be a string, got ${typeof e.reason}`);
    let detail: unknown;
    if (e.detail !== undefined) {
      try {
        const checked = copyValue(e.detail, 'detail');
        detail = checked.bytes > this.limits.maxDetailBytes ? { omittedBytes: checked.bytes } : checked.value;
      } catch (err) {
        if (err instanceof ValueDomainError) throw new AuditInputError(err.path, `${err.detail} (a detail must be in Grey's value domain)`);
        throw err;
      }
    }
    const at = this.clock.now();
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new AuditInputError('clock', `now() gave ${String(at)}, not a finite number`);
    const unhashed = {
      seq: this.last.seq + 1,
      at,
      node: this.node,
      kind: e.kind,
      subject: cut(toWellFormed(e.subject), this.limits.maxSubjectLength),
      outcome: e.outcome,
      reason: cut(toWellFormed(e.reason), this.limits.maxReasonLength),
      ...(detail === undefined ? {} : { detail }),
      prev: this.last.hash,
    };
    const record: AuditRecord = deepFreeze({ ...unhashed, hash: auditRecordHash(unhashed) });
    this.store?.append(record);
    this.keep(record);
    this.appended.next(record);
    return record;
  }

  /**
   * Records in memory, oldest first, that match every filter given. Throws
   * {@link AuditInputError} for a filter of the wrong type.
   */
  records(options: AuditQuery = {}): readonly AuditRecord[] {
    const { fromSeq, kind, subject, limit } = options;
    if (fromSeq !== undefined && !Number.isSafeInteger(fromSeq)) throw new AuditInputError('fromSeq', `must be an integer, got ${String(fromSeq)}`);
    if (kind !== undefined && !KINDS.has(kind)) throw new AuditInputError('kind', `unknown kind ${JSON.stringify(kind)}; known: ${AUDIT_KINDS.join(', ')}`);
    if (subject !== undefined && typeof subject !== 'string') throw new AuditInputError('subject', 'must be a string');
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new AuditInputError('limit', `must be an integer ≥ 0, got ${String(limit)}`);
    const out: AuditRecord[] = [];
    const n = this.ring.length;
    const at = (i: number) => this.ring[(this.start + i) % n];
    // Seqs in memory increase (the constructor and append see to it), so fromSeq is a binary search, not a scan.
    let skip = 0;
    if (fromSeq !== undefined) {
      let hi = n;
      while (skip < hi) {
        const mid = (skip + hi) >>> 1;
        if (at(mid).seq < fromSeq) skip = mid + 1;
        else hi = mid;
      }
    }
    for (let i = skip; i < n && (limit === undefined || out.length < limit); i++) {
      const r = at(i);
      if ((kind === undefined || r.kind === kind) && (subject === undefined || r.subject === subject)) out.push(r);
    }
    return Object.freeze(out);
  }

  /**
   * Checks the chain of the records in memory (see {@link verifyAuditChain});
   * with `expectedHead`, also that none was removed from the end.
   */
  verify(options: { expectedHead?: AuditHead } = {}): AuditVerification {
    return verifyAuditChain(this.records(), { from: this.before, ...(options.expectedHead ? { expectedHead: options.expectedHead } : {}) });
  }

  /** Resolves once every record appended so far is durable (at once without a store, or with a store that has no sync). */
  async sync(): Promise<void> {
    await this.store?.sync?.();
  }

  private keep(record: AuditRecord): void {
    const max = this.limits.maxRecordsInMemory;
    if (this.ring.length < max) {
      this.ring.push(record);
    } else {
      const oldest = this.ring[this.start];
      this.before = { seq: oldest.seq, hash: oldest.hash };
      this.ring[this.start] = record;
      this.start = (this.start + 1) % max;
    }
    this.last = { seq: record.seq, hash: record.hash };
  }
}
