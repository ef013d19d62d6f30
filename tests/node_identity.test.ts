import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lengthPrefixed } from '../actors/domainEncoding.js';
import {
  deriveIdentity,
  identityFromPrivateKey,
  IdentityError,
  privateKeyPem,
  publicKeyFingerprint,
  signBytes,
  verifySignature,
} from '../actors/nodeIdentity.js';
import { generateIdentity, loadIdentity, saveIdentity } from '../system/nodeIdentityFiles.js';

const data = new TextEncoder().encode('join n4');

describe('node identities (Ed25519)', () => {
  it('derives the same keys from the same seed, name and purpose', () => {
    const a = deriveIdentity(7, 'n1');
    const b = deriveIdentity(7, 'n1', 'node');
    expect(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey))).toBe(true);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.publicKey).toHaveLength(32);
    expect(a.fingerprint).toBe(publicKeyFingerprint(a.publicKey));
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    // Ed25519 is deterministic: same key and data, same signature, so simulated runs are byte for byte.
    expect(Buffer.from(signBytes(a, data)).equals(Buffer.from(signBytes(b, data)))).toBe(true);
  });

  it('derives unrelated keys for a different seed, name or purpose', () => {
    const fingerprints = [deriveIdentity(7, 'n1'), deriveIdentity(8, 'n1'), deriveIdentity(7, 'n2'), deriveIdentity(7, 'n1', 'ca'), deriveIdentity(-1, 'n1'), deriveIdentity(0.5, 'n1')].map((i) => i.fingerprint);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
    // 0 and -0 are one seed.
    expect(deriveIdentity(0, 'n1').fingerprint).toBe(deriveIdentity(-0, 'n1').fingerprint);
  });

  it('length-prefixes each part, so moving a boundary between parts changes the key', () => {
    expect(Buffer.from(lengthPrefixed('a', 'bc')).equals(Buffer.from(lengthPrefixed('ab', 'c')))).toBe(false);
    expect(deriveIdentity(1, 'bc', 'a').fingerprint).not.toBe(deriveIdentity(1, 'c', 'ab').fingerprint);
  });

  it('refuses a bad seed or name with a typed error', () => {
    for (const [seed, name, code] of [[Number.NaN, 'n1', 'InvalidSeed'], [Infinity, 'n1', 'InvalidSeed'], [1, '', 'InvalidName'], [1, '\ud800', 'InvalidName']] as const) {
      try {
        deriveIdentity(seed, name);
        expect.fail('should throw');
      } catch (e) {
        expect(e).toBeInstanceOf(IdentityError);
        expect((e as IdentityError).code).toBe(code);
      }
    }
  });

  it('signs and verifies; a changed byte, another key or a malformed input does not verify, and nothing throws', () => {
    const a = deriveIdentity(1, 'n1');
    const b = deriveIdentity(1, 'n2');
    const sig = signBytes(a, data);
    expect(sig).toBeInstanceOf(Uint8Array);
    expect(sig).toHaveLength(64);
    expect(verifySignature(a.publicKey, data, sig)).toBe(true);
    expect(verifySignature(b.publicKey, data, sig)).toBe(false);
    const flipped = Uint8Array.from(sig);
    flipped[10] ^= 1;
    expect(verifySignature(a.publicKey, data, flipped)).toBe(false);
    const other = Uint8Array.from(data);
    other[0] ^= 1;
    expect(verifySignature(a.publicKey, other, sig)).toBe(false);
    const junk: unknown[] = [undefined, null, 'x', 42, {}, new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(32).fill(0xff)];
    for (const j of junk) {
      expect(verifySignature(j as Uint8Array, data, sig)).toBe(false);
      expect(verifySignature(a.publicKey, j as Uint8Array, sig)).toBe(false);
      expect(verifySignature(a.publicKey, data, j as Uint8Array)).toBe(false);
    }
  });

  it('makes an identity from an existing Ed25519 private key (KeyObject or PEM) and refuses other keys', () => {
    const derived = deriveIdentity(3, 'alice', 'operator');
    const fromPem = identityFromPrivateKey('alice', privateKeyPem(derived));
    expect(fromPem.fingerprint).toBe(derived.fingerprint);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const fromKey = identityFromPrivateKey('bob', privateKey);
    const raw = publicKey.export({ format: 'jwk' }).x!;
    expect(Buffer.from(fromKey.publicKey).toString('base64url')).toBe(raw);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const bad of [ec.privateKey, publicKey, 'not a pem']) {
      expect(() => identityFromPrivateKey('bob', bad as never)).toThrowError(expect.objectContaining({ code: 'NotEd25519' }));
    }
  });

  it('real mode: generates random identities and saves and loads them as private PEM files', () => {
    const a = generateIdentity('n1');
    const b = generateIdentity('n1');
    expect(a.fingerprint).not.toBe(b.fingerprint);
    const dir = mkdtempSync(join(tmpdir(), 'grey-identity-'));
    try {
      const file = join(dir, 'n1.key');
      saveIdentity(file, a);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const loaded = loadIdentity(file, 'n1');
      expect(loaded.fingerprint).toBe(a.fingerprint);
      expect(verifySignature(a.publicKey, data, signBytes(loaded, data))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
