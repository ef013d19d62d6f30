import type { RandomSource } from '../system/random.js';
import { trustAtLeast, type TrustLevel } from './attestation.js';
import { lengthPrefixed } from './domainEncoding.js';
import { FifoMap } from './fifoMap.js';

/** How much a member's identity is trusted, from its attestation: hardware > software > none. */
export type JoinTrust = TrustLevel;

// Wire message types of the handshake (non-members may send the first two).
export const JOIN_HELLO = 'grey.join.hello';
export const JOIN_CHALLENGE = 'grey.join.challenge';
export const JOIN_EVIDENCE = 'grey.join.evidence';
export const JOIN_RESULT = 'grey.join.result';

/** 1. The joining node presents its certificate (DER), and where its peers can reach it (`host:port`, real mode). */
export interface JoinHello {
  certificate: Uint8Array;
  address?: string;
}
/** 2. The member's challenge: a single-use nonce, good until `expiresAt` (the member's clock). */
export interface JoinChallenge {
  nonce: Uint8Array;
  expiresAt: number;
}
/** 3. Attestation evidence bound to the nonce, and the node's signature over it (proof that it holds the certificate's key). */
export interface JoinEvidence {
  nonce: Uint8Array;
  evidence: unknown;
  signature: Uint8Array;
}
/** 4. The verdict: into the approval workflow, or refused with a code. */
export type JoinResult = { ok: true; status: 'pendingApproval'; trust: JoinTrust } | { ok: false; code: JoinRejectionCode; reason: string };

/** Why a join was refused. Certificate and attestation codes are passed through from their checks. */
export type JoinRejectionCode =
  | 'Malformed'
  | 'Expired'
  | 'NotYetValid'
  | 'BadSignature'
  | 'UntrustedIssuer'
  | 'Revoked'
  | 'NotANode'
  | 'NameMismatch'
  | 'NameTaken'
  | 'UnknownChallenge'
  | 'ReplayedNonce'
  | 'ChallengeExpired'
  | 'BadProof'
  | 'InsufficientTrust'
  | 'Busy'
  | (string & {});

/** The identity a member joined with, recorded in its replicated member record. */
export interface MemberIdentity {
  /** Hex SHA-256 of the raw Ed25519 public key. */
  fingerprint: string;
  trust: JoinTrust;
  /** The attested code measurement (hex), when attested. */
  measurement?: string;
  /** When the certificate it joined with expires (ms, the cluster's clock). */
  certificateNotAfter: number;
}

/** A presented certificate, checked: what the handshake needs of it. */
export interface CheckedCertificate {
  role: string;
  name: string;
  publicKey: Uint8Array;
  fingerprint: string;
  notAfter: number;
}

/** An attestation verifier's verdict (see `actors/attestation.ts`). */
export type AttestationOutcome = { ok: true; trust: JoinTrust; measurement: string } | { ok: false; code: string; reason: string };

/** What the authenticator asks of the replicated state. */
export interface JoinMembershipView {
  /** The member record of `name`, if any. */
  member(name: string): { status: string; identity?: MemberIdentity } | undefined;
  /** Why `name` or its key is blocked (revoked), or null. */
  blocked(name: string, fingerprint: string): string | null;
  /** The cluster policy's minimum trust level for a joining node. */
  minTrust(): JoinTrust;
}

/** One verdict of the handshake, for the audit log. */
export interface JoinVerdict {
  at: number;
  from: string;
  name: string | null;
  step: 'hello' | 'evidence';
  outcome: 'challenged' | 'accepted' | 'rejected';
  code: string | null;
  reason: string;
  fingerprint: string | null;
}

