import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DcapStyleVerifier,
  SimulatedTee,
  SIMULATED_MEASUREMENT,
  quoteBody,
  softwareEvidence,
  tcbInfoBody,
  trustAtLeast,
  type AttestationContext,
  type AttestationErrorCode,
  type AttestationVerdict,
  type HardwareEvidence,
} from '../actors/attestation.js';
import { canonicalJson } from '../actors/canonical.js';
import { deriveIdentity, signBytes } from '../actors/nodeIdentity.js';
import { msgpackCodec } from '../system/codec.js';

const SEED = 7;
const DAY = 86_400_000;
const tee = new SimulatedTee(SEED);
const node = deriveIdentity(SEED, 'n4');
const nonce = new Uint8Array(32).fill(9);
const ctx: AttestationContext = { nonce, publicKey: node.publicKey, name: 'n4', now: 1_000 };
const verifier = new DcapStyleVerifier({ vendorRoots: [tee.vendorRootPublicKey], measurements: [SIMULATED_MEASUREMENT] });

function signedFields(e: HardwareEvidence): string {
  const { quote: q, attestationKeyCertificate: k, tcbInfo: t } = e;
  return canonicalJson([q.measurement, q.reportData, q.attestationKey, q.signature, k.attestationKey, k.platform, k.signature, t.platform, t.status, t.issuedAt, t.nextUpdate, t.signature]);
}

function code(v: AttestationVerdict): AttestationErrorCode | 'ok' {
  return v.ok ? 'ok' : v.code;
}

/** Evidence whose parts are replaced, signatures untouched. */
function edit(e: HardwareEvidence, change: { quote?: object; attestationKeyCertificate?: object; tcbInfo?: object }): HardwareEvidence {
  return { ...e, quote: { ...e.quote, ...change.quote }, attestationKeyCertificate: { ...e.attestationKeyCertificate, ...change.attestationKeyCertificate }, tcbInfo: { ...e.tcbInfo, ...change.tcbInfo } } as HardwareEvidence;
}

describe('trust levels', () => {
  it('are ordered none < software < hardware', () => {
    expect(trustAtLeast('hardware', 'software')).toBe(true);
    expect(trustAtLeast('software', 'software')).toBe(true);
    expect(trustAtLeast('software', 'hardware')).toBe(false);
    expect(trustAtLeast('none', 'software')).toBe(false);
    expect(trustAtLeast('none', 'none')).toBe(true);
    expect(trustAtLeast('bogus' as never, 'none')).toBe(false);
  });
});

