import { describe, expect, it } from 'vitest';
import { FifoMap } from '../actors/fifoMap.js';
import { TaskTable, type TaskTransition } from '../actors/taskTable.js';
import { msgpackCodec } from '../system/codec.js';
import { resolveTaskSpec } from '../system/taskSpec.js';

describe('FifoMap (insertion-ordered, O(1) oldest)', () => {
  it('forgets the oldest entries past its limit, in insertion order, and tells onEvict', () => {
    const evicted: [string, number][] = [];
    const m = new FifoMap<string, number>(3, (k, v) => evicted.push([k, v]));
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) m.set(k, i);
    expect([...m.keys()]).toEqual(['c', 'd', 'e']);
    expect(evicted).toEqual([['a', 0], ['b', 1]]);
    expect(m.get('a')).toBeUndefined();
    expect(m.get('d')).toBe(3);
  });

  it('a known key keeps its place; a deleted key set again counts as new', () => {
    const m = new FifoMap<string, number>(3);
    m.set('a', 1).set('b', 2).set('c', 3);
    m.set('a', 10); // still the oldest
    m.set('d', 4);
    expect([...m.entries()]).toEqual([['b', 2], ['c', 3], ['d', 4]]);
    m.delete('b');
    m.set('b', 20); // now the newest
    m.set('e', 5);
    expect([...m]).toEqual([['d', 4], ['b', 20], ['e', 5]]);
    expect(m.size).toBe(3);
  });

  it('stays correct and bounded over many inserts and deletes (the queue compacts)', () => {
    const m = new FifoMap<number, number>(100);
    const model = new Map<number, number>();
    for (let i = 0; i < 50_000; i++) {
      m.set(i, i);
      model.set(i, i);
      if (model.size > 100) model.delete(model.keys().next().value!);
      if (i % 3 === 0) {
        m.delete(i - 7);
        model.delete(i - 7);
      }
    }
    expect([...m]).toEqual([...model]);
    expect((m as unknown as { order: unknown[] }).order.length).toBeLessThan(2_000);
  });

  it('refuses a limit that is not a positive integer or Infinity', () => {
    expect(() => new FifoMap(0)).toThrow(RangeError);
    expect(() => new FifoMap(1.5)).toThrow(/integer/);
    expect(new FifoMap().limit).toBe(Number.POSITIVE_INFINITY);
  });

  it('shift takes the oldest live entry, skipping deleted ones', () => {
    const m = new FifoMap<string, number>();
    m.set('a', 1).set('b', 2).set('c', 3);
    m.delete('a');
    expect(m.shift()).toEqual(['b', 2]);
    m.set('a', 4);
    expect(m.shift()).toEqual(['c', 3]);
    expect(m.shift()).toEqual(['a', 4]);
    expect(m.shift()).toBeUndefined();
    expect(m.size).toBe(0);
  });
});

describe('TaskTable limits and snapshots', () => {
  it('merges partial limits over the defaults and refuses a table size below 1', () => {
    expect(() => new TaskTable({ maxDeadLetters: 5 })).not.toThrow();
    expect(() => new TaskTable({ maxIdempotencyKeys: 0 })).toThrow(/maxIdempotencyKeys must be an integer ≥ 1/);
  });

  it('a restored table evicts idempotency keys in the order the live one does, integer-like keys included', () => {
    const spec = resolveTaskSpec({ type: 't' });
    const live = new TaskTable({ maxIdempotencyKeys: 2 });
    const out: TaskTransition[] = [];
    live.submit([{ id: 'a', spec: { ...spec, idempotencyKey: 'x' }, submittedAt: 0 }], 1, out);
    live.submit([{ id: 'b', spec: { ...spec, idempotencyKey: '42' }, submittedAt: 0 }], 2, out);
    const restored = new TaskTable({ maxIdempotencyKeys: 2 });
    restored.restore(msgpackCodec.decode(msgpackCodec.encode(live.snapshot())));
    for (const t of [live, restored]) t.submit([{ id: 'c', spec: { ...spec, idempotencyKey: 'y' }, submittedAt: 0 }], 3, out);
    // 'x' was the oldest on both: a resubmission with it is a new task, with '42' the known one.
    for (const t of [live, restored]) {
      expect(t.submit([{ id: 'd', spec: { ...spec, idempotencyKey: '42' }, submittedAt: 0 }], 4, out)).toEqual(['b']);
    }
    expect(restored.snapshot()).toEqual(live.snapshot());
  });
});
