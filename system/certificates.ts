import { createPrivateKey, createPublicKey, X509Certificate, webcrypto } from 'node:crypto';
import {
  createCertificateAuthority,
  identityUri,
  issueNodeCertificate,
  tenantUri,
  loadCertificateAuthority,
  parseCertificate,
  CertificateError,
  type CertificateRole,
} from '../actors/nodeCertificate.js';
import { privateKeyPem } from '../actors/nodeIdentity.js';
import { generateIdentity } from './nodeIdentityFiles.js';

export { identityUri, tenantUri, type CertificateRole };

const DAY_MS = 86_400_000;
/** Certificates start a minute in the past, so a peer whose clock is a little behind accepts them. */
const BACKDATE_MS = 60_000;

/** A cluster certificate authority: its certificate, and the key that signs node and client certificates (PEM). */
export interface ClusterCa {
  cert: string;
  key: string;
}

/** What a node or client presents on a TLS connection (PEM): its certificate, its key, and the CA it trusts. */
export interface TlsIdentity {
  cert: string;
  key: string;
  ca: string;
}

/** Options of certificate issuing. */
export interface IssueOptions {
  /** Validity from now (default 365 days for a CA, 90 for a node or client). */
  validDays?: number;
  /**
   * Addresses a node is reached at, for ordinary TLS clients (curl, a
   * browser) of its HTTP API, which check the host they asked for: IP
   * addresses become IP SANs, anything else DNS SANs. Nodes and Grey
   * clients check the `grey://` name, not these.
   */
  hosts?: readonly string[];
  /**
   * For a client certificate: the tenant it acts for, bound as a second SAN
   * URI `grey://tenant/<t>`. Every node then scopes the holder's requests
   * to that tenant (see actors/commandAccess.ts). Refused for a node or an
   * operator certificate: operators are never scoped.
   */
  tenant?: string;
}

/**
 * A new cluster CA with a random Ed25519 key. Issued synchronously by
 * actors/nodeCertificate.ts (the async signature is kept for callers).
 */
export async function createClusterCa(name = 'Grey cluster CA', options: IssueOptions = {}): Promise<ClusterCa> {
  const identity = generateIdentity(name);
  const now = Date.now();
  const ca = createCertificateAuthority(identity, { name, notBefore: now - BACKDATE_MS, notAfter: now + (options.validDays ?? 365) * DAY_MS, serial: serial() });
  return { cert: ca.pem, key: privateKeyPem(identity) };
}

/**
 * A certificate for `name` in `role`, signed by the CA, with a fresh
 * Ed25519 key. The name is bound in a SAN: the URI `grey://<role>/<name>`
 * (what peers check) and, for nodes, a DNS name for TLS's own checks; a
 * client's tenant (`options.tenant`) in a second URI `grey://tenant/<t>`.
 */
export async function issueCertificate(ca: ClusterCa, role: CertificateRole, name: string, options: IssueOptions = {}): Promise<TlsIdentity> {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a certificate needs a non-empty name');
  if (options.tenant !== undefined && (typeof options.tenant !== 'string' || options.tenant.length === 0)) throw new TypeError('tenant: must be a non-empty tenant name');
  for (const host of options.hosts ?? []) {
    if (typeof host !== 'string' || host.length === 0) throw new TypeError('hosts: each must be a non-empty host name or IP address');
  }
  const authority = loadCertificateAuthority(ca.cert, ca.key);
  const identity = generateIdentity(name);
  const now = Date.now();
  try {
    const cert = issueNodeCertificate(authority, {
      role,
      name,
      publicKey: identity.publicKey,
      notBefore: now - BACKDATE_MS,
      notAfter: now + (options.validDays ?? 90) * DAY_MS,
      serial: serial(),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    });
    return { cert: cert.pem, key: privateKeyPem(identity), ca: ca.cert };
  } catch (e) {
    // The old API threw TypeError for bad input; keep that for callers that check it.
    if (e instanceof CertificateError && e.code === 'InvalidRequest') throw new TypeError(e.message);
    throw e;
  }
}

/**
 * Why a certificate cannot be used at time `now` (epoch ms): expired, or
 * not valid yet (a clock behind the issuer's); null when it can. Peers
 * refuse such a certificate in the handshake with a bare TLS alert, so a
 * process checks its own before it starts and says so plainly.
 */
