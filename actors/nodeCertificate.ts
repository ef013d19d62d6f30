/**
 * X.509 certificates of Grey nodes, clients and operators, issued
 * synchronously and deterministically.
 *
 * Why synchronous: the simulation makes its certificates from the seed,
 * inside virtual time, where nothing may await WebCrypto. The
 * TBSCertificate is built with @peculiar/asn1-x509 (serialising is
 * synchronous), signed with node:crypto's Ed25519 (deterministic: the same
 * inputs give the same DER, byte for byte) and assembled into the
 * Certificate DER. The result is an ordinary X.509 v3 certificate: node:crypto
 * and OpenSSL (mutual TLS), and @peculiar/x509, read it.
 *
 * A certificate binds its name as Grey's TLS certificates always have: a
 * SAN URI `grey://<role>/<name>` (what peers check), a DNS SAN equal to the
 * name for nodes, subject `CN=<name>, OU=<role>`, and key usages for both
 * ends of a TLS connection, so one certificate serves mutual TLS and the
 * join protocol. What the CA verified of the holder's attestation rides in
 * a non-critical extension ({@link AttestationClaims}).
 *
 * Times are milliseconds since the epoch (virtual in simulation, where they
 * start at 0, i.e. 1970). X.509 keeps whole seconds: both bounds are rounded
 * down to the second when issued.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Time,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { TRUST_LEVELS, type TrustLevel } from './attestation.js';
import { canonicalJson, isWellFormed } from './canonical.js';
import { bytesToHex, hexToBytes, lengthPrefixed } from './domainEncoding.js';
import { identityFromPrivateKey, publicKeyFingerprint, publicKeyObject, verifySignature, type NodeIdentity } from './nodeIdentity.js';

/** What a certificate is for: a cluster node, a client, or an operator (a client allowed membership and quota commands). */
export type CertificateRole = 'node' | 'client' | 'operator';

const ROLES: readonly CertificateRole[] = ['node', 'client', 'operator'];

/** The URI a certificate binds its name with: `grey://node/n1`, `grey://client/app`, `grey://operator/alice`. */
export function identityUri(role: CertificateRole, name: string): string {
  return `grey://${role}/${encodeURIComponent(name)}`;
}

/**
 * What the CA verified of the holder's attestation when it issued the
 * certificate (Grey's canonical JSON, in a non-critical extension).
 */
export interface AttestationClaims {
  /** The trust level the evidence earned: `hardware` (a TEE quote), `software` (self-signed measurement: proves little), or `none`. */
  attestation: TrustLevel;
  /** The measurement attested (lower-case hex, like MRENCLAVE), when there was one. */
  measurement?: string;
  /** When (ms) the CA verified the evidence. */
  verifiedAt?: number;
}

/**
 * OID of the attestation-claims extension. Under 2.25 (ITU-T X.667: an OID
 * made from a UUID, no registration needed): the UUID
 * ecb2c424-e2b9-438e-b88b-55d503822472, generated once for Grey, as a
 * decimal integer, then arc 1 = "attestation claims, canonical JSON, v1".
 * A new format gets a new arc, never a reuse of this one.
 */
export const ATTESTATION_CLAIMS_OID = '2.25.314626014120723094091638660961820353650.1';

/** Why a certificate was refused, or could not be made. */
export type CertificateErrorCode =
  /** Not a certificate: bad PEM, bad DER, missing or contradictory fields, bad claims. */
  | 'Malformed'
  /** A well-formed certificate Grey does not handle: another key or signature algorithm, an unknown critical extension. */
  | 'Unsupported'
  /** `now` is after its notAfter. */
  | 'Expired'
  /** `now` is before its notBefore. */
  | 'NotYetValid'
  /** Its signature does not verify with the key of the issuer it names. */
  | 'BadSignature'
  /** Signed by a CA the cluster does not trust (or by none it knows). */
  | 'UntrustedIssuer'
  /** Its key or name is blocked. */
  | 'Revoked'
  /** It does not bind the role and name expected. */
  | 'NameMismatch'
  /** An issue request that cannot be honoured (bad name, key, times, serial, or a CA key that is not the CA's). */
  | 'InvalidRequest';

/** A certificate was refused, or could not be made; `code` says why. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(
    readonly code: CertificateErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A cluster certificate authority: its identity (key) and its self-signed certificate. */
