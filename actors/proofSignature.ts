/**
 * Signatures on task proof artifacts, made by the worker that ran the task
 * with its node key (Ed25519), so that anyone holding the cluster CA can
 * check later who vouched for a result (see `proofVerification.ts`).
 *
 * What is signed is the proof's canonical bytes:
 * `lengthPrefixed('grey/proof/v1', canonicalJson(proof without signature))`.
 * Every field but the signature is covered, so a proof cannot gain, lose or
 * change a field unnoticed.
 *
 * Two ways to sign, chosen per node ({@link ProofSigningMode}):
 * - `each`: one signature per proof over its bytes (about 50 µs each);
 * - `batch`: the completions a worker reports together are leaves of an
 *   RFC 9162 Merkle tree, one signature covers the root
 *   (`lengthPrefixed('grey/proof-batch/v1', root, size)`), and each proof
 *   carries its leaf index, the tree size and its inclusion path. A batch
 *   of one is signed as `each`.
 *
 * Signing happens on the worker before it reports, and no replica verifies
 * signatures. A batch travels compactly: the report carries the signature
 * once with the leaf hashes ({@link ProofBatchSignature}); applying it
 * copies the proofs, and each replica builds the tree and a proof's
 * inclusion path when that path is first read (replicating every proof's
 * own path had cost 30 % of end-to-end task throughput).
 */
import { canonicalJson, isWellFormed } from './canonical.js';
import { lengthPrefixed } from './domainEncoding.js';
import { leafHash, merkleTree, type MerkleTree } from './merkleTree.js';
import { signBytes, type NodeIdentity } from './nodeIdentity.js';
import type { ProofArtifact } from './taskTable.js';

/** How a worker signs its proofs: one signature each, one per reported batch, or not at all. */
export type ProofSigningMode = 'each' | 'batch' | 'off';

export const PROOF_SIGNING_MODES: readonly ProofSigningMode[] = ['each', 'batch', 'off'];

/** Domain tag of a proof's signed bytes; a new format gets a new tag. */
export const PROOF_DOMAIN = 'grey/proof/v1';
/** Domain tag of a signed batch root: never the same bytes as a proof's. */
export const PROOF_BATCH_DOMAIN = 'grey/proof-batch/v1';

/** The worker's signature on a proof, as the proof carries it (strings only: a proof is JSON). */
export interface ProofSignature {
  /** Lower-case hex SHA-256 of the signer's raw Ed25519 public key (the `fingerprint` of its certificate). */
  keyFingerprint: string;
  /** The 64-byte Ed25519 signature, base64url without padding. */
  value: string;
  /**
   * Present when the signature covers a batch: this proof is leaf `index`
   * of a Merkle tree of `size` leaves, `path` its inclusion path (base64url
   * SHA-256 hashes, from the leaf up), and `value` signs the tree's root.
   */
  batch?: { index: number; size: number; path: string[] };
}

/** The bytes a proof's signature (or its batch leaf) covers: every field but `signature`, canonical JSON, domain-separated. */
export function proofBytes(proof: ProofArtifact): Uint8Array {
  // lengthPrefixed(PROOF_DOMAIN, json), written directly: the general encoder's per-call setup cost as much as the JSON.
  const json = Buffer.from(proofFieldsJson(proof), 'utf8');
  const out = new Uint8Array(DOMAIN_PART.length + 4 + json.length);
  out.set(DOMAIN_PART);
  new DataView(out.buffer).setUint32(DOMAIN_PART.length, json.length);
  out.set(json, DOMAIN_PART.length + 4);
  return out;
}

/** The first part of every proof's signed bytes: the domain tag, length-prefixed. */
const DOMAIN_PART = lengthPrefixed(PROOF_DOMAIN);

/** The proof's fields in canonical JSON order (sorted by key), as the executor makes them. */
const PROOF_KEYS = ['attempt', 'completedAt', 'cpuTimeSource', 'cpuTimeUs', 'resultHash', 'startedAt', 'taskId', 'workerId', 'signature'];

/**
 * `canonicalJson` of every field but `signature`. Why a fast path: the
 * general encoder (sorting keys, checking every value) costs about 9 µs a
 * proof, as much as the rest of batch signing together. A proof with
 * exactly the executor's fields, of the executor's types, is written here
 * in the same bytes (JSON.stringify of each string and finite number, keys
 * in sorted order, as canonicalJson writes them); anything else (an extra
 * field, a missing one, a lone surrogate) takes the general encoder.
 */