export function certificateValidityProblem(cert: X509Certificate | string, now: number = Date.now()): string | null {
  const c = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (now > to) return `expired on ${new Date(to).toISOString()}`;
  if (now < from) return `not valid until ${new Date(from).toISOString()} (is this machine's clock behind?)`;
  return null;
}

/**
 * The certificates of a PEM text, each as its own PEM block, in order (a CA
 * bundle holds several during a rotation).
 * @throws RangeError when the text holds none.
 */
export function pemCertificates(pem: string): string[] {
  const blocks = typeof pem === 'string' ? (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) : [];
  if (blocks.length === 0) throw new RangeError('the CA bundle holds no PEM certificate');
  return blocks;
}

/**
 * Why no certificate of a CA bundle (one PEM or several, concatenated)
 * can be used now, or null when at least one can. During a rotation a
 * bundle holds the old CA beside the new one, and the old one may have
 * expired: the bundle is still good while another CA in it is.
 * @throws RangeError when the text holds no certificate.
 */
export function caBundleProblem(pem: string, now: number = Date.now()): string | null {
  const blocks = pemCertificates(pem);
  const problems: string[] = [];
  for (const block of blocks) {
    let problem: string | null;
    try {
      problem = certificateValidityProblem(block, now);
    } catch (err) {
      problem = `unreadable (${(err as Error).message})`;
    }
    if (problem === null) return null;
    problems.push(problem);
  }
  return problems.length === 1 ? problems[0] : `${problems[0]}, and no other certificate in its bundle is usable either (${problems.slice(1).join('; ')})`;
}

/**
 * What is wrong with a TLS identity's files, if anything, naming the file
 * (`cert`, `key` or `ca`): text that is not PEM, a key that is not the
 * certificate's, a certificate that no CA of the bundle issued (another
 * cluster's CA, say). Without this a node starts and every handshake fails
 * with a bare alert, or an OpenSSL code that names no file.
 */
export function tlsIdentityProblem(identity: TlsIdentity): { file: keyof TlsIdentity; problem: string } | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(identity.cert);
  } catch (err) {
    return { file: 'cert', problem: `is not a PEM certificate (${(err as Error).message})` };
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(identity.key);
  } catch (err) {
    return { file: 'key', problem: `is not a PEM private key (${(err as Error).message})` };
  }
  const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
  if (!der(createPublicKey(key)).equals(der(cert.publicKey))) return { file: 'key', problem: "is not the key of the certificate beside it (another node's key?)" };
  let cas: X509Certificate[];
  try {
    cas = pemCertificates(identity.ca).map((b) => new X509Certificate(b));
  } catch (err) {
    return { file: 'ca', problem: `is not a PEM CA bundle (${(err as Error).message})` };
  }
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
    return { file: 'ca', problem: "did not issue the certificate beside it (a CA of another cluster, or a certificate from one?): peers of this CA would refuse it" };
  }
  return null;
}

/** The identities a certificate binds (its `grey://` URIs), parsed: synchronous, with node:crypto. */
export function identitiesOf(cert: X509Certificate | string): Array<{ role: CertificateRole; name: string }> {
  const c = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  const out: Array<{ role: CertificateRole; name: string }> = [];
  for (const part of (c.subjectAltName ?? '').split(', ')) {
    const m = /^URI:grey:\/\/(node|client|operator)\/(.+)$/.exec(part.trim());
    if (m) out.push({ role: m[1] as CertificateRole, name: decodeURIComponent(m[2]) });
  }
  return out;
}

/**
 * The tenant a certificate binds (its `grey://tenant/<t>` SAN URI), or
 * null: synchronous, for what a TLS socket presents. Read from the DER by
 * Grey's own reader (actors/nodeCertificate.ts), not from node:crypto's
 * printed SAN list, so no quoting or separator in a value can hide it.
 *
 * @throws RangeError when the certificate cannot be read, or binds more
 * than one tenant (which one would it act for?): such a certificate is
 * refused.
 */
export function tenantOf(cert: X509Certificate | string): string | null {
  try {
    return parseCertificate(typeof cert === 'string' ? cert : Uint8Array.from(cert.raw)).tenant;
  } catch (e) {
    if (e instanceof CertificateError) throw new RangeError(e.message);
    throw e;
  }
}

/** A random serial (real mode): 16 bytes, positive. */
function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive
  return Buffer.from(b).toString('hex');
}