export interface JoinAuthenticatorDeps {
  clock: { now(): number };
  random: RandomSource;
  /** Checks a certificate in the seed's order (expiry, signature, trusted issuer, revocation); throws an error with a `code` when it fails. */
  checkCertificate(der: Uint8Array, now: number): CheckedCertificate;
  /** Verifies attestation evidence against the nonce and the node's key. */
  verifyEvidence(evidence: unknown, ctx: { nonce: Uint8Array; publicKey: Uint8Array; name: string; now: number }): AttestationOutcome;
  /** Ed25519 verification that never throws. */
  verifySignature(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  membership: JoinMembershipView;
  /** A node passed every check: propose its join (the approval workflow follows), with the address it gave. */
  admit(name: string, identity: MemberIdentity, address: string | undefined): void;
  onVerdict?(v: JoinVerdict): void;
}

/** Limits of the authenticator; every table is bounded. */
export interface JoinAuthenticatorLimits {
  /** How long a challenge may be answered, ms. */
  challengeTtlMs: number;
  /** Challenges outstanding at once (a flood of hellos is refused `Busy` past it). */
  maxPending: number;
  /** Used nonces remembered, to tell a replay from a nonce never issued. */
  maxUsed: number;
}

export const DEFAULT_JOIN_LIMITS: Readonly<JoinAuthenticatorLimits> = Object.freeze({ challengeTtlMs: 2_000, maxPending: 256, maxUsed: 4_096 });

const NONCE_BYTES = 32;

/** The bytes a joining node signs to answer a challenge: a domain tag, its name and the nonce, length-prefixed. */
export function joinProofBytes(name: string, nonce: Uint8Array): Uint8Array {
  return lengthPrefixed('grey/join-proof/v1', name, nonce);
}

interface Pending {
  from: string;
  cert: CheckedCertificate;
  expiresAt: number;
  address: string | undefined;
}

/**
 * A member's side of the join handshake: checks the certificate a
 * joining node presents, challenges it with a single-use nonce that
 * expires, checks the attestation evidence and the node's signature over
 * that nonce, applies the cluster's trust policy, and admits the node into
 * the approval workflow. Every verdict is reported for the audit log.
 * Synchronous and deterministic: time and nonces come from the node's
 * clock and random source.
 */
export class JoinAuthenticator {
  /** Outstanding challenges by nonce (hex), oldest first: all live as long, so also in order of expiry. */
  private readonly pending = new Map<string, Pending>();
  private readonly used: FifoMap<string, string>;
  /** Challenges that expired unanswered (nonce → expiry), to say so when an answer comes late. */
  private readonly lapsed: FifoMap<string, number>;
  private readonly limits: JoinAuthenticatorLimits;

  constructor(
    private readonly deps: JoinAuthenticatorDeps,
    limits: Partial<JoinAuthenticatorLimits> = {},
  ) {
    this.limits = { ...DEFAULT_JOIN_LIMITS, ...limits };
    for (const k of ['challengeTtlMs', 'maxPending', 'maxUsed'] as const) {
      if (!Number.isInteger(this.limits[k]) || this.limits[k] < 1) throw new RangeError(`join limit ${k} must be an integer ≥ 1, got ${this.limits[k]}`);
    }
    this.used = new FifoMap(this.limits.maxUsed);
    this.lapsed = new FifoMap(this.limits.maxUsed);
  }

  /** Challenges outstanding. */
  get pendingChallenges(): number {
    return this.pending.size;
  }

  /** Step 1 → 2: a certificate presented by `from`; answers a challenge or a refusal. */
  hello(from: string, msg: unknown): JoinChallenge | Extract<JoinResult, { ok: false }> {
    const now = this.deps.clock.now();
    this.expire(now);
    const der = (msg as JoinHello | null)?.certificate;
    const address = (msg as JoinHello | null)?.address;
    if (address !== undefined && (typeof address !== 'string' || address.length === 0 || address.length > 256)) {
      return this.refuse(now, from, null, 'hello', 'Malformed', 'the address must be a host:port string', null);
    }
    if (!(der instanceof Uint8Array)) return this.refuse(now, from, null, 'hello', 'Malformed', 'a hello carries the certificate as DER bytes', null);
    let cert: CheckedCertificate;
    try {
      cert = this.deps.checkCertificate(der, now);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      return this.refuse(now, from, null, 'hello', typeof e?.code === 'string' ? e.code : 'Malformed', String(e?.message ?? err), null);
    }
    const fp = cert.fingerprint;
    if (cert.role !== 'node') return this.refuse(now, from, cert.name, 'hello', 'NotANode', `a ${cert.role} certificate cannot join as a node`, fp);
    if (cert.name !== from) return this.refuse(now, from, cert.name, 'hello', 'NameMismatch', `the certificate names ${cert.name}, the sender is ${from}`, fp);
    const blocked = this.deps.membership.blocked(cert.name, fp);
    if (blocked !== null) return this.refuse(now, from, cert.name, 'hello', 'Revoked', blocked, fp);
    const taken = this.collision(cert);
    if (taken !== null) return this.refuse(now, from, cert.name, 'hello', 'NameTaken', taken, fp);
    if (this.pending.size >= this.limits.maxPending) return this.refuse(now, from, cert.name, 'hello', 'Busy', `${this.pending.size} challenges outstanding; try again`, fp);
    const nonce = this.deps.random.bytes(NONCE_BYTES);
    const expiresAt = now + this.limits.challengeTtlMs;
    this.pending.set(hex(nonce), { from, cert, expiresAt, address });
    this.report({ at: now, from, name: cert.name, step: 'hello', outcome: 'challenged', code: null, reason: `challenged until ${expiresAt}`, fingerprint: fp });
    return { nonce, expiresAt };
  }

