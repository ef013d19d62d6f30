import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/** Hex SHA-256 of a result's canonical JSON: the `resultHash` of a proof artifact. */
export function resultHash(result: unknown): string {
  return createHash('sha256').update(canonicalJson(result === undefined ? null : result)).digest('hex');
}
