/**
 * Attestation: evidence that a node runs the code it claims to, on the
 * platform it claims to, and its verification behind a seam
 * ({@link AttestationVerifier}).
 *
 * Hardware evidence mirrors an Intel SGX/TDX DCAP quote, reduced to what
 * the checks need and expressed in Grey's value domain (JSON values and
 * `Uint8Array`), so it crosses the wire like any message:
 * - a quote: the enclave's measurement (like MRENCLAVE), report data that
 *   binds the quote to this handshake (`SHA-256(nonce ‖ node public key)`),
 *   and the attestation key that signed it;
 * - the attestation key's certificate, signed by a vendor root (in DCAP,
 *   the PCK certificate chain up to Intel's root CA);
 * - the platform's TCB info (is its firmware patched?), signed by the
 *   vendor root, with its status and validity window.
 *
 * The attestation-key certificate is a small signed structure, not X.509:
 * the simulated vendor's chain is then checked with one signature and no
 * ASN.1 parsing on the join path, and node certificates keep only the
 * roles Grey's TLS binds. A real DCAP verifier, which checks the X.509 PCK
 * chain, the QE report and Intel's collateral, plugs in behind the same
 * {@link AttestationVerifier} interface.
 *
 * Software evidence is a measurement of the node's code signed by the
 * node's own key: it proves little (the node vouches for itself; a
 * modified node signs whatever measurement is expected) and earns trust
 * `software` only.
 */
import { createHash } from 'node:crypto';
import { hexToBytes, lengthPrefixed } from './domainEncoding.js';
import { deriveIdentity, signBytes, verifySignature, type NodeIdentity } from './nodeIdentity.js';

/** How much a node's attestation is worth, from least to most. */
export type TrustLevel = 'none' | 'software' | 'hardware';

/** Trust levels in increasing order. */
export const TRUST_LEVELS: readonly TrustLevel[] = ['none', 'software', 'hardware'];

/** Whether `level` is at least `min` (`hardware` ≥ `software` ≥ `none`). */
export function trustAtLeast(level: TrustLevel, min: TrustLevel): boolean {
  const have = TRUST_LEVELS.indexOf(level);
  const need = TRUST_LEVELS.indexOf(min);
  return have >= 0 && need >= 0 && have >= need;
}

/** Status of a platform's trusted computing base, as the vendor rates it (DCAP's TCB levels, reduced). */
export type TcbStatus = 'UpToDate' | 'SWHardeningNeeded' | 'OutOfDate' | 'Revoked';

const TCB_STATUSES: readonly TcbStatus[] = ['UpToDate', 'SWHardeningNeeded', 'OutOfDate', 'Revoked'];

/** An enclave's quote: what it runs, for whom, signed by the platform's attestation key. */
export interface Quote {
  /** Hash of the enclave's code and initial data (lower-case hex, like MRENCLAVE). */
  readonly measurement: string;
  /** `SHA-256(nonce ‖ node public key)`: binds the quote to one handshake and one key (32 bytes). */
  readonly reportData: Uint8Array;
  /** Raw Ed25519 attestation key of the platform (32 bytes). */
  readonly attestationKey: Uint8Array;
  /** By the attestation key over the quote body ({@link quoteBody}). */
  readonly signature: Uint8Array;
}

/** The vendor's certificate of a platform's attestation key (DCAP: the PCK certificate chain). */
export interface AttestationKeyCertificate {
  readonly attestationKey: Uint8Array;
  /** Platform family id (hex, like DCAP's FMSPC): which TCB info applies. */
  readonly platform: string;
  /** By a vendor root over {@link attestationKeyBody}. */
  readonly signature: Uint8Array;
}

/** The vendor's signed rating of a platform family's TCB. */
export interface TcbInfo {
  readonly platform: string;
  readonly status: TcbStatus;
  /** When it was issued and when the next is due (ms): past `nextUpdate` it is stale. */
  readonly issuedAt: number;
  readonly nextUpdate: number;
  /** By a vendor root over {@link tcbInfoBody}. */
  readonly signature: Uint8Array;
}

/** Evidence from a TEE. */
export interface HardwareEvidence {
  readonly kind: 'hardware';
  readonly quote: Quote;
  readonly attestationKeyCertificate: AttestationKeyCertificate;
  readonly tcbInfo: TcbInfo;
}