export interface CertificateAuthority {
  readonly identity: NodeIdentity;
  readonly name: string;
  readonly der: Uint8Array;
  readonly pem: string;
  /** The certificate, parsed (validation uses it without parsing again). */
  readonly certificate: ParsedCertificate;
}

/** An issued certificate: DER and PEM. */
export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
}

/** The subject of a certificate: a role and name, or `ca` and the CA's name. */
export interface CertificateSubject {
  readonly role: CertificateRole | 'ca';
  readonly name: string;
}

/** A certificate's fields, as Grey reads them. */
export interface ParsedCertificate {
  /** From the first `grey://` SAN URI (for a CA: `ca` and its common name). */
  readonly subject: CertificateSubject;
  /** Every `grey://<role>/<name>` the certificate binds. */
  readonly names: ReadonlyArray<{ readonly role: CertificateRole; readonly name: string }>;
  /** DNS and IP SANs (for ordinary TLS clients). */
  readonly hosts: readonly string[];
  readonly isCa: boolean;
  /** The issuer's common name. */
  readonly issuer: string;
  /** Milliseconds since the epoch (whole seconds). */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Raw Ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Hex SHA-256 of the raw public key (the same as the holder's `NodeIdentity.fingerprint`): what revocation names. */
  readonly fingerprint: string;
  /** Hex SHA-256 of the whole certificate DER. */
  readonly certificateFingerprint: string;
  readonly claims: AttestationClaims | null;
  /** The serial number, lower-case hex without leading zeros. */
  readonly serial: string;
  /** Subject and authority key identifiers (hex), if present. */
  readonly subjectKeyId: string | null;
  readonly authorityKeyId: string | null;
  readonly der: Uint8Array;
  /** The signed bytes (TBSCertificate DER) and the signature, for validation. */
  readonly tbs: Uint8Array;
  readonly signature: Uint8Array;
  /** Hex DER of the subject and issuer names: how issuers are matched (exactly, not by a printed form). */
  readonly subjectNameKey: string;
  readonly issuerNameKey: string;
}

/** A certificate that passed {@link validateCertificate}. */
export interface ValidatedCertificate extends ParsedCertificate {
  /** Fingerprint of the trusted CA key that signed it. */
  readonly issuerFingerprint: string;
}

/**
 * A certificate or something to parse one from. A parsed certificate must
 * be one {@link parseCertificate} (or validation) returned in this process:
 * copies are refused (`Malformed`).
 */
export type CertificateInput = ParsedCertificate | Uint8Array | string;

/** What {@link validateCertificate} checks against. */
export interface ValidationOptions {
  /** The CAs the cluster trusts. A DER or PEM is parsed on every call: pass CertificateAuthority or ParsedCertificate values in hot paths. */
  readonly trusted: ReadonlyArray<CertificateAuthority | CertificateInput>;
  /** The time to check validity at (ms; virtual in simulation). */
  readonly now: number;
  /**
   * Issuer certificates presented with the certificate (a TLS chain). Used
   * to check the signature and to name the issuer in errors; they confer
   * no trust: Grey's CAs are roots with path length 0, so the issuer must
   * be one of `trusted`.
   */
  readonly issuerChain?: readonly CertificateInput[];
  /** Whether the key (by fingerprint) or name is blocked: a reason, or `null`. Replicated blocks feed it. */
  readonly isRevoked?: (fingerprint: string, name: string) => string | null;
}

/** Options of {@link createCertificateAuthority}. */
export interface CaOptions {
  name: string;
  notBefore: number;
  notAfter: number;
  /** Serial number, hex; default derived from the other inputs. */
  serial?: string;
}

/** What {@link issueNodeCertificate} certifies. */
export interface IssueRequest {
  role: CertificateRole;
  name: string;
  /** Raw Ed25519 public key of the holder (32 bytes). */
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  claims?: AttestationClaims;
  /** Serial number, hex; default derived from the other inputs (SHA-256, 16 bytes). */
  serial?: string;
  /** Extra DNS names or IP addresses (SANs) for ordinary TLS clients. */
  hosts?: readonly string[];
}

const ED25519_OID = '1.3.101.112';
const OID_CN = '2.5.4.3';
const OID_OU = '2.5.4.11';
/** Latest time X.509 can express (GeneralizedTime, year 9999). */
const MAX_TIME_MS = 253_402_300_799_000;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * @peculiar/asn1-schema reads an OID arc above 2^53 in a form of its own
 * (not decimal), so the claims extension is recognised by the form the
 * library gives our own OID back, computed once here.
 */
const CLAIMS_OID_AS_PARSED = AsnConvert.parse(AsnConvert.serialize(new Extension({ extnID: ATTESTATION_CLAIMS_OID, critical: false, extnValue: new OctetString(new Uint8Array(0)) })), Extension).extnID;

// ---------------------------------------------------------------- issuing

/**
 * A self-signed CA certificate for `identity`: subject `CN=<name>`,
 * BasicConstraints CA with path length 0 (it signs end certificates only),
 * KeyUsage keyCertSign and cRLSign.
 *
 * @throws CertificateError `InvalidRequest` for a bad name, times or serial.
 */
export function createCertificateAuthority(identity: NodeIdentity, options: CaOptions): CertificateAuthority {
  const name = checkName(options.name, 'CA name');
  const [notBefore, notAfter] = checkTimes(options.notBefore, options.notAfter);
  const subject = distinguishedName(name);
  const skid = keyIdentifier(identity.publicKey);
  const serial = serialBytes(options.serial, () => lengthPrefixed('grey/ca-serial/v1', identity.publicKey, name, notBefore, notAfter));
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: 0 })),
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(skid)),
  ];
  const issued = signCertificate(identity.privateKey, { serial, issuer: subject, subject, notBefore, notAfter, publicKey: identity.publicKey, extensions });
  return { identity, name, ...issued, certificate: parseCertificate(issued.der) };
}

