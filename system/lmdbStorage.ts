import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { HardState, LogEntry, Snapshot } from '../actors/raftTypes.js';
import type { DurableState, Storage } from '../actors/storage.js';
import { msgpackCodec, type Codec } from './codec.js';
import { encodeKept } from './keptEncodings.js';
import { lmdbFileProblem } from './lmdbFileCheck.js';
import { isProcessAlive } from './processAlive.js';

/**
 * The on-disk format this code writes and reads. Bumped on any change of
 * layout or encoding; data of another version is refused, never misread.
 */
export const STORAGE_FORMAT_VERSION = 1;

/** What identifies a Grey data directory, stored next to the version. */
const FORMAT_NAME = 'grey-raft-log';

/** Thrown when a data directory holds data this version cannot read (another format version, or not Grey's). */
export class StorageFormatError extends Error {
  readonly code = 'StorageFormat';
  constructor(
    message: string,
    /** The directory opened. */
    readonly path: string,
    /** The version found on disk, when there is one. */
    readonly found: number | null,
  ) {
    super(message);
    this.name = 'StorageFormatError';
  }
}

/** Thrown when a data directory is open already, in this process or in another one that is alive. */
export class StorageInUseError extends Error {
  readonly code = 'StorageInUse';
  constructor(
    readonly path: string,
    /** The process holding it. */
    readonly pid: number,
  ) {
    super(`${path} is in use by ${pid === process.pid ? 'this process' : `process ${pid}`}: one node at a time owns a data directory`);
    this.name = 'StorageInUseError';
  }
}

/** Data directories open in this process (absolute paths). */
const openHere = new Set<string>();

/**
 * Claims `dir` for this process: a lock file holding our pid. A lock left
 * by a process that is gone (killed, crashed) is taken over; one held by a
 * live process, or by this one, is refused.
 */
function claim(dir: string): void {
  if (openHere.has(dir)) throw new StorageInUseError(dir, process.pid);
  const lock = join(dir, 'grey.lock');
  let holder = 0;
  try {
    holder = Number(readFileSync(lock, 'utf8').trim());
  } catch {
    // no lock: free
  }
  if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isProcessAlive(holder)) throw new StorageInUseError(dir, holder);
  writeFileSync(lock, `${process.pid}\n`);
  openHere.add(dir);
}

function release(dir: string): void {
  openHere.delete(dir);
  rmSync(join(dir, 'grey.lock'), { force: true });
}


/** Options of {@link LmdbStorage.open}. */
export interface LmdbStorageOptions {
  /** The codec of entries, snapshots and hard state on disk (default: Grey's wire codec). */
  codec?: Codec;
  /** Called with each sync's duration in seconds, once its data is on disk (for metrics). */
  onSynced?: (seconds: number) => void;
}

type Op =
  | { kind: 'hard'; state: HardState }
  | { kind: 'append'; entries: readonly LogEntry[] }
  | { kind: 'truncate'; index: number }
  | { kind: 'snapshot'; snapshot: Snapshot };

const META_FORMAT = 'format';
const META_HARD = 'hardState';
const META_SNAPSHOT = 'snapshot';
const META_FOUNDING = 'founding';
/** A file beside LMDB's own, written once a directory has opened: its data.mdb missing later means a lost log. */
const OPENED_MARK = 'grey.opened';

/**
 * How a data directory's node came into its cluster, recorded at its first
 * start: as one of the founding voters (their names), or by joining a
 * running cluster (it learnt its configuration from the leader's log).
 */
export type FoundingRecord = { voters: string[] } | { joined: true };

/**
 * Raft's durable state in LMDB (through lmdb-js): the log, the hard state
 * and the latest snapshot, in one memory-mapped B+tree file that stays
 * consistent across a crash at any point (copy-on-write pages, atomic
 * commits).
 *
 * Writes are buffered until `sync()`, which commits them as one
 * transaction and resolves once that transaction is flushed to disk
 * (fsync). Syncs issued while an earlier one is in flight are committed
 * together by lmdb-js's write batching: group commit, so a busy node pays
 * one flush for many appends. The node above holds every message until
 * the syncs before it resolve.
 *
 * Layout: database `log` maps an entry's index (an ordered number key) to
 * the entry, encoded with the codec; database `meta` holds the format
 * (`{ name, version }`), the hard state, the snapshot and how the node
 * came into its cluster (its founding voters, or that it joined). One node at a
 * time opens a data directory (`grey.lock`).
 */
