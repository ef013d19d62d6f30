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
 * a non-critical extension ({@link AttestationClaims}). A client's
 * certificate may bind a tenant too, as a second SAN URI
 * `grey://tenant/<t>` ({@link tenantUri}): nodes then scope its requests to
 * that tenant.
 *
 * Times are milliseconds since the epoch (virtual in simulation, where they
 * start at 0, i.e. 1970). X.509 keeps whole seconds: both bounds are rounded
 * down to the second when issued.
 *
 * Reading is on every node's join path, so certificates in Grey's profile
 * (strict DER, as issued here) are read directly from the DER in tens of
 * microseconds; anything else falls back to the general ASN.1 reader,
 * which makes every refusal (see `readProfile` below).
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
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
import { FifoMap } from './fifoMap.js';
import { identityFromPrivateKey, publicKeyFingerprint, publicKeyObject, verifySignature, type NodeIdentity } from './nodeIdentity.js';

/** What a certificate is for: a cluster node, a client, or an operator (a client allowed membership and quota commands). */
export type CertificateRole = 'node' | 'client' | 'operator';

const ROLES: readonly CertificateRole[] = ['node', 'client', 'operator'];

/** The URI a certificate binds its name with: `grey://node/n1`, `grey://client/app`, `grey://operator/alice`. */
export function identityUri(role: CertificateRole, name: string): string {
  return `grey://${role}/${encodeURIComponent(name)}`;
}

/**
 * The URI a client certificate binds its tenant with: `grey://tenant/<t>`,
 * a second SAN URI beside `grey://client/<name>`. Percent-encoded strictly
 * (RFC 3986: `!'()*` too), so node:crypto prints it unquoted and the
 * comma-separated SAN list splits unambiguously.
 */
export function tenantUri(tenant: string): string {
  return `grey://tenant/${encodeURIComponent(tenant).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
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
  /**
   * The tenant it binds (a `grey://tenant/<t>` SAN URI), or null. Nodes
   * scope a client certificate's requests to it; operators' and nodes'
   * certificates are never scoped (Grey does not issue them with one).
   */
  readonly tenant: string | null;
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
  /** The CAs the cluster trusts. A DER or PEM is parsed on first use and remembered (a DER array is compared with the bytes parsed, so a changed one is parsed again). */
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
  /** For a client: the tenant it acts for, bound as a second SAN URI `grey://tenant/<t>` (see {@link tenantUri}). */
  tenant?: string;
}

const ED25519_OID = '1.3.101.112';
const OID_CN = '2.5.4.3';
const OID_OU = '2.5.4.11';
/** Latest time X.509 can express (GeneralizedTime, year 9999). */
const MAX_TIME_MS = 253_402_300_799_000;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
/** A SAN URI that binds a Grey name. */
const GREY_URI = /^grey:\/\/(node|client|operator)\/(.+)$/;
/** A SAN URI that binds a tenant. */
const TENANT_URI = /^grey:\/\/tenant\/(.+)$/;

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
  let tenant: string | null = null;
  if (request.tenant !== undefined) {
    if (role !== 'client') throw new CertificateError('InvalidRequest', `issueNodeCertificate: only a client certificate binds a tenant, not ${role === 'operator' ? 'an operator certificate (operators are never scoped)' : 'a node certificate'}`);
    tenant = checkName(request.tenant, 'tenant');
  }
  const sans: GeneralName[] = [new GeneralName({ uniformResourceIdentifier: identityUri(role, name) })];
  if (tenant !== null) sans.push(new GeneralName({ uniformResourceIdentifier: tenantUri(tenant) }));
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
    // The tenant only when bound: certificates without one keep the serials they always had.
    lengthPrefixed('grey/certificate-serial/v1', ca.identity.publicKey, role, name, request.publicKey, notBefore, notAfter, claimsJson ?? '', lengthPrefixed(...seen), ...(tenant !== null ? [tenant] : [])),
  );
  const issuer = AsnConvert.parse(hexToBytes(ca.certificate.subjectNameKey)!, Name);
  return signCertificate(ca.identity.privateKey, { serial, issuer, subject: distinguishedName(name, role), notBefore, notAfter, publicKey: request.publicKey, extensions });
}

