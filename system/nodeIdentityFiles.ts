/**
 * Real-mode identities: random Ed25519 keys, and their PEM files on disk.
 * (Simulation derives its keys from the seed with `deriveIdentity`; only
 * this file, under system/, draws random keys.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { identityFromPrivateKey, privateKeyPem, type NodeIdentity } from '../actors/nodeIdentity.js';

/** A new identity with a random Ed25519 key. */
export function generateIdentity(name: string): NodeIdentity {
  const { privateKey } = generateKeyPairSync('ed25519');
  return identityFromPrivateKey(name, privateKey);
}

/** Writes the identity's private key as PKCS#8 PEM, readable by its owner only (mode 0600). */
export function saveIdentity(path: string, identity: NodeIdentity): void {
  writeFileSync(path, privateKeyPem(identity), { mode: 0o600 });
}

/**
 * Reads an identity saved with {@link saveIdentity} (or any Ed25519 PKCS#8 PEM).
 *
 * @throws IdentityError `NotEd25519` if the file holds no Ed25519 private key; the fs error if it cannot be read.
 */
export function loadIdentity(path: string, name: string): NodeIdentity {
  return identityFromPrivateKey(name, readFileSync(path, 'utf8'));
}
