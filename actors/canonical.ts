/** Whether a string is well-formed UTF-16 (no lone surrogate), so that it has a UTF-8 encoding (ES2024, in Node ≥ 20). */
export function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** `s` with each lone surrogate replaced by U+FFFD, as the wire would deliver it (ES2024, in Node ≥ 20). */
export function toWellFormed(s: string): string {
  return (s as string & { toWellFormed(): string }).toWellFormed();
}

/**
 * Deepest nesting of objects and arrays in a value: deeper ones would
 * overflow the stack of the wire codec, which carries a value a few levels
 * down inside its messages.
 */
export const MAX_NESTING = 512;

/**
 * Nesting canonical JSON accepts: a value of the deepest nesting allowed
 * still hashes inside what wraps it (a command in its session, a batch, a
 * log digest's entry).
 */
const CANONICAL_MAX_NESTING = MAX_NESTING + 16;

/**
 * Canonical JSON: one byte sequence per value, so that hashes of it (log
 * digests, request fingerprints) agree across nodes, runs and platforms.
 *
 * Rules:
 * - object keys sorted by UTF-16 code units, recursively; no whitespace;
 * - `undefined` object properties are left out (as `JSON.stringify` does);
 * - an object with `toJSON` (a `Date`) is encoded as what `toJSON` returns;
 * - a `Uint8Array` (binary data, part of Grey's value domain) is encoded as
 *   `b"<base64>"`, which no JSON value can be, so bytes never hash like a string;
 * - only plain objects (prototype `Object.prototype` or `null`) and arrays
 *   are encoded structurally: a `Map`, `Set`, other typed array or class instance
 *   would encode as `{}` and make different values hash the same, so they
 *   are rejected rather than silently flattened;
 * - non-finite numbers, `bigint`, functions, symbols, `undefined` in an
 *   array or as the whole value, cycles, nesting deeper than
 *   {@link MAX_NESTING}, a key named `__proto__` (an own
 *   property only `JSON.parse` makes, which other decoders, msgpack's
 *   included, treat as the prototype or rename, so replicas would
 *   disagree) and a string or key with a lone surrogate (it has no UTF-8
 *   encoding: a wire decoder would read U+FFFD) are rejected with a
 *   `TypeError` that names where in the value the problem is.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', []);
}

function encode(value: unknown, path: string, stack: object[]): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new TypeError(`canonicalJson: a string with a lone surrogate at ${path} has no UTF-8 encoding`);
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value} at ${path}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      throw new TypeError(`canonicalJson: undefined at ${path} has no JSON encoding`);
    case 'bigint':
    case 'symbol':
    case 'function':
      throw new TypeError(`canonicalJson: a ${typeof value} at ${path} has no JSON encoding`);
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (obj instanceof Uint8Array && (obj.constructor === Uint8Array || Buffer.isBuffer(obj))) {
    return `b"${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64')}"`;
  }
  if (stack.includes(obj)) throw new TypeError(`canonicalJson: cycle at ${path}`);
  if (stack.length >= CANONICAL_MAX_NESTING) throw new TypeError(`canonicalJson: nesting deeper than ${CANONICAL_MAX_NESTING} levels at ${path}`);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    return encode((obj as { toJSON(key: string): unknown }).toJSON(''), path, stack);
  }
  stack.push(obj);
  let out: string;
  if (Array.isArray(obj)) {
    const parts: string[] = [];
    for (let i = 0; i < obj.length; i++) parts.push(encode(obj[i], `${path}[${i}]`, stack));
    out = `[${parts.join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto?.constructor as { name?: string } | undefined)?.name ?? 'unknown';
      throw new TypeError(`canonicalJson: a ${name} at ${path} is not plain data; convert it to an object or array first`);
    }
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      if (key === '__proto__') throw new TypeError(`canonicalJson: a key named __proto__ at ${path}.__proto__ does not survive decoding elsewhere`);
      if (!isWellFormed(key)) throw new TypeError(`canonicalJson: a key with a lone surrogate at ${path} has no UTF-8 encoding`);
      const v = record[key];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${encode(v, `${path}.${key}`, stack)}`);
    }
    out = `{${parts.join(',')}}`;
  }
  stack.pop();
  return out;
}
