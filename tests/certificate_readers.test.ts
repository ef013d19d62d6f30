/**
 * actors/nodeCertificate.ts reads certificates two ways: a fast reader of
 * strict DER in Grey's profile, which declines anything else, and the
 * general @peculiar/asn1-schema reader. These tests hold them to one
 * result: whatever the fast reader accepts, the general reader reads to the
 * same fields; whatever the general reader refuses, the fast one declines.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as px from '@peculiar/x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CertificateError,
  createCertificateAuthority,
  issueNodeCertificate,
  loadCertificateAuthority,
  parseCertificate,
  readCertificateWith,
  rotateCertificate,
  validateCertificate,
  type ParsedCertificate,
} from '../actors/nodeCertificate.js';
import { deriveIdentity, privateKeyPem } from '../actors/nodeIdentity.js';

const DAY = 86_400_000;
const SEED = 7;
const ca = createCertificateAuthority(deriveIdentity(SEED, 'Readers CA', 'ca'), { name: 'Readers CA', notBefore: 0, notAfter: 365 * DAY });
const key = (name: string) => deriveIdentity(SEED, name).publicKey;
const claims = { attestation: 'hardware' as const, measurement: 'cd'.repeat(32), verifiedAt: 5 };

/** Certificates of every shape Grey issues. */
const samples: Array<[string, Uint8Array]> = [
  ['CA', ca.der],
  ['node, claims, IPv4, IPv6 and DNS hosts', issueNodeCertificate(ca, { role: 'node', name: 'n1', publicKey: key('n1'), notBefore: 1_000, notAfter: 30 * DAY, claims, hosts: ['127.0.0.1', '::1', 'fe80::1:0:0:2', '2001:db8:0:1:0:0:0:1', '1:2:3:4:5:6:7:8', 'n1.example'] }).der],
  ['client, no claims', issueNodeCertificate(ca, { role: 'client', name: 'app', publicKey: key('app'), notBefore: 0, notAfter: DAY }).der],
  ["client bound to a tenant (URI-escaped, !'()* too)", issueNodeCertificate(ca, { role: 'client', name: 'app', publicKey: key('app'), notBefore: 0, notAfter: DAY, tenant: "ténant a/b,c 'x' (1)!*" }).der],
  ['operator, software claims', issueNodeCertificate(ca, { role: 'operator', name: 'alice', publicKey: key('alice'), notBefore: 0, notAfter: DAY, claims: { attestation: 'software', measurement: 'ab' } }).der],
  ['non-ASCII and URI-escaped names', issueNodeCertificate(ca, { role: 'node', name: 'nœud/é 🙂 %41', publicKey: key('x'), notBefore: 0, notAfter: DAY }).der],
  ['a name starting with a byte-order mark', issueNodeCertificate(ca, { role: 'client', name: '\uFEFFbom', publicKey: key('bom'), notBefore: 0, notAfter: DAY }).der],
  ['GeneralizedTime (2050 and later), given serial', issueNodeCertificate(ca, { role: 'node', name: 'late', publicKey: key('late'), notBefore: Date.UTC(2049, 11, 31, 23, 59, 59), notAfter: Date.UTC(9999, 11, 31, 23, 59, 59), serial: '00ff01' }).der],
  ['a long name (long-form lengths)', issueNodeCertificate(ca, { role: 'node', name: 'n'.repeat(256), publicKey: key('long'), notBefore: 0, notAfter: DAY, hosts: Array.from({ length: 20 }, (_, i) => `h${i}.example`) }).der],
  ['rotated', rotateCertificate(ca, issueNodeCertificate(ca, { role: 'node', name: 'n2', publicKey: key('n2'), notBefore: 0, notAfter: DAY, claims }).der, key('n2b'), { notBefore: 10, notAfter: 2 * DAY }).der],
];

function read(reader: 'profile' | 'schema', der: Uint8Array): ParsedCertificate | undefined | CertificateError {
  try {
    return readCertificateWith(reader, der);
  } catch (e) {
    if (e instanceof CertificateError) return e;
    throw e;
  }
}

/** How often the fast reader answered (read or refused) rather than declined, so a property over mutations is not vacuous. */
const answered = { read: 0, refused: 0, declined: 0 };

/** The property both readers keep: the fast one accepts only what the general one reads, and reads it the same. */
function agree(der: Uint8Array): boolean {
  const fast = read('profile', der);
  const general = read('schema', der);
  answered[fast === undefined ? 'declined' : fast instanceof CertificateError ? 'refused' : 'read']++;
  if (fast === undefined) return true; // declined: the general reader decides
  if (fast instanceof CertificateError) return general instanceof CertificateError && general.code === fast.code && general.message === fast.message;
  expect(fast).toEqual(general);
  return true;
}