/**
 * A successor of `oldCert` for a new key: same role, name, tenant, claims
 * and hosts, new validity. The old certificate is not revoked: it stays valid
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
  return issueNodeCertificate(ca, {
    role,
    name: old.subject.name,
    publicKey: newPublicKey,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    hosts,
    ...(old.claims ? { claims: old.claims } : {}),
    ...(old.tenant !== null ? { tenant: old.tenant } : {}),
  });
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
  return assemble(der, readProfile(der) ?? readWithSchema(der));
}

/**
 * One of the two readers alone, for tests that hold them to the same
 * result: `profile` (the fast one; `undefined` when it declines) or
 * `schema` (the general one). Not part of the package's API.
 *
 * @internal
 * @throws CertificateError as {@link parseCertificate}.
 */
export function readCertificateWith(reader: 'profile' | 'schema', der: Uint8Array): ParsedCertificate | undefined {
  try {
    if (!(der instanceof Uint8Array)) throw new CertificateError('Malformed', 'not a certificate: expected DER bytes');
    const copy = Uint8Array.from(der);
    if (derLength(copy) !== copy.length) throw new CertificateError('Malformed', 'not a certificate: the DER is not one complete SEQUENCE (truncated, or bytes after it)');
    const fields = reader === 'profile' ? readProfile(copy) : readWithSchema(copy);
    return fields === undefined ? undefined : assemble(copy, fields);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError('Malformed', `not a certificate: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** What the two readers ({@link readProfile}, {@link readWithSchema}) take from a certificate; {@link assemble} makes the rest. */
interface CertificateFields {
  tbs: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** Content octets of the serial INTEGER. */
  serial: Uint8Array;
  isCa: boolean;
  claims: AttestationClaims | null;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  names: Array<{ role: CertificateRole; name: string }>;
  /** Every tenant a `grey://tenant/` URI names (more than one distinct: refused in {@link assemble}). */
  tenants: string[];
  hosts: string[];
  subjectCn: string | undefined;
  subjectOu: string | undefined;
  issuerCn: string | undefined;
  /** Hex DER of the subject and issuer names. A function: the schema reader serialises them, which may fail, and the old order of failures is kept. */
  nameKeys(): { subject: string; issuer: string };
}

/** The fields that depend on no reader: the subject (and its refusals), fingerprints, the serial's hex. Both readers end here, so their errors come in one order. */
function assemble(der: Uint8Array, f: CertificateFields): ParsedCertificate {
  let subject: CertificateSubject;
  if (f.isCa) {
    if (f.subjectCn === undefined) throw new CertificateError('Malformed', 'a CA certificate without a common name');
    subject = { role: 'ca', name: f.subjectCn };
  } else if (f.names.length > 0) {
    subject = f.names[0];
  } else {
    if (f.subjectCn === undefined || !ROLES.includes(f.subjectOu as CertificateRole)) throw new CertificateError('Malformed', 'the certificate binds no grey:// name (no SAN URI, and no CN with an OU that is a role)');
    subject = { role: f.subjectOu as CertificateRole, name: f.subjectCn };
  }
  const tenants = [...new Set(f.tenants)];
  if (tenants.length > 1) throw new CertificateError('Malformed', `the certificate binds more than one tenant (${tenants.map((t) => `'${t}'`).join(', ')})`);
  const keys = f.nameKeys();
  return brand({
    subject,
    names: f.names,
    tenant: tenants[0] ?? null,
    hosts: f.hosts,
    isCa: f.isCa,
    issuer: f.issuerCn ?? '',
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    publicKey: f.publicKey,
    fingerprint: publicKeyFingerprint(f.publicKey),
    certificateFingerprint: createHash('sha256').update(der).digest('hex'),
    claims: f.claims,
    serial: serialHex(f.serial),
    subjectKeyId: f.subjectKeyId,
    authorityKeyId: f.authorityKeyId,
    der,
    tbs: f.tbs,
    signature: f.signature,
    subjectNameKey: keys.subject,
    issuerNameKey: keys.issuer,
  });
}

/**
 * The general reader: @peculiar/asn1-schema reads any certificate (BER
 * leniencies included), and every refusal with its own message. It costs
 * about 0.8 ms a certificate, so it reads only what {@link readProfile}
 * declines.
 */
function readWithSchema(der: Uint8Array): CertificateFields {
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
  const tenants: string[] = [];
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
            const m = GREY_URI.exec(gn.uniformResourceIdentifier);
            if (m) names.push({ role: m[1] as CertificateRole, name: decodeName(m[2]) });
            const t = TENANT_URI.exec(gn.uniformResourceIdentifier);
            if (t) tenants.push(decodeName(t[1]));
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
        claims = readClaims(new Uint8Array(AsnConvert.parse(value, OctetString).buffer));
        break;
      default:
        if (ext.critical) throw new CertificateError('Unsupported', `unknown critical extension ${ext.extnID}`);
    }
  }
  const subjectAttrs = attributes(tbs.subject);
  return {
    tbs: new Uint8Array(cert.tbsCertificateRaw.slice(0)),
    signature,
    publicKey,
    notBefore,
    notAfter,
    serial: new Uint8Array(tbs.serialNumber),
    isCa,
    claims,
    subjectKeyId,
    authorityKeyId,
    names,
    tenants,
    hosts,
    subjectCn: subjectAttrs.get(OID_CN),
    subjectOu: subjectAttrs.get(OID_OU),
    issuerCn: attributes(tbs.issuer).get(OID_CN),
    nameKeys: () => ({ subject: bytesToHex(new Uint8Array(AsnConvert.serialize(tbs.subject))), issuer: bytesToHex(new Uint8Array(AsnConvert.serialize(tbs.issuer))) }),
  };
}