/** A node's own claim about its code: a measurement signed with its key over (nonce, measurement). Proves little. */
export interface SoftwareEvidence {
  readonly kind: 'software';
  readonly measurement: string;
  readonly signature: Uint8Array;
}

/** Evidence a node may present; `{ kind: 'none' }` or nothing means it attests nothing. */
export type AttestationEvidence = HardwareEvidence | SoftwareEvidence | { readonly kind: 'none' };

/** Why evidence was refused. */
export type AttestationErrorCode =
  | 'NoAttestation'
  | 'Malformed'
  | 'UntrustedAttestationKey'
  | 'BadQuoteSignature'
  | 'ReportDataMismatch'
  | 'BadTcbSignature'
  | 'TcbMismatch'
  | 'TcbExpired'
  | 'TcbRevoked'
  | 'TcbOutOfDate'
  | 'TcbSwHardeningNeeded'
  | 'MeasurementNotAllowed'
  | 'BadSoftwareSignature';

/** The outcome of verification: a trust level and measurement, or a typed refusal. */
export type AttestationVerdict =
  | { readonly ok: true; readonly trust: TrustLevel; readonly measurement: string; readonly tcbStatus?: TcbStatus }
  | { readonly ok: false; readonly code: AttestationErrorCode; readonly reason: string };

/** What evidence is checked against: the verifier's nonce, and the key and name of the node presenting it. */
export interface AttestationContext {
  readonly nonce: Uint8Array;
  /** Raw Ed25519 public key of the node (the one its certificate will carry). */
  readonly publicKey: Uint8Array;
  readonly name: string;
  /** Time (ms; virtual in simulation) to judge TCB info freshness by. */
  readonly now: number;
}

/**
 * The seam: anything that turns evidence into a verdict. Implementations
 * never throw: evidence of any shape gets a verdict. {@link DcapStyleVerifier}
 * checks Grey's DCAP-shaped evidence; a verifier backed by a real DCAP
 * library (Intel's QVL, a cloud attestation service) implements the same
 * interface.
 */
export interface AttestationVerifier {
  verify(evidence: unknown, ctx: AttestationContext): AttestationVerdict;
}

/** Vendor collateral verifications a verifier remembers (platforms × a few items each). */
const MAX_CACHED_COLLATERAL = 4_096;

/** Options of {@link DcapStyleVerifier}. */
export interface DcapStyleVerifierOptions {
  /** Raw Ed25519 public keys of the TEE vendor roots the cluster trusts. */
  readonly vendorRoots: readonly Uint8Array[];
  /** Measurements (lower-case hex) allowed to join, for hardware and software evidence alike. */
  readonly measurements: readonly string[];
  /** Accept a TCB rated `SWHardeningNeeded` (patched hardware, software mitigations required). Default false. */
  readonly acceptSwHardeningNeeded?: boolean;
}

/** `SHA-256(nonce ‖ publicKey)`: the report data a quote for this handshake must carry. The key has a fixed length (32), so the concatenation is unambiguous. */
export function reportDataFor(nonce: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(nonce).update(publicKey).digest());
}

/** The bytes a quote's signature covers. */
export function quoteBody(q: Pick<Quote, 'measurement' | 'reportData' | 'attestationKey'>): Uint8Array {
  return lengthPrefixed('grey/tee-quote/v1', q.measurement, q.reportData, q.attestationKey);
}

/** The bytes an attestation-key certificate's signature covers. */
export function attestationKeyBody(c: Pick<AttestationKeyCertificate, 'attestationKey' | 'platform'>): Uint8Array {
  return lengthPrefixed('grey/tee-attestation-key/v1', c.attestationKey, c.platform);
}

/** The bytes a TCB info's signature covers. */
export function tcbInfoBody(t: Pick<TcbInfo, 'platform' | 'status' | 'issuedAt' | 'nextUpdate'>): Uint8Array {
  return lengthPrefixed('grey/tee-tcb-info/v1', t.platform, t.status, t.issuedAt, t.nextUpdate);
}

/** The bytes a software attestation's signature covers. */
export function softwareBody(nonce: Uint8Array, measurement: string): Uint8Array {
  return lengthPrefixed('grey/attestation/software/v1', nonce, measurement);
}