describe('DCAP-style hardware attestation', () => {
  it('accepts a fresh quote from a certified key on an up-to-date platform with an allowed measurement: trust hardware', () => {
    const v = verifier.verify(tee.quote(nonce, node.publicKey, 1_000), ctx);
    expect(v).toEqual({ ok: true, trust: 'hardware', measurement: SIMULATED_MEASUREMENT, tcbStatus: 'UpToDate' });
  });

  it('is deterministic from the seed, and its evidence survives the wire codec', () => {
    const a = tee.quote(nonce, node.publicKey, 1_000);
    const b = new SimulatedTee(SEED).quote(nonce, node.publicKey, 1_000);
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(new SimulatedTee(SEED + 1).quote(nonce, node.publicKey, 1_000))).not.toBe(canonicalJson(a));
    const decoded = msgpackCodec.decode(msgpackCodec.encode(a));
    expect(code(verifier.verify(decoded, ctx))).toBe('ok');
  });

  it('NoAttestation for missing evidence or kind none', () => {
    for (const e of [undefined, null, { kind: 'none' }]) expect(code(verifier.verify(e, ctx))).toBe('NoAttestation');
  });

  it('UntrustedAttestationKey for a key certified by another vendor, or a quote by a key other than the certified one', () => {
    const otherVendor = new SimulatedTee(SEED + 1);
    expect(code(verifier.verify(otherVendor.quote(nonce, node.publicKey, 1_000), ctx))).toBe('UntrustedAttestationKey');
    const own = tee.quote(nonce, node.publicKey, 1_000);
    const foreign = otherVendor.quote(nonce, node.publicKey, 1_000);
    expect(code(verifier.verify({ ...own, quote: foreign.quote }, ctx))).toBe('UntrustedAttestationKey');
  });

  it('BadQuoteSignature when the quote body was changed after signing', () => {
    const other = 'cd'.repeat(32);
    const permissive = new DcapStyleVerifier({ vendorRoots: [tee.vendorRootPublicKey], measurements: [SIMULATED_MEASUREMENT, other] });
    const e = tee.quote(nonce, node.publicKey, 1_000);
    expect(code(permissive.verify(edit(e, { quote: { measurement: other } }), ctx))).toBe('BadQuoteSignature');
    const sig = Uint8Array.from(e.quote.signature);
    sig[0] ^= 1;
    expect(code(verifier.verify(edit(e, { quote: { signature: sig } }), ctx))).toBe('BadQuoteSignature');
  });

  it('ReportDataMismatch for a quote made for another nonce or another node key (replayed or borrowed)', () => {
    const e = tee.quote(nonce, node.publicKey, 1_000);
    expect(code(verifier.verify(e, { ...ctx, nonce: new Uint8Array(32).fill(8) }))).toBe('ReportDataMismatch');
    expect(code(verifier.verify(e, { ...ctx, publicKey: deriveIdentity(SEED, 'n5').publicKey }))).toBe('ReportDataMismatch');
  });

  it('BadTcbSignature when the TCB info was altered (an OutOfDate platform claiming UpToDate)', () => {
    const stale = new SimulatedTee(SEED, { tcbStatus: 'OutOfDate' }).quote(nonce, node.publicKey, 1_000);
    expect(code(verifier.verify(edit(stale, { tcbInfo: { status: 'UpToDate' } }), ctx))).toBe('BadTcbSignature');
    const forged = { ...stale.tcbInfo, status: 'UpToDate' as const };
    const selfSigned = { ...forged, signature: signBytes(tee.attestationKey, tcbInfoBody(forged)) };
    expect(code(verifier.verify(edit(stale, { tcbInfo: selfSigned }), ctx))).toBe('BadTcbSignature');
  });

  it('TcbMismatch for TCB info of another platform family of the same vendor', () => {
    const stale = new SimulatedTee(SEED, { platformName: 'old-box', tcbStatus: 'OutOfDate' }).quote(nonce, node.publicKey, 1_000);
    const fresh = new SimulatedTee(SEED, { platformName: 'new-box' }).tcbInfo(1_000);
    expect(code(verifier.verify(stale, ctx))).toBe('TcbOutOfDate');
    expect(code(verifier.verify(edit(stale, { tcbInfo: fresh }), ctx))).toBe('TcbMismatch');
  });

  it('TcbExpired past nextUpdate, or before issuedAt', () => {
    const e = new SimulatedTee(SEED, { tcbIssuedAt: 1_000, tcbNextUpdate: 10 * DAY }).quote(nonce, node.publicKey, 1_000);
    expect(code(verifier.verify(e, { ...ctx, now: 10 * DAY }))).toBe('ok');
    expect(code(verifier.verify(e, { ...ctx, now: 10 * DAY + 1 }))).toBe('TcbExpired');
    expect(code(verifier.verify(e, { ...ctx, now: 999 }))).toBe('TcbExpired');
  });

  it('TcbRevoked, TcbOutOfDate and TcbSwHardeningNeeded by status; SWHardeningNeeded is accepted when the cluster says so', () => {
    const statusCode = (tcbStatus: 'Revoked' | 'OutOfDate' | 'SWHardeningNeeded', v = verifier) => code(v.verify(new SimulatedTee(SEED, { tcbStatus }).quote(nonce, node.publicKey, 1_000), ctx));
    expect(statusCode('Revoked')).toBe('TcbRevoked');
    expect(statusCode('OutOfDate')).toBe('TcbOutOfDate');
    expect(statusCode('SWHardeningNeeded')).toBe('TcbSwHardeningNeeded');
    const lenient = new DcapStyleVerifier({ vendorRoots: [tee.vendorRootPublicKey], measurements: [SIMULATED_MEASUREMENT], acceptSwHardeningNeeded: true });
    expect(lenient.verify(new SimulatedTee(SEED, { tcbStatus: 'SWHardeningNeeded' }).quote(nonce, node.publicKey, 1_000), ctx)).toMatchObject({ ok: true, trust: 'hardware', tcbStatus: 'SWHardeningNeeded' });
    expect(statusCode('Revoked', lenient)).toBe('TcbRevoked');
  });

  it('MeasurementNotAllowed for an enclave whose code is not on the allow-list', () => {
    const modified = new SimulatedTee(SEED, { measurement: 'ee'.repeat(32) });
    expect(code(verifier.verify(modified.quote(nonce, node.publicKey, 1_000), ctx))).toBe('MeasurementNotAllowed');
  });

  it('checks the quote signature against the body the verifier rebuilds, not bytes the sender supplies', () => {
    const e = tee.quote(nonce, node.publicKey, 1_000);
    expect(Buffer.from(quoteBody(e.quote)).length).toBeGreaterThan(64);
    expect(code(verifier.verify({ ...e, quote: { ...e.quote, body: new Uint8Array(5) } }, ctx))).toBe('ok');
  });
});

