import { DcapStyleVerifier, SimulatedTee, softwareEvidence, type AttestationVerifier, type SimulatedTeeOptions } from '../actors/attestation.js';
import type { NodeSecurity } from '../actors/clusterNode.js';
import type { JoinCredentials } from '../actors/joinRequester.js';
import type { CheckedCertificate, JoinTrust, MemberIdentity } from '../actors/joinAuthenticator.js';
import { createCertificateAuthority, issueNodeCertificate, validateCertificate, type CertificateAuthority } from '../actors/nodeCertificate.js';
import { deriveIdentity, signBytes, verifySignature, type NodeIdentity } from '../actors/nodeIdentity.js';
import { PROOF_SIGNING_MODES, ProofSigner, type ProofSigningMode } from '../actors/proofSignature.js';

/** Security of a simulated cluster (`createCluster({ security })`). */
export interface SimulatedSecurityOptions {
  /** What a node's evidence is unless its credentials say otherwise. Default `hardware` (a {@link SimulatedTee}). */
  attestation?: JoinTrust;
  /** The least trust a joining node must earn. Default `software`. */
  minTrust?: JoinTrust;
  /** Refuse a join that did not come through the handshake. Default true. */
  requireAuthenticatedJoin?: boolean;
  /** How long a challenge may be answered (virtual ms). Default 2 000. */
  challengeTtlMs?: number;
  /** Validity of the certificates the cluster CA issues, from virtual time 0 (ms). Default 30 days. */
  certificateValidityMs?: number;
  /**
   * How workers sign their task proofs with their node keys: one signature
   * per proof (`each`), one per reported batch (`batch`, the default), or
   * not at all (`off`). Verify with `verifyProof` against {@link SimulatedSecurity.ca}.
   */
  proofSigning?: ProofSigningMode;
}

/** What a node presents to join, made by {@link SimulatedSecurity.credentials}. */
export interface CredentialOptions {
  /** Sign with this CA instead of the cluster's (a "wrong CA"). */
  ca?: CertificateAuthority;
  /** The key the certificate binds (default: the node's, derived from the seed). */
  identity?: NodeIdentity;
  /** The key that answers the challenge (default: the certificate's). */
  signer?: NodeIdentity;
  notBefore?: number;
  notAfter?: number;
  /** Change the certificate's bytes after signing (a forged or damaged certificate). */
  tamper?: (der: Uint8Array) => Uint8Array;
  /** `hardware`, `software`, `none`, or a TEE of another platform or TCB status. */
  attestation?: JoinTrust | SimulatedTee;
  /** The name the certificate binds (default: the node's id). */
  name?: string;
}

const DAY_MS = 86_400_000;

/**
 * The security world of a simulated cluster, deterministic from its seed:
 * the cluster CA, one TEE vendor and its platforms, each node's identity
 * and certificate, and the checks a member runs on a node that asks to
 * join. Real mode builds the same {@link NodeSecurity} from files.
 */
export class SimulatedSecurity {
  readonly ca: CertificateAuthority;
  readonly tee: SimulatedTee;
  readonly verifier: AttestationVerifier;
  readonly options: Required<SimulatedSecurityOptions>;

  constructor(
    readonly seed: number,
    options: SimulatedSecurityOptions = {},
  ) {
    this.options = {
      attestation: options.attestation ?? 'hardware',
      minTrust: options.minTrust ?? 'software',
      requireAuthenticatedJoin: options.requireAuthenticatedJoin ?? true,
      challengeTtlMs: options.challengeTtlMs ?? 2_000,
      certificateValidityMs: options.certificateValidityMs ?? 30 * DAY_MS,
      proofSigning: options.proofSigning ?? 'batch',
    };
    if (!PROOF_SIGNING_MODES.includes(this.options.proofSigning)) throw new TypeError(`security.proofSigning must be 'each', 'batch' or 'off', got ${String(this.options.proofSigning)}`);
    for (const k of ['attestation', 'minTrust'] as const) {
      if (!['hardware', 'software', 'none'].includes(this.options[k])) throw new TypeError(`security.${k} must be 'hardware', 'software' or 'none', got ${String(this.options[k])}`);
    }
    this.ca = createCertificateAuthority(deriveIdentity(seed, 'cluster-ca', 'ca'), { name: 'Grey simulated cluster CA', notBefore: 0, notAfter: 10 * 365 * DAY_MS });
    this.tee = new SimulatedTee(seed);
    this.verifier = new DcapStyleVerifier({ vendorRoots: [this.tee.vendorRootPublicKey], measurements: [this.tee.measurement] });
  }

