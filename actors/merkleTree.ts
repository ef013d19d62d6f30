/**
 * Merkle tree hashes and inclusion paths as RFC 9162 (Certificate
 * Transparency v2, §2.1) defines them: a leaf hash is SHA-256(0x00 ‖ data),
 * an interior node SHA-256(0x01 ‖ left ‖ right), and a tree of any size
 * (not only a power of two) splits at the largest power of two below it.
 *
 * Why this construction: one signature over the root then vouches for
 * every leaf, and a leaf's path (about log₂ n hashes) proves it is in the
 * signed tree. The distinct leaf and node prefixes keep a leaf from being
 * passed off as an interior node (a second-preimage trick).
 */
import { createHash } from 'node:crypto';

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

/** SHA-256(0x00 ‖ data): the hash of one leaf. */
export function leafHash(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(LEAF).update(data).digest();
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/** A tree built over leaf hashes: its root and the inclusion path of every leaf. */
export interface MerkleTree {
  readonly root: Uint8Array;
  readonly size: number;
  /** The inclusion path of leaf `index` (siblings from the leaf up). */
  path(index: number): Uint8Array[];
}

/**
 * The tree over `leaves` (leaf hashes, in order), built bottom-up: pairs
 * are hashed level by level, and a level's last node without a partner is
 * carried up unchanged. That is the same tree as RFC 9162's recursive
 * definition (split at the largest power of two below n), in O(n).
 *
 * @throws RangeError for an empty list (RFC 9162 hashes it as SHA-256(""), which no batch needs).
 */
export function merkleTree(leaves: readonly Uint8Array[]): MerkleTree {
  if (leaves.length === 0) throw new RangeError('merkleTree: a tree needs at least one leaf');
  const levels: Uint8Array[][] = [leaves.slice()];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const above: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) above.push(nodeHash(below[i], below[i + 1]));
    if (below.length % 2 === 1) above.push(below[below.length - 1]);
    levels.push(above);
  }
  const size = leaves.length;
  return {
    root: levels[levels.length - 1][0],
    size,
    path(index: number): Uint8Array[] {
      if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`merkleTree: no leaf ${index} in a tree of ${size}`);
      const out: Uint8Array[] = [];
      let i = index;
      for (let level = 0; level < levels.length - 1; level++) {
        const sibling = i ^ 1;
        if (sibling < levels[level].length) out.push(levels[level][sibling]);
        i >>= 1;
      }
      return out;
    },
  };
}

/**
 * The root a leaf's inclusion path leads to (RFC 9162 §2.1.3.2), or `null`
 * when the path cannot belong to leaf `index` of a tree of `size` (index out
 * of range, a path too short or too long). The caller compares the root
 * with a trusted one, or checks a signature over it.
 */
export function rootFromPath(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Uint8Array | null {
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(index) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node carried up unchanged: skip the levels where it had no partner.
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}