// ---------------------------------------------------------------- the profile reader

/*
 * Why a second reader: validating a presented certificate is on the join
 * path of every node, and the schema reader spent ~0.8 ms of a ~1 ms
 * validation building objects for every node of the ASN.1 tree (and
 * serialising both names again to compare issuers). node:crypto's
 * X509Certificate is no way out: constructing one costs ~0.13 ms on this
 * machine (OpenSSL 3) before a field is read; this reader takes ~25 µs.
 *
 * readProfile reads strict DER of the certificates Grey issues (and
 * certificates like them): X.509 v3, Ed25519, names of UTF8String,
 * PrintableString or IA5String attributes, the extensions Grey writes
 * (plus non-critical ones it ignores). It accepts only what it reads
 * completely and exactly as readWithSchema would, and returns `undefined`
 * (declines) for anything else, however slight: another encoding choice,
 * a refusal to make, an oddity. readWithSchema then reads the
 * certificate, so every refusal, its code and message, is the schema
 * reader's as before. tests/certificate_readers.test.ts holds the two
 * readers to the same fields, on every shape Grey issues and on mutations.
 */

/** Thrown inside readProfile to decline; never escapes it. Not an Error: nothing to capture. */
const DECLINE: unique symbol = Symbol('decline');

/** A DER element: its tag, and where its content starts and ends. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/** `AlgorithmIdentifier { id-Ed25519 }` (RFC 8410: no parameters), as DER. */
const ED25519_ALGORITHM = Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]);
/** SubjectPublicKeyInfo of an Ed25519 key up to the key: SEQUENCE, the algorithm, BIT STRING of 33 bytes, no unused bits. */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, ...ED25519_ALGORITHM, 0x03, 0x21, 0x00]);
/** `[0] EXPLICIT INTEGER 2`: version v3. */
const VERSION_V3 = Uint8Array.from([0xa0, 0x03, 0x02, 0x01, 0x02]);
const OID_BYTES = {
  cn: '550403',
  ou: '55040b',
  basicConstraints: '551d13',
  subjectKeyIdentifier: '551d0e',
  authorityKeyIdentifier: '551d23',
  subjectAltName: '551d11',
  keyUsage: '551d0f',
  extKeyUsage: '551d25',
} as const;
/** Content octets (hex) of {@link ATTESTATION_CLAIMS_OID}. */
const CLAIMS_OID_BYTES = oidContentHex(ATTESTATION_CLAIMS_OID);
/** UTF-8 that refuses what is not UTF-8, and keeps a byte-order mark, as the schema reader does. */
const utf8Exact = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readProfile(der: Uint8Array): CertificateFields | undefined {
  try {
    return readProfileOrDecline(der);
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
}

function readProfileOrDecline(der: Uint8Array): CertificateFields {
  const cert = sequence(der, element(der, 0, der.length));
  if (cert.length !== 3 || cert[0].tag !== 0x30 || !isBytes(der, cert[1], ED25519_ALGORITHM)) throw DECLINE;
  const sig = cert[2];
  if (sig.tag !== 0x03 || sig.end - sig.start !== 65 || der[sig.start] !== 0) throw DECLINE;
  const tbsEl = cert[0];
  const tbs = sequence(der, tbsEl);
  if (tbs.length < 7 || tbs.length > 8) throw DECLINE;
  const [version, serial, algorithm, issuer, validity, subject, spki] = tbs;
  if (!isBytes(der, version, VERSION_V3) || !isBytes(der, algorithm, ED25519_ALGORITHM)) throw DECLINE;
  if (serial.tag !== 0x02 || serial.end - serial.start < 1 || serial.end - serial.start > 21) throw DECLINE;
  // 44 bytes: the fixed prefix (its own 2-byte header included), then the 32-byte key.
  if (spki.tag !== 0x30 || spki.end - spki.start !== 0x2a || !startsWith(der, spki.start - 2, ED25519_SPKI_PREFIX)) throw DECLINE;
  const times = sequence(der, validity);
  if (validity.tag !== 0x30 || times.length !== 2) throw DECLINE;
  const notBefore = readTime(der, times[0]);
  const notAfter = readTime(der, times[1]);
  const subjectName = readName(der, subject);
  const issuerName = readName(der, issuer);

  let isCa = false;
  let claims: AttestationClaims | null = null;
  let subjectKeyId: string | null = null;
  let authorityKeyId: string | null = null;
  const names: Array<{ role: CertificateRole; name: string }> = [];
  const tenants: string[] = [];
  const hosts: string[] = [];
  if (tbs.length === 8) {
    const wrapper = tbs[7];
    if (wrapper.tag !== 0xa3) throw DECLINE;
    const inner = sequence(der, wrapper);
    if (inner.length !== 1 || inner[0].tag !== 0x30) throw DECLINE;
    const extensions = sequence(der, inner[0]);
    if (extensions.length === 0) throw DECLINE;
    const seen = new Set<string>();
    for (const ext of extensions) {
      const parts = sequence(der, ext);
      if (ext.tag !== 0x30 || parts.length < 2 || parts.length > 3 || parts[0].tag !== 0x06) throw DECLINE;
      let critical = false;
      if (parts.length === 3) {
        // DER leaves a false `critical` out; only TRUE (0xff) may be written.
        if (!isBytes(der, parts[1], BOOLEAN_TRUE)) throw DECLINE;
        critical = true;
      }
      const oid = hexOf(der, parts[0].start, parts[0].end);
      if (seen.has(oid)) throw DECLINE;
      seen.add(oid);
      const value = parts[parts.length - 1];
      if (value.tag !== 0x04) throw DECLINE;
      switch (oid) {
        case OID_BYTES.basicConstraints: {
          const bc = sequence(der, only(der, value, 0x30));
          if (bc.length > 2 || (bc.length >= 1 && !isBytes(der, bc[0], BOOLEAN_TRUE)) || (bc.length === 2 && !isSmallInteger(der, bc[1]))) throw DECLINE;
          isCa = bc.length >= 1;
          break;
        }
        case OID_BYTES.subjectKeyIdentifier: {
          const ki = only(der, value, 0x04);
          subjectKeyId = hexOf(der, ki.start, ki.end);
          break;
        }
        case OID_BYTES.authorityKeyIdentifier: {
          const aki = sequence(der, only(der, value, 0x30));
          if (aki.length > 1 || (aki.length === 1 && aki[0].tag !== 0x80)) throw DECLINE;
          authorityKeyId = aki.length === 1 ? hexOf(der, aki[0].start, aki[0].end) : null;
          break;
        }
        case OID_BYTES.subjectAltName: {
          const san = sequence(der, only(der, value, 0x30));
          if (san.length === 0) throw DECLINE;
          for (const gn of san) {
            if (gn.tag === 0x82) hosts.push(latin1(der, gn));
            else if (gn.tag === 0x87) hosts.push(ipText(der.subarray(gn.start, gn.end)));
            else if (gn.tag === 0x86) {
              const uri = latin1(der, gn);
              const m = GREY_URI.exec(uri);
              if (m) names.push({ role: m[1] as CertificateRole, name: decodeNameOrDecline(m[2]) });
              const t = TENANT_URI.exec(uri);
              if (t) tenants.push(decodeNameOrDecline(t[1]));
            } else throw DECLINE;
          }
          break;
        }
        case OID_BYTES.keyUsage: {
          const ku = only(der, value, 0x03);
          const length = ku.end - ku.start;
          if (length < 1 || length > 3 || der[ku.start] > 7 || (length === 1 && der[ku.start] !== 0)) throw DECLINE;
          break;
        }
        case OID_BYTES.extKeyUsage: {
          const usages = sequence(der, only(der, value, 0x30));
          if (usages.length === 0) throw DECLINE;
          for (const u of usages) if (u.tag !== 0x06 || !isPlainOid(der, u)) throw DECLINE;
          break;
        }
        case CLAIMS_OID_BYTES: {
          const json = only(der, value, 0x04);
          try {
            claims = readClaims(der.slice(json.start, json.end));
          } catch {
            throw DECLINE; // the schema reader refuses it, with its message
          }
          break;
        }
        default:
          // Ignored, as by the schema reader, if it need not be understood; an OID with an arc past 2^49 the schema reader names its own way.
          if (critical || !isPlainOid(der, parts[0])) throw DECLINE;
      }
    }
  }
  const subjectKey = hexOf(der, subject.start - headerLength(der, subject), subject.end);
  const issuerKey = hexOf(der, issuer.start - headerLength(der, issuer), issuer.end);
  return {
    tbs: der.slice(tbsEl.start - headerLength(der, tbsEl), tbsEl.end),
    signature: der.slice(sig.start + 1, sig.end),
    publicKey: der.slice(spki.end - 32, spki.end),
    notBefore,
    notAfter,
    serial: der.slice(serial.start, serial.end),
    isCa,
    claims,
    subjectKeyId,
    authorityKeyId,
    names,
    tenants,
    hosts,
    subjectCn: subjectName.cn,
    subjectOu: subjectName.ou,
    issuerCn: issuerName.cn,
    nameKeys: () => ({ subject: subjectKey, issuer: issuerKey }),
  };
}

const BOOLEAN_TRUE = Uint8Array.from([0x01, 0x01, 0xff]);

/** The element at `pos`, in strict DER: a low tag number, a definite length in the fewest octets, inside `limit`. */
function element(b: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw DECLINE;
  const tag = b[pos];
  if ((tag & 0x1f) === 0x1f) throw DECLINE;
  let length = b[pos + 1];
  let start = pos + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3 || start + octets > limit || b[start] === 0) throw DECLINE;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + b[start + i];
    if (length < 0x80) throw DECLINE;
    start += octets;
  }
  const end = start + length;
  if (end > limit) throw DECLINE;
  return { tag, start, end };
}