function proofFieldsJson(proof: ProofArtifact): string {
  const p = proof as unknown as Record<string, unknown>;
  let keys = 0;
  for (const k in p) {
    if (!PROOF_KEYS.includes(k) || (k !== 'signature' && p[k] === undefined)) return generalJson(proof);
    if (k !== 'signature') keys++;
  }
  const { attempt, completedAt, cpuTimeSource, cpuTimeUs, resultHash, startedAt, taskId, workerId } = proof;
  if (
    keys !== 8 ||
    !Number.isFinite(attempt) || !Number.isFinite(completedAt) || !Number.isFinite(cpuTimeUs) || !Number.isFinite(startedAt) ||
    (cpuTimeSource !== 'thread' && cpuTimeSource !== 'elapsed') ||
    typeof resultHash !== 'string' || typeof taskId !== 'string' || typeof workerId !== 'string' ||
    !isWellFormed(resultHash) || !isWellFormed(taskId) || !isWellFormed(workerId)
  ) {
    return generalJson(proof);
  }
  const n = JSON.stringify;
  return `{"attempt":${n(attempt)},"completedAt":${n(completedAt)},"cpuTimeSource":"${cpuTimeSource}","cpuTimeUs":${n(cpuTimeUs)},"resultHash":${n(resultHash)},"startedAt":${n(startedAt)},"taskId":${n(taskId)},"workerId":${n(workerId)}}`;
}

function generalJson(proof: ProofArtifact): string {
  const { signature: _signature, ...fields } = proof;
  return canonicalJson(fields);
}

/** The bytes a batch signature covers: the Merkle root and the number of leaves. */
export function proofBatchBytes(root: Uint8Array, size: number): Uint8Array {
  return lengthPrefixed(PROOF_BATCH_DOMAIN, root, size);
}

/** `proof` signed by `identity` on its own: a copy with {@link ProofSignature} (any earlier signature replaced). */
export function signProof(proof: ProofArtifact, identity: NodeIdentity): ProofArtifact {
  const { signature: _old, ...unsigned } = proof;
  return { ...unsigned, signature: { keyFingerprint: identity.fingerprint, value: base64url(signBytes(identity, proofBytes(unsigned))) } };
}

/**
 * `proofs` signed by `identity` with one signature: copies, in order, each
 * carrying the shared signature and its own inclusion path. One proof is
 * signed as {@link signProof}; none gives none.
 */
export function signProofBatch(proofs: readonly ProofArtifact[], identity: NodeIdentity): ProofArtifact[] {
  if (proofs.length <= 1) return proofs.map((p) => signProof(p, identity));
  const unsigned = proofs.map(({ signature: _old, ...fields }) => fields);
  const tree = merkleTree(unsigned.map((p) => leafHash(proofBytes(p))));
  const value = base64url(signBytes(identity, proofBatchBytes(tree.root, tree.size)));
  return unsigned.map((p, index) => ({
    ...p,
    signature: { keyFingerprint: identity.fingerprint, value, batch: { index, size: tree.size, path: tree.path(index).map(base64url) } },
  }));
}

/**
 * A batch signature as a worker's report carries it: once for all the
 * completions of the report, with the leaf hashes in place of each proof's
 * inclusion path. Leaf `i` is the `i`-th completion of the report's
 * changes. Replicas rebuild each proof's path from the leaves
 * ({@link expandProofBatch}, on first read), so what is replicated and
 * written to every log is about 32 bytes a proof instead of about 450 (the
 * signature, fingerprint and path strings repeated in each), while the
 * proofs stored and read are exactly those {@link signProofBatch} makes.
 */
export interface ProofBatchSignature {
  /** As {@link ProofSignature.keyFingerprint}. */
  keyFingerprint: string;
  /** The signature over the tree's root and size, base64url. */
  value: string;
  /** The leaf hashes, 32 bytes each, in order: the tree has `leaves.length / 32` leaves. */
  leaves: Uint8Array;
}

/** Bytes of one leaf hash (SHA-256). */
const HASH_BYTES = 32;

/**
 * `proofs` (unsigned) signed by `identity` with one signature, as a report
 * carries it: see {@link ProofBatchSignature}. At least two proofs (one is
 * signed on its own, {@link signProof}).
 * @throws RangeError for fewer than two proofs.
 */
