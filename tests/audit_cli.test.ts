/**
 * The audit log on disk: records written through the LMDB audit store live
 * in the node's data directory, next to its Raft log, and survive a
 * reopen; `grey audit verify` (run as its own process, as an operator
 * would) passes an intact log, names the record that was changed or
 * removed with lmdb directly, and answers a missing or busy directory
 * with one line and exit code 2. `grey audit list` prints the records.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditRecord } from '../actors/auditLog.js';
import type { LogEntry } from '../actors/raftTypes.js';
import { main } from '../system/cli.js';
import { msgpackCodec } from '../system/codec.js';
import { AuditReadError, LmdbAuditStore, readAuditRecords } from '../system/lmdbAuditStore.js';
import { LmdbStorage } from '../system/lmdbStorage.js';

const CLI = fileURLToPath(new URL('../system/cli.ts', import.meta.url));

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'grey-audit-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** `grey …` as a child process: its exit code and output lines. */
async function grey(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const lines = (s: string) => s.split('\n').filter((l) => l !== '');
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLI, ...args]);
    return { code: 0, out: lines(stdout), err: lines(stderr) };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, out: lines(e.stdout ?? ''), err: lines(e.stderr ?? '') };
  }
}

/** `grey …` in this process (for the cases that need no separate process). */
async function greyHere(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const entry = (index: number): LogEntry => ({ index, term: 1, payload: { kind: 'command', command: { op: 'put', key: `k${index}`, value: index } } });

/** A data directory as node n1 leaves it: a Raft log and `n` audit records. Returns the head. */
async function nodeDir(dir: string, n: number): Promise<{ seq: number; hash: string }> {
  const storage = LmdbStorage.open(dir);
  let t = 0;
  const audit = new AuditLog({ node: 'n1', clock: { now: () => (t += 5) }, store: LmdbAuditStore.of(storage) });
  for (let i = 1; i <= n; i++) {
    const kind = i % 4 === 0 ? 'unauthorized' : 'join';
    audit.append({ kind, subject: `client${i % 3}`, outcome: kind === 'join' ? 'rejected' : 'denied', reason: `attempt ${i}`, detail: { i, raw: new Uint8Array([i & 255]) } });
  }
  storage.append([entry(1), entry(2)]);
  await storage.sync();
  await storage.close();
  return audit.head;
}

/** Changes the stored record `seq` (or removes it) with lmdb directly, as someone with the files could. */
async function tamper(dir: string, seq: number, change: ((r: Record<string, unknown>) => void) | 'remove'): Promise<void> {
  const root = open({ path: dir, maxDbs: 4 });
  const db = root.openDB<Uint8Array, number>({ name: 'audit', encoding: 'binary' });
  if (change === 'remove') {
    db.removeSync(seq);
  } else {
    const record = msgpackCodec.decode(db.get(seq)!) as Record<string, unknown>;
    change(record);
    db.putSync(seq, msgpackCodec.encode(record));
  }
  await root.close();
}

describe('the audit log in the data directory', () => {
  it('is durable with the log: records and entries survive a reopen, and a new AuditLog continues the chain', async () => {
    const dir = tempDir();
    const head = await nodeDir(dir, 5);
    const storage = LmdbStorage.open(dir);
    expect(storage.load().entries.map((e) => e.index)).toEqual([1, 2]);
    const store = LmdbAuditStore.of(storage);
    const audit = new AuditLog({ node: 'n1', clock: { now: () => 1_000 }, store });
    expect(audit.head).toEqual(head);
    expect(audit.records()[0].detail).toEqual({ i: 1, raw: new Uint8Array([1]) });
    audit.append({ kind: 'block', subject: 'n7', outcome: 'applied', reason: 'operator blocked it' });
    await audit.sync();
    await storage.close();
    const read = await readAuditRecords(dir);
    expect(read.node).toBe('n1');
    expect(read.records.map((r: AuditRecord) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a directory with a log and no audit records reads as an empty audit log, and reading creates nothing', async () => {
    const dir = tempDir();
    const storage = LmdbStorage.open(dir);
    storage.append([entry(1)]);
    await storage.sync();
    await storage.close();
    expect((await readAuditRecords(dir)).records).toEqual([]);
    const root = open({ path: dir, maxDbs: 4 });
    expect(root.openDB({ name: 'audit', create: false } as never)).toBeFalsy();
    await root.close();
  });

  it('reading a directory a node has open is refused with a typed error saying what to do', async () => {
    const dir = tempDir();
    await nodeDir(dir, 2);
    const storage = LmdbStorage.open(dir);
    try {
      const err = await readAuditRecords(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditReadError);
      expect(err).toMatchObject({ code: 'AuditLogInUse', message: expect.stringMatching(/in use by this process, a running node: stop the node first/) });
    } finally {
      await storage.close();
    }
    await expect(readAuditRecords(join(dir, 'nope'))).rejects.toMatchObject({ code: 'AuditLogNotFound' });
  });
});

describe('grey audit', () => {
  it('verify: an intact log exits 0 with its head; a changed record exits 1 naming it; so does a deleted one', async () => {
    const dir = tempDir();
    const head = await nodeDir(dir, 20);
    const ok = await grey(['audit', 'verify', dir]);
    expect(ok.err).toEqual([]);
    expect(ok).toMatchObject({ code: 0, out: [`audit log of n1: 20 records, chain intact, head #20 ${head.hash.slice(0, 12)}`] });

    await tamper(dir, 17, (r) => {
      r.outcome = 'accepted';
    });
    const modified = await grey(['audit', 'verify', dir]);
    expect(modified).toMatchObject({ code: 1, out: ['audit log of n1: record #17 modified (its hash does not match its contents)'] });

    const other = tempDir();
    await nodeDir(other, 20);
    await tamper(other, 9, 'remove');
    const deleted = await greyHere(['audit', 'verify', other]);
    expect(deleted).toMatchObject({ code: 1, out: ['audit log of n1: record #9 deleted (the log goes from #8 to #10, and #10 does not chain to #8)'] });
  }, 30_000);

  it('verify --expect-head: a log cut off at the end exits 1; the head it was given still matches an intact one', async () => {
    const dir = tempDir();
    const head = await nodeDir(dir, 6);
    expect(await greyHere(['audit', 'verify', dir, '--expect-head', `${head.seq}:${head.hash}`])).toMatchObject({ code: 0 });
    await tamper(dir, 6, 'remove');
    await tamper(dir, 5, 'remove');
    expect((await greyHere(['audit', 'verify', dir])).code).toBe(0); // what a hash chain alone cannot see
    expect(await greyHere(['audit', 'verify', dir, '--expect-head', `${head.seq}:${head.hash}`])).toMatchObject({
      code: 1,
      out: ['audit log of n1: records #5…#6 truncated (the log ends at #4 but its head was #6)'],
    });
  });

  it('a missing directory, a busy one, or a usage mistake: one line on stderr, exit 2, no stack trace', async () => {
    const dir = tempDir();
    const missing = await grey(['audit', 'verify', join(dir, 'nope')]);
    expect(missing).toMatchObject({ code: 2, out: [], err: [`grey: no data directory at ${join(dir, 'nope')}`] });

    await nodeDir(dir, 1);
    const storage = LmdbStorage.open(dir); // this process is now the node that owns it
    try {
      const busy = await grey(['audit', 'verify', dir]);
      expect(busy.code).toBe(2);
      expect(busy.err).toEqual([expect.stringMatching(new RegExp(`^grey: .* is in use by process ${process.pid}, a running node: stop the node first`))]);
    } finally {
      await storage.close();
    }

    for (const argv of [['audit'], ['audit', 'check', dir], ['audit', 'verify'], ['audit', 'list', dir, '--kind', 'gossip'], ['audit', 'verify', dir, '--expect-head', '3:abc']]) {
      const c = await greyHere(argv);
      expect(c.code, argv.join(' ')).toBe(2);
      expect(c.err).toEqual([expect.stringMatching(/^grey: \S/), "(run 'grey help' for usage)"]);
    }
  }, 30_000);

  it('list prints one JSON record per line, filtered by kind, from a seq, up to a limit', async () => {
    const dir = tempDir();
    await nodeDir(dir, 12);
    const all = await greyHere(['audit', 'list', dir]);
    expect(all.code).toBe(0);
    const records = all.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(records[0]).toMatchObject({ node: 'n1', kind: 'join', subject: 'client1', detail: { i: 1, raw: { base64: 'AQ==' } }, prev: '0'.repeat(64) });
    const some = await greyHere(['audit', 'list', dir, '--kind', 'unauthorized', '--from', '5', '--limit', '1']);
    expect(some.out.map((l) => JSON.parse(l).seq)).toEqual([8]);
  });
});
