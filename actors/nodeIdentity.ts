/**
 * Ed25519 identities of nodes, clients and operators.
 *
 * An identity is a name and an Ed25519 key pair. In simulation every key
 * is derived from the run's seed ({@link deriveIdentity}), so the same seed
 * gives the same keys, certificates and signatures, byte for byte (Ed25519
 * signatures are deterministic). In real mode keys are generated at random
 * by `system/nodeIdentityFiles.ts`.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, KeyObject } from 'node:crypto';
import { lengthPrefixed } from './domainEncoding.js';
import { isWellFormed } from './canonical.js';
import { FifoMap } from './fifoMap.js';

/** A named Ed25519 key pair. */
export interface NodeIdentity {
  /** The name the identity is for (`n1`, `alice`). */
  readonly name: string;
  /** The raw Ed25519 public key: 32 bytes. */
  readonly publicKey: Uint8Array;
  /** The private key, as node:crypto holds it (not serialisable: it never crosses the wire). */
  readonly privateKey: KeyObject;
  /** Lower-case hex SHA-256 of the raw public key: what revocation and logs name a key by. */
  readonly fingerprint: string;
}

/** Why an identity could not be made. */
export type IdentityErrorCode = 'InvalidName' | 'InvalidSeed' | 'NotEd25519';

/** An identity could not be made from the inputs given. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Domain tag of seed derivation: a new scheme gets a new tag, never a reuse of this one. */
const DERIVATION_DOMAIN = 'grey/identity/v1';

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410): SEQUENCE, version 0, AlgorithmIdentifier 1.3.101.112, OCTET STRING { OCTET STRING (32) }. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SubjectPublicKeyInfo DER prefix of an Ed25519 public key (RFC 8410): SEQUENCE, AlgorithmIdentifier 1.3.101.112, BIT STRING (33, no unused bits). */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Length of a raw Ed25519 public key and of a signature. */
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/**
 * A deterministic identity: the 32-byte Ed25519 private seed is SHA-256 of
 * the length-prefixed parts ('grey/identity/v1', purpose, seed, name).
 * Same inputs, same keys; a different seed, name or purpose gives an
 * unrelated key. `purpose` separates keys of one name made for different
 * jobs (`'node'`, `'ca'`, `'tee-vendor'`).
 *
 * For simulation and tests only: anyone who knows the seed knows the key.
 *
 * @throws IdentityError `InvalidSeed` for a non-finite seed, `InvalidName` for an empty or ill-formed name.
 */
export function deriveIdentity(seed: number, name: string, purpose = 'node'): NodeIdentity {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new IdentityError('InvalidSeed', `deriveIdentity: the seed must be a finite number, not ${String(seed)}`);
  checkName(name);
  if (typeof purpose !== 'string') throw new IdentityError('InvalidName', 'deriveIdentity: the purpose must be a string');
  const privateSeed = createHash('sha256').update(lengthPrefixed(DERIVATION_DOMAIN, purpose, seed, name)).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, privateSeed]), format: 'der', type: 'pkcs8' });
  return fromKey(name, privateKey);
}

/**
 * The identity of an existing Ed25519 private key (a node:crypto KeyObject
 * or PKCS#8 PEM), e.g. one read from disk.
 *
 * @throws IdentityError `NotEd25519` if the key is not an Ed25519 private key, `InvalidName` for a bad name.
 */
export function identityFromPrivateKey(name: string, key: KeyObject | string): NodeIdentity {
  checkName(name);
  let privateKey: KeyObject;
  try {
    privateKey = typeof key === 'string' ? createPrivateKey(key) : key;
  } catch (e) {
    throw new IdentityError('NotEd25519', `identityFromPrivateKey: not a private key (${(e as Error).message})`);
  }
  if (!(privateKey instanceof KeyObject) || privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError('NotEd25519', `identityFromPrivateKey: expected an Ed25519 private key, got ${privateKey instanceof KeyObject ? `${privateKey.type} ${privateKey.asymmetricKeyType ?? ''}`.trim() : typeof privateKey}`);
  }
  return fromKey(name, privateKey);
}

/** The PKCS#8 PEM of an identity's private key (to store it; keep the file private). */
export function privateKeyPem(identity: NodeIdentity): string {
  return identity.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** An Ed25519 signature (64 bytes) by the identity over `data`. */
export function signBytes(identity: NodeIdentity, data: Uint8Array): Uint8Array {
  return Uint8Array.from(sign(null, data, identity.privateKey));
}

/**
 * Whether `signature` is a valid Ed25519 signature of `data` by the raw
 * 32-byte `publicKey`. Never throws: a key or signature of the wrong type
 * or length, or a key that is not a curve point, is simply not valid.
 */
export function verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const key = publicKeyObject(publicKey);
  if (key === null || !(data instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Public keys recently imported, by hex. Why: importing a raw key into
 * node:crypto costs about as much as verifying a signature with it, and a
 * cluster verifies with the same few keys (its CA, its peers, the TEE
 * vendor) over and over. A pure memo: it changes speed, never a result.
 */
const importedKeys = new FifoMap<string, KeyObject | null>(1024);

/** The node:crypto public key of a raw Ed25519 key, or `null` if it is not one. */
export function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return null;
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  const known = importedKeys.get(hex);
  if (known !== undefined) return known;
  let key: KeyObject | null;
  try {
    // As a JWK: node:crypto imports it about ten times faster than the same key as SPKI DER (~11 µs against ~150 µs here).
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('base64url') }, format: 'jwk' });
  } catch {
    key = null;
  }
  importedKeys.set(hex, key);
  return key;
}

/** Lower-case hex SHA-256 of a raw public key. */
export function publicKeyFingerprint(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex');
}

function fromKey(name: string, privateKey: KeyObject): NodeIdentity {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = Uint8Array.from(spki.subarray(spki.length - ED25519_PUBLIC_KEY_BYTES));
  return Object.freeze({ name, publicKey, privateKey, fingerprint: publicKeyFingerprint(publicKey) });
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || !isWellFormed(name)) throw new IdentityError('InvalidName', `an identity needs a non-empty, well-formed name, not ${JSON.stringify(name)}`);
}