describe('certificate readers', () => {
  it.each(samples)('the fast reader reads %s, to the same fields as the general reader', (_, der) => {
    const fast = read('profile', der);
    expect(fast).toBeDefined();
    expect(fast).not.toBeInstanceOf(CertificateError);
    expect(fast).toEqual(read('schema', der));
    expect(parseCertificate(der)).toEqual(fast);
  });

  it('reads the IPv6 hosts as the general reader writes them', () => {
    expect((read('profile', samples[1][1]) as ParsedCertificate).hosts).toEqual(['n1', '127.0.0.1', '::1', 'fe80::1:0:0:2', '2001:db8:0:1::1', '1:2:3:4:5:6:7:8', 'n1.example']);
  });

  it('declines what Grey does not issue (a CA made by @peculiar/x509, with BOOLEAN false written out), and the general reader reads it', async () => {
    px.cryptoProvider.set(webcrypto as never);
    const alg = { name: 'Ed25519' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const legacy = await px.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Legacy CA, O=Grey',
      notBefore: new Date(0),
      notAfter: new Date(365 * DAY),
      keys,
      signingAlgorithm: alg,
      extensions: [new px.BasicConstraintsExtension(true, 0, true), new px.KeyUsagesExtension(px.KeyUsageFlags.keyCertSign | px.KeyUsageFlags.cRLSign, true)],
    });
    const der = new Uint8Array(legacy.rawData);
    expect(agree(der)).toBe(true);
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const old = loadCertificateAuthority(legacy.toString('pem'), `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`);
    const cert = issueNodeCertificate(old, { role: 'node', name: 'n1', publicKey: key('n1'), notBefore: 0, notAfter: DAY });
    expect(agree(cert.der)).toBe(true);
    expect(read('profile', cert.der)).toBeDefined(); // issued by Grey, under a name Grey did not write
    expect(validateCertificate(cert.der, { trusted: [legacy.toString('pem')], now: 1 }).issuer).toBe('Legacy CA');
    expect(privateKeyPem(old.identity)).toContain('PRIVATE KEY');
  });

  it('mutated certificates: whatever the fast reader accepts, the general reader reads the same', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(10_000), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(10_000), byte: fc.constantFrom(0x00, 0x01, 0x04, 0x0c, 0x13, 0x16, 0x30, 0x31, 0x7f, 0x80, 0x81, 0x82, 0xa0, 0xa3, 0xff) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(10_000) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(10_000), byte: fc.nat(255) }),
    );
    fc.assert(
      fc.property(fc.nat(samples.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
        let der = Uint8Array.from(samples[which][1]);
        for (const m of ms) {
          const at = m.at % (der.length + 1);
          if (m.kind === 'flip' && at < der.length) der[at] ^= m.xor;
          else if (m.kind === 'set' && at < der.length) der[at] = m.byte;
          else if (m.kind === 'cut') der = der.subarray(0, at);
          else if (m.kind === 'insert') der = Uint8Array.from([...der.subarray(0, at), m.byte, ...der.subarray(at)]);
        }
        return agree(der);
      }),
      { seed: 20_261_127, numRuns: 2_000 },
    );
    // Mutations inside names, times, keys and signatures keep the profile; the rest is declined.
    expect(answered.read).toBeGreaterThan(100);
    expect(answered.declined).toBeGreaterThan(100);
  });

  it('validation takes the same verdicts from both: the trusted CA as a PEM or DER is read once, and a changed DER is read again', () => {
    const node = issueNodeCertificate(ca, { role: 'node', name: 'n1', publicKey: key('n1'), notBefore: 0, notAfter: DAY });
    const caDer = Uint8Array.from(ca.der);
    for (const trusted of [ca, ca.pem, caDer]) expect(validateCertificate(node.der, { trusted: [trusted], now: 1 }).issuerFingerprint).toBe(ca.identity.fingerprint);
    // The same array, now holding another CA's certificate: not the CA read before.
    const other = createCertificateAuthority(deriveIdentity(SEED, 'Readers CA', 'other-ca'), { name: 'Readers CA', notBefore: 0, notAfter: 365 * DAY });
    const reused = Uint8Array.from(ca.der);
    expect(validateCertificate(node.der, { trusted: [reused], now: 1 }).subject.name).toBe('n1');
    expect(other.der.length).toBe(reused.length);
    reused.set(other.der);
    let code = 'none';
    try {
      validateCertificate(node.der, { trusted: [reused], now: 1 });
    } catch (e) {
      code = (e as CertificateError).code;
    }
    expect(code).toBe('UntrustedIssuer');
  });
});
