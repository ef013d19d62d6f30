/**
 * The linearizability checker on hand-built concurrent histories of the
 * key-value store: ones that are linearizable only in an order other than
 * the one invoked (so the search must backtrack), ones that are not, with
 * timed-out operations, compare-and-set and delete.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvStore } from '../actors/kvStore.js';
import { checkHistory, HistoryRecorder, type HistoryOperation, type KvOperation } from '../system/linearizability.js';

const INF = Number.POSITIVE_INFINITY;
let nextId = 0;
/** An operation from `call` to `ret` (∞: unknown outcome). */
function op(client: string, call: number, ret: number, o: KvOperation): HistoryOperation {
  return { id: ++nextId, client, call, ret, op: Number.isFinite(ret) ? o : ({ ...o, output: undefined } as KvOperation) };
}
const put = (key: string, value: unknown, revision?: number): KvOperation => ({ f: 'put', key, value, output: revision === undefined ? undefined : { revision } });
const read = (key: string, value?: unknown, revision?: number): KvOperation => ({ f: 'read', key, output: revision === undefined ? { found: false } : { found: true, value, revision } });
const del = (key: string, deleted: boolean, revision: number): KvOperation => ({ f: 'delete', key, output: { deleted, revision } });
const cas = (key: string, expect: { revision: number } | { value: unknown }, value: unknown, applied?: boolean, revision?: number): KvOperation => ({
  f: 'cas', key, expect, value, output: applied === undefined ? undefined : { applied, revision: revision! },
});

describe('linearizable histories pass', () => {
  const cases: Array<[string, HistoryOperation[]]> = [
    ['sequential writes and reads', [op('a', 0, 1, put('x', 1, 1)), op('a', 2, 3, read('x', 1, 1)), op('a', 4, 5, put('x', 2, 2)), op('b', 6, 7, read('x', 2, 2))]],
    // put(1) is invoked first but took effect second: only the other order explains the read and the revisions.
    ['concurrent writes taking effect against invoke order', [op('a', 0, 10, put('x', 1, 2)), op('b', 1, 9, put('x', 2, 1)), op('c', 11, 12, read('x', 1, 2))]],
    ['a read concurrent with a write sees the old or the new value', [op('a', 0, 1, put('x', 1, 1)), op('b', 2, 10, put('x', 2, 2)), op('c', 3, 4, read('x', 1, 1)), op('d', 5, 6, read('x', 2, 2))]],
    ['a timed-out write that took effect', [op('a', 0, INF, put('x', 3)), op('b', 5, 6, read('x', 3, 7))]],
    ['a timed-out write that never did', [op('a', 0, INF, put('x', 3)), op('b', 5, 6, read('x')), op('b', 7, 8, read('x'))]],
    ['a timed-out write seen late, after reads that missed it', [op('a', 0, INF, put('x', 3)), op('b', 5, 6, read('x')), op('b', 7, 8, read('x', 3, 4))]],
    ['two racing cas on an absent key: one wins, the other sees its revision', [op('a', 0, 10, cas('lock', { revision: 0 }, 'a', false, 5)), op('b', 1, 9, cas('lock', { revision: 0 }, 'b', true, 5)), op('c', 11, 12, read('lock', 'b', 5))]],
    ['cas on a value, then delete, then cas on absent', [op('a', 0, 1, put('k', 'v', 1)), op('a', 2, 3, cas('k', { value: 'v' }, 'w', true, 2)), op('b', 4, 5, del('k', true, 3)), op('b', 6, 7, cas('k', { revision: 0 }, 'z', true, 4)), op('a', 8, 9, read('k', 'z', 4))]],
    ['a timed-out cas that applied, as a later read shows', [op('a', 0, 1, put('k', 1, 1)), op('b', 2, INF, cas('k', { revision: 1 }, 2)), op('c', 10, 11, read('k', 2, 9))]],
    ['a delete racing a put', [op('a', 0, 1, put('k', 1, 1)), op('b', 2, 10, del('k', true, 3)), op('c', 3, 9, put('k', 2, 2)), op('d', 11, 12, read('k'))]],
    ['independent keys are checked apart', [op('a', 0, 1, put('x', 1, 1)), op('b', 0, 1, put('y', 1, 2)), op('a', 2, 3, read('y', 1, 2)), op('b', 2, 3, read('x', 1, 1))]],
  ];
  for (const [name, history] of cases) {
    it(name, () => {
      const r = checkHistory(history);
      expect(r, r.ok ? '' : 'witness' in r ? r.witness : r.message).toMatchObject({ ok: true });
    });
  }
});

