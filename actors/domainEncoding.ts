/**
 * Domain-separated, length-prefixed byte encoding of a tuple of parts, for
 * everything Grey hashes or signs that is not a certificate (identity
 * seeds, attestation quotes, TCB info).
 *
 * Why: concatenating parts as they are makes ('a', 'bc') and ('ab', 'c')
 * the same bytes, and lets a signature made for one purpose be replayed as
 * another. Each part here is written as a 4-byte big-endian length and its
 * bytes, and the first part is, by convention, a domain tag such as
 * `'grey/identity/v1'`, so two encodings are equal only if every part is.
 */
export type EncodablePart = string | number | Uint8Array;

const utf8 = new TextEncoder();

/**
 * The encoding of `parts`. A string is written as UTF-8; a number as its
 * shortest decimal string (so `-0` and `0` are one value), which must be
 * finite; bytes as they are.
 *
 * @throws TypeError for a non-finite number or an unsupported part.
 */
export function lengthPrefixed(...parts: readonly EncodablePart[]): Uint8Array {
  const encoded = parts.map((p, i) => {
    if (p instanceof Uint8Array) return p;
    if (typeof p === 'string') return utf8.encode(p);
    if (typeof p === 'number') {
      if (!Number.isFinite(p)) throw new TypeError(`lengthPrefixed: part ${i} is a non-finite number`);
      return utf8.encode(String(p));
    }
    throw new TypeError(`lengthPrefixed: part ${i} is neither a string, a number nor bytes`);
  });
  const out = new Uint8Array(encoded.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of encoded) {
    view.setUint32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

/** The bytes of a lower-case hex string, or `null` if it is not one (even length, 0-9a-f only). */
export function hexToBytes(hex: string): Uint8Array | null {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return null;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Lower-case hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
