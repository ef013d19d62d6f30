import { createHash } from 'node:crypto';
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

function hashOf(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}