/**
 * A CA from its certificate and private key (e.g. read from disk; a CA made
 * by an earlier Grey with @peculiar/x509 loads too).
 *
 * @throws CertificateError `Malformed` for a bad certificate, `InvalidRequest` if it is not a CA or the key is not its key.
 */
export function loadCertificateAuthority(cert: Uint8Array | string, privateKey: KeyObject | string): CertificateAuthority {
  const certificate = parseCertificate(cert);
  if (!certificate.isCa) throw new CertificateError('InvalidRequest', `loadCertificateAuthority: '${certificate.subject.name}' is not a CA certificate`);
  let identity: NodeIdentity;
  try {
    identity = identityFromPrivateKey(certificate.subject.name, privateKey);
  } catch (e) {
    throw new CertificateError('InvalidRequest', `loadCertificateAuthority: ${(e as Error).message}`);
  }
  if (identity.fingerprint !== certificate.fingerprint) throw new CertificateError('InvalidRequest', `loadCertificateAuthority: the private key is not the key of CA '${certificate.subject.name}'`);
  return { identity, name: certificate.subject.name, der: certificate.der, pem: toPem(certificate.der), certificate };
}

/**
 * A certificate for `name` in `role`, signed by the CA: subject
 * `CN=<name>, OU=<role>`, SAN URI `grey://<role>/<name>` (and DNS `<name>`
 * for a node, and `hosts`), KeyUsage digitalSignature, ExtKeyUsage
 * serverAuth and clientAuth, and the claims extension if `claims` is given.
 * Deterministic: the same CA and request give the same DER.
 *
 * @throws CertificateError `InvalidRequest` for a bad role, name, key, times, claims, host or serial.
 */
export function issueNodeCertificate(ca: CertificateAuthority, request: IssueRequest): IssuedCertificate {
  const role = request.role;
  if (!ROLES.includes(role)) throw new CertificateError('InvalidRequest', `issueNodeCertificate: role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(role)}`);
  const name = checkName(request.name, 'certificate name');
  if (publicKeyObject(request.publicKey) === null) throw new CertificateError('InvalidRequest', 'issueNodeCertificate: publicKey must be a raw 32-byte Ed25519 public key');
  const [notBefore, notAfter] = checkTimes(request.notBefore, request.notAfter);
  let claimsJson: string | null = null;
  if (request.claims !== undefined) {
    const problem = claimsProblem(request.claims);
    if (problem !== null) throw new CertificateError('InvalidRequest', `issueNodeCertificate: claims: ${problem}`);
    claimsJson = canonicalJson(request.claims);
  }
  const sans: GeneralName[] = [new GeneralName({ uniformResourceIdentifier: identityUri(role, name) })];
  const seen = new Set<string>();
  if (role === 'node') {
    sans.push(new GeneralName({ dNSName: name }));
    seen.add(name);
  }
  for (const host of request.hosts ?? []) {
    if (typeof host !== 'string' || host.length === 0 || !/^[\x21-\x7e]+$/.test(host)) throw new CertificateError('InvalidRequest', `issueNodeCertificate: hosts: each must be a non-empty host name or IP address, not ${JSON.stringify(host)}`);
    if (seen.has(host)) continue;
    seen.add(host);
    sans.push(new GeneralName(isIP(host) ? { iPAddress: host } : { dNSName: host }));
  }
  const caKey = ca.certificate.subjectKeyId ?? bytesToHex(keyIdentifier(ca.identity.publicKey));
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
    extension(id_ce_subjectAltName, false, new SubjectAlternativeName(sans)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(request.publicKey))),
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(hexToBytes(caKey)!) })),
  ];
  if (claimsJson !== null) extensions.push(extension(ATTESTATION_CLAIMS_OID, false, new OctetString(utf8.encode(claimsJson))));
  const serial = serialBytes(request.serial, () =>
    lengthPrefixed('grey/certificate-serial/v1', ca.identity.publicKey, role, name, request.publicKey, notBefore, notAfter, claimsJson ?? '', lengthPrefixed(...seen)),
  );
  const issuer = AsnConvert.parse(hexToBytes(ca.certificate.subjectNameKey)!, Name);
  return signCertificate(ca.identity.privateKey, { serial, issuer, subject: distinguishedName(name, role), notBefore, notAfter, publicKey: request.publicKey, extensions });
}