describe('non-linearizable histories fail, with a witness', () => {
  const cases: Array<[string, HistoryOperation[], RegExp]> = [
    ['a stale read after a newer write returned', [op('a', 0, 1, put('x', 1, 1)), op('a', 2, 3, put('x', 2, 2)), op('b', 4, 5, read('x', 1, 1))], /key 'x'/],
    ['an acknowledged write lost', [op('a', 0, 1, put('x', 1, 1)), op('b', 2, 3, read('x'))], /read\(x\) → \{"found":false\}/],
    ['a value nobody wrote', [op('a', 0, 1, put('x', 1, 1)), op('b', 2, 3, read('x', 9, 1))], /key 'x'/],
    ['two cas on an absent key both applied', [op('a', 0, 10, cas('lock', { revision: 0 }, 'a', true, 4)), op('b', 1, 9, cas('lock', { revision: 0 }, 'b', true, 5))], /cas\(lock/],
    // Both orders of the two writes are tried before the search gives up.
    ['reads that see two concurrent writes in both orders', [op('a', 0, 10, put('x', 'a', 1)), op('b', 0, 10, put('x', 'b', 2)), op('c', 11, 12, read('x', 'a', 1)), op('c', 13, 14, read('x', 'b', 2))], /key 'x'/],
    ['a revision that goes backwards', [op('a', 0, 1, put('x', 1, 5)), op('a', 2, 3, put('x', 2, 4))], /key 'x'/],
    ['a read reporting another revision than the write it saw', [op('a', 0, 1, put('x', 1, 5)), op('b', 2, 3, read('x', 1, 6))], /key 'x'/],
    ['a delete of a key never written', [op('a', 0, 1, del('x', true, 1))], /delete\(x\)/],
    ['a cas that failed although its condition held', [op('a', 0, 1, put('k', 1, 1)), op('b', 2, 3, cas('k', { revision: 1 }, 2, false, 1))], /cas\(k/],
    ['a timed-out write seen, then unseen', [op('a', 0, INF, put('x', 3)), op('b', 5, 6, read('x', 3, 7)), op('b', 7, 8, read('x'))], /key 'x'/],
  ];
  for (const [name, history, witness] of cases) {
    it(name, () => {
      const r = checkHistory(history);
      expect(r.ok).toBe(false);
      if (r.ok || r.kind !== 'violation') throw new Error(`expected a violation, got ${JSON.stringify(r)}`);
      expect(r.witness).toMatch(witness);
      expect(r.witness.split('\n').length).toBeLessThanOrEqual(10); // small: the few operations that cannot be ordered
    });
  }
});

describe('properties (fast-check, fixed seed): histories of a real store', () => {
  /**
   * Operations run one at a time on a real KvStore at linearization points
   * 10 ms apart; each is then given an interval around its point (so
   * neighbours overlap), and some lose their answer (unknown outcome; a
   * few of those never took effect at all). Such a history is linearizable
   * by construction, whatever the overlaps.
   */
  const step = fc.record({
    key: fc.constantFrom('a', 'b'),
    kind: fc.constantFrom('put', 'read', 'read', 'delete', 'casRev', 'casVal'),
    before: fc.integer({ min: 0, max: 25 }),
    after: fc.integer({ min: 0, max: 25 }),
    fate: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'unknown', 'lost'),
    guess: fc.integer({ min: 0, max: 8 }),
  });
  type Step = { key: string; kind: string; before: number; after: number; fate: string; guess: number };
  function build(steps: Step[]): HistoryOperation[] {
    const store = new KvStore();
    const ops: HistoryOperation[] = [];
    steps.forEach((st, i) => {
      const at = (i + 1) * 10;
      const value = `v${i}`;
      const writes = st.kind !== 'read';
      // A lost write never happened; an unknown one did, but its caller never heard.
      if (st.fate === 'lost' && !writes) return;
      const applies = st.fate !== 'lost';
      let op: KvOperation;
      if (st.kind === 'put') op = { f: 'put', key: st.key, value, output: applies ? store.put(st.key, value) : undefined };
      else if (st.kind === 'delete') op = { f: 'delete', key: st.key, output: applies ? store.delete(st.key) : undefined };
      else if (st.kind === 'casRev') op = { f: 'cas', key: st.key, expect: { revision: st.guess }, value, output: applies ? store.cas(st.key, { revision: st.guess }, value) : undefined };
      else if (st.kind === 'casVal') op = { f: 'cas', key: st.key, expect: { value: `v${Math.max(0, i - 1 - st.guess)}` }, value, output: applies ? store.cas(st.key, { value: `v${Math.max(0, i - 1 - st.guess)}` }, value) : undefined };
      else {
        const r = store.read(st.key);
        op = { f: 'read', key: st.key, output: r.found ? { found: true, value: r.value, revision: r.revision } : { found: false } };
      }
      const known = st.fate === 'ok';
      ops.push({ id: i + 1, client: `c${i % 4}`, call: at - st.before, ret: known ? at + st.after : INF, op: known ? op : ({ ...op, output: undefined } as KvOperation) });
    });
    return ops;
  }
  const history = fc.array(step, { minLength: 1, maxLength: 30 });

  it('every history of a real store, with overlapping intervals and unknown outcomes, is linearizable', () => {
    fc.assert(
      fc.property(history, (steps) => {
        const r = checkHistory(build(steps));
        expect(r, r.ok ? '' : 'witness' in r ? r.witness : r.message).toMatchObject({ ok: true });
      }),
      { seed: 20261126, numRuns: 400 },
    );
  });

  it('a read changed to a value nobody wrote makes any such history non-linearizable', () => {
    fc.assert(
      fc.property(history, fc.nat(), (steps, pick) => {
        const ops = build(steps);
        const reads = ops.filter((o) => o.op.f === 'read' && o.op.output !== undefined && Number.isFinite(o.ret));
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length];
        (victim.op as { output: unknown }).output = { found: true, value: 'never written', revision: 1 };
        const r = checkHistory(ops);
        expect(r).toMatchObject({ ok: false, kind: 'violation', key: victim.op.key });
      }),
      { seed: 20261126, numRuns: 300 },
    );
  });
});

