/**
 * The key-value store with revisions (etcd's model): put, read, delete,
 * compare-and-set, range by prefix and watch from a revision, through
 * clients on the network.
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom, take, toArray } from 'rxjs';
import { KvStore, sameValue } from '../actors/kvStore.js';
import { ClientError, InvalidCommandError } from '../system/client.js';
import { createTestCluster } from '../system/cluster.js';
import { rejection } from './helpers/rejection.js';

describe('key-value store with revisions', () => {
  it('put answers the new store revision; read gives value, revision, create revision and version, or a typed not-found', async () => {
    const c = createTestCluster(3, { seed: 401 });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    const first = await c.drive(kv.put('a', 1));
    const second = await c.drive(kv.put('b', 2));
    const third = await c.drive(kv.put('a', 3));
    expect(second.revision).toBe(first.revision + 1);
    expect(third.revision).toBe(second.revision + 1);
    expect(await c.drive(kv.get('a'))).toEqual({ found: true, key: 'a', value: 3, revision: third.revision, createRevision: first.revision, version: 2, storeRevision: third.revision });
    expect(await c.drive(kv.get('zz'))).toEqual({ found: false, key: 'zz', storeRevision: third.revision });
  });

  it('delete removes a key and moves the revision; deleting what is absent changes nothing', async () => {
    const c = createTestCluster(3, { seed: 402 });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    const put = await c.drive(kv.put('a', 1));
    const del = await c.drive(kv.delete('a'));
    expect(del).toEqual({ deleted: true, revision: put.revision + 1 });
    expect(await c.drive(kv.delete('a'))).toEqual({ deleted: false, revision: del.revision });
    expect((await c.drive(kv.get('a'))).found).toBe(false);
    // Created again: a new create revision and version 1.
    const again = await c.drive(kv.put('a', 2));
    expect(await c.drive(kv.get('a'))).toMatchObject({ found: true, createRevision: again.revision, version: 1 });
  });

  it('cas applies only on the expected revision (0: absent) or value, and answers the key’s revision after', async () => {
    const c = createTestCluster(3, { seed: 403 });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    const created = await c.drive(kv.cas('lock', { revision: 0 }, 'alice'));
    expect(created.applied).toBe(true);
    expect(await c.drive(kv.cas('lock', { revision: 0 }, 'bob'))).toEqual({ applied: false, revision: created.revision });
    const moved = await c.drive(kv.cas('lock', { revision: created.revision }, 'bob'));
    expect(moved).toEqual({ applied: true, revision: created.revision + 1 });
    expect(await c.drive(kv.cas('lock', { value: 'alice' }, 'carol'))).toEqual({ applied: false, revision: moved.revision });
    expect((await c.drive(kv.cas('lock', { value: 'bob' }, { owner: 'carol' }))).applied).toBe(true);
    expect((await c.drive(kv.cas('lock', { value: { owner: 'carol' } }, 'dave'))).applied).toBe(true); // equal by value, not identity
    expect((await c.drive(kv.get('lock')))).toMatchObject({ value: 'dave', version: 4 });
    for (const expect_ of [{}, { revision: 1, value: 2 }, { revision: -1 }, { revision: 1.5 }, null]) {
      const err = await rejection(c.drive(kv.cas('lock', expect_ as never, 1)));
      expect(err).toBeInstanceOf(InvalidCommandError);
    }
  });

  it('range lists keys under a prefix in key order, bounded by limit', async () => {
    const c = createTestCluster(3, { seed: 404 });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    for (const k of ['user/2', 'user/1', 'order/1', 'user/3']) await c.drive(kv.put(k, k.length));
    const all = await c.drive(kv.range('user/'));
    expect(all.entries.map((e) => e.key)).toEqual(['user/1', 'user/2', 'user/3']);
    expect(all.more).toBe(false);
    const two = await c.drive(kv.range('user/', 2));
    expect(two.entries.map((e) => e.key)).toEqual(['user/1', 'user/2']);
    expect(two.more).toBe(true);
    expect((await c.drive(kv.range(''))).entries).toHaveLength(4);
  });

  it('watch replays from a revision, then follows new changes; a prefix watch sees every key under it', async () => {
    const c = createTestCluster(3, { seed: 405 });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    const r1 = await c.drive(kv.put('cfg/a', 1));
    await c.drive(kv.put('other', 0));
    await c.drive(kv.put('cfg/b', 2));
    const seen = c.drive(firstValueFrom(kv.watch('cfg/', { prefix: true, fromRevision: r1.revision }).pipe(take(4), toArray())));
    await c.run(50);
    await c.drive(kv.delete('cfg/a'));
    await c.drive(kv.put('cfg/c', 3));
    const changes = await seen;
    expect(changes.map((ch) => [ch.type, ch.key, ch.value])).toEqual([
      ['put', 'cfg/a', 1],
      ['put', 'cfg/b', 2],
      ['delete', 'cfg/a', undefined],
      ['put', 'cfg/c', 3],
    ]);
    const revisions = changes.map((ch) => ch.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    // One key only, from now on.
    const one = c.drive(firstValueFrom(kv.watch('cfg/c')));
    await c.run(50);
    await c.drive(kv.put('cfg/b', 9));
    await c.drive(kv.put('cfg/c', 4));
    expect(await one).toMatchObject({ type: 'put', key: 'cfg/c', value: 4 });
  });

  it('a watch from a compacted revision fails with a typed Compacted error', async () => {
    const c = createTestCluster(3, { seed: 406, limits: { kv: { maxChanges: 10, maxRange: 100 } } });
    await c.waitForLeader();
    const kv = c.client({ id: 'kv' });
    for (let i = 0; i < 30; i++) await c.drive(kv.put('k', i));
    const err = (await rejection(c.drive(firstValueFrom(kv.watch('k', { fromRevision: 1 }))))) as ClientError;
    expect(err).toBeInstanceOf(ClientError);
    expect(err.code).toBe('Compacted');
    expect(err.message).toMatch(/revision 1 was compacted; the oldest kept is \d+/);
    expect(() => kv.watch('k', { fromRevision: 0 })).toThrow(RangeError);
  });

  it('compares values as data (cas on a value): arrays, nested objects in any key order, bytes', () => {
    expect(sameValue({ a: [1, { b: 2 }], c: 'x' }, { c: 'x', a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
    expect(sameValue([1], { 0: 1 })).toBe(false);
    expect(sameValue({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(sameValue(new Uint8Array([1]), [1])).toBe(false);
    expect(sameValue(null, {})).toBe(false);
    const s = new KvStore({ maxChanges: 10 });
    expect([s.storeRevision, s.oldestRevision]).toEqual([0, 1]);
    for (let i = 0; i < 25; i++) s.put('k', i);
    expect(s.storeRevision).toBe(25);
    expect(s.oldestRevision).toBeGreaterThan(1); // compacted in chunks
    expect(s.changesSince('k', false, s.oldestRevision - 1, 100)).toMatchObject({ compacted: true, oldest: s.oldestRevision });
    expect(s.changesSince('k', false, s.oldestRevision, 100)).toMatchObject({ storeRevision: 25 });
  });

  it('revisions and history survive a snapshot: a restored store answers as the original', () => {
    const a = new KvStore({ maxChanges: 100 });
    a.put('x', 1);
    a.put('y', { deep: [1, 2] });
    a.delete('x');
    a.cas('y', { revision: 2 }, 'z');
    const b = new KvStore({ maxChanges: 100 });
    b.restore(structuredClone(a.snapshot()));
    expect(b.read('y')).toEqual(a.read('y'));
    expect(b.read('x')).toEqual(a.read('x'));
    expect(b.changesSince('', true, 1, 100)).toEqual(a.changesSince('', true, 1, 100));
    expect(b.put('w', 0).revision).toBe(a.put('w', 0).revision);
    expect(() => new KvStore({ maxChanges: 0 })).toThrow(RangeError);
  });
});
