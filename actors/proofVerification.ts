/**
 * Verifying a task proof artifact's signature on demand, off the apply
 * path: against the worker's certificate, which must come from a CA the
 * verifier trusts and name the worker the proof names.
 */
import { validateCertificate, CertificateError, type CertificateAuthority, type CertificateInput, type ValidationOptions } from './nodeCertificate.js';
import { verifySignature } from './nodeIdentity.js';
import { leafHash, rootFromPath } from './merkleTree.js';
import { fromBase64url, proofBatchBytes, proofBytes, type ProofSignature } from './proofSignature.js';
import type { ProofArtifact } from './taskTable.js';

/**
 * Why a proof did not verify.
 * - `MalformedProof`: not a proof artifact, or its signature field is not a well-formed {@link ProofSignature}.
 * - `Unsigned`: the proof carries no signature (its worker's node does not sign proofs).
 * - `BadSignature`: the signature does not verify with the certificate's key: the proof (or its batch path) was changed after signing.
 * - `WrongSigner`: the certificate is valid, but not the signer's: it names another node than the proof's worker, or binds another key than the one that signed.
 * - `Expired`, `NotYetValid`, `UntrustedIssuer`, `Revoked`: the certificate's own failure (see `validateCertificate`).
 * - `BadCertificate`: the certificate cannot be read or used (malformed, unsupported, or its CA signature is bad).
 */
export type ProofVerificationCode = 'MalformedProof' | 'Unsigned' | 'BadSignature' | 'WrongSigner' | 'Expired' | 'NotYetValid' | 'UntrustedIssuer' | 'Revoked' | 'BadCertificate';

/** The verdict of {@link verifyProof}. */
export type ProofVerification =
  | {
      ok: true;
      /** Who signed: the node's name, its key fingerprint and the fingerprint of the CA that certified it. */
      signer: { name: string; keyFingerprint: string; caFingerprint: string };
      /** `each`: signed alone; `batch`: leaf `index` of a signed batch of `size` proofs. */
      signed: { mode: 'each' } | { mode: 'batch'; index: number; size: number };
    }
  | { ok: false; code: ProofVerificationCode; reason: string };

/** What {@link verifyProof} checks a proof against. */
export interface VerifyProofOptions {
  /** The worker's certificate (DER, PEM, or parsed), issued by one of `trusted`. */
  certificate: CertificateInput;
  /** The CAs the verifier trusts (the cluster CA). */
  trusted: ReadonlyArray<CertificateAuthority | CertificateInput>;
  /** When to check the certificate's validity (ms since the epoch; virtual in simulation). */
  now: number;
  /** Blocked keys or names, as for `validateCertificate`. */
  isRevoked?: ValidationOptions['isRevoked'];
}

const CERTIFICATE_CODES: Partial<Record<CertificateError['code'], ProofVerificationCode>> = {
  Expired: 'Expired',
  NotYetValid: 'NotYetValid',
  UntrustedIssuer: 'UntrustedIssuer',
  Revoked: 'Revoked',
  Malformed: 'BadCertificate',
  Unsupported: 'BadCertificate',
  BadSignature: 'BadCertificate',
};

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Whether `proof` carries a valid signature by the node that ran it. In
 * order: the proof's shape; a signature present; the certificate valid at
 * `now` under `trusted` (and not revoked); the certificate naming node
 * `proof.workerId` and binding the key the signature names; the signature
 * (through the batch path, when batched) verifying with that key.
 *
 * Never throws for a bad proof or certificate: the verdict says why.
 *
 * @throws CertificateError `InvalidRequest` when `now` is not a number (a caller's mistake, not the proof's).
 */