/** The elements that exactly fill a constructed element's content. */
function sequence(b: Uint8Array, t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw DECLINE;
  const out: Tlv[] = [];
  for (let pos = t.start; pos < t.end; ) {
    const e = element(b, pos, t.end);
    out.push(e);
    pos = e.end;
  }
  return out;
}

/** The one element of tag `tag` that fills `t`'s content (an extension's OCTET STRING). */
function only(b: Uint8Array, t: Tlv, tag: number): Tlv {
  const e = element(b, t.start, t.end);
  if (e.tag !== tag || e.end !== t.end) throw DECLINE;
  return e;
}

function headerLength(b: Uint8Array, t: Tlv): number {
  const length = t.end - t.start;
  return length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5;
}

function startsWith(b: Uint8Array, from: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (b[from + i] !== prefix[i]) return false;
  return true;
}

/** Whether the whole element `t` (header included) is `expected`. */
function isBytes(b: Uint8Array, t: Tlv, expected: Uint8Array): boolean {
  const from = t.start - headerLength(b, t);
  if (t.end - from !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (b[from + i] !== expected[i]) return false;
  return true;
}

/** A non-negative INTEGER of at most 4 content octets, minimally encoded (a pathLenConstraint). */
function isSmallInteger(b: Uint8Array, t: Tlv): boolean {
  const length = t.end - t.start;
  return t.tag === 0x02 && length >= 1 && length <= 4 && (b[t.start] & 0x80) === 0 && !(length > 1 && b[t.start] === 0 && (b[t.start + 1] & 0x80) === 0);
}

/** An OID whose every arc is minimally encoded and below 2^49: read as a plain dotted number by the schema reader. */
function isPlainOid(b: Uint8Array, t: Tlv): boolean {
  if (t.end <= t.start || b[t.end - 1] & 0x80) return false;
  let arcOctets = 0;
  for (let i = t.start; i < t.end; i++) {
    if (arcOctets === 0 && b[i] === 0x80) return false;
    arcOctets = b[i] & 0x80 ? arcOctets + 1 : 0;
    if (arcOctets >= 7) return false;
  }
  return true;
}

/** UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`, computed as the schema reader computes them (so even its quirks agree). */
function readTime(b: Uint8Array, t: Tlv): number {
  const digits = t.tag === 0x17 ? 12 : t.tag === 0x18 ? 14 : -1;
  if (digits < 0 || t.end - t.start !== digits + 1 || b[t.end - 1] !== 0x5a) throw DECLINE;
  const d = (i: number) => {
    const hi = b[t.start + i] - 0x30;
    const lo = b[t.start + i + 1] - 0x30;
    if (hi < 0 || hi > 9 || lo < 0 || lo > 9) throw DECLINE;
    return hi * 10 + lo;
  };
  let year: number;
  let at: number;
  if (digits === 12) {
    const yy = d(0);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    at = 2;
  } else {
    year = d(0) * 100 + d(2);
    at = 4;
  }
  const ms = Date.UTC(year, d(at) - 1, d(at + 2), d(at + 4), d(at + 6), d(at + 8), 0);
  if (!Number.isFinite(ms)) throw DECLINE;
  return ms;
}

/** A Name's common name and organisational unit (the first of each, as the schema reader's `attributes`). Every value must be a string it reads back to the same bytes. */
function readName(b: Uint8Array, t: Tlv): { cn: string | undefined; ou: string | undefined } {
  if (t.tag !== 0x30) throw DECLINE;
  let cn: string | undefined;
  let ou: string | undefined;
  const rdns = sequence(b, t);
  if (rdns.length === 0) throw DECLINE;
  for (const rdn of rdns) {
    if (rdn.tag !== 0x31) throw DECLINE;
    const atvs = sequence(b, rdn);
    if (atvs.length === 0) throw DECLINE;
    for (const atv of atvs) {
      const parts = sequence(b, atv);
      if (atv.tag !== 0x30 || parts.length !== 2 || parts[0].tag !== 0x06 || !isPlainOid(b, parts[0])) throw DECLINE;
      const v = parts[1];
      let text: string;
      if (v.tag === 0x0c) {
        try {
          text = utf8Exact.decode(b.subarray(v.start, v.end));
        } catch {
          throw DECLINE;
        }
      } else if (v.tag === 0x13 || v.tag === 0x16) text = latin1(b, v);
      else throw DECLINE;
      const type = hexOf(b, parts[0].start, parts[0].end);
      if (type === OID_BYTES.cn && cn === undefined) cn = text;
      else if (type === OID_BYTES.ou && ou === undefined) ou = text;
    }
  }
  return { cn, ou };
}

function latin1(b: Uint8Array, t: Tlv): string {
  return Buffer.from(b.buffer, b.byteOffset + t.start, t.end - t.start).toString('latin1');
}

function hexOf(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('hex');
}

/** An iPAddress SAN as text, as @peculiar/asn1-x509 writes it: dotted IPv4, or IPv6 with the longest run of two or more zero groups as `::`. */
function ipText(ip: Uint8Array): string {
  if (ip.length === 4) return Array.from(ip).join('.');
  if (ip.length !== 16) throw DECLINE;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestLength < 2) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

function decodeNameOrDecline(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw DECLINE;
  }
}

