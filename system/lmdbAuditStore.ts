import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Database } from 'lmdb';
import type { AuditRecord, AuditStore } from '../actors/auditLog.js';
import { msgpackCodec, type Codec } from './codec.js';
import { LmdbStorage, StorageFormatError, StorageInUseError } from './lmdbStorage.js';

/** The named database of a data directory that holds the audit log. */
export const AUDIT_DATABASE = 'audit';

/**
 * A node's audit records in its data directory: the named database
 * `audit` of the same LMDB environment as its Raft log, keyed by seq,
 * each record encoded with Grey's wire codec (as log entries are). The
 * audit log is thereby durable with the log: it lives in the same files,
 * is copied, backed up and removed with them.
 *
 * Writes: `append` queues the record as an asynchronous lmdb-js write.
 * lmdb-js commits its writes in the order they were issued, the log's
 * transactions included, so an audit record appended before a log sync that
 * commits log writes is on disk when that sync resolves: a node never
 * keeps log entries and loses the audit records written before them.
 * `sync()` waits for the records appended so far on their own (for a
 * refusal that no log write follows). A failed write makes every later `append` and `sync` throw it.
 */
export class LmdbAuditStore implements AuditStore {
  private lastWrite: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;

  /** Prefer {@link LmdbAuditStore.of}; this takes a database opened elsewhere. */
  constructor(
    private readonly db: Database<Uint8Array, number>,
    private readonly codec: Codec,
  ) {}

  /** The audit store of an open data directory (the storage owns the files: close it, not this). */
  static of(storage: LmdbStorage, options: { codec?: Codec } = {}): LmdbAuditStore {
    return new LmdbAuditStore(storage.openSideDatabase(AUDIT_DATABASE), options.codec ?? msgpackCodec);
  }

  /** Every stored record, oldest first, read lazily (an undecodable one is given as `{ seq }` alone, for verification to report). */
  *load(): Iterable<AuditRecord> {
    for (const { key, value } of this.db.getRange({})) {
      let record: unknown;
      try {
        record = this.codec.decode(value);
      } catch {
        record = { seq: key };
      }
      yield record as AuditRecord;
    }
  }

  append(record: AuditRecord): void {
    if (this.failure) throw this.failure;
    this.lastWrite = this.db.put(record.seq, this.codec.encode(record)).then(
      (written) => {
        if (!written) throw new Error(`audit store: record #${record.seq} was not written`);
      },
    ).catch((err: Error) => {
      this.failure ??= err;
    });
  }

  /** Resolves once every record appended so far is on disk. */
  async sync(): Promise<void> {
    await this.lastWrite;
    if (this.failure) throw this.failure;
    await this.db.flushed;
  }
}

/** Why the audit log of a data directory could not be read. */
export type AuditReadErrorCode = 'AuditLogNotFound' | 'AuditLogInUse' | 'AuditLogUnreadable';

/** Thrown by {@link readAuditRecords}: with a `code`, the directory, and a message that says what to do. */
export class AuditReadError extends Error {
  constructor(
    readonly code: AuditReadErrorCode,
    /** The data directory given. */
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuditReadError';
  }
}

/** A data directory's audit records as read by {@link readAuditRecords}. */
export interface StoredAuditLog {
  /** The absolute path read. */
  path: string;
  /** The node that wrote the records (from the last record that says; null when there are none). */
  node: string | null;
  /** Every stored record, in key (seq) order. Not verified: pass them to `verifyAuditChain`. */
  records: AuditRecord[];
}

/**
 * Reads every audit record of the data directory `dataDir` of a stopped
 * node. It opens the directory as its owner for the time of the read (so
 * no node can start on it meanwhile) and writes nothing to the data.
 * Throws {@link AuditReadError}: `AuditLogNotFound` when there is no Grey
 * data directory there, `AuditLogInUse` when a running node owns it (stop
 * it, or read the log in that process), `AuditLogUnreadable` when it
 * holds data of another format.
 */
export async function readAuditRecords(dataDir: string): Promise<StoredAuditLog> {
  const path = resolve(dataDir);
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDir) throw new AuditReadError('AuditLogNotFound', path, `no data directory at ${path}`);
  // Opening would create an empty environment: a directory without one has no log to read.
  if (!existsSync(join(path, 'data.mdb'))) throw new AuditReadError('AuditLogNotFound', path, `${path} is not a Grey data directory (no data.mdb in it)`);
  let storage: LmdbStorage;
  try {
    storage = LmdbStorage.open(path);
  } catch (err) {
    if (err instanceof StorageInUseError) {
      const holder = err.pid === process.pid ? 'this process' : `process ${err.pid}`;
      throw new AuditReadError(
        'AuditLogInUse',
        path,
        `${path} is in use by ${holder}, a running node: stop the node first, or read its audit log in that process (the node's AuditLog: records() and verify())`,
      );
    }
    if (err instanceof StorageFormatError) throw new AuditReadError('AuditLogUnreadable', path, err.message);
    throw err;
  }
  try {
    // Not created when absent: reading writes nothing.
    const db = storage.openSideDatabase(AUDIT_DATABASE, { create: false });
    const records = db === undefined ? [] : [...new LmdbAuditStore(db, msgpackCodec).load()];
    let node: string | null = null;
    for (let i = records.length - 1; i >= 0 && node === null; i--) if (typeof records[i]?.node === 'string') node = records[i].node;
    return { path, node, records };
  } finally {
    await storage.close();
  }
}