  /** A node's identity: derived from the seed and its name. */
  identity(name: string): NodeIdentity {
    return deriveIdentity(this.seed, name);
  }

  /** What node `id` signs its task proofs with: its derived identity, in the cluster's mode (`undefined` when signing is off). */
  proofSigner(id: string): ProofSigner | undefined {
    const mode = this.options.proofSigning;
    return mode === 'off' ? undefined : new ProofSigner(this.identity(id), mode);
  }

  /** Another TEE platform of the same vendor (its own attestation key), with options such as a revoked TCB. */
  platform(name: string, options: Omit<SimulatedTeeOptions, 'platformName'> = {}): SimulatedTee {
    return new SimulatedTee(this.seed, { ...options, platformName: name });
  }

  /** A CA the cluster does not trust, for tests. */
  foreignCa(name = 'someone else'): CertificateAuthority {
    return createCertificateAuthority(deriveIdentity(this.seed, name, 'foreign-ca'), { name, notBefore: 0, notAfter: 10 * 365 * DAY_MS });
  }

  /** What node `id` presents to join: a certificate from the cluster CA (or as `o` says) and evidence bound to each nonce. */
  credentials(id: string, o: CredentialOptions = {}): JoinCredentials {
    const identity = o.identity ?? this.identity(id);
    const signer = o.signer ?? identity;
    const attestation = o.attestation ?? this.options.attestation;
    const tee = attestation instanceof SimulatedTee ? attestation : this.tee;
    const trust: JoinTrust = attestation instanceof SimulatedTee ? 'hardware' : attestation;
    const issued = issueNodeCertificate(o.ca ?? this.ca, {
      role: 'node',
      name: o.name ?? id,
      publicKey: identity.publicKey,
      notBefore: o.notBefore ?? 0,
      notAfter: o.notAfter ?? this.options.certificateValidityMs,
      claims: { attestation: trust, ...(trust !== 'none' ? { measurement: tee.measurement } : {}) },
    });
    const certificate = o.tamper ? o.tamper(Uint8Array.from(issued.der)) : issued.der;
    return {
      certificate,
      sign: (data) => signBytes(signer, data),
      // Made when challenged: a quote's TCB info is dated by the node's clock then.
      evidence: (nonce, now) => {
        if (trust === 'hardware') return tee.quote(nonce, identity.publicKey, now);
        if (trust === 'software') return softwareEvidence(signer, tee.measurement, nonce);
        return { kind: 'none' };
      },
    };
  }

  /** The identity founding member `id` is recorded with. */
  founderIdentity(id: string): MemberIdentity {
    const identity = this.identity(id);
    return { fingerprint: identity.fingerprint, trust: this.options.attestation, measurement: this.tee.measurement, certificateNotAfter: this.options.certificateValidityMs };
  }

  /** Checks a certificate against the cluster CA at `now`: expiry, signature, trusted issuer. */
  checkCertificate(der: Uint8Array, now: number): CheckedCertificate {
    const c = validateCertificate(der, { trusted: [this.ca], now });
    return { role: c.subject.role, name: c.subject.name, publicKey: c.publicKey, fingerprint: c.fingerprint, notAfter: c.notAfter };
  }

  /** What node `id` runs with: the checks on joining nodes, its credentials, and (for founders) the policy and founding identities. */
  nodeSecurity(id: string, credentials: JoinCredentials | undefined, founders: readonly string[]): NodeSecurity {
    const creds = credentials ?? this.credentials(id);
    return {
      checkCertificate: (der, at) => this.checkCertificate(der, at),
      verifyEvidence: (evidence, ctx) => this.verifier.verify(evidence, ctx),
      verifySignature,
      limits: { challengeTtlMs: this.options.challengeTtlMs },
      credentials: creds,
      policy: { minTrust: this.options.minTrust, requireAuthenticatedJoin: this.options.requireAuthenticatedJoin },
      founders: Object.fromEntries(founders.map((f) => [f, this.founderIdentity(f)])),
    };
  }
}