  /** Step 3 → 4: evidence answering a challenge; answers the verdict. */
  evidence(from: string, msg: unknown): JoinResult {
    const now = this.deps.clock.now();
    const m = msg as JoinEvidence | null;
    if (!(m?.nonce instanceof Uint8Array) || !(m.signature instanceof Uint8Array)) {
      return this.refuse(now, from, null, 'evidence', 'Malformed', 'evidence carries the nonce and a signature as bytes', null);
    }
    const key = hex(m.nonce);
    const p = this.pending.get(key);
    if (p === undefined || p.from !== from) {
      const usedBy = this.used.get(key);
      if (usedBy !== undefined) return this.refuse(now, from, null, 'evidence', 'ReplayedNonce', `nonce ${key.slice(0, 12)}… was answered already (by ${usedBy}); a challenge is good once`, null);
      const lapsedAt = this.lapsed.get(key);
      if (lapsedAt !== undefined) return this.refuse(now, from, null, 'evidence', 'ChallengeExpired', `the challenge expired at ${lapsedAt} (now ${now})`, null);
      return this.refuse(now, from, null, 'evidence', 'UnknownChallenge', `no challenge ${key.slice(0, 12)}… was issued to ${from}`, null);
    }
    // Single use, whatever the outcome.
    this.pending.delete(key);
    this.used.set(key, from);
    const { cert } = p;
    const fp = cert.fingerprint;
    if (now > p.expiresAt) return this.refuse(now, from, cert.name, 'evidence', 'ChallengeExpired', `the challenge expired at ${p.expiresAt} (now ${now})`, fp);
    if (!this.deps.verifySignature(cert.publicKey, joinProofBytes(cert.name, m.nonce), m.signature)) {
      return this.refuse(now, from, cert.name, 'evidence', 'BadProof', "the signature over the nonce does not verify with the certificate's key", fp);
    }
    const verdict = this.deps.verifyEvidence(m.evidence, { nonce: m.nonce, publicKey: cert.publicKey, name: cert.name, now });
    if (!verdict.ok) return this.refuse(now, from, cert.name, 'evidence', verdict.code, verdict.reason, fp);
    const min = this.deps.membership.minTrust();
    if (!trustAtLeast(verdict.trust, min)) {
      return this.refuse(now, from, cert.name, 'evidence', 'InsufficientTrust', `${verdict.trust} attestation, the cluster requires ${min}`, fp);
    }
    // The state may have moved while the node answered: check again.
    const blocked = this.deps.membership.blocked(cert.name, fp);
    if (blocked !== null) return this.refuse(now, from, cert.name, 'evidence', 'Revoked', blocked, fp);
    const taken = this.collision(cert);
    if (taken !== null) return this.refuse(now, from, cert.name, 'evidence', 'NameTaken', taken, fp);
    const identity: MemberIdentity = { fingerprint: fp, trust: verdict.trust, measurement: verdict.measurement, certificateNotAfter: cert.notAfter };
    this.deps.admit(cert.name, identity, p.address);
    this.report({ at: now, from, name: cert.name, step: 'evidence', outcome: 'accepted', code: null, reason: `${verdict.trust} attestation, measurement ${verdict.measurement.slice(0, 12)}…`, fingerprint: fp });
    return { ok: true, status: 'pendingApproval', trust: verdict.trust };
  }

  /** Why `cert`'s name is taken by another member, or null: a live member of that name holds another key (or none recorded). */
  private collision(cert: CheckedCertificate): string | null {
    const m = this.deps.membership.member(cert.name);
    if (m === undefined || m.status === 'removed' || m.status === 'rejected') return null;
    if (m.identity?.fingerprint === cert.fingerprint) return null; // the same node again
    const held = m.identity ? `key ${m.identity.fingerprint.slice(0, 12)}…` : 'its founding identity';
    return `${cert.name} is a ${m.status} member with ${held}; this certificate's key is ${cert.fingerprint.slice(0, 12)}…`;
  }

  private expire(now: number): void {
    for (const [key, p] of this.pending) {
      if (p.expiresAt >= now) return;
      this.pending.delete(key);
      this.lapsed.set(key, p.expiresAt);
    }
  }

  private refuse(now: number, from: string, name: string | null, step: JoinVerdict['step'], code: string, reason: string, fingerprint: string | null): Extract<JoinResult, { ok: false }> {
    this.report({ at: now, from, name, step, outcome: 'rejected', code, reason, fingerprint });
    return { ok: false, code, reason };
  }

  private report(v: JoinVerdict): void {
    this.deps.onVerdict?.(v);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

