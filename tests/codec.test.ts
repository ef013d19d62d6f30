import { describe, expect, it } from 'vitest';
import { batchValue, EncodeOnce, msgpackCodec, RECORDS_MIN_OBJECTS } from '../system/codec.js';

const roundTrip = (value: unknown): unknown => msgpackCodec.decode(msgpackCodec.encode(value));

describe('msgpackCodec: the value domain round-trips', () => {
  it('JSON values, nested arrays and objects', () => {
    const value = {
      s: 'héllo ✓',
      empty: '',
      n: [0, 1, -1, 127, 128, -33, 65_535, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -1e-300, 1e300],
      b: [true, false],
      nil: null,
      nested: [[1, [2, [3, { deep: [{}, []] }]]], { a: { b: { c: 'd' } } }],
      nullProto: Object.assign(Object.create(null), { x: 1 }),
    };
    expect(roundTrip(value)).toEqual(value);
    // Numbers beyond 32 bits come back as numbers, not bigints.
    expect(typeof (roundTrip(2 ** 53 - 1) as number)).toBe('number');
  });

  it('an object of more than 65 535 keys (a busy task table in a snapshot), plain and wrapped', () => {
    const tasks: Record<string, { n: number }> = {};
    for (let i = 0; i < 70_000; i++) tasks[`task-${i}`] = { n: i };
    const back = roundTrip({ tasks }) as { tasks: typeof tasks };
    expect(Object.keys(back.tasks)).toHaveLength(70_000);
    expect(back.tasks['task-69999']).toEqual({ n: 69_999 });
    const wrapped = roundTrip({ data: new EncodeOnce({ tasks }) }) as { data: { tasks: typeof tasks } };
    expect(Object.keys(wrapped.data.tasks)).toHaveLength(70_000);
  });

  it('undefined (as a property and in arrays), -0, NaN and ±Infinity', () => {
    const d = roundTrip({ u: undefined, z: -0, nan: NaN, inf: Infinity, ninf: -Infinity, arr: [undefined, -0, 0] }) as Record<string, unknown>;
    expect(Object.keys(d)).toContain('u');
    expect(d.u).toBeUndefined();
    expect(Object.is(d.z, -0)).toBe(true);
    expect(Number.isNaN(d.nan)).toBe(true);
    expect(d.inf).toBe(Infinity);
    expect(d.ninf).toBe(-Infinity);
    const arr = d.arr as unknown[];
    expect(arr).toHaveLength(3);
    expect(arr[0]).toBeUndefined();
    expect(Object.is(arr[1], -0)).toBe(true);
    expect(Object.is(arr[2], 0)).toBe(true);
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
  });

  it('a Uint8Array decodes as a Uint8Array (a Buffer as a Buffer), a fresh copy each time', () => {
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const wire = msgpackCodec.encode({ bytes, buf: Buffer.from('hi') });
    const one = msgpackCodec.decode(wire) as { bytes: Uint8Array; buf: Buffer };
    const two = msgpackCodec.decode(wire) as { bytes: Uint8Array; buf: Buffer };
    expect(Object.getPrototypeOf(one.bytes)).toBe(Uint8Array.prototype);
    expect(Buffer.isBuffer(one.buf)).toBe(true);
    expect([...one.bytes]).toEqual([0, 1, 254, 255]);
    expect(one.buf.toString()).toBe('hi');
    // Copies: neither views of the wire bytes nor of each other.
    expect(one.bytes.buffer).not.toBe(two.bytes.buffer);
    expect(one.bytes.buffer).not.toBe(wire.buffer);
    one.bytes[0] = 9;
    expect(two.bytes[0]).toBe(0);
  });

  it('each decode is a new value, sharing nothing with the encoded one', () => {
    const value = { a: [{ b: 1 }] };
    const wire = msgpackCodec.encode(value);
    const one = msgpackCodec.decode(wire) as typeof value;
    const two = msgpackCodec.decode(wire) as typeof value;
    expect(one).toEqual(value);
    expect(one).not.toBe(two);
    expect(one.a).not.toBe(two.a);
    expect(one.a[0]).not.toBe(value.a[0]);
  });
});

