import { addExtension, Packr } from 'msgpackr';
import { isWellFormed } from '../actors/canonical.js';

/**
 * Turns values into bytes and back: the one seam every message on the bus
 * crosses (see `BusOptions.codec`).
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

/** Wrapped values encoded so far, process-wide (for tests and benchmarks). */
let wrappedEncodings = 0;

/**
 * A value to be encoded at most once however many messages carry it, such
 * as one AppendEntries batch broadcast to every follower. Put it where the
 * plain value would go: {@link msgpackCodec} copies its cached bytes into
 * each message and the receiver decodes the plain value (it never sees the
 * wrapper). Transports without a codec hand the wrapper itself over, so a
 * receiver reads it through {@link batchValue}.
 *
 * On the wire: a small value is its plain msgpack bytes, in place; a value
 * of {@link RECORDS_MIN_OBJECTS} objects or more is msgpack extension 0x47
 * holding it encoded with msgpackr records (the keys of each object shape
 * written once, inline, so the extension still decodes on its own): for a
 * batch of log entries about 3× smaller and 2–4× faster to decode, and
 * slower only below about a hundred objects.
 *
 * The value must not change once wrapped: its bytes may already be cached.
 */
export class EncodeOnce<T> {
  private cached: Uint8Array | undefined = undefined;
  private records = false;

  constructor(readonly value: T) {}

  /** How many wrapped values have been encoded in this process (each at most once). */
  static get encodings(): number {
    return wrappedEncodings;
  }

  /** The encoding of `value` (see the class doc), computed on first use. */
  get bytes(): Uint8Array {
    if (this.cached === undefined) {
      // Count this value's objects apart: it may be met while scanning another.
      const outer = scannedObjects;
      scannedObjects = 0;
      let flags: number;
      let objects: number;
      try {
        flags = check(this.value);
        objects = scannedObjects;
      } finally {
        scannedObjects = outer;
      }
      const value = flags & NEGATIVE_ZERO_FOUND ? markNegativeZeros(this.value) : this.value;
      // A wrapped value inside is written in place as plain msgpack, which
      // a records decoder could misread: keep such a value plain too.
      this.records = objects >= RECORDS_MIN_OBJECTS && (flags & WRAPPED_FOUND) === 0;
      this.cached = this.records ? recordsPackr.pack(value) : packr.pack(value);
      wrappedEncodings++;
    }
    return this.cached;
  }

  /** Whether the bytes were computed already. */
  get encoded(): boolean {
    return this.cached !== undefined;
  }

  /** Whether {@link EncodeOnce.bytes} are msgpackr records, carried in extension 0x47 (else plain msgpack, written in place). */
  get asRecords(): boolean {
    void this.bytes;
    return this.records;
  }
}

/** The plain value of `x`, whether it came wrapped (no codec on the way) or decoded. */
export function batchValue<T>(x: T | EncodeOnce<T>): T {
  return x instanceof EncodeOnce ? x.value : x;
}

/**
 * Values wrapped in an {@link EncodeOnce} with this many objects and arrays
 * or more are encoded as records (measured break-even: about 30 log
 * entries of 4 objects each).
 */
export const RECORDS_MIN_OBJECTS = 128;

/** Stands for -0 inside a copy of a value being encoded (msgpackr writes -0 as the integer 0). */
class NegativeZero {}
const NEGATIVE_ZERO = new NegativeZero();

/** -0 as a msgpack float 64, which any decoder reads back as -0. */
const NEGATIVE_ZERO_BYTES = new Uint8Array([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]);

const writeFunction = () => {
  // Unreachable behind the domain check; kept so msgpackr never writes a function as nil.
  throw new TypeError('a function has no encoding');
};

// The options: see the TSDoc of msgpackCodec.
const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: true, copyBuffers: true, writeFunction });

/** Encodes the large arrays of EncodeOnce: records, with no structure shared between encodings. */
const recordsPackr = new Packr({ useRecords: true, variableMapSize: true, mapsAsObjects: true, moreTypes: true, copyBuffers: true, writeFunction });

type Allocate = (size: number) => { target: Uint8Array; position: number };

/**
 * Writes ready msgpack bytes in place of an object, as themselves: no
 * extension framing. (msgpackr hands an extension's `pack` an allocator for
 * raw output; when `pack` returns nothing, what it wrote is the encoding.)
 */
function writeInPlace(bytes: Uint8Array, allocate: Allocate): void {
  const { target, position } = allocate(bytes.byteLength);
  target.set(bytes, position);
}

