import { isWellFormed, MAX_NESTING } from '../actors/canonical.js';

/**
 * Grey's value domain: what a command, a task payload or a result may hold.
 * JSON values (null, booleans, finite numbers, strings, arrays, plain
 * objects) plus `Uint8Array` for binary data. Checked by Grey itself at the
 * edge, so a bad value is refused with the path at fault, never passed on to
 * whatever the codec happens to do with it.
 *
 * As with `JSON.stringify`, an object property whose value is `undefined` is
 * left out and an object with `toJSON` (a `Date`) stands for what `toJSON`
 * returns. Everything else outside the domain is refused: functions,
 * symbols, bigints, non-finite numbers, `undefined` in an array or as the
 * whole value, `Map`, `Set`, class instances, other typed arrays, sparse
 * arrays and cycles; and what would not reach every replica the same: a
 * string or key with a lone surrogate (it has no UTF-8 encoding, so a
 * decoder would read U+FFFD), a key named `__proto__` (decoders treat it
 * as the prototype or rename it) and nesting deeper than
 * {@link MAX_NESTING} levels.
 */
export class ValueDomainError extends TypeError {
  constructor(
    /** Where in the value the problem is (`$`, `$.items[3]`). */
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path} ${detail}`);
    this.name = 'ValueDomainError';
  }
}

/** A checked copy of a value and the bytes it takes (strings as UTF-8), for size limits. */
export interface CheckedValue<T = unknown> {
  value: T;
  bytes: number;
}

/**
 * Checks that `value` is in Grey's value domain and returns a deep copy that
 * shares nothing with it (a `Uint8Array` is copied too), with its size.
 * Throws {@link ValueDomainError} naming the first place at fault.
 */
export function copyValue<T = unknown>(value: T, path = '$'): CheckedValue<T> {
  const size = { bytes: 0 };
  const copy = walk(value, path, [], size);
  if (copy === undefined) throw new ValueDomainError(path, 'is undefined, which is not a value');
  return { value: copy as T, bytes: size.bytes };
}

/** Whether `value` is in the value domain (without copying it). */
export function isValue(value: unknown): boolean {
  try {
    copyValue(value);
    return true;
  } catch (err) {
    if (err instanceof ValueDomainError) return false;
    throw err;
  }
}

function walk(value: unknown, path: string, stack: object[], size: { bytes: number }): unknown {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new ValueDomainError(path, 'has a lone surrogate, which has no UTF-8 encoding (replicas would read U+FFFD)');
      size.bytes += Buffer.byteLength(value) + 2;
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new ValueDomainError(path, `is ${value}; only finite numbers are values`);
      size.bytes += 9;
      return value;
    case 'boolean':
      size.bytes += 1;
      return value;
    case 'undefined':
      return undefined;
    case 'bigint':
    case 'symbol':
    case 'function':
      throw new ValueDomainError(path, `is a ${typeof value}, which is not a value (JSON data or Uint8Array)`);
  }
  if (value === null) {
    size.bytes += 1;
    return null;
  }
  const obj = value as object;
  if (obj instanceof Uint8Array && obj.constructor !== Uint8Array && !Buffer.isBuffer(obj)) {
    throw new ValueDomainError(path, `is a ${obj.constructor.name}; of typed arrays only Uint8Array is a value`);
  }
  if (obj instanceof Uint8Array) {
    size.bytes += obj.byteLength + 5;
    return new Uint8Array(obj); // a copy, and a plain Uint8Array even for a Buffer
  }
  if (stack.includes(obj)) throw new ValueDomainError(path, 'is a cycle (refers to a value that contains it)');
  if (stack.length >= MAX_NESTING) throw new ValueDomainError(path, `is nested deeper than ${MAX_NESTING} levels`);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    const stood = walk((obj as { toJSON(key: string): unknown }).toJSON(''), path, stack, size);
    if (stood === undefined) throw new ValueDomainError(path, 'has a toJSON that returns undefined');
    return stood;
  }
  stack.push(obj);
  let out: unknown;
  if (Array.isArray(obj)) {
    const copy = new Array<unknown>(obj.length);
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj)) throw new ValueDomainError(`${path}[${i}]`, 'is a hole in a sparse array');
      const v = walk(obj[i], `${path}[${i}]`, stack, size);
      if (v === undefined) throw new ValueDomainError(`${path}[${i}]`, 'is undefined; arrays of values cannot hold it (use null)');
      copy[i] = v;
    }
    size.bytes += 5;
    out = copy;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto?.constructor as { name?: string } | undefined)?.name ?? 'unknown';
      throw new ValueDomainError(path, `is a ${name}, which is not plain data; convert it to an object or array first`);
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      if (key === '__proto__') throw new ValueDomainError(`${path}.__proto__`, 'is a key named __proto__, which decoders treat as the prototype: replicas would disagree');
      if (!isWellFormed(key)) throw new ValueDomainError(path, 'has a key with a lone surrogate, which has no UTF-8 encoding');
      const v = walk((obj as Record<string, unknown>)[key], `${path}.${key}`, stack, size);
      if (v === undefined) continue;
      size.bytes += Buffer.byteLength(key) + 2;
      copy[key] = v;
    }
    size.bytes += 5;
    out = copy;
  }
  stack.pop();
  return out;
}
