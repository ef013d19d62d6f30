import * as crypto from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { copyValue, ValueDomainError } from '../system/valueDomain.js';

/** Hex SHA-256 of a result's canonical JSON: the `resultHash` of a proof artifact. */
export function resultHash(result: unknown): string {
  return hashOf(canonicalJson(result === undefined ? null : result));
}

/**
 * A handler's result as the cluster keeps it: a copy in Grey's value domain
 * (JSON data and `Uint8Array`; a `Date` becomes its ISO string, undefined
 * properties go), which is what crosses the wire to every replica
 * unchanged, with the hash of its canonical JSON. TypeError naming the
 * path when the result is not a value.
 */
export function canonicalResult(result: unknown): { value: unknown; hash: string; bytes: number } {
  let value: unknown = null;
  let bytes = 1;
  if (result !== undefined) {
    try {
      ({ value, bytes } = copyValue(result, '$'));
    } catch (err) {
      if (err instanceof ValueDomainError) throw new TypeError(`${err.path} ${err.detail}`);
      throw err;
    }
  }
  return { value, hash: hashOf(canonicalJson(value)), bytes };
}

/**
 * Bytes a task's result may take (as the value domain counts them): it
 * travels in the worker's report and stays in the log and on every
 * replica, so it is held to what a client command may carry.
 */
export const MAX_RESULT_BYTES = 1024 * 1024;

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