// msgpackr's extensions are global: these two classes are Grey's own, so
// registering them affects no other user of msgpackr. msgpackr wants a type
// code for any extension with `pack`, though -0 never writes one.
addExtension({
  Class: EncodeOnce,
  type: 0x47,
  // check() caches the bytes before msgpackr's pack starts, so none is encoded in here.
  // Records are returned, for msgpackr to frame as the extension; plain bytes go in place.
  pack: ((wrapped: EncodeOnce<unknown>, allocate: Allocate) => {
    if (wrapped.asRecords) return wrapped.bytes;
    writeInPlace(wrapped.bytes, allocate);
    return undefined;
  }) as never,
  unpack: (bytes: Uint8Array) => recordsPackr.unpack(bytes),
});
addExtension({
  Class: NegativeZero,
  type: 0x2d,
  pack: ((_: NegativeZero, allocate: Allocate) => writeInPlace(NEGATIVE_ZERO_BYTES, allocate)) as never,
  unpack: () => {
    throw new TypeError('msgpack extension 0x2d is reserved by Grey and never written');
  },
});

/** Thrown by the fast domain check; the slow one finds where and says why. */
const OUTSIDE = new Error('outside the wire domain');

/**
 * Deeper than this is taken for a cycle (msgpackr would overflow the stack
 * on one, and does on values not much deeper). The client edge allows user
 * values half as deep (`MAX_NESTING`), leaving room for the messages around them.
 */
const MAX_DEPTH = 1000;

// What scan() found, as bits.
const NEGATIVE_ZERO_FOUND = 1;
const WRAPPED_FOUND = 2;

/** Objects and arrays scan() has visited since last reset (a counter, not a result, to keep scan allocation-free). */
let scannedObjects = 0;

/**
 * Checks that `value` is in the wire domain, and reports what it holds
 * (-0, wrapped values) as bits. Throws {@link OUTSIDE} otherwise. One pass,
 * no allocation; primitives are told apart before any call (twice as fast
 * as a switch on typeof per value).
 */
function scan(value: unknown, depth: number): number {
  if (typeof value === 'number') return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO_FOUND : 0;
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw OUTSIDE;
    return 0;
  }
  if (typeof value === 'boolean' || value === undefined || value === null) return 0;
  return scanObject(value, depth);
}

function scanObject(value: unknown, depth: number): number {
  if (typeof value !== 'object' || depth > MAX_DEPTH) throw OUTSIDE;
  scannedObjects++;
  let found = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) found |= scan(value[i], depth + 1);
    return found;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (key === '__proto__' || !isWellFormed(key)) throw OUTSIDE;
      found |= scan(record[key], depth + 1);
    }
    return found;
  }
  if (value instanceof Uint8Array) return 0;
  if (value instanceof EncodeOnce) {
    // Encode it now, outside msgpackr's pack: its own check runs then, and
    // the outer pack only copies the cached bytes.
    void value.bytes;
    return WRAPPED_FOUND;
  }
  throw OUTSIDE;
}

/** {@link scan}, with a TypeError naming the first thing outside the domain. */
function check(value: unknown): number {
  try {
    return scan(value, 0);
  } catch (err) {
    if (err !== OUTSIDE) throw err;
    throw new TypeError(`cannot encode ${describe(value, '$', []) ?? 'the value'}: the wire carries JSON values and Uint8Array only`);
  }
}

/** Where in `value` the first thing outside the wire domain is, and what it is (the slow path of an error). */
function describe(value: unknown, path: string, stack: object[]): string | null {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') return `a ${t} at ${path}`;
  if (t === 'string') return isWellFormed(value as string) ? null : `a string with a lone surrogate (no UTF-8 encoding) at ${path}`;
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
        if (key === '__proto__') return `a key named __proto__ at ${path}.__proto__ (msgpackr renames it)`;
        if (!isWellFormed(key)) return `a key with a lone surrogate (no UTF-8 encoding) at ${path}`;
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
 * each a fresh copy. Refused too, as they would not survive the trip: an
 * own key `__proto__` (which only `JSON.parse` makes; msgpackr renames it
 * on decoding, against prototype pollution) and a string or key with a lone
 * surrogate (UTF-8 has no encoding for one).
 *
 * Options, and why:
 * - `useRecords: false`: objects are plain msgpack maps, so each message
 *   decodes on its own with any msgpack decoder. Records (msgpackr's
 *   structure definitions) would have to be repeated inline in each
 *   message, which is 2–3× slower for small messages; only the large
 *   arrays of {@link EncodeOnce} use them;
 * - `moreTypes: true`: a plain `Uint8Array` keeps its type (without it one
 *   decodes as a `Buffer`); no measurable cost;
 * - `copyBuffers: true`: a decoded byte array is a copy, not a view of the
 *   wire bytes, so the two deliveries of a duplicated message share nothing;
 * - `variableMapSize: true`: an object of more than 65 535 keys (the task
 *   table in a snapshot of a busy cluster) encodes at all; msgpackr's fast
 *   path refuses it otherwise. Maps of other sizes cost the same;
 * - left at their defaults:
 *   `bundleStrings` (a browser-only speed-up, twice as slow here).
 */
export const msgpackCodec: Codec = {
  encode(value: unknown): Uint8Array {
    const flags = check(value);
    return packr.pack(flags & NEGATIVE_ZERO_FOUND ? markNegativeZeros(value) : value);
  },
  decode(bytes: Uint8Array): unknown {
    return packr.unpack(bytes);
  },
};
