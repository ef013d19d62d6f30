import { addExtension, Packr } from 'msgpackr';

/**
 * Turns values into bytes and back: the one seam every message on the bus
 * crosses (see {@link BusOptions.codec}).
 *
 * Each encoding must decode on its own: no state is shared between
 * messages, because in real mode the bytes travel between processes.
 */
export interface Codec {
  /** The bytes of `value`. Throws a TypeError for a value outside the codec's domain. */
  encode(value: unknown): Uint8Array;
  /** A new value equal to the one encoded; shares nothing with earlier decodes of the same bytes. */
  decode(bytes: Uint8Array): unknown;
}

/**
 * A value to be encoded at most once however many messages carry it, such
 * as one AppendEntries batch broadcast to every follower. Put it where the
 * plain value would go: {@link msgpackCodec} splices its cached bytes into
 * each message, and the receiver decodes the plain value (it never sees the
 * wrapper). Transports without a codec hand the wrapper itself over, so a
 * receiver reads it through {@link batchValue}.
 *
 * The value must not change once wrapped: its bytes may already be cached.
 */
export class EncodeOnce<T> {
  private cached: Uint8Array | undefined = undefined;

  constructor(readonly value: T) {}

  /** The encoding of `value` by {@link msgpackCodec}, computed on first use. */
  get bytes(): Uint8Array {
    return (this.cached ??= msgpackCodec.encode(this.value));
  }

  /** Whether the bytes were computed already. */
  get encoded(): boolean {
    return this.cached !== undefined;
  }
}

/** The plain value of `x`, whether it came wrapped (no codec on the way) or decoded. */
export function batchValue<T>(x: T | EncodeOnce<T>): T {
  return x instanceof EncodeOnce ? x.value : x;
}

/** Stands for -0 inside a copy of a value being encoded (msgpack writes -0 as the integer 0). */
class NegativeZero {}
const NEGATIVE_ZERO = new NegativeZero();

// Extension type codes of Grey's wire (msgpack leaves 0–127 to applications;
// msgpackr keeps 101–127 for itself). Part of the wire format: never reuse one.
/** The type code of an {@link EncodeOnce}: its payload is a complete msgpack value. */
export const ENCODE_ONCE_EXT = 0x47; // 'G'
/** The type code of -0 (payload: one ignored byte). */
export const NEGATIVE_ZERO_EXT = 0x2d; // '-'

const ONE_BYTE = new Uint8Array(1);

// The options: see the TSDoc of msgpackCodec.
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  copyBuffers: true,
  writeFunction: () => {
    // Unreachable behind the domain check; kept so msgpackr never writes a function as nil.
    throw new TypeError('a function has no encoding');
  },
});

// msgpackr's extensions are global: these two classes are Grey's own, so
// registering them affects no other user of msgpackr.
addExtension({
  Class: EncodeOnce,
  type: ENCODE_ONCE_EXT,
  // A Uint8Array returned by pack is written as the extension's payload, byte for byte.
  pack: (wrapped: EncodeOnce<unknown>) => wrapped.bytes,
  unpack: (bytes: Uint8Array) => packr.unpack(bytes),
});
addExtension({
  Class: NegativeZero,
  type: NEGATIVE_ZERO_EXT,
  pack: () => ONE_BYTE,
  unpack: () => -0,
});

/** Thrown by the fast domain check; the slow one finds where and says why. */
const OUTSIDE = new Error('outside the wire domain');

/** Deeper than this is taken for a cycle (msgpackr would overflow the stack on one). */
const MAX_DEPTH = 1000;

/**
 * Checks that `value` is in the wire domain, and reports whether it holds a
 * -0 somewhere. Throws {@link OUTSIDE} otherwise. One pass, no allocation;
 * primitives are told apart before any call (twice as fast as a switch on
 * typeof per value).
 */
function scan(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return value === 0 && 1 / value < 0;
  if (typeof value === 'string' || typeof value === 'boolean' || value === undefined || value === null) return false;
  return scanObject(value, depth);
}