describe('msgpackCodec: values outside the domain are TypeErrors naming where', () => {
  class Point {
    x = 1;
  }
  const cyclic: Record<string, unknown> = { a: {} };
  (cyclic.a as Record<string, unknown>).self = cyclic;

  it.each([
    ['a function', { f: () => 1 }, 'a function at $.f'],
    ['a symbol', [1, Symbol('s')], 'a symbol at $[1]'],
    ['a bigint', { n: 1n }, 'a bigint at $.n'],
    ['a Map', { m: new Map() }, 'a Map at $.m'],
    ['a Set', [[new Set([1])]], 'a Set at $[0][0]'],
    ['a Date', { at: new Date(0) }, 'a Date at $.at'],
    ['a class instance', { p: new Point() }, 'a Point at $.p'],
    ['a cycle', cyclic, 'a cycle at $.a.self'],
    ['a key named __proto__', JSON.parse('{"a":[{"__proto__":{}}]}'), 'a key named __proto__ at $.a[0].__proto__'],
    ['a lone surrogate', { s: ['ok 😀', 'x\ud800'] }, 'a string with a lone surrogate (no UTF-8 encoding) at $.s[1]'],
    ['a key with a lone surrogate', { o: { '\udc00': 1 } }, 'a key with a lone surrogate (no UTF-8 encoding) at $.o'],
  ])('%s', (_, value, where) => {
    expect(() => msgpackCodec.encode(value)).toThrow(TypeError);
    expect(() => msgpackCodec.encode(value)).toThrow(`cannot encode ${where}`);
  });
});

describe('EncodeOnce', () => {
  it('is encoded once however many messages carry it, and decodes as the plain value', () => {
    const batch = new EncodeOnce([{ index: 1, term: 2, payload: { kind: 'noop' } }]);
    expect(batch.encoded).toBe(false);
    const first = msgpackCodec.encode({ to: 'n2', entries: batch });
    expect(batch.encoded).toBe(true);
    const bytes = batch.bytes;
    const second = msgpackCodec.encode({ to: 'n3', entries: batch });
    expect(batch.bytes).toBe(bytes); // cached, not recomputed
    expect(msgpackCodec.decode(first)).toEqual({ to: 'n2', entries: [{ index: 1, term: 2, payload: { kind: 'noop' } }] });
    expect(msgpackCodec.decode(second)).toEqual({ to: 'n3', entries: [{ index: 1, term: 2, payload: { kind: 'noop' } }] });
  });

  it('a large array is encoded as records in an extension and decodes equal, whatever it holds', () => {
    // More object shapes than msgpackr numbers records in one message (64), -0, undefined, bytes, nesting.
    const items = Array.from({ length: 3 * RECORDS_MIN_OBJECTS }, (_, i) => ({
      index: i,
      [`shape${i}`]: { nested: [i, 'x', { deep: i % 2 === 0 }] },
      z: i === 5 ? -0 : i,
      u: undefined,
      bytes: i === 7 ? new Uint8Array([1, 2]) : null,
    }));
    const batch = new EncodeOnce(items);
    const wire = msgpackCodec.encode({ before: 100, entries: batch, after: [64, 65, 100, 127] });
    expect(batch.asRecords).toBe(true);
    expect(batch.bytes.byteLength).toBeLessThan(msgpackCodec.encode(items).byteLength);
    const decoded = msgpackCodec.decode(wire) as { before: number; entries: typeof items; after: number[] };
    expect(decoded).toEqual({ before: 100, entries: items, after: [64, 65, 100, 127] });
    expect(Object.is(decoded.entries[5].z, -0)).toBe(true);
    expect(Object.getPrototypeOf(decoded.entries[7].bytes)).toBe(Uint8Array.prototype);
    // Two messages carrying it decode on their own, to distinct objects.
    const again = msgpackCodec.decode(msgpackCodec.encode({ entries: batch })) as { entries: typeof items };
    expect(again.entries).toEqual(items);
    expect(again.entries[0]).not.toBe(decoded.entries[0]);
  });

  it('wrapped values nest, small and large', () => {
    const inner = new EncodeOnce(Array.from({ length: RECORDS_MIN_OBJECTS }, (_, i) => ({ i })));
    const outer = new EncodeOnce(Array.from({ length: RECORDS_MIN_OBJECTS }, (_, i) => (i === 3 ? { inner, n: 100 } : { n: 64 + i })));
    const small = new EncodeOnce('small');
    const decoded = msgpackCodec.decode(msgpackCodec.encode([outer, small])) as unknown[];
    expect([inner.asRecords, outer.asRecords, small.asRecords]).toEqual([true, false, false]); // plain around a wrapped value
    expect(decoded).toEqual([outer.value.map((x) => ('inner' in x ? { inner: inner.value, n: 100 } : x)), 'small']);
  });

  it('counts the wrapped values it encodes', () => {
    const before = EncodeOnce.encodings;
    const batch = new EncodeOnce([1, 2, 3]);
    msgpackCodec.encode({ a: batch });
    msgpackCodec.encode({ b: batch });
    expect(EncodeOnce.encodings - before).toBe(1);
  });

  it('batchValue unwraps a wrapper and passes a plain value through', () => {
    const entries = [1, 2, 3];
    expect(batchValue(new EncodeOnce(entries))).toBe(entries);
    expect(batchValue(entries)).toBe(entries);
  });

  it('a wrapped value outside the domain fails when the message carrying it is encoded', () => {
    expect(() => msgpackCodec.encode({ entries: new EncodeOnce([{ f: () => 1 }]) })).toThrow('cannot encode a function at $[0].f');
  });
});