/**
 * A successor of `oldCert` for a new key: same role, name, claims and
 * hosts, new validity. The old certificate is not revoked: it stays valid
 * until its notAfter, so during the overlap both are accepted and holders
 * can switch over without a gap. (Block the old key through revocation if
 * it was compromised.)
 *
 * @throws CertificateError `UntrustedIssuer` if `oldCert` was not issued by this CA, `InvalidRequest` if it is a CA certificate or the request is bad.
 */
export function rotateCertificate(ca: CertificateAuthority, oldCert: CertificateInput, newPublicKey: Uint8Array, validity: { notBefore: number; notAfter: number }): IssuedCertificate {
  const old = asParsed(oldCert);
  if (old.isCa || old.subject.role === 'ca') throw new CertificateError('InvalidRequest', 'rotateCertificate: a CA certificate is not rotated here: create a new CA');
  if (old.issuerNameKey !== ca.certificate.subjectNameKey || !verifySignature(ca.identity.publicKey, old.tbs, old.signature)) {
    throw new CertificateError('UntrustedIssuer', `rotateCertificate: the certificate of '${old.subject.name}' was not issued by CA '${ca.name}'`);
  }
  const role = old.subject.role;
  const hosts = old.hosts.filter((h) => !(role === 'node' && h === old.subject.name));
  return issueNodeCertificate(ca, { role, name: old.subject.name, publicKey: newPublicKey, notBefore: validity.notBefore, notAfter: validity.notAfter, hosts, ...(old.claims ? { claims: old.claims } : {}) });
}

// ---------------------------------------------------------------- parsing

/**
 * Reads a certificate from DER bytes or PEM.
 *
 * @throws CertificateError `Malformed` for anything that is not a well-formed certificate (never another exception), `Unsupported` for a well-formed one Grey does not handle.
 */
