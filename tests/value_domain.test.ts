import { describe, expect, it } from 'vitest';
import { copyValue, isValue, ValueDomainError } from '../system/valueDomain.js';
import { createTestCluster } from '../system/cluster.js';

const refusal = (value: unknown): ValueDomainError => {
  try {
    copyValue(value);
  } catch (err) {
    if (err instanceof ValueDomainError) return err;
    throw err;
  }
  throw new Error('expected a ValueDomainError');
};

describe('the value domain: JSON data plus Uint8Array', () => {
  it('copies what it accepts, sharing nothing, and counts its size', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const value = { a: [1, 'two', true, null], bytes, buf: Buffer.from('hi'), when: new Date(0), skip: undefined };
    const { value: copy, bytes: size } = copyValue(value);
    expect(copy).toEqual({ a: [1, 'two', true, null], bytes: new Uint8Array([1, 2, 3]), buf: new Uint8Array([104, 105]), when: '1970-01-01T00:00:00.000Z' });
    expect(copy.bytes).not.toBe(bytes);
    expect(Object.getPrototypeOf(copy.buf)).toBe(Uint8Array.prototype); // a Buffer comes back as a plain Uint8Array
    expect('skip' in copy).toBe(false); // an undefined property is left out, as JSON.stringify does
    bytes[0] = 9;
    expect(copy.bytes[0]).toBe(1);
    expect(size).toBeGreaterThan(20);
    expect(isValue(value)).toBe(true);
  });

  it('refuses, naming the path, what is not a value or would not reach every replica the same', () => {
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const cases: Array<[unknown, string, RegExp]> = [
      [{ f: () => 1 }, '$.f', /function/],
      [{ n: 10n }, '$.n', /bigint/],
      [{ s: Symbol('x') }, '$.s', /symbol/],
      [{ x: [Infinity] }, '$.x[0]', /finite/],
      [{ t: new Float32Array(2) }, '$.t', /Float32Array/],
      [{ m: new Map() }, '$.m', /Map/],
      [{ a: sparse }, '$.a[1]', /hole/],
      [{ a: [undefined] }, '$.a[0]', /undefined/],
      [{ s: 'x\uD800' }, '$.s', /lone surrogate/],
      [JSON.parse('{"__proto__": 1}'), '$.__proto__', /__proto__/],
      [{ d: { toJSON: () => undefined } }, '$.d', /toJSON/],
      [undefined, '$', /undefined/],
    ];
    for (const [value, path, detail] of cases) {
      const err = refusal(value);
      expect(err.path, String(path)).toBe(path);
      expect(err.detail).toMatch(detail);
      expect(isValue(value)).toBe(false);
    }
    let deep: unknown = 0;
    for (let i = 0; i < 600; i++) deep = [deep];
    expect(refusal(deep).detail).toMatch(/nested deeper than 512/);
  });

  it('a toJSON that returns its own object is a cycle, and a long chain of toJSON is bounded like nesting (no stack overflow)', () => {
    const self = { toJSON(): unknown { return this; } };
    expect(refusal({ v: self })).toMatchObject({ path: '$.v' });
    expect(refusal({ v: self }).detail).toMatch(/cycle/);
    let chain: unknown = 1;
    for (let i = 0; i < 20_000; i++) { const next = chain; chain = { toJSON: () => next }; }
    expect(refusal(chain).detail).toMatch(/nested deeper than 512/);
    // One toJSON (a Date) still stands for its value.
    expect(copyValue({ d: new Date(0) }).value).toEqual({ d: '1970-01-01T00:00:00.000Z' });
  });
});

describe('named queries', () => {
  it('tenants and workers are answered as copies; a query with a bad argument is refused as InvalidQuery', async () => {
    const c = createTestCluster(3, { seed: 78 });
    await c.waitForLeader();
    await c.settle();
    const client = c.client();
    const tenants = await c.drive(client.query('tenants', {}));
    expect(tenants.map((t) => t.tenant).sort()).toEqual(['default', 'system']);
    tenants[0].quota.priorityWeight = 99;
    expect(c.leader()!.state.tenant(tenants[0].tenant)!.quota.priorityWeight).toBe(1);
    const workers = await c.drive(client.query('workers', {}));
    expect(workers.map((w) => w.worker).sort()).toEqual(c.ids);
    await expect(c.drive(client.query('get', { key: '' }))).rejects.toMatchObject({ code: 'InvalidQuery', outcome: 'failed' });
  });
});