describe('the search budget', () => {
  it('past its budget the answer is a failure naming the key, never a pass', () => {
    // Many concurrent writes and a read no order explains: an exponential search.
    const history = [...Array.from({ length: 14 }, (_, i) => op(`c${i}`, 0, 100, put('x', i, i + 1))), op('r', 101, 102, read('x', 99, 99))];
    const r = checkHistory(history, { budget: 1_000 });
    expect(r).toMatchObject({ ok: false, kind: 'budget', key: 'x' });
    if (!r.ok && r.kind === 'budget') expect(r.message).toMatch(/budget of 1000 steps/);
  });
});

describe('HistoryRecorder', () => {
  it('records invoke and return on the clock it is given; failed operations are dropped, unknown ones stay open', () => {
    let now = 0;
    const h = new HistoryRecorder(() => now);
    const a = h.invoke('c1', { f: 'put', key: 'k', value: 1 });
    const b = h.invoke('c2', { f: 'put', key: 'k', value: 2 });
    const c = h.invoke('c3', { f: 'read', key: 'k' });
    now = 5;
    h.ok(a, { revision: 1 });
    h.fail(b);
    h.unknown(c);
    const ops = h.operations();
    expect(ops.map((o) => [o.client, o.call, o.ret])).toEqual([['c1', 0, 5], ['c3', 0, INF]]);
    expect(ops[0].op.output).toEqual({ revision: 1 });
    expect(() => h.ok(99, { revision: 1 })).toThrow(RangeError);
    expect(checkHistory(ops).ok).toBe(true);
  });
});