export function parseCertificate(input: Uint8Array | string): ParsedCertificate {
  try {
    return parseDer(typeof input === 'string' ? fromPem(input) : input);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError('Malformed', `not a certificate: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parseDer(input: Uint8Array): ParsedCertificate {
  if (!(input instanceof Uint8Array)) throw new CertificateError('Malformed', 'not a certificate: expected DER bytes or a PEM string');
  const der = Uint8Array.from(input); // a copy: the caller's buffer may change later
  if (derLength(der) !== der.length) throw new CertificateError('Malformed', 'not a certificate: the DER is not one complete SEQUENCE (truncated, or bytes after it)');
  const cert = AsnConvert.parse(der, Certificate);
  const tbs = cert.tbsCertificate;
  if (!cert.tbsCertificateRaw) throw new CertificateError('Malformed', 'not a certificate: no TBSCertificate bytes');
  if (tbs.version !== Version.v3) throw new CertificateError('Unsupported', `certificate version ${tbs.version + 1}: Grey reads X.509 v3 only`);
  for (const alg of [cert.signatureAlgorithm, tbs.signature]) {
    if (alg.algorithm !== ED25519_OID || alg.parameters != null) throw new CertificateError('Unsupported', `signature algorithm ${alg.algorithm}: Grey certificates are signed with Ed25519 (${ED25519_OID})`);
  }
  const spki = tbs.subjectPublicKeyInfo;
  if (spki.algorithm.algorithm !== ED25519_OID || spki.algorithm.parameters != null) throw new CertificateError('Unsupported', `key algorithm ${spki.algorithm.algorithm}: Grey keys are Ed25519`);
  const publicKey = new Uint8Array(spki.subjectPublicKey.slice(0));
  if (publicKey.length !== 32) throw new CertificateError('Malformed', `an Ed25519 public key has 32 bytes, not ${publicKey.length}`);
  const signature = new Uint8Array(cert.signatureValue.slice(0));
  if (signature.length !== 64) throw new CertificateError('Malformed', `an Ed25519 signature has 64 bytes, not ${signature.length}`);
  const notBefore = tbs.validity.notBefore.getTime().getTime();
  const notAfter = tbs.validity.notAfter.getTime().getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new CertificateError('Malformed', 'not a certificate: an unreadable validity time');

  let isCa = false;
  let claims: AttestationClaims | null = null;
  let subjectKeyId: string | null = null;
  let authorityKeyId: string | null = null;
  const names: Array<{ role: CertificateRole; name: string }> = [];
  const hosts: string[] = [];
  const seen = new Set<string>();
  for (const ext of tbs.extensions ?? []) {
    if (seen.has(ext.extnID)) throw new CertificateError('Malformed', `extension ${ext.extnID} appears twice`);
    seen.add(ext.extnID);
    const value = ext.extnValue.buffer;
    switch (ext.extnID) {
      case id_ce_basicConstraints:
        isCa = AsnConvert.parse(value, BasicConstraints).cA === true;
        break;
      case id_ce_subjectKeyIdentifier:
        subjectKeyId = bytesToHex(new Uint8Array(AsnConvert.parse(value, SubjectKeyIdentifier).buffer));
        break;
      case id_ce_authorityKeyIdentifier: {
        const aki = AsnConvert.parse(value, AuthorityKeyIdentifier).keyIdentifier;
        authorityKeyId = aki ? bytesToHex(new Uint8Array(aki.buffer)) : null;
        break;
      }
      case id_ce_subjectAltName:
        for (const gn of AsnConvert.parse(value, SubjectAlternativeName)) {
          if (gn.dNSName !== undefined) hosts.push(gn.dNSName);
          else if (gn.iPAddress !== undefined) hosts.push(gn.iPAddress);
          else if (gn.uniformResourceIdentifier !== undefined) {
            const m = /^grey:\/\/(node|client|operator)\/(.+)$/.exec(gn.uniformResourceIdentifier);
            if (m) names.push({ role: m[1] as CertificateRole, name: decodeName(m[2]) });
          }
        }
        break;
      // Read to check they are well-formed; TLS enforces the usages themselves.
      case id_ce_keyUsage:
        AsnConvert.parse(value, KeyUsage);
        break;
      case id_ce_extKeyUsage:
        AsnConvert.parse(value, ExtendedKeyUsage);
        break;
      case CLAIMS_OID_AS_PARSED:
        claims = readClaims(value);
        break;
      default:
        if (ext.critical) throw new CertificateError('Unsupported', `unknown critical extension ${ext.extnID}`);
    }
  }
  const subjectAttrs = attributes(tbs.subject);
  const commonName = subjectAttrs.get(OID_CN);
  let subject: CertificateSubject;
  if (isCa) {
    if (commonName === undefined) throw new CertificateError('Malformed', 'a CA certificate without a common name');
    subject = { role: 'ca', name: commonName };
  } else if (names.length > 0) {
    subject = names[0];
  } else {
    const ou = subjectAttrs.get(OID_OU);
    if (commonName === undefined || !ROLES.includes(ou as CertificateRole)) throw new CertificateError('Malformed', 'the certificate binds no grey:// name (no SAN URI, and no CN with an OU that is a role)');
    subject = { role: ou as CertificateRole, name: commonName };
  }
  return brand({
    subject,
    names,
    hosts,
    isCa,
    issuer: attributes(tbs.issuer).get(OID_CN) ?? '',
    notBefore,
    notAfter,
    publicKey,
    fingerprint: publicKeyFingerprint(publicKey),
    certificateFingerprint: createHash('sha256').update(der).digest('hex'),
    claims,
    serial: serialHex(new Uint8Array(tbs.serialNumber)),
    subjectKeyId,
    authorityKeyId,
    der,
    tbs: new Uint8Array(cert.tbsCertificateRaw.slice(0)),
    signature,
    subjectNameKey: bytesToHex(new Uint8Array(AsnConvert.serialize(tbs.subject))),
    issuerNameKey: bytesToHex(new Uint8Array(AsnConvert.serialize(tbs.issuer))),
  });
}

// ---------------------------------------------------------------- validation

/**
 * Checks a certificate, in this order, throwing the first failure:
 * 1. `Expired` (now > notAfter) or `NotYetValid` (now < notBefore);
 * 2. `BadSignature`: the signature does not verify with the key of the
 *    issuer it names (a trusted CA with that name and key identifier, or
 *    an issuer certificate presented in `issuerChain`);
 * 3. `UntrustedIssuer`: the issuer is not a CA the cluster trusts (a
 *    "wrong CA", however self-consistent), or the trusted CA's own
 *    certificate is not valid at `now`;
 * 4. `Revoked`: `isRevoked` names a reason.
 * A certificate given as bytes or PEM may first fail with `Malformed` or `Unsupported`.
 */
export function validateCertificate(cert: CertificateInput, options: ValidationOptions): ValidatedCertificate {
  const c = asParsed(cert);
  const now = options.now;
  if (typeof now !== 'number' || Number.isNaN(now)) throw new CertificateError('InvalidRequest', 'validateCertificate: now must be a number (ms)');
  if (now > c.notAfter) throw new CertificateError('Expired', `the certificate of ${describe(c)} expired at ${iso(c.notAfter)} (now ${iso(now)})`);
  if (now < c.notBefore) throw new CertificateError('NotYetValid', `the certificate of ${describe(c)} is not valid before ${iso(c.notBefore)} (now ${iso(now)})`);

  const trusted = options.trusted.map((t, i) => trustedCertificate(t, i));
  const presented = (options.issuerChain ?? []).map((t) => asParsed(t));
  const namesIssuer = (ca: ParsedCertificate) => ca.isCa && ca.subjectNameKey === c.issuerNameKey && (c.authorityKeyId === null || ca.subjectKeyId === null || ca.subjectKeyId === c.authorityKeyId);
  const candidates: Array<{ ca: ParsedCertificate; trusted: boolean }> = [
    ...trusted.filter(namesIssuer).map((ca) => ({ ca, trusted: true })),
    ...presented.filter(namesIssuer).map((ca) => ({ ca, trusted: false })),
  ];
  // A self-issued certificate names itself: its signature can still be checked.
  if (c.subjectNameKey === c.issuerNameKey) candidates.push({ ca: c, trusted: false });
  if (candidates.length === 0) throw new CertificateError('UntrustedIssuer', `the certificate of ${describe(c)} is issued by '${c.issuer}', which is not a CA this cluster trusts (and no issuer certificate was presented)`);
  const signer = candidates.find(({ ca }) => verifySignature(ca.publicKey, c.tbs, c.signature));
  if (signer === undefined) throw new CertificateError('BadSignature', `the signature on the certificate of ${describe(c)} does not verify with the key of its issuer '${c.issuer}'`);
  const trustedSigner = signer.trusted ? signer : candidates.find((k) => k.trusted && k.ca.fingerprint === signer.ca.fingerprint);
  if (trustedSigner === undefined) {
    const by = signer.ca === c ? 'itself (self-signed)' : `'${signer.ca.subject.name}' (key ${signer.ca.fingerprint.slice(0, 16)}…)`;
    throw new CertificateError('UntrustedIssuer', `the certificate of ${describe(c)} is signed by ${by}, which this cluster does not trust`);
  }
  const ca = trustedSigner.ca;
  if (now > ca.notAfter || now < ca.notBefore) throw new CertificateError('UntrustedIssuer', `the certificate of ${describe(c)} is signed by CA '${ca.subject.name}', whose own certificate is not valid now (${iso(ca.notBefore)} to ${iso(ca.notAfter)})`);

  const reason = options.isRevoked?.(c.fingerprint, c.subject.name) ?? null;
  if (reason !== null) throw new CertificateError('Revoked', `the certificate of ${describe(c)} is revoked: ${reason}`);
  return brand({ ...c, issuerFingerprint: ca.fingerprint });
}

/**
 * `cert` if it binds `grey://<role>/<name>`.
 *
 * @throws CertificateError `NameMismatch` otherwise.
 */
export function expectName<C extends ParsedCertificate>(cert: C, role: CertificateRole, name: string): C {
  if (!cert.names.some((n) => n.role === role && n.name === name)) {
    throw new CertificateError('NameMismatch', `expected a certificate for ${role} '${name}', got one for ${cert.names.map((n) => `${n.role} '${n.name}'`).join(', ') || `${cert.subject.role} '${cert.subject.name}'`}`);
  }
  return cert;
}

/** PEM of DER bytes with the given label (64-character lines). */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------- internals

interface TbsInputs {
  serial: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: number;
  notAfter: number;
  publicKey: Uint8Array;
  extensions: Extension[];
}

function signCertificate(signingKey: KeyObject, p: TbsInputs): IssuedCertificate {
  const algorithm = () => new AlgorithmIdentifier({ algorithm: ED25519_OID }); // RFC 8410: no parameters
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: arrayBuffer(p.serial),
    signature: algorithm(),
    issuer: p.issuer,
    validity: new Validity({ notBefore: new Date(p.notBefore), notAfter: new Date(p.notAfter) }),
    subject: p.subject,
    subjectPublicKeyInfo: new SubjectPublicKeyInfo({ algorithm: algorithm(), subjectPublicKey: arrayBuffer(p.publicKey) }),
    extensions: new Extensions(p.extensions),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = sign(null, tbs, signingKey);
  const der = new Uint8Array(AsnConvert.serialize(new Certificate({ tbsCertificate, signatureAlgorithm: algorithm(), signatureValue: arrayBuffer(signature) })));
  return { der, pem: toPem(der) };
}

function extension(oid: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** `CN=<name>` and, for an end certificate, `OU=<role>`, as UTF8Strings. */
function distinguishedName(name: string, role?: CertificateRole): Name {
  const rdn = (type: string, value: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name(role === undefined ? [rdn(OID_CN, name)] : [rdn(OID_CN, name), rdn(OID_OU, role)]);
}

function attributes(name: Name): Map<string, string> {
  const out = new Map<string, string>();
  for (const rdn of name) for (const atv of rdn) if (!out.has(atv.type)) out.set(atv.type, atv.value.toString());
  return out;
}

/** Key identifier: the leftmost 160 bits of SHA-256 of the raw key (RFC 7093, method 1). */
function keyIdentifier(publicKey: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(publicKey).digest().subarray(0, 20));
}

/**
 * The DER INTEGER content of a serial: the one given (hex), or 16 bytes of
 * SHA-256 of `inputs`, top bit cleared (positive) and the next set (so the
 * encoding is minimal and always 16 bytes).
 */
function serialBytes(given: string | undefined, inputs: () => Uint8Array): Uint8Array {
  if (given === undefined) {
    const b = Uint8Array.from(createHash('sha256').update(inputs()).digest().subarray(0, 16));
    b[0] = (b[0] & 0x7f) | 0x40;
    return b;
  }
  const raw = typeof given === 'string' ? hexToBytes(given.toLowerCase().length % 2 ? `0${given.toLowerCase()}` : given.toLowerCase()) : null;
  if (raw === null || raw.length === 0 || raw.length > 20) throw new CertificateError('InvalidRequest', `serial must be 1 to 20 bytes of hex, not ${JSON.stringify(given)}`);
  let start = 0;
  while (start < raw.length - 1 && raw[start] === 0) start++;
  const magnitude = raw.subarray(start);
  if (magnitude.length === 1 && magnitude[0] === 0) throw new CertificateError('InvalidRequest', 'serial must be positive, not 0');
  // DER INTEGER is two's complement: a magnitude with its top bit set needs a leading 0 to stay positive.
  return magnitude[0] & 0x80 ? Uint8Array.from([0, ...magnitude]) : Uint8Array.from(magnitude);
}

function serialHex(integer: Uint8Array): string {
  return bytesToHex(integer).replace(/^(00)+(?=.)/, '');
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256 || !isWellFormed(name)) throw new CertificateError('InvalidRequest', `a ${what} must be a non-empty, well-formed string of at most 256 characters, not ${JSON.stringify(name)}`);
  return name;
}

function checkTimes(notBefore: number, notAfter: number): [number, number] {
  for (const [label, t] of [['notBefore', notBefore], ['notAfter', notAfter]] as const) {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_TIME_MS) throw new CertificateError('InvalidRequest', `${label} must be ms since the epoch between 0 and year 9999, not ${String(t)}`);
  }
  // X.509 keeps whole seconds.
  const nb = Math.floor(notBefore / 1000) * 1000;
  const na = Math.floor(notAfter / 1000) * 1000;
  if (nb > na) throw new CertificateError('InvalidRequest', `notBefore (${iso(nb)}) is after notAfter (${iso(na)})`);
  return [nb, na];
}

/** Why `claims` are not valid {@link AttestationClaims}, or `null`. */
function claimsProblem(claims: unknown): string | null {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims) || Object.getPrototypeOf(claims) !== Object.prototype) return 'not a plain object';
  const c = claims as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!['attestation', 'measurement', 'verifiedAt'].includes(key)) return `unknown field '${key}'`;
  if (!TRUST_LEVELS.includes(c.attestation as TrustLevel)) return `attestation must be one of ${TRUST_LEVELS.join(', ')}`;
  if (c.measurement !== undefined && (typeof c.measurement !== 'string' || c.measurement.length === 0 || c.measurement.length > 128 || hexToBytes(c.measurement) === null)) return 'measurement must be lower-case hex, at most 64 bytes';
  if (c.verifiedAt !== undefined && (typeof c.verifiedAt !== 'number' || !Number.isFinite(c.verifiedAt) || c.verifiedAt < 0)) return 'verifiedAt must be a time in ms';
  return null;
}