describe('software attestation (proves little: the node signs for itself)', () => {
  it('accepts a measurement signed by the node key for this nonce, at trust software only', () => {
    const v = verifier.verify(softwareEvidence(node, SIMULATED_MEASUREMENT, nonce), ctx);
    expect(v).toEqual({ ok: true, trust: 'software', measurement: SIMULATED_MEASUREMENT });
    expect(v.ok && trustAtLeast(v.trust, 'hardware')).toBe(false);
    expect(code(verifier.verify(tee.softwareEvidence(node, SIMULATED_MEASUREMENT, nonce), ctx))).toBe('ok');
  });

  it('BadSoftwareSignature for another key or another nonce; MeasurementNotAllowed for other code', () => {
    expect(code(verifier.verify(softwareEvidence(deriveIdentity(SEED, 'n5'), SIMULATED_MEASUREMENT, nonce), ctx))).toBe('BadSoftwareSignature');
    expect(code(verifier.verify(softwareEvidence(node, SIMULATED_MEASUREMENT, new Uint8Array(32)), ctx))).toBe('BadSoftwareSignature');
    expect(code(verifier.verify(softwareEvidence(node, 'ee'.repeat(32), nonce), ctx))).toBe('MeasurementNotAllowed');
  });
});

describe('hostile evidence', () => {
  it('Malformed for evidence of the wrong shape, a bad context, or a value that throws when read', () => {
    const good = tee.quote(nonce, node.publicKey, 1_000);
    const shapes: unknown[] = [
      42,
      'hardware',
      [],
      new Uint8Array(4),
      { kind: 'tpm' },
      { kind: 'hardware' },
      { kind: 'software', measurement: 'XYZ', signature: new Uint8Array(64) },
      { kind: 'software', measurement: SIMULATED_MEASUREMENT, signature: 'sig' },
      edit(good, { quote: { reportData: new Uint8Array(31) } }),
      edit(good, { quote: { measurement: 'Zz' } }),
      edit(good, { attestationKeyCertificate: { platform: '' } }),
      edit(good, { tcbInfo: { status: 'Fine' } }),
      edit(good, { tcbInfo: { nextUpdate: Number.POSITIVE_INFINITY } }),
      { ...good, quote: null },
      {
        get kind(): string {
          throw new Error('boom');
        },
      },
      new Proxy({}, { get: () => { throw new Error('trap'); } }),
    ];
    for (const [i, s] of shapes.entries()) expect(code(verifier.verify(s, ctx)), `shape ${i}`).toBe('Malformed');
    expect(code(verifier.verify(good, { ...ctx, publicKey: new Uint8Array(3) }))).toBe('Malformed');
    expect(code(verifier.verify(good, null as never))).toBe('Malformed');
  });

  it('random JSON-ish values and mutated evidence get a typed verdict, never an exception (fuzz)', () => {
    const good = tee.quote(nonce, node.publicKey, 1_000);
    const codes = new Set<string>(['NoAttestation', 'Malformed', 'UntrustedAttestationKey', 'BadQuoteSignature', 'ReportDataMismatch', 'BadTcbSignature', 'TcbMismatch', 'TcbExpired', 'TcbRevoked', 'TcbOutOfDate', 'TcbSwHardeningNeeded', 'MeasurementNotAllowed', 'BadSoftwareSignature']);
    const leaf = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 70 }), fc.constantFrom('hardware', 'software', 'none', 'UpToDate', SIMULATED_MEASUREMENT));
    const randomEvidence = fc.oneof(
      fc.anything(),
      fc.record({ kind: fc.constantFrom('hardware', 'software', 'none'), quote: fc.anything(), measurement: leaf, signature: leaf }),
      // Valid evidence with one field of one part replaced by a random value.
      fc.record({ part: fc.constantFrom('quote', 'attestationKeyCertificate', 'tcbInfo'), field: fc.constantFrom('measurement', 'reportData', 'attestationKey', 'signature', 'platform', 'status', 'issuedAt', 'nextUpdate'), value: leaf }).map(({ part, field, value }) => edit(good, { [part]: { [field]: value } })),
    );
    fc.assert(
      fc.property(randomEvidence, (e) => {
        const v = verifier.verify(e, ctx);
        // Accepted only if every signed field is the genuine one (a field a part does not have is ignored).
        return v.ok ? signedFields(e as HardwareEvidence) === signedFields(good) : codes.has(v.code) && typeof v.reason === 'string';
      }),
      { seed: 20_240_916, numRuns: 300 },
    );
  });
});
