import 'reflect-metadata';
import { X509Certificate, webcrypto } from 'node:crypto';
import * as px from '@peculiar/x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Certificate, Extension, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTESTATION_CLAIMS_OID,
  CertificateError,
  createCertificateAuthority,
  expectName,
  issueNodeCertificate,
  loadCertificateAuthority,
  parseCertificate,
  rotateCertificate,
  validateCertificate,
  type CertificateAuthority,
  type CertificateErrorCode,
  type IssueRequest,
} from '../actors/nodeCertificate.js';
import { deriveIdentity, privateKeyPem } from '../actors/nodeIdentity.js';

const DAY = 86_400_000;
const SEED = 42;
const ca = createCertificateAuthority(deriveIdentity(SEED, 'Grey test CA', 'ca'), { name: 'Grey test CA', notBefore: 0, notAfter: 365 * DAY });
const n1 = deriveIdentity(SEED, 'n1');
const claims = { attestation: 'hardware' as const, measurement: 'ab'.repeat(32), verifiedAt: 1_000 };
const request: IssueRequest = { role: 'node', name: 'n1', publicKey: n1.publicKey, notBefore: 1_000, notAfter: 30 * DAY, claims, hosts: ['127.0.0.1', 'n1.example'] };
const issued = issueNodeCertificate(ca, request);

function codeOf(f: () => unknown): CertificateErrorCode | 'none' {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e instanceof CertificateError) return e.code;
    throw e;
  }
}

/** The certificate re-encoded after `change`, signature untouched. */
function tamper(der: Uint8Array, change: (c: Certificate) => void): Uint8Array {
  const c = AsnConvert.parse(der, Certificate);
  delete c.tbsCertificateRaw;
  change(c);
  return new Uint8Array(AsnConvert.serialize(c));
}

function rdn(type: string, value: string): RelativeDistinguishedName {
  return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
}