export function signProofBatchCompact(proofs: readonly ProofArtifact[], identity: NodeIdentity): ProofBatchSignature {
  if (proofs.length < 2) throw new RangeError(`a proof batch needs at least two proofs, got ${proofs.length}`);
  const hashes = proofs.map((p) => leafHash(proofBytes(p)));
  const tree = merkleTree(hashes);
  const leaves = new Uint8Array(hashes.length * HASH_BYTES);
  for (let i = 0; i < hashes.length; i++) leaves.set(hashes[i], i * HASH_BYTES);
  return { keyFingerprint: identity.fingerprint, value: base64url(signBytes(identity, proofBatchBytes(tree.root, tree.size))), leaves };
}

/**
 * The proofs of a report signed as `batch` says, each with its inclusion
 * path: the same proofs {@link signProofBatch} would have made, or `null`
 * when the batch cannot be theirs (not one leaf per proof, fewer than two,
 * fields of the wrong type). Nothing is verified here: a wrong leaf or
 * signature makes a proof that fails `verifyProof`, as a wrong path would.
 */
export function expandProofBatch(proofs: readonly ProofArtifact[], batch: ProofBatchSignature): ProofArtifact[] | null {
  const { keyFingerprint, value, leaves } = batch;
  if (typeof keyFingerprint !== 'string' || typeof value !== 'string' || !(leaves instanceof Uint8Array)) return null;
  const size = proofs.length;
  if (size < 2 || leaves.length !== size * HASH_BYTES) return null;
  // The tree and each path are made when a path is first read (a query, a
  // snapshot), not when the report is applied: most proofs are never read
  // before they are pruned, and applying stays a copy of fields.
  let tree: MerkleTree | null = null;
  const text = new Map<Uint8Array, string>(); // each node's text once: a node is on the path of every leaf below its sibling
  const textOf = (h: Uint8Array) => {
    let t = text.get(h);
    if (t === undefined) text.set(h, (t = base64url(h)));
    return t;
  };
  const pathOf = (index: number): string[] => {
    if (tree === null) {
      const hashes: Uint8Array[] = [];
      for (let i = 0; i < size; i++) hashes.push(leaves.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES));
      tree = merkleTree(hashes);
    }
    return tree.path(index).map(textOf);
  };
  return proofs.map(({ signature: _old, ...fields }, index) => ({
    ...fields,
    signature: { keyFingerprint, value, batch: lazyBatch(index, size, pathOf) },
  }));
}

/**
 * `{ index, size, path }` whose `path` is computed on first read and kept:
 * a plain object (an enumerable getter on an object literal), so the codec,
 * JSON and spreading see an ordinary string array.
 */
function lazyBatch(index: number, size: number, pathOf: (index: number) => string[]): { index: number; size: number; path: string[] } {
  let path: string[] | undefined;
  return {
    index,
    size,
    get path(): string[] {
      return (path ??= pathOf(index));
    },
  };
}

/**
 * What a worker signs its proofs with: its node key and a mode. The
 * executor hands it the proofs of each report it sends.
 */
export class ProofSigner {
  /**
   * @throws RangeError for a mode that is not `each` or `batch` (`off`: make no signer).
   */
  constructor(
    readonly identity: NodeIdentity,
    readonly mode: Exclude<ProofSigningMode, 'off'>,
  ) {
    if (mode !== 'each' && mode !== 'batch') throw new RangeError(`proof signing mode must be 'each' or 'batch' (no signer for 'off'), got ${String(mode)}`);
  }

  /** The proofs of one report, signed: copies, in order. */
  sign(proofs: readonly ProofArtifact[]): ProofArtifact[] {
    return this.mode === 'batch' ? signProofBatch(proofs, this.identity) : proofs.map((p) => signProof(p, this.identity));
  }

  /**
   * The proofs of one report signed as the report carries them: with
   * `batch` and two proofs or more, the proofs unsigned and one
   * {@link ProofBatchSignature} beside them; otherwise each signed on its own.
   */
  signReport(proofs: readonly ProofArtifact[]): { proofs: ProofArtifact[]; batch?: ProofBatchSignature } {
    if (this.mode === 'batch' && proofs.length >= 2) {
      const unsigned = proofs.map(({ signature: _old, ...fields }) => fields);
      return { proofs: unsigned, batch: signProofBatchCompact(unsigned, this.identity) };
    }
    return { proofs: proofs.map((p) => signProof(p, this.identity)) };
  }
}

/** Base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** The bytes of a base64url string (no padding), or `null` if it is not exactly one. */
export function fromBase64url(text: unknown): Uint8Array | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Uint8Array.from(Buffer.from(text, 'base64url'));
  // Non-canonical trailing bits decode too: insist on the one spelling, so a proof has one form.
  return base64url(bytes) === text ? bytes : null;
}