export class LmdbStorage implements Storage {
  private pending: Op[] = [];
  /** The log on disk as the committed and queued transactions leave it: first and last index held (first > last: none). */
  private first = 1;
  private last = 0;
  /** The snapshot's index on disk (0: none), for what the log may hold. */
  private snapshotIndex = 0;
  private closed = false;
  /** The last sync issued: what an empty sync waits for. */
  private lastSync: Promise<void> = Promise.resolve();
  private readonly codec: Codec;
  private readonly onSynced: ((seconds: number) => void) | undefined;

  private constructor(
    /** The data directory. */
    readonly path: string,
    private readonly root: RootDatabase,
    private readonly log: Database<Uint8Array, number>,
    private readonly meta: Database<Uint8Array, string>,
    codec: Codec,
    onSynced?: (seconds: number) => void,
  ) {
    this.codec = codec;
    this.onSynced = onSynced;
  }

  /**
   * Opens (creating when absent) the data directory `dir`. Throws a
   * {@link StorageFormatError} when it holds data of another format
   * version, or data that is not Grey's; a {@link StorageInUseError} when
   * it is open in this process, or in another live one (a lock file with
   * the owner's pid; a lock left by a process that died is taken over).
   */
  static open(dir: string, options: LmdbStorageOptions = {}): LmdbStorage {
    const path = resolve(dir);
    try {
      mkdirSync(path, { recursive: true });
    } catch (err) {
      // EEXIST: the path is a file; ENOTDIR: a folder on the way is one.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new StorageFormatError(`${path} is not a directory: a data directory must be a folder (or not exist yet)`, path, null);
      throw err;
    }
    claim(path);
    // A directory Grey has opened (the mark below) whose data.mdb is gone or
    // empty is a node's log lost, not a new node: starting afresh would
    // forget its vote and what it acknowledged. (Without the mark, a first
    // start died before LMDB had written anything: nothing is lost.)
    const data = join(path, 'data.mdb');
    if (existsSync(join(path, OPENED_MARK)) && (!existsSync(data) || statSync(data).size === 0)) {
      release(path);
      throw new StorageFormatError(`${path} held a Grey node's data (${OPENED_MARK} is there) but data.mdb is ${existsSync(data) ? 'empty' : 'gone'}: its log is lost. Restore it from a backup; or remove the node from its cluster ('grey member remove'), empty the directory and add it again as a new member`, path, null);
    }
    let root: RootDatabase;
    try {
      // LMDB maps its file and trusts it: one it cannot read kills the process (SIGSEGV, SIGBUS). Said here instead.
      const problem = existsSync(data) && statSync(data).size > 0 ? lmdbFileProblem(data) : null;
      if (problem !== null) {
        throw new StorageFormatError(`${data} is not a sound LMDB file: ${problem}. Its log cannot be read. Restore it from a backup; or remove the node from its cluster ('grey member remove'), empty the directory and add it again as a new member`, path, null);
      }
      root = open({ path, maxDbs: 4 });
    } catch (err) {
      release(path);
      throw err;
    }
    const log = root.openDB<Uint8Array, number>({ name: 'log', encoding: 'binary' });
    const meta = root.openDB<Uint8Array, string>({ name: 'meta', encoding: 'binary' });
    const storage = new LmdbStorage(path, root, log, meta, options.codec ?? msgpackCodec, options.onSynced);
    try {
      storage.checkFormat();
      storage.readBounds();
      if (!existsSync(join(path, OPENED_MARK))) writeFileSync(join(path, OPENED_MARK), 'this directory holds a Grey node\'s log (data.mdb); see LmdbStorage.open\n');
    } catch (err) {
      void root.close();
      release(path);
      throw err;
    }
    return storage;
  }

  private checkFormat(): void {
    const raw = this.meta.get(META_FORMAT);
    if (raw === undefined) {
      const empty = this.log.getKeysCount() === 0 && this.meta.getKeysCount() === 0;
      if (!empty) throw new StorageFormatError(`${this.path} holds data with no Grey format mark: not a Grey data directory, or written by a version before format 1`, this.path, null);
      this.meta.putSync(META_FORMAT, this.codec.encode({ name: FORMAT_NAME, version: STORAGE_FORMAT_VERSION }));
      return;
    }
    let format: { name?: unknown; version?: unknown };
    try {
      format = this.codec.decode(raw) as typeof format;
    } catch {
      throw new StorageFormatError(`${this.path}: the format mark does not decode; not a Grey data directory`, this.path, null);
    }
    if (format?.name !== FORMAT_NAME) throw new StorageFormatError(`${this.path} is not a Grey data directory (format mark ${JSON.stringify(format)})`, this.path, null);
    const version = typeof format.version === 'number' ? format.version : null;
    if (version !== STORAGE_FORMAT_VERSION) {
      throw new StorageFormatError(
        `${this.path} holds Grey data of format version ${version}; this Grey reads version ${STORAGE_FORMAT_VERSION} only. Open it with the Grey that wrote it, or start from an empty directory`,
        this.path,
        version,
      );
    }
  }