/** DER content octets (hex) of a dotted OID; arcs of any size. */
function oidContentHex(oid: string): string {
  const arcs = oid.split('.').map((a) => BigInt(a));
  const out: number[] = [];
  for (const arc of [arcs[0] * 40n + arcs[1], ...arcs.slice(2)]) {
    const septets: number[] = [];
    let v = arc;
    do {
      septets.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < septets.length - 1; i++) septets[i] |= 0x80;
    out.push(...septets);
  }
  return Buffer.from(out).toString('hex');
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
  const signer = candidates.find(({ ca }) => signedBy(ca, c));
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

/** The claims from the extension's inner OCTET STRING content. */
function readClaims(inner: Uint8Array): AttestationClaims {
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
    return trustedParsed(t as CertificateInput);
  } catch (e) {
    throw new CertificateError((e as CertificateError).code ?? 'Malformed', `trusted[${i}]: ${(e as Error).message}`);
  }
}

/**
 * Trusted CAs given as PEM or DER, parsed once. Why: a caller that keeps
 * its CA as text passes the same CA on every validation, and parsing it
 * again cost as much as the certificate being checked. A pure memo: a PEM
 * string cannot change; a DER array can, so its bytes are compared with
 * those parsed before use. Failures are not remembered (they throw again).
 */
