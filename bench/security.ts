/**
 * Security primitives on this machine: Ed25519 signatures and
 * verifications, certificate validations (parse the DER, then the whole
 * validation: times, signature against the trusted CA, trust, revocation
 * lookup), certificate reads alone (the direct reader of Grey's profile,
 * and the general ASN.1 reader it falls back to), and hardware attestation
 * verifications (three signature checks: the attestation key's
 * certificate, the quote, the TCB info). One thread, synchronous; each
 * measured for `measureMs` of wall time after a warm-up.
 *
 * Run: `npx tsx bench/security.ts`
 */
import { DcapStyleVerifier, SimulatedTee } from '../actors/attestation.js';
import { createCertificateAuthority, issueNodeCertificate, parseCertificate, readCertificateWith, validateCertificate } from '../actors/nodeCertificate.js';
import { deriveIdentity, signBytes, verifySignature } from '../actors/nodeIdentity.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Calls `f` repeatedly for `ms` of wall time (after a warm-up of a tenth of it) and returns calls per second. */
function rate(f: (i: number) => unknown, ms: number): { perSecond: number; calls: number } {
  const warm = performance.now() + ms / 10;
  let i = 0;
  while (performance.now() < warm) f(i++);
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let k = 0; k < 64; k++) f(calls++);
    t = performance.now();
  }
  return { perSecond: Math.round(calls / ((t - t0) / 1000)), calls };
}

/** Runs the six measurements; returns one result each. */
export function benchSecurity(measureMs = 1_000, seed = 1): BenchResult[] {
  const node = deriveIdentity(seed, 'n1');
  const message = new Uint8Array(256).map((_, i) => i); // about a join request
  const signature = signBytes(node, message);
  const ca = createCertificateAuthority(deriveIdentity(seed, 'Grey bench CA', 'ca'), { name: 'Grey bench CA', notBefore: 0, notAfter: 365 * 86_400_000 });
  const cert = issueNodeCertificate(ca, { role: 'node', name: 'n1', publicKey: node.publicKey, notBefore: 0, notAfter: 90 * 86_400_000, claims: { attestation: 'hardware', measurement: 'ab'.repeat(32), verifiedAt: 0 }, hosts: ['127.0.0.1'] });
  const tee = new SimulatedTee(seed);
  const nonce = new Uint8Array(32).fill(7);
  const evidence = tee.quote(nonce, node.publicKey, 1_000);
  const verifier = new DcapStyleVerifier({ vendorRoots: [tee.vendorRootPublicKey], measurements: [tee.measurement] });
  const ctx = { nonce, publicKey: node.publicKey, name: 'n1', now: 1_000 };
  const revoked = new Set<string>(['00'.repeat(32)]);

  const sign = rate(() => signBytes(node, message), measureMs);
  const verify = rate(() => {
    if (!verifySignature(node.publicKey, message, signature)) throw new Error('bench: a valid signature did not verify');
  }, measureMs);
  const certs = rate(() => validateCertificate(parseCertificate(cert.der), { trusted: [ca], now: 1_000, isRevoked: (f) => (revoked.has(f) ? 'blocked' : null) }), measureMs);
  const parses = rate(() => parseCertificate(cert.der), measureMs);
  const schemaParses = rate(() => readCertificateWith('schema', cert.der), measureMs);
  const attest = rate(() => {
    if (!verifier.verify(evidence, ctx).ok) throw new Error('bench: valid evidence was refused');
  }, measureMs);

  const common = { node: process.version, measuredMs: measureMs, seed };
  return [
    { name: 'Ed25519 signatures (256-byte message, node:crypto)', value: sign.perSecond, unit: 'signatures/s', config: { ...common, calls: sign.calls } },
    { name: 'Ed25519 verifications (256-byte message, key import cached)', value: verify.perSecond, unit: 'verifications/s', config: { ...common, calls: verify.calls } },
    {
      name: 'Certificate validations (parse DER + times, CA signature, trust, revocation lookup)',
      value: certs.perSecond,
      unit: 'validations/s',
      config: { ...common, calls: certs.calls, certificateBytes: cert.der.length, trustedCas: 1 },
    },
    {
      name: "Certificate reads (DER to fields: Grey's profile, strict DER, read directly)",
      value: parses.perSecond,
      unit: 'reads/s',
      config: { ...common, calls: parses.calls, certificateBytes: cert.der.length },
    },
    {
      name: 'Certificate reads, general reader (@peculiar/asn1-schema: what the direct reader declines)',
      value: schemaParses.perSecond,
      unit: 'reads/s',
      config: { ...common, calls: schemaParses.calls, certificateBytes: cert.der.length },
    },
    {
      name: 'Hardware attestation verifications (DCAP-style: key certificate, quote, TCB info)',
      value: attest.perSecond,
      unit: 'verifications/s',
      config: { ...common, calls: attest.calls, signatureChecks: 3 },
    },
  ];
}

if (isMainModule(import.meta.url)) for (const r of benchSecurity()) printResult(r);