  /** Where the log on disk starts and ends, so writes before a `load()` land right too. */
  private readBounds(): void {
    const snapRaw = this.meta.get(META_SNAPSHOT);
    this.snapshotIndex = snapRaw === undefined ? 0 : (this.codec.decode(snapRaw) as Snapshot).index;
    let first: number | undefined;
    let last: number | undefined;
    for (const k of this.log.getKeys({ limit: 1 })) first = k;
    for (const k of this.log.getKeys({ reverse: true, limit: 1 })) last = k;
    this.first = first ?? this.snapshotIndex + 1;
    this.last = last ?? this.snapshotIndex;
  }

  load(): DurableState {
    this.assertOpen();
    const hardRaw = this.meta.get(META_HARD);
    const hardState = hardRaw === undefined ? { term: 0, votedFor: null } : (this.codec.decode(hardRaw) as HardState);
    const snapRaw = this.meta.get(META_SNAPSHOT);
    const snapshot = snapRaw === undefined ? null : (this.codec.decode(snapRaw) as Snapshot);
    const entries: LogEntry[] = [];
    for (const { key, value } of this.log.getRange({})) {
      const e = this.codec.decode(value) as LogEntry;
      if (e.index !== key) throw new StorageFormatError(`${this.path}: log key ${key} holds entry ${e.index}`, this.path, STORAGE_FORMAT_VERSION);
      const expected = entries.length === 0 ? (snapshot?.index ?? 0) + 1 : entries[entries.length - 1].index + 1;
      if (e.index !== expected) throw new StorageFormatError(`${this.path}: the log has a gap: entry ${e.index} where ${expected} was expected`, this.path, STORAGE_FORMAT_VERSION);
      entries.push(e);
    }
    this.snapshotIndex = snapshot?.index ?? 0;
    this.first = entries.length > 0 ? entries[0].index : this.snapshotIndex + 1;
    this.last = entries.length > 0 ? entries[entries.length - 1].index : this.snapshotIndex;
    return { hardState, snapshot, entries };
  }

  /** How this directory's node came into its cluster, or null when no start recorded it (a new directory, or one from before the record). */
  founding(): FoundingRecord | null {
    this.assertOpen();
    const raw = this.meta.get(META_FOUNDING);
    return raw === undefined ? null : (this.codec.decode(raw) as FoundingRecord);
  }

  /** Whether the node has written nothing yet: no term, no vote, no entry, no snapshot (a first start that failed leaves it so). */
  isBlank(): boolean {
    this.assertOpen();
    if (this.last > 0 || this.snapshotIndex > 0) return false;
    const hardRaw = this.meta.get(META_HARD);
    if (hardRaw === undefined) return true;
    const hard = this.codec.decode(hardRaw) as HardState;
    return hard.term === 0 && hard.votedFor === null;
  }

  /** Records how this directory's node came into its cluster (durable before it returns). */
  recordFounding(record: FoundingRecord): void {
    this.assertOpen();
    this.meta.putSync(META_FOUNDING, this.codec.encode(record));
  }

  setHardState(state: HardState): void {
    this.assertOpen();
    this.pending.push({ kind: 'hard', state: { term: state.term, votedFor: state.votedFor } });
  }

  append(entries: readonly LogEntry[]): void {
    this.assertOpen();
    if (entries.length > 0) this.pending.push({ kind: 'append', entries });
  }

  truncateFrom(index: number): void {
    this.assertOpen();
    this.pending.push({ kind: 'truncate', index });
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.assertOpen();
    this.pending.push({ kind: 'snapshot', snapshot });
  }