const trustedPem = new FifoMap<string, ParsedCertificate>(64);
const trustedDer = new WeakMap<Uint8Array, ParsedCertificate>();

function trustedParsed(t: CertificateInput): ParsedCertificate {
  if (typeof t === 'string') {
    const known = trustedPem.get(t);
    if (known !== undefined) return known;
    const parsed = parseCertificate(t);
    trustedPem.set(t, parsed);
    return parsed;
  }
  if (t instanceof Uint8Array) {
    const known = trustedDer.get(t);
    if (known !== undefined && sameBytes(known.der, t)) return known;
    const parsed = parseCertificate(t);
    trustedDer.set(t, parsed);
    return parsed;
  }
  return asParsed(t);
}

/**
 * node:crypto keys of issuer certificates, by the parsed certificate.
 * Why: every validation verifies with its CA's key, and the key memo of
 * nodeIdentity.ts is first-in first-out over every key a node verifies
 * with, so a stream of joining nodes pushes the CA's key out of it. Parsed
 * certificates are frozen, so the key cannot go stale; entries go with
 * the certificate.
 */
const issuerKeys = new WeakMap<ParsedCertificate, KeyObject | null>();

/** Whether `ca`'s key verifies `c`'s signature. Never throws. */
function signedBy(ca: ParsedCertificate, c: ParsedCertificate): boolean {
  let key = issuerKeys.get(ca);
  if (key === undefined) {
    key = importRawEd25519(ca.publicKey);
    issuerKeys.set(ca, key);
  }
  if (key === null) return false;
  try {
    return verify(null, c.tbs, key, c.signature);
  } catch {
    return false;
  }
}

/**
 * A raw Ed25519 public key as a node:crypto key, or `null`. Imported as a
 * JWK: with OpenSSL 3 that is ~10 µs, where the SPKI DER form goes through
 * the decoder framework at ~100–150 µs.
 */
function importRawEd25519(raw: Uint8Array): KeyObject | null {
  if (raw.length !== 32) return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
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
