/**
 * LmdbStorage, the durable log of real mode: what it syncs survives a
 * close and reopen; it agrees with MemoryStorage (the simulation's model
 * of a disk) on every sequence of writes; data of another format version
 * is refused with a clear error.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEntry, Snapshot } from '../actors/raftTypes.js';
import { MemoryStorage } from '../actors/storage.js';
import { LmdbStorage, STORAGE_FORMAT_VERSION, StorageFormatError, StorageInUseError } from '../system/lmdbStorage.js';
import { msgpackCodec } from '../system/codec.js';
import { Random } from '../system/random.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'grey-lmdb-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entry = (index: number, term: number, command: unknown = { op: 'put', key: `k${index}`, bytes: new Uint8Array([index & 255]) }): LogEntry => ({ index, term, payload: { kind: 'command', command } });

describe('LmdbStorage', () => {
  it('what was synced survives closing and reopening: hard state, entries, snapshot', async () => {
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    expect(s.load()).toEqual({ hardState: { term: 0, votedFor: null }, snapshot: null, entries: [] });
    s.setHardState({ term: 3, votedFor: 'n2' });
    s.append([entry(1, 1), entry(2, 3), entry(3, 3)]);
    await s.sync();
    const snap: Snapshot = { index: 1, term: 1, config: { voters: ['n1', 'n2'], learners: [] }, data: { applied: ['a'] } };
    s.saveSnapshot(snap);
    s.append([entry(4, 3, -0)]);
    await s.sync();
    await s.close();

    const again = LmdbStorage.open(dir);
    const loaded = again.load();
    expect(loaded.hardState).toEqual({ term: 3, votedFor: 'n2' });
    expect(loaded.snapshot).toEqual(snap);
    expect(loaded.entries).toEqual([entry(2, 3), entry(3, 3), entry(4, 3, -0)]);
    expect(Object.is((loaded.entries[2].payload as { command: unknown }).command, -0)).toBe(true);
    expect((loaded.entries[0].payload as { command: { bytes: unknown } }).command.bytes).toBeInstanceOf(Uint8Array);
    await again.close();
  });

  it('writes not synced before close are not on disk', async () => {
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    s.append([entry(1, 1)]);
    await s.sync();
    s.append([entry(2, 1)]); // never synced
    await s.close();
    const again = LmdbStorage.open(dir);
    expect(again.load().entries.map((e) => e.index)).toEqual([1]);
    await again.close();
  });

  it('agrees with MemoryStorage on random sequences of appends, truncations, snapshots and hard states (seeded)', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const rng = new Random(seed);
      const dir = tempDir();
      let disk = LmdbStorage.open(dir);
      const model = new MemoryStorage();
      let last = 0;
      let snapIndex = 0;
      let term = 1;
      const terms = new Map<number, number>();
      for (let step = 0; step < 60; step++) {
        const roll = rng.float();
        if (roll < 0.5) {
          const n = rng.int(1, 5);
          if (rng.chance(0.2)) term++;
          const es = Array.from({ length: n }, (_, i) => entry(last + 1 + i, term));
          for (const e of es) terms.set(e.index, e.term);
          disk.append(es);
          model.append(es);
          last += n;
        } else if (roll < 0.65 && last > snapIndex) {
          const from = rng.int(snapIndex + 1, last);
          disk.truncateFrom(from);
          model.truncateFrom(from);
          last = from - 1;
        } else if (roll < 0.8) {
          // A snapshot at a held entry (the node's own) or past the log (installed from a leader).
          const at = rng.chance(0.7) && last > snapIndex ? rng.int(snapIndex + 1, last) : last + rng.int(1, 4);
          const t = at <= last ? terms.get(at)! : term;
          const snap: Snapshot = { index: at, term: t, config: { voters: ['n1'], learners: [] }, data: { at } };
          disk.saveSnapshot(snap);
          model.saveSnapshot(snap);
          snapIndex = at;
          if (at > last) last = at;
        } else {
          term += rng.int(0, 1);
          const hs = { term, votedFor: rng.chance(0.5) ? 'n1' : null };
          disk.setHardState(hs);
          model.setHardState(hs);
        }
        if (rng.chance(0.3)) {
          await disk.sync();
          model.sync();
          expect(disk.load(), `seed ${seed} step ${step}`).toEqual(model.load());
        }
        if (rng.chance(0.05)) {
          await disk.sync();
          model.sync();
          await disk.close();
          disk = LmdbStorage.open(dir);
          expect(disk.load(), `seed ${seed} step ${step}, reopened`).toEqual(model.load());
        }
      }
      await disk.close();
    }
  });

  it('refuses a data directory of another format version with a StorageFormatError naming both versions', async () => {
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    s.append([entry(1, 1)]);
    await s.sync();
    await s.close();
    // Rewrite the format mark as a future Grey would.
    const root = open({ path: dir, maxDbs: 4 });
    const meta = root.openDB<Uint8Array, string>({ name: 'meta', encoding: 'binary' });
    meta.putSync('format', msgpackCodec.encode({ name: 'grey-raft-log', version: STORAGE_FORMAT_VERSION + 1 }));
    await root.close();
    let err: unknown;
    try {
      LmdbStorage.open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageFormatError);
    expect((err as StorageFormatError).found).toBe(STORAGE_FORMAT_VERSION + 1);
    expect((err as Error).message).toMatch(new RegExp(`format version ${STORAGE_FORMAT_VERSION + 1}.*reads version ${STORAGE_FORMAT_VERSION}`));
  });

  it("refuses a directory of someone else's LMDB data rather than misreading it", async () => {
    const dir = tempDir();
    const root = open({ path: dir, maxDbs: 4 });
    const meta = root.openDB<Uint8Array, string>({ name: 'meta', encoding: 'binary' });
    meta.putSync('something', new Uint8Array([1, 2, 3]));
    await root.close();
    expect(() => LmdbStorage.open(dir)).toThrow(StorageFormatError);
    expect(() => LmdbStorage.open(dir)).toThrow(/no Grey format mark/);
  });

  it('refuses a directory whose data.mdb was emptied or deleted after it had opened: a lost log, not a new node', async () => {
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    s.setHardState({ term: 7, votedFor: 'n2' });
    await s.sync();
    await s.close();
    truncateSync(join(dir, 'data.mdb'), 0);
    expect(() => LmdbStorage.open(dir)).toThrow(/data\.mdb is empty: its log is lost/);
    unlinkSync(join(dir, 'data.mdb'));
    expect(() => LmdbStorage.open(dir)).toThrow(StorageFormatError);
    expect(() => LmdbStorage.open(dir)).toThrow(/data\.mdb is gone/);
    // Refused without taking the directory: emptied, it opens as a new node's.
    unlinkSync(join(dir, 'lock.mdb'));
    unlinkSync(join(dir, 'grey.opened'));
    const fresh = LmdbStorage.open(dir);
    expect(fresh.load().hardState).toEqual({ term: 0, votedFor: null });
    await fresh.close();
    // A first start that died before LMDB wrote anything (lock.mdb and an empty data.mdb, no mark) lost nothing: it starts.
    const died = tempDir();
    writeFileSync(join(died, 'lock.mdb'), '');
    writeFileSync(join(died, 'data.mdb'), '');
    const first = LmdbStorage.open(died);
    await first.close();
  });

  it('refuses a data.mdb that LMDB would crash on (not an LMDB file, a damaged meta page), naming what is wrong; a sound one opens', async () => {
    // The main tree's root page (meta page 0, byte 136) set to `root`.
    const withRoot = (file: Uint8Array, root: bigint): Buffer => {
      const copy = Buffer.from(file);
      copy.writeBigUInt64LE(root, 136);
      return copy;
    };
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    s.setHardState({ term: 4, votedFor: 'n1' });
    for (let k = 0; k < 20; k++) s.append(Array.from({ length: 50 }, (_, i) => entry(k * 50 + i + 1, 1, { pad: 'x'.repeat(200) })));
    await s.sync();
    await s.close();
    const sound = readFileSync(join(dir, 'data.mdb'));
    const page = 4096;
    expect(sound.length).toBeGreaterThan(8 * page);
    const damaged: [string, Uint8Array, RegExp][] = [
      ['text', new TextEncoder().encode('not a database\n'), /is 15 bytes: too short for LMDB's two meta pages/],
      ['zeros', new Uint8Array(4 * page), /page 0 is not a meta page/],
      ['cut to one page', sound.subarray(0, page), /is 4096 bytes: too short for two meta pages of 4096 bytes/],
      ['a root page past the last page', withRoot(sound, 1n << 40n), /meta page 0 names root page 1099511627776, outside pages 2–\d+ \(a damaged meta page\)/],
      ['meta page 1 overwritten', Buffer.concat([sound.subarray(0, page), new Uint8Array(page), sound.subarray(2 * page)]), /page 1 is not a meta page/],
      ['magic number changed', Buffer.concat([sound.subarray(0, 24), Buffer.from([0, 0, 0, 0]), sound.subarray(28)]), /page 0 lacks the LMDB magic number/],
    ];
    for (const [name, bytes, why] of damaged) {
      writeFileSync(join(dir, 'data.mdb'), bytes);
      let err: unknown;
      try {
        LmdbStorage.open(dir);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(StorageFormatError);
      expect((err as Error).message, name).toMatch(/data\.mdb is not a sound LMDB file/);
      expect((err as Error).message, name).toMatch(why);
    }
    // Refused without taking the directory: the sound file back, it opens with what was synced.
    writeFileSync(join(dir, 'data.mdb'), sound);
    const again = LmdbStorage.open(dir);
    const loaded = again.load();
    expect(loaded.hardState).toEqual({ term: 4, votedFor: 'n1' });
    expect(loaded.entries).toHaveLength(1000);
    await again.close();
  });

  it('one owner at a time: a directory open here or in a live process is refused; a dead owner\'s lock is taken over', async () => {
    const dir = tempDir();
    const s = LmdbStorage.open(dir);
    expect(() => LmdbStorage.open(dir)).toThrow(StorageInUseError);
    await s.close();
    await LmdbStorage.open(dir).close();
    writeFileSync(join(dir, 'grey.lock'), `${process.ppid}\n`); // a live process holds it
    let err: unknown;
    try {
      LmdbStorage.open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageInUseError);
    expect((err as StorageInUseError).pid).toBe(process.ppid);
    writeFileSync(join(dir, 'grey.lock'), '2147483646\n'); // no such process: a crash left it
    const again = LmdbStorage.open(dir);
    expect(again.load().entries).toEqual([]);
    await again.close();
  });

  it('a write after close is an error, not a silent loss', async () => {
    const s = LmdbStorage.open(tempDir());
    await s.close();
    expect(() => s.append([entry(1, 1)])).toThrow(/closed/);
  });
});