/** Software evidence: `measurement` signed by the node's own key for this nonce. */
export function softwareEvidence(identity: NodeIdentity, measurement: string, nonce: Uint8Array): SoftwareEvidence {
  return { kind: 'software', measurement, signature: signBytes(identity, softwareBody(nonce, measurement)) };
}

/**
 * Verifies DCAP-shaped hardware evidence (trust `hardware`) and software
 * evidence (trust `software`). Hardware checks, in order: the
 * attestation key is certified by a trusted vendor root; the quote is
 * signed by it; its report data is `SHA-256(nonce ‖ node key)`; the TCB
 * info is signed by a vendor root, is for the same platform, is fresh at
 * `now`, and its status is acceptable; the measurement is allowed.
 *
 * It checks Grey's simulated evidence format. It is not a DCAP verifier:
 * a real one (X.509 PCK chain, QE report, Intel collateral, CRLs) plugs in
 * behind {@link AttestationVerifier}.
 */
export class DcapStyleVerifier implements AttestationVerifier {
  private readonly roots: readonly Uint8Array[];
  private readonly allowed: ReadonlySet<string>;
  private readonly acceptSwHardeningNeeded: boolean;
  /** Vendor-signed collateral already verified (see {@link DcapStyleVerifier.signedByRoot}), oldest first. */
  private readonly verifiedCollateral = new Set<string>();

  constructor(options: DcapStyleVerifierOptions) {
    this.roots = options.vendorRoots.map((k) => Uint8Array.from(k));
    this.allowed = new Set(options.measurements);
    this.acceptSwHardeningNeeded = options.acceptSwHardeningNeeded ?? false;
  }