function readClaims(extnValue: ArrayBuffer): AttestationClaims {
  const inner = new Uint8Array(AsnConvert.parse(extnValue, OctetString).buffer);
  let text: string;
  let value: unknown;
  try {
    text = utf8Strict.decode(inner);
    value = JSON.parse(text);
  } catch {
    throw new CertificateError('Malformed', 'the attestation claims extension is not JSON');
  }
  const problem = claimsProblem(value);
  if (problem !== null) throw new CertificateError('Malformed', `attestation claims: ${problem}`);
  // One encoding per value: a non-canonical form could hash or compare differently elsewhere.
  if (canonicalJson(value) !== text) throw new CertificateError('Malformed', 'attestation claims are not in canonical JSON');
  return value as AttestationClaims;
}

function trustedCertificate(t: CertificateAuthority | CertificateInput, i: number): ParsedCertificate {
  if (typeof t === 'object' && t !== null && !(t instanceof Uint8Array) && 'certificate' in t && 'identity' in t) return t.certificate;
  try {
    return asParsed(t as CertificateInput);
  } catch (e) {
    throw new CertificateError((e as CertificateError).code ?? 'Malformed', `trusted[${i}]: ${(e as Error).message}`);
  }
}

/**
 * Certificates this module parsed. Why: validation trusts a parsed
 * certificate's fields (its times, names, key) as read from the signed
 * bytes; an object built or edited elsewhere, or a copy that crossed the
 * wire, could pair genuine signed bytes with other fields. Such objects
 * are refused, and bytes are parsed again.
 */