function scanObject(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || depth > MAX_DEPTH) throw OUTSIDE;
  let negativeZero = false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (scan(value[i], depth + 1)) negativeZero = true;
    return negativeZero;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    for (const key in record) if (scan(record[key], depth + 1)) negativeZero = true;
    return negativeZero;
  }
  if (value instanceof Uint8Array) return false;
  if (value instanceof EncodeOnce) {
    // Encode it now, outside msgpackr's pack: its own check runs then, and
    // the outer pack only copies the cached bytes.
    void value.bytes;
    return false;
  }
  throw OUTSIDE;
}

/** Where in `value` the first thing outside the wire domain is, and what it is (the slow path of an error). */
function describe(value: unknown, path: string, stack: object[]): string | null {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') return `a ${t} at ${path}`;
  if (t !== 'object' || value === null) return null;
  const obj = value as object;
  if (stack.includes(obj)) return `a cycle at ${path}`;
  if (stack.length >= MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} at ${path}`;
  if (obj instanceof Uint8Array || obj instanceof EncodeOnce) return null;
  const proto = Object.getPrototypeOf(obj);
  if (!Array.isArray(obj) && proto !== Object.prototype && proto !== null) {
    return `a ${(proto?.constructor as { name?: string } | undefined)?.name || 'class instance'} at ${path}`;
  }
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const found = describe(obj[i], `${path}[${i}]`, stack);
        if (found !== null) return found;
      }
    } else {
      const record = obj as Record<string, unknown>;
      for (const key in record) {
        const found = describe(record[key], `${path}.${key}`, stack);
        if (found !== null) return found;
      }
    }
    return null;
  } finally {
    stack.pop();
  }
}

/** A copy of `value` with every -0 replaced by {@link NEGATIVE_ZERO} (rare: only when {@link scan} found one). */
function markNegativeZeros(value: unknown): unknown {
  if (typeof value === 'number') return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO : value;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || value instanceof EncodeOnce) return value;
  if (Array.isArray(value)) return value.map(markNegativeZeros);
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = markNegativeZeros((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * Grey's wire codec: MessagePack, with msgpackr.
 *
 * Domain: JSON values plus `undefined`, `-0`, `NaN`, `±Infinity` and
 * `Uint8Array` — plain objects (prototype `Object.prototype` or `null`),
 * arrays, strings, numbers, booleans, `null` — and {@link EncodeOnce}
 * wrappers. Anything else (a function, symbol, bigint, `Map`, `Set`, `Date`,
 * class instance, cycle) is a TypeError naming where it is: inside Grey
 * that is a programming error, since user values are checked at the client
 * edge. A `Uint8Array` decodes as a `Uint8Array`, a `Buffer` as a `Buffer`,
 * each a fresh copy.
 *
 * Options, and why:
 * - `useRecords: false`: objects are plain msgpack maps, so each message
 *   decodes on its own (records would share structure definitions between
 *   messages, or repeat them inline in each: 2–3× slower on small messages);
 * - `moreTypes: true`: a plain `Uint8Array` keeps its type (without it one
 *   decodes as a `Buffer`); no measurable cost;
 * - `copyBuffers: true`: a decoded byte array is a copy, not a view of the
 *   wire bytes, so the two deliveries of a duplicated message share nothing;
 * - left at their defaults: `variableMapSize` (2–4 bytes smaller, no faster),
 *   `bundleStrings` (a browser-only speed-up, twice as slow here).
 */
export const msgpackCodec: Codec = {
  encode(value: unknown): Uint8Array {
    let negativeZero: boolean;
    try {
      negativeZero = scan(value, 0);
    } catch (err) {
      if (err !== OUTSIDE) throw err;
      throw new TypeError(`cannot encode ${describe(value, '$', []) ?? 'the value'}: the wire carries JSON values and Uint8Array only`);
    }
    return packr.pack(negativeZero ? markNegativeZeros(value) : value);
  },
  decode(bytes: Uint8Array): unknown {
    return packr.unpack(bytes);
  },
};