  verify(evidence: unknown, ctx: AttestationContext): AttestationVerdict {
    try {
      if (!isBytes(ctx?.nonce) || !isBytes(ctx?.publicKey, 32) || typeof ctx?.now !== 'number') return refuse('Malformed', 'the verification context needs a nonce, a 32-byte public key and a time');
      if (evidence === undefined || evidence === null) return refuse('NoAttestation', 'no attestation evidence');
      if (!isRecord(evidence)) return refuse('Malformed', 'attestation evidence must be an object with a kind');
      switch (evidence.kind) {
        case 'none':
          return refuse('NoAttestation', `node '${ctx.name}' presents no attestation`);
        case 'software':
          return this.verifySoftware(evidence, ctx);
        case 'hardware':
          return this.verifyHardware(evidence, ctx);
        default:
          return refuse('Malformed', `unknown attestation kind ${JSON.stringify(String(evidence.kind)).slice(0, 40)}`);
      }
    } catch (e) {
      // Evidence arrives from the network: a hostile value (a throwing getter, a proxy) must still get a verdict.
      return refuse('Malformed', `attestation evidence could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private verifySoftware(e: Record<string, unknown>, ctx: AttestationContext): AttestationVerdict {
    if (!isMeasurement(e.measurement) || !isBytes(e.signature)) return refuse('Malformed', 'software evidence needs a hex measurement and a signature');
    if (!verifySignature(ctx.publicKey, softwareBody(ctx.nonce, e.measurement), e.signature)) return refuse('BadSoftwareSignature', `the software attestation of '${ctx.name}' is not signed by its key for this nonce`);
    if (!this.allowed.has(e.measurement)) return refuse('MeasurementNotAllowed', `measurement ${e.measurement.slice(0, 16)}… of '${ctx.name}' is not on the allow-list`);
    return { ok: true, trust: 'software', measurement: e.measurement };
  }

  private verifyHardware(e: Record<string, unknown>, ctx: AttestationContext): AttestationVerdict {
    const { quote, attestationKeyCertificate: akc, tcbInfo: tcb } = e;
    if (!isRecord(quote) || !isMeasurement(quote.measurement) || !isBytes(quote.reportData, 32) || !isBytes(quote.attestationKey, 32) || !isBytes(quote.signature)) {
      return refuse('Malformed', 'the quote needs a hex measurement, 32 bytes of report data, a 32-byte attestation key and a signature');
    }
    if (!isRecord(akc) || !isBytes(akc.attestationKey, 32) || !isHex(akc.platform) || !isBytes(akc.signature)) return refuse('Malformed', 'the attestation key certificate needs a key, a platform id and a signature');
    if (!isRecord(tcb) || !isHex(tcb.platform) || !TCB_STATUSES.includes(tcb.status as TcbStatus) || !isTime(tcb.issuedAt) || !isTime(tcb.nextUpdate) || !isBytes(tcb.signature)) {
      return refuse('Malformed', 'the TCB info needs a platform id, a status, issuedAt, nextUpdate and a signature');
    }
    const ak = { attestationKey: akc.attestationKey, platform: akc.platform };
    if (!this.signedByRoot(attestationKeyBody(ak), akc.signature)) return refuse('UntrustedAttestationKey', `the attestation key of '${ctx.name}' is not certified by a vendor root this cluster trusts`);
    if (!equalBytes(quote.attestationKey, akc.attestationKey)) return refuse('UntrustedAttestationKey', `the quote of '${ctx.name}' names an attestation key other than the certified one`);
    if (!verifySignature(quote.attestationKey, quoteBody({ measurement: quote.measurement, reportData: quote.reportData, attestationKey: quote.attestationKey }), quote.signature)) {
      return refuse('BadQuoteSignature', `the quote of '${ctx.name}' is not signed by its attestation key`);
    }
    if (!equalBytes(quote.reportData, reportDataFor(ctx.nonce, ctx.publicKey))) return refuse('ReportDataMismatch', `the quote of '${ctx.name}' is not for this nonce and key (a replayed or borrowed quote)`);
    const info = { platform: tcb.platform, status: tcb.status as TcbStatus, issuedAt: tcb.issuedAt, nextUpdate: tcb.nextUpdate };
    if (!this.signedByRoot(tcbInfoBody(info), tcb.signature)) return refuse('BadTcbSignature', 'the TCB info is not signed by a vendor root this cluster trusts');
    if (info.platform !== ak.platform) return refuse('TcbMismatch', `the TCB info is for platform ${info.platform}, the attestation key for ${ak.platform}`);
    if (ctx.now > info.nextUpdate || ctx.now < info.issuedAt) return refuse('TcbExpired', `the TCB info is valid from ${info.issuedAt} to ${info.nextUpdate} ms, not at ${ctx.now}`);
    if (info.status === 'Revoked') return refuse('TcbRevoked', `the platform of '${ctx.name}' is revoked by its vendor`);
    if (info.status === 'OutOfDate') return refuse('TcbOutOfDate', `the platform of '${ctx.name}' runs an out-of-date TCB (firmware or microcode needs updating)`);
    if (info.status === 'SWHardeningNeeded' && !this.acceptSwHardeningNeeded) return refuse('TcbSwHardeningNeeded', `the platform of '${ctx.name}' needs software hardening, which this cluster does not accept`);
    if (!this.allowed.has(quote.measurement)) return refuse('MeasurementNotAllowed', `measurement ${quote.measurement.slice(0, 16)}… of '${ctx.name}' is not on the allow-list`);
    return { ok: true, trust: 'hardware', measurement: quote.measurement, tcbStatus: info.status };
  }

  /**
   * Whether a vendor root signed `body`. Vendor collateral (a platform's
   * attestation-key certificate, its TCB info) is the same for every quote
   * from that platform, so what verified once is remembered, as DCAP
   * verifiers cache collateral: by the exact bytes and signature, bounded.
   * Quotes themselves are never cached.
   */
  private signedByRoot(body: Uint8Array, signature: Uint8Array): boolean {
    const key = `${Buffer.from(body).toString('base64')}.${Buffer.from(signature).toString('base64')}`;
    if (this.verifiedCollateral.has(key)) return true;
    const ok = this.roots.some((root) => verifySignature(root, body, signature));
    if (ok) {
      if (this.verifiedCollateral.size >= MAX_CACHED_COLLATERAL) this.verifiedCollateral.delete(this.verifiedCollateral.values().next().value!);
      this.verifiedCollateral.add(key);
    }
    return ok;
  }
}

/** Options of {@link SimulatedTee}. */
export interface SimulatedTeeOptions {
  /** Which platform (machine) this is: its attestation key and platform id derive from it. Default `'platform-1'`. */
  readonly platformName?: string;
  /** What the enclave measures as (hex). Default {@link SIMULATED_MEASUREMENT}. */
  readonly measurement?: string;
  /** The vendor's rating of the platform. Default `UpToDate`. */
  readonly tcbStatus?: TcbStatus;
  /** Fixed TCB info validity; by default each quote carries TCB info issued at its `now`, valid for {@link SimulatedTeeOptions.tcbValidityMs}. */
  readonly tcbIssuedAt?: number;
  readonly tcbNextUpdate?: number;
  /** Default 30 days. */
  readonly tcbValidityMs?: number;
}

/** The measurement a {@link SimulatedTee} reports unless told otherwise. */
export const SIMULATED_MEASUREMENT = createHash('sha256').update(lengthPrefixed('grey/simulated-enclave/v1')).digest('hex');

/**
 * A TEE vendor and one platform's enclave, for simulation and tests,
 * deterministic from a seed. TEEs made from the same seed share the vendor
 * root (one vendor), and differ in attestation key by `platformName`.
 * It issues what a real platform would fetch or produce: the attestation
 * key's certificate, the TCB info, and quotes.
 */
export class SimulatedTee {
  readonly vendorRoot: NodeIdentity;
  readonly attestationKey: NodeIdentity;
  readonly attestationKeyCertificate: AttestationKeyCertificate;
  readonly platform: string;
  readonly measurement: string;

  constructor(
    seed: number,
    private readonly options: SimulatedTeeOptions = {},
  ) {
    const platformName = options.platformName ?? 'platform-1';
    this.vendorRoot = deriveIdentity(seed, 'vendor-root', 'tee-vendor');
    this.attestationKey = deriveIdentity(seed, platformName, 'tee-attestation-key');
    // Like a 6-byte FMSPC.
    this.platform = createHash('sha256').update(lengthPrefixed('grey/tee-platform/v1', platformName)).digest('hex').slice(0, 12);
    this.measurement = options.measurement ?? SIMULATED_MEASUREMENT;
    const ak = { attestationKey: this.attestationKey.publicKey, platform: this.platform };
    this.attestationKeyCertificate = { ...ak, signature: signBytes(this.vendorRoot, attestationKeyBody(ak)) };
  }

  /** The vendor root's raw public key: what a cluster puts in `vendorRoots`. */
  get vendorRootPublicKey(): Uint8Array {
    return this.vendorRoot.publicKey;
  }

  /** The vendor's TCB info for this platform, as of `now`. */
  tcbInfo(now: number): TcbInfo {
    const issuedAt = this.options.tcbIssuedAt ?? now;
    const info = { platform: this.platform, status: this.options.tcbStatus ?? 'UpToDate', issuedAt, nextUpdate: this.options.tcbNextUpdate ?? issuedAt + (this.options.tcbValidityMs ?? 30 * 86_400_000) };
    return { ...info, signature: signBytes(this.vendorRoot, tcbInfoBody(info)) };
  }

  /** Hardware evidence for a handshake: a quote binding `nonce` and the node's `publicKey`, with the key certificate and TCB info. */
  quote(nonce: Uint8Array, publicKey: Uint8Array, now: number): HardwareEvidence {
    const body = { measurement: this.measurement, reportData: reportDataFor(nonce, publicKey), attestationKey: this.attestationKey.publicKey };
    return {
      kind: 'hardware',
      quote: { ...body, signature: signBytes(this.attestationKey, quoteBody(body)) },
      attestationKeyCertificate: this.attestationKeyCertificate,
      tcbInfo: this.tcbInfo(now),
    };
  }

  /** Software evidence (no TEE involved; here for symmetry in tests). */
  softwareEvidence(identity: NodeIdentity, measurement: string, nonce: Uint8Array): SoftwareEvidence {
    return softwareEvidence(identity, measurement, nonce);
  }
}

function refuse(code: AttestationErrorCode, reason: string): AttestationVerdict {
  return { ok: false, code, reason };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isBytes(v: unknown, length?: number): v is Uint8Array {
  return v instanceof Uint8Array && (length === undefined || v.length === length) && v.length <= 4096;
}

function isHex(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 128 && hexToBytes(v) !== null;
}

function isMeasurement(v: unknown): v is string {
  return isHex(v);
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