describe('node certificates: issuing and parsing', () => {
  it('issues a certificate node:crypto parses and verifies against the CA, with the grey:// name, DNS name and hosts', () => {
    const x = new X509Certificate(issued.der);
    const caCert = new X509Certificate(ca.der);
    expect(x.verify(caCert.publicKey)).toBe(true);
    expect(x.checkIssued(caCert)).toBe(true);
    expect(caCert.ca).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.subject).toBe('CN=n1\nOU=node');
    expect(x.issuer).toBe('CN=Grey test CA');
    expect(x.subjectAltName).toBe('URI:grey://node/n1, DNS:n1, IP Address:127.0.0.1, DNS:n1.example');
    expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(new X509Certificate(issued.pem).fingerprint256).toBe(x.fingerprint256);
  });

  it('is read by @peculiar/x509 too, claims extension included', () => {
    const p = new px.X509Certificate(issued.pem);
    expect(p.subject).toBe('CN=n1, OU=node');
    expect(p.issuer).toBe('CN=Grey test CA');
    const san = p.getExtension(px.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON()).toEqual(expect.arrayContaining([{ type: 'url', value: 'grey://node/n1' }, { type: 'dns', value: 'n1' }]));
    expect(p.getExtension(px.BasicConstraintsExtension)!.ca).toBe(false);
    const claimsExt = p.extensions.find((e) => !['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.14', '2.5.29.35'].includes(e.type))!;
    expect(claimsExt.critical).toBe(false);
    const json = new TextDecoder().decode(AsnConvert.parse(claimsExt.value, OctetString).buffer);
    expect(JSON.parse(json)).toEqual(claims);
  });

  it('reads back the fields it was issued with, from DER and from PEM alike', () => {
    const c = parseCertificate(issued.der);
    expect(c.subject).toEqual({ role: 'node', name: 'n1' });
    expect(c.names).toEqual([{ role: 'node', name: 'n1' }]);
    expect(c.hosts).toEqual(['n1', '127.0.0.1', 'n1.example']);
    expect(c.isCa).toBe(false);
    expect(c.issuer).toBe('Grey test CA');
    expect([c.notBefore, c.notAfter]).toEqual([1_000, 30 * DAY]);
    expect(Buffer.from(c.publicKey).equals(Buffer.from(n1.publicKey))).toBe(true);
    expect(c.fingerprint).toBe(n1.fingerprint);
    expect(c.claims).toEqual(claims);
    expect(c.serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(c.authorityKeyId).toBe(ca.certificate.subjectKeyId);
    const fromPem = parseCertificate(issued.pem);
    expect(fromPem.certificateFingerprint).toBe(c.certificateFingerprint);
    expect(parseCertificate(ca.pem).subject).toEqual({ role: 'ca', name: 'Grey test CA' });
  });

  it('is deterministic: the same CA and request give the same DER; the serial follows the inputs unless given', () => {
    expect(Buffer.from(issueNodeCertificate(ca, request).der).equals(Buffer.from(issued.der))).toBe(true);
    const other = parseCertificate(issueNodeCertificate(ca, { ...request, notAfter: 31 * DAY }).der);
    expect(other.serial).not.toBe(parseCertificate(issued.der).serial);
    expect(parseCertificate(issueNodeCertificate(ca, { ...request, serial: '00ff01' }).der).serial).toBe('ff01');
  });

  it('rounds times down to whole seconds, and leaves out claims when none are given', () => {
    const c = parseCertificate(issueNodeCertificate(ca, { role: 'client', name: 'app', publicKey: n1.publicKey, notBefore: 1_999, notAfter: 5_500 }).der);
    expect([c.notBefore, c.notAfter]).toEqual([1_000, 5_000]);
    expect(c.claims).toBeNull();
    expect(c.hosts).toEqual([]);
    expect(c.subject).toEqual({ role: 'client', name: 'app' });
  });

  it('refuses a bad request with InvalidRequest', () => {
    const bad: Array<Partial<IssueRequest>> = [
      { role: 'admin' as never },
      { name: '' },
      { publicKey: new Uint8Array(31) },
      { notBefore: 10_000, notAfter: 5_000 },
      { notBefore: -1 },
      { notAfter: Number.NaN },
      { claims: { attestation: 'perfect' as never } },
      { claims: { attestation: 'software', measurement: 'XYZ' } },
      { claims: { attestation: 'none', extra: 1 } as never },
      { hosts: [''] },
      { serial: '0' },
      { serial: 'zz' },
    ];
    for (const b of bad) expect(codeOf(() => issueNodeCertificate(ca, { ...request, ...b })), JSON.stringify(b)).toBe('InvalidRequest');
  });

  it('loads a CA from PEM, refusing a key that is not the CA key, and loads a CA made by @peculiar/x509 (earlier Grey versions)', async () => {
    const loaded = loadCertificateAuthority(ca.pem, privateKeyPem(ca.identity));
    expect(loaded.certificate.certificateFingerprint).toBe(ca.certificate.certificateFingerprint);
    expect(codeOf(() => loadCertificateAuthority(ca.pem, privateKeyPem(n1)))).toBe('InvalidRequest');
    expect(codeOf(() => loadCertificateAuthority(issued.pem, privateKeyPem(n1)))).toBe('InvalidRequest');

    px.cryptoProvider.set(webcrypto as never);
    const alg = { name: 'Ed25519' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const legacy = await px.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Grey cluster CA',
      notBefore: new Date(0),
      notAfter: new Date(365 * DAY),
      keys,
      signingAlgorithm: alg,
      extensions: [new px.BasicConstraintsExtension(true, 0, true), new px.KeyUsagesExtension(px.KeyUsageFlags.keyCertSign | px.KeyUsageFlags.cRLSign, true)],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`;
    const old = loadCertificateAuthority(legacy.toString('pem'), keyPem);
    const cert = issueNodeCertificate(old, request);
    expect(new X509Certificate(cert.der).verify(new X509Certificate(legacy.toString('pem')).publicKey)).toBe(true);
    expect(validateCertificate(cert.der, { trusted: [legacy.toString('pem')], now: 2_000 }).subject.name).toBe('n1');
  });
});

describe('node certificates: validation', () => {
  const ok = { trusted: [ca], now: 2_000 };

  it('accepts a certificate issued by a trusted CA within its validity, from DER, PEM or parsed', () => {
    for (const input of [issued.der, issued.pem, parseCertificate(issued.der)]) {
      const v = validateCertificate(input, ok);
      expect(v.subject).toEqual({ role: 'node', name: 'n1' });
      expect(v.issuerFingerprint).toBe(ca.identity.fingerprint);
    }
    // notBefore and notAfter are inclusive.
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, now: 1_000 }))).toBe('none');
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, now: 30 * DAY }))).toBe('none');
  });

  it('Expired after notAfter, NotYetValid before notBefore', () => {
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, now: 30 * DAY + 1 }))).toBe('Expired');
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, now: 999 }))).toBe('NotYetValid');
  });

  it('BadSignature when the signed bytes were changed (a tampered TBS)', () => {
    const renamed = tamper(issued.der, (c) => {
      c.tbsCertificate.subject = new (c.tbsCertificate.subject.constructor as never as new (items: RelativeDistinguishedName[]) => typeof c.tbsCertificate.subject)([rdn('2.5.4.3', 'n9'), rdn('2.5.4.11', 'node')]);
    });
    expect(parseCertificate(renamed).subject.name).toBe('n1'); // the SAN still says n1; the DN was changed
    expect(codeOf(() => validateCertificate(renamed, ok))).toBe('BadSignature');
    const longer = tamper(issued.der, (c) => {
      c.tbsCertificate.validity.notAfter.utcTime = new Date(300 * DAY);
    });
    expect(parseCertificate(longer).notAfter).toBe(300 * DAY);
    expect(codeOf(() => validateCertificate(longer, ok))).toBe('BadSignature');
    const flipped = Uint8Array.from(issued.der);
    flipped[flipped.length - 1] ^= 1; // last byte of the signature
    expect(codeOf(() => validateCertificate(flipped, ok))).toBe('BadSignature');
  });

  it('UntrustedIssuer for a certificate from another CA, however self-consistent its signature, named alike or not', () => {
    for (const name of ['Grey test CA', 'Evil CA']) {
      const other = createCertificateAuthority(deriveIdentity(SEED + 1, name, 'ca'), { name, notBefore: 0, notAfter: 365 * DAY });
      const foreign = issueNodeCertificate(other, request);
      expect(new X509Certificate(foreign.der).verify(new X509Certificate(other.der).publicKey)).toBe(true);
      expect(codeOf(() => validateCertificate(foreign.der, ok))).toBe('UntrustedIssuer');
      // Presented with its CA, its signature checks out: still not a CA this cluster trusts.
      expect(codeOf(() => validateCertificate(foreign.der, { ...ok, issuerChain: [other.der] }))).toBe('UntrustedIssuer');
      expect(codeOf(() => validateCertificate(foreign.der, { ...ok, trusted: [ca, other] }))).toBe('none');
    }
    // A self-signed CA certificate that is not trusted.
    const lone = createCertificateAuthority(deriveIdentity(SEED, 'lone', 'ca'), { name: 'lone', notBefore: 0, notAfter: DAY });
    expect(codeOf(() => validateCertificate(lone.der, ok))).toBe('UntrustedIssuer');
    expect(codeOf(() => validateCertificate(ca.der, ok))).toBe('none');
  });

  it('UntrustedIssuer when the trusted CA certificate itself is not valid now', () => {
    const shortCa = createCertificateAuthority(deriveIdentity(SEED, 'short', 'ca'), { name: 'short', notBefore: 0, notAfter: 10 * DAY });
    const cert = issueNodeCertificate(shortCa, { ...request, notAfter: 20 * DAY });
    expect(codeOf(() => validateCertificate(cert.der, { trusted: [shortCa], now: 5 * DAY }))).toBe('none');
    expect(codeOf(() => validateCertificate(cert.der, { trusted: [shortCa], now: 15 * DAY }))).toBe('UntrustedIssuer');
  });

  it('Revoked when the key or name is blocked, with the reason', () => {
    const blocked = (fingerprint: string, name: string) => (fingerprint === n1.fingerprint ? `key of ${name} compromised` : null);
    try {
      validateCertificate(issued.der, { ...ok, isRevoked: blocked });
      expect.fail('should throw');
    } catch (e) {
      expect((e as CertificateError).code).toBe('Revoked');
      expect((e as CertificateError).message).toContain('key of n1 compromised');
    }
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, isRevoked: () => null }))).toBe('none');
  });

  it('checks in order: time, then signature, then trust, then revocation', () => {
    const revoked = () => 'blocked';
    const tampered = tamper(issued.der, (c) => {
      c.tbsCertificate.validity.notAfter.utcTime = new Date(20 * DAY);
    });
    // Expired with a bad signature: Expired.
    expect(codeOf(() => validateCertificate(tampered, { ...ok, now: 25 * DAY, isRevoked: revoked }))).toBe('Expired');
    // Bad signature and revoked: BadSignature.
    expect(codeOf(() => validateCertificate(tampered, { ...ok, isRevoked: revoked }))).toBe('BadSignature');
    // Wrong CA and revoked: UntrustedIssuer.
    const other = createCertificateAuthority(deriveIdentity(SEED + 1, 'Grey test CA', 'ca'), { name: 'Grey test CA', notBefore: 0, notAfter: DAY });
    expect(codeOf(() => validateCertificate(issueNodeCertificate(other, request).der, { ...ok, isRevoked: revoked }))).toBe('UntrustedIssuer');
    expect(codeOf(() => validateCertificate(issued.der, { ...ok, isRevoked: revoked }))).toBe('Revoked');
  });

  it('NameMismatch when the certificate does not bind the expected role and name', () => {
    const v = validateCertificate(issued.der, ok);
    expect(expectName(v, 'node', 'n1')).toBe(v);
    expect(codeOf(() => expectName(v, 'node', 'n2'))).toBe('NameMismatch');
    expect(codeOf(() => expectName(v, 'operator', 'n1'))).toBe('NameMismatch');
  });

  it('Malformed for what is not a certificate; Unsupported for an unknown critical extension or another key algorithm', () => {
    const garbage: Array<Uint8Array | string> = [
      new Uint8Array(0),
      new Uint8Array([0x30, 0x00]),
      issued.der.subarray(0, issued.der.length - 1),
      Uint8Array.from([...issued.der, 0]),
      'hello',
      '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----',
      issued.pem.replace('CERTIFICATE', 'PRIVATE KEY'),
      null as never,
      42 as never,
    ];
    for (const [i, g] of garbage.entries()) expect(codeOf(() => parseCertificate(g)), `garbage[${i}]`).toBe('Malformed');
    const badClaims = tamper(issued.der, (c) => {
      const ext = c.tbsCertificate.extensions!.find((e) => !e.extnID.startsWith('2.5.29'))!;
      ext.extnID = ATTESTATION_CLAIMS_OID; // the library cannot re-encode the arc as it read it
      ext.extnValue = new OctetString(AsnConvert.serialize(new OctetString(new TextEncoder().encode('{"attestation":"hardware" }'))));
    });
    expect(codeOf(() => parseCertificate(badClaims)), 'bad claims').toBe('Malformed');
    const critical = tamper(issued.der, (c) => {
      c.tbsCertificate.extensions!.push(new Extension({ extnID: '1.2.3.4', critical: true, extnValue: new OctetString(new Uint8Array([5, 0])) }));
    });
    expect(codeOf(() => parseCertificate(critical))).toBe('Unsupported');
    const ecKey = tamper(issued.der, (c) => {
      c.tbsCertificate.subjectPublicKeyInfo.algorithm.algorithm = '1.2.840.10045.2.1';
    });
    expect(codeOf(() => parseCertificate(ecKey))).toBe('Unsupported');
    expect(codeOf(() => validateCertificate(issued.der, { trusted: ['nonsense'], now: 2_000 }))).toBe('Malformed');
    // A parsed certificate edited or copied elsewhere (genuine signed bytes, other fields) is not trusted.
    const parsed = parseCertificate(issued.der);
    expect(Object.isFrozen(parsed)).toBe(true);
    expect(codeOf(() => validateCertificate({ ...parsed, notAfter: 900 * DAY }, { ...ok, now: 100 * DAY }))).toBe('Malformed');
    expect(codeOf(() => validateCertificate(structuredClone(parsed), ok))).toBe('Malformed');
    expect(ATTESTATION_CLAIMS_OID.startsWith('2.25.')).toBe(true);
  });
});

describe('node certificates: rotation', () => {
  it('issues a successor with the same name, claims and hosts for a new key; both are accepted during the overlap', () => {
    const n1b = deriveIdentity(SEED, 'n1', 'node-2');
    const next = rotateCertificate(ca, issued.pem, n1b.publicKey, { notBefore: 20 * DAY, notAfter: 60 * DAY });
    const c = parseCertificate(next.der);
    expect(c.subject).toEqual({ role: 'node', name: 'n1' });
    expect(c.claims).toEqual(claims);
    expect(c.hosts).toEqual(['n1', '127.0.0.1', 'n1.example']);
    expect(c.fingerprint).toBe(n1b.fingerprint);
    const at = (now: number) => [codeOf(() => validateCertificate(issued.der, { trusted: [ca], now })), codeOf(() => validateCertificate(next.der, { trusted: [ca], now }))];
    expect(at(10 * DAY)).toEqual(['none', 'NotYetValid']);
    expect(at(25 * DAY)).toEqual(['none', 'none']); // the overlap
    expect(at(40 * DAY)).toEqual(['Expired', 'none']);
  });

  it('refuses to rotate a certificate another CA issued, or a CA certificate', () => {
    const other = createCertificateAuthority(deriveIdentity(SEED + 1, 'Other', 'ca'), { name: 'Other', notBefore: 0, notAfter: DAY });
    expect(codeOf(() => rotateCertificate(other, issued.der, n1.publicKey, { notBefore: 0, notAfter: DAY }))).toBe('UntrustedIssuer');
    expect(codeOf(() => rotateCertificate(ca, ca.der, n1.publicKey, { notBefore: 0, notAfter: DAY }))).toBe('InvalidRequest');
  });
});

describe('node certificates: hostile input (fuzz)', () => {
  const allowed = (e: unknown) => e instanceof CertificateError && ['Malformed', 'Unsupported', 'Expired', 'NotYetValid', 'BadSignature', 'UntrustedIssuer'].includes(e.code);

  it('random bytes and strings give a typed rejection, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 200 }).map((s) => `-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----`)), (input) => {
        try {
          validateCertificate(input, { trusted: [ca], now: 2_000 });
          return false;
        } catch (e) {
          return allowed(e);
        }
      }),
      { seed: 20_240_914, numRuns: 300 },
    );
  });

  it('mutated valid certificates are rejected with a typed error, or (only if the mutation was harmless to meaning) accepted with the original signed bytes', () => {
    const original = parseCertificate(issued.der);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(issued.der.length - 1), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(issued.der.length - 1) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(issued.der.length), byte: fc.nat(255) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        let der = Uint8Array.from(issued.der);
        for (const m of ms) {
          if (m.kind === 'flip') der[m.at % der.length] ^= m.xor;
          else if (m.kind === 'cut') der = der.subarray(0, m.at);
          else der = Uint8Array.from([...der.subarray(0, m.at), m.byte, ...der.subarray(m.at)]);
        }
        try {
          const v = validateCertificate(der, { trusted: [ca], now: 2_000 });
          // DER allows no second encoding: only the same signed bytes and signature may pass.
          return Buffer.from(v.tbs).equals(Buffer.from(original.tbs)) && Buffer.from(v.signature).equals(Buffer.from(original.signature));
        } catch (e) {
          return allowed(e);
        }
      }),
      { seed: 20_240_915, numRuns: 300 },
    );
  });
});

// Keep the CA type in use for readers of this file.
export type { CertificateAuthority };
