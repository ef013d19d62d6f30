/**
 * The size a value of Grey's domain takes, counted the way the client edge
 * counts it (`system/valueDomain.ts`): strings as UTF-8 plus 2, numbers 9,
 * booleans and null 1, a `Uint8Array` its length plus 5, arrays and objects
 * 5 plus their parts (a key as a string). Used for a tenant's storage
 * account, so it is a pure function of the value: every replica counts the
 * same. The value was checked at the edge; nothing is checked here.
 */
export function valueBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value) + 2;
    case 'number':
      return 9;
    case 'boolean':
      return 1;
    case 'undefined':
      return 0;
  }
  if (value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength + 5;
  let bytes = 5;
  if (Array.isArray(value)) {
    for (const v of value) bytes += valueBytes(v);
    return bytes;
  }
  for (const k of Object.keys(value as object)) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    bytes += Buffer.byteLength(k) + 2 + valueBytes(v);
  }
  return bytes;
}