  /** Commits every buffered write as one transaction; resolves once it is on disk. */
  sync(): Promise<void> {
    this.assertOpen();
    // Nothing written since the last sync: durable once the syncs before are.
    if (this.pending.length === 0) return this.lastSync;
    const ops = this.pending;
    this.pending = [];
    // Encode now, on the caller's values as they are: the node may change nothing later, but the codec copies anyway.
    const writes = ops.map((op) => this.encodeOp(op));
    const committed = this.root.transaction(() => {
      for (const w of writes) this.applyWrite(w);
    });
    const started = performance.now();
    const done = committed
      .then(() => this.root.flushed as Promise<unknown>)
      .then(() => {
        this.onSynced?.((performance.now() - started) / 1000);
      });
    this.lastSync = done.catch(() => {}); // a failed sync is reported to its own caller
    return done;
  }

  /**
   * A named database in this data directory's LMDB environment (created
   * when absent; keys are numbers, values bytes), for data that must be
   * durable with the log without being part of it: the node's audit log
   * (`system/lmdbAuditStore.ts`). Its writes share lmdb-js's one ordered
   * write queue with the log's transactions, so whatever is written there
   * before a `sync()` with log writes to commit is on disk once that sync
   * resolves. The names `log`
   * and `meta` are this storage's own and are refused. With
   * `{ create: false }`, a database that does not exist yet is not made
   * (for readers): the result is then `undefined`.
   */
  openSideDatabase(name: string): Database<Uint8Array, number>;
  openSideDatabase(name: string, options: { create: false }): Database<Uint8Array, number> | undefined;
  openSideDatabase(name: string, options: { create?: boolean } = {}): Database<Uint8Array, number> | undefined {
    this.assertOpen();
    if (name === 'log' || name === 'meta') throw new Error(`storage ${this.path}: database '${name}' belongs to the log`);
    // `create` is an lmdb-js option its type declarations leave out.
    const dbOptions = { name, encoding: 'binary' as const, create: options.create !== false };
    return this.root.openDB<Uint8Array, number>(dbOptions) ?? undefined;
  }

  /** Waits for every sync, then closes the files. Further calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.root.flushed;
      await this.root.close();
    } finally {
      release(this.path);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`storage ${this.path} is closed`);
  }

  private encodeOp(op: Op): EncodedWrite {
    switch (op.kind) {
      case 'hard':
        return { kind: 'hard', bytes: this.codec.encode(op.state) };
      case 'append':
        // With Grey's codec, a large entry's bytes are kept: the leader sends them as they are, and a follower stores what it was sent.
        return { kind: 'append', entries: op.entries.map((e) => ({ index: e.index, term: e.term, bytes: this.codec === msgpackCodec ? encodeKept(e) : this.codec.encode(e) })) };
      case 'truncate':
        return { kind: 'truncate', index: op.index };
      case 'snapshot':
        return { kind: 'snapshot', index: op.snapshot.index, term: op.snapshot.term, bytes: this.codec.encode(op.snapshot) };
    }
  }

  /** Runs inside the write transaction, in the order the node wrote. */
  private applyWrite(w: EncodedWrite): void {
    switch (w.kind) {
      case 'hard':
        void this.meta.put(META_HARD, w.bytes);
        return;
      case 'append': {
        const first = w.entries[0].index;
        if (first !== this.last + 1) throw new Error(`storage ${this.path}: append at ${first} after ${this.last}`);
        for (const e of w.entries) void this.log.put(e.index, e.bytes);
        this.last = w.entries[w.entries.length - 1].index;
        return;
      }
      case 'truncate': {
        for (let i = Math.max(w.index, this.first); i <= this.last; i++) void this.log.remove(i);
        this.last = Math.min(this.last, Math.max(w.index - 1, this.snapshotIndex));
        return;
      }
      case 'snapshot': {
        // Keep the entries after the snapshot only if the log holds its last entry (Log Matching); else the log restarts after it.
        const held = w.index >= this.first && w.index <= this.last ? this.log.get(w.index) : undefined;
        const keepTail = held !== undefined && (this.codec.decode(held) as LogEntry).term === w.term;
        const dropTo = keepTail ? w.index : this.last;
        for (let i = this.first; i <= dropTo; i++) void this.log.remove(i);
        void this.meta.put(META_SNAPSHOT, w.bytes);
        this.snapshotIndex = w.index;
        this.first = w.index + 1;
        if (!keepTail) this.last = w.index;
        return;
      }
    }
  }
}

type EncodedWrite =
  | { kind: 'hard'; bytes: Uint8Array }
  | { kind: 'append'; entries: Array<{ index: number; term: number; bytes: Uint8Array }> }
  | { kind: 'truncate'; index: number }
  | { kind: 'snapshot'; index: number; term: number; bytes: Uint8Array };
