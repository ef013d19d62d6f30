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
  return run(value, path, true);
}

/**
 * Checks `value` as {@link copyValue} does, without copying it: for a value
 * that is already private (just decoded from the wire). Returns its size.
 */
export function checkValue(value: unknown, path = '$'): number {
  return run(value, path, false).bytes;
}

/** Whether `value` is in the value domain (without copying it). */
export function isValue(value: unknown): boolean {
  try {
    checkValue(value);
    return true;
  } catch (err) {
    if (err instanceof ValueDomainError) return false;
    throw err;
  }
}

/** One walk over a value: the objects above the current one, and their keys (a path is built only for an error). */
class Walk {
  readonly stack: object[] = [];
  readonly keys: Array<string | number> = [];
  bytes = 0;
  constructor(
    readonly root: string,
    readonly copy: boolean,
  ) {}

  /** The path of the current value, with `key` below it when given. */
  path(key?: string | number): string {
    let out = this.root;
    for (const k of key === undefined ? this.keys : [...this.keys, key]) out += typeof k === 'number' ? `[${k}]` : `.${k}`;
    return out;
  }

  fail(detail: string, key?: string | number): never {
    throw new ValueDomainError(this.path(key), detail);
  }
}

function run<T>(value: T, path: string, copy: boolean): CheckedValue<T> {
  const w = new Walk(path, copy);
  const out = walk(value, w);
  if (out === undefined) w.fail('is undefined, which is not a value');
  return { value: out as T, bytes: w.bytes };
}

function walk(value: unknown, w: Walk): unknown {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) w.fail('has a lone surrogate, which has no UTF-8 encoding (replicas would read U+FFFD)');
      w.bytes += Buffer.byteLength(value) + 2;
      return value;
    case 'number':
      if (!Number.isFinite(value)) w.fail(`is ${value}; only finite numbers are values`);
      w.bytes += 9;
      return value;
    case 'boolean':
      w.bytes += 1;
      return value;
    case 'undefined':
      return undefined;
    case 'bigint':
    case 'symbol':
    case 'function':
      w.fail(`is a ${typeof value}, which is not a value (JSON data or Uint8Array)`);
  }
  if (value === null) {
    w.bytes += 1;
    return null;
  }
  const obj = value as object;
  if (obj instanceof Uint8Array) {
    if (obj.constructor !== Uint8Array && !Buffer.isBuffer(obj)) w.fail(`is a ${obj.constructor.name}; of typed arrays only Uint8Array is a value`);
    w.bytes += obj.byteLength + 5;
    return w.copy ? new Uint8Array(obj) : obj; // a copy is a plain Uint8Array even for a Buffer
  }
  const stack = w.stack;
  if (stack.includes(obj)) w.fail('is a cycle (refers to a value that contains it)');
  if (stack.length >= MAX_NESTING) w.fail(`is nested deeper than ${MAX_NESTING} levels`);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    // On the stack while what it stands for is walked: a toJSON that returns
    // its own object is a cycle, and a chain of them is bounded like nesting.
    stack.push(obj);
    const stood = walk((obj as { toJSON(key: string): unknown }).toJSON(''), w);
    stack.pop();
    if (stood === undefined) w.fail('has a toJSON that returns undefined');
    return stood;
  }
  stack.push(obj);
  let out: unknown;
  if (Array.isArray(obj)) {
    const copy = w.copy ? new Array<unknown>(obj.length) : null;
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj)) w.fail('is a hole in a sparse array', i);
      w.keys.push(i);
      const v = walk(obj[i], w);
      w.keys.pop();
      if (v === undefined) w.fail('is undefined; arrays of values cannot hold it (use null)', i);
      if (copy) copy[i] = v;
    }
    w.bytes += 5;
    out = copy ?? obj;
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto?.constructor as { name?: string } | undefined)?.name ?? 'unknown';
      w.fail(`is a ${name}, which is not plain data; convert it to an object or array first`);
    }
    const copy: Record<string, unknown> | null = w.copy ? {} : null;
    for (const key of Object.keys(obj)) {
      if (key === '__proto__') w.fail('is a key named __proto__, which decoders treat as the prototype: replicas would disagree', key);
      if (!isWellFormed(key)) w.fail('has a key with a lone surrogate, which has no UTF-8 encoding');
      w.keys.push(key);
      const v = walk((obj as Record<string, unknown>)[key], w);
      w.keys.pop();
      if (v === undefined) continue;
      w.bytes += Buffer.byteLength(key) + 2;
      if (copy) copy[key] = v;
    }
    w.bytes += 5;
    out = copy ?? obj;
  }
  stack.pop();
  return out;
}