const parsedHere = new WeakSet<object>();

function brand<C extends ParsedCertificate>(c: C): C {
  Object.freeze(c.names);
  Object.freeze(c.hosts);
  if (c.claims) Object.freeze(c.claims);
  parsedHere.add(Object.freeze(c));
  return c;
}

function asParsed(input: CertificateInput): ParsedCertificate {
  if (typeof input === 'string' || input instanceof Uint8Array) return parseCertificate(input);
  if (typeof input !== 'object' || input === null || !parsedHere.has(input)) {
    throw new CertificateError('Malformed', 'not a certificate: expected DER bytes, a PEM string, or a certificate parseCertificate returned (a copy or a hand-made object is not trusted: pass its DER)');
  }
  return input;
}

/** Length of the DER element at the start of `der` (header and content), or -1 if the header is not a definite-length SEQUENCE. */
function derLength(der: Uint8Array): number {
  if (der.length < 2 || der[0] !== 0x30) return -1;
  const first = der[1];
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return -1;
  let len = 0;
  for (let i = 0; i < octets; i++) len = len * 256 + der[2 + i];
  return 2 + octets + len;
}

function fromPem(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new CertificateError('Malformed', 'not a certificate: no PEM CERTIFICATE block');
  const b64 = m[1].replace(/\s+/g, '');
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new CertificateError('Malformed', 'not a certificate: the PEM block is not base64');
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}

function decodeName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new CertificateError('Malformed', `a grey:// name that is not URI-encoded: ${JSON.stringify(encoded)}`);
  }
}

function arrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function describe(c: ParsedCertificate): string {
  return `${c.subject.role} '${c.subject.name}'`;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