export function verifyProof(proof: unknown, options: VerifyProofOptions): ProofVerification {
  const shape = proofShapeError(proof);
  if (shape !== null) return fail('MalformedProof', shape);
  const p = proof as ProofArtifact;
  if (p.signature === undefined) return fail('Unsigned', `the proof of task ${p.taskId} (attempt ${p.attempt}) carries no signature: ${p.workerId} did not sign it`);
  const sig = signatureParts(p.signature);
  if (typeof sig === 'string') return fail('MalformedProof', `signature: ${sig}`);

  let cert;
  try {
    cert = validateCertificate(options.certificate, { trusted: options.trusted, now: options.now, ...(options.isRevoked ? { isRevoked: options.isRevoked } : {}) });
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    const code = CERTIFICATE_CODES[err.code];
    if (code === undefined) throw err;
    return fail(code, `worker certificate: ${err.message}`);
  }
  if (!cert.names.some((n) => n.role === 'node' && n.name === p.workerId)) {
    const names = cert.names.map((n) => `${n.role} '${n.name}'`).join(', ') || `${cert.subject.role} '${cert.subject.name}'`;
    return fail('WrongSigner', `the proof is by node '${p.workerId}', but the certificate given is for ${names}`);
  }
  if (cert.fingerprint !== p.signature.keyFingerprint) {
    return fail('WrongSigner', `the proof was signed by key ${p.signature.keyFingerprint.slice(0, 16)}…, but the certificate of node '${p.workerId}' binds key ${cert.fingerprint.slice(0, 16)}…`);
  }

  let leaf: Uint8Array;
  try {
    leaf = proofBytes(p);
  } catch (err) {
    return fail('MalformedProof', `the proof has no canonical form: ${(err as Error).message}`);
  }
  let message = leaf;
  if (sig.batch !== null) {
    const root = rootFromPath(leafHash(leaf), sig.batch.index, sig.batch.size, sig.batch.path);
    if (root === null) return fail('BadSignature', `the batch path does not fit leaf ${sig.batch.index} of a batch of ${sig.batch.size}`);
    message = proofBatchBytes(root, sig.batch.size);
  }
  if (!verifySignature(cert.publicKey, message, sig.value)) {
    return fail('BadSignature', `the signature does not verify with the key of node '${p.workerId}': the proof${sig.batch ? ' or its batch path' : ''} was changed after it was signed`);
  }
  return {
    ok: true,
    signer: { name: p.workerId, keyFingerprint: cert.fingerprint, caFingerprint: cert.issuerFingerprint },
    signed: sig.batch === null ? { mode: 'each' } : { mode: 'batch', index: sig.batch.index, size: sig.batch.size },
  };
}

function fail(code: ProofVerificationCode, reason: string): ProofVerification {
  return { ok: false, code, reason };
}

/** Why `proof` is not a proof artifact, or null. */
function proofShapeError(proof: unknown): string | null {
  if (proof === null || typeof proof !== 'object' || Array.isArray(proof)) return 'a proof is a JSON object';
  const p = proof as Record<string, unknown>;
  for (const k of ['taskId', 'workerId'] as const) if (typeof p[k] !== 'string' || p[k] === '') return `${k} must be a non-empty string`;
  if (!Number.isSafeInteger(p.attempt) || (p.attempt as number) < 1) return 'attempt must be an integer ≥ 1';
  for (const k of ['startedAt', 'completedAt', 'cpuTimeUs'] as const) if (typeof p[k] !== 'number' || !Number.isFinite(p[k])) return `${k} must be a finite number`;
  if (typeof p.resultHash !== 'string' || !HEX64.test(p.resultHash)) return 'resultHash must be 64 lower-case hex digits';
  return null; // (other fields are signed as they are; one that is not JSON data is refused when the signed bytes are made)
}

/** The decoded signature, or why it is malformed. */
function signatureParts(s: ProofSignature): { value: Uint8Array; batch: { index: number; size: number; path: Uint8Array[] } | null } | string {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return 'must be an object { keyFingerprint, value[, batch] }';
  if (typeof s.keyFingerprint !== 'string' || !HEX64.test(s.keyFingerprint)) return 'keyFingerprint must be 64 lower-case hex digits';
  const value = fromBase64url(s.value);
  if (value === null || value.length !== 64) return 'value must be a 64-byte Ed25519 signature in base64url';
  if (s.batch === undefined) return { value, batch: null };
  const b = s.batch;
  if (b === null || typeof b !== 'object' || !Number.isSafeInteger(b.size) || b.size < 2 || !Number.isSafeInteger(b.index) || b.index < 0 || b.index >= b.size) {
    return 'batch must be { index, size, path } with 0 ≤ index < size and size ≥ 2';
  }
  if (!Array.isArray(b.path) || b.path.length > 64) return 'batch.path must be a list of hashes';
  const path: Uint8Array[] = [];
  for (const h of b.path) {
    const bytes = fromBase64url(h);
    if (bytes === null || bytes.length !== 32) return 'batch.path must hold 32-byte hashes in base64url';
    path.push(bytes);
  }
  return { value, batch: { index: b.index, size: b.size, path } };
}
