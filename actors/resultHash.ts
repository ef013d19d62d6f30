import * as crypto from 'node:crypto';
import { canonicalJson } from './canonical.js';

/** Hex SHA-256 of a result's canonical JSON: the `resultHash` of a proof artifact. */
export function resultHash(result: unknown): string {
  return hashOf(canonicalJson(result === undefined ? null : result));
}

/**
 * A handler's result as the cluster keeps it: a copy through its canonical
 * JSON (a `Date` becomes its ISO string, undefined properties go), which is
 * what crosses the wire to every replica unchanged, with its hash.
 * TypeError when the result is not JSON data.
 */
export function canonicalResult(result: unknown): { value: unknown; hash: string } {
  const json = canonicalJson(result === undefined ? null : result);
  return { value: JSON.parse(json), hash: hashOf(json) };
}

// One-shot `crypto.hash` (Node ≥ 20.12) is 3× faster than a Hash object for
// a short string, and every completion is hashed on the worker and on each replica.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/**
 * Hashes of short results (`null`, `true`, `"ok"`, small numbers), which
 * repeat across tasks: every replica checks every completion's hash. A
 * pure function, so remembering it changes nothing but the time; bounded,
 * and emptied when full.
 */
const shortHashes = new Map<string, string>();
const SHORT_JSON = 64;
const MAX_SHORT_HASHES = 1_024;

function hashOf(json: string): string {
  if (json.length > SHORT_JSON) return sha256(json);
  let h = shortHashes.get(json);
  if (h === undefined) {
    if (shortHashes.size >= MAX_SHORT_HASHES) shortHashes.clear();
    shortHashes.set(json, (h = sha256(json)));
  }
  return h;
}

function sha256(json: string): string {
  return oneShot !== undefined ? oneShot('sha256', json, 'hex') : crypto.createHash('sha256').update(json).digest('hex');
}
