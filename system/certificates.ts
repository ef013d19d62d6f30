import type * as X509 from '@peculiar/x509';
import { isIP } from 'node:net';
import { X509Certificate, webcrypto } from 'node:crypto';

type WebCryptoKey = webcrypto.CryptoKey;
type WebCryptoKeyPair = webcrypto.CryptoKeyPair;

let library: Promise<typeof X509> | undefined;

/**
 * @peculiar/x509, loaded on first issue: only issuing needs it (checking a
 * peer uses node:crypto), and it needs the reflect-metadata polyfill first.
 */
function x509lib(): Promise<typeof X509> {
  return (library ??= (async () => {
    await import('reflect-metadata');
    const x = await import('@peculiar/x509');
    x.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x.cryptoProvider.set>[0]);
    return x;
  })());
}

const ED25519 = { name: 'Ed25519' } as const;
const DAY_MS = 86_400_000;

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

/** What a certificate is for: a cluster node, a client, or an operator (a client allowed membership and quota commands). */
export type CertificateRole = 'node' | 'client' | 'operator';

/** The URI a certificate binds its name with: `grey://node/n1`, `grey://client/app`, `grey://operator/alice`. */
export function identityUri(role: CertificateRole, name: string): string {
  return `grey://${role}/${encodeURIComponent(name)}`;
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
}

/**
 * A new cluster CA with an Ed25519 key. Issuing is asynchronous (WebCrypto)
 * and happens outside virtual time; checking a peer is synchronous.
 */
export async function createClusterCa(name = 'Grey cluster CA', options: IssueOptions = {}): Promise<ClusterCa> {
  const x509 = await x509lib();
  const keys = (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as WebCryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(name)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 365) * DAY_MS),
    keys,
    signingAlgorithm: ED25519,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/**
 * A certificate for `name` in `role`, signed by the CA, with a fresh
 * Ed25519 key. The name is bound in a SAN: the URI `grey://<role>/<name>`
 * (what peers check) and, for nodes, a DNS name for TLS's own checks.
 */
export async function issueCertificate(ca: ClusterCa, role: CertificateRole, name: string, options: IssueOptions = {}): Promise<TlsIdentity> {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a certificate needs a non-empty name');
  const x509 = await x509lib();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', pemBody(ca.key), ED25519, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as WebCryptoKeyPair;
  const now = Date.now();
  const names: X509.JsonGeneralName[] = [{ type: 'url', value: identityUri(role, name) }];
  if (role === 'node') names.push({ type: 'dns', value: name });
  for (const host of options.hosts ?? []) {
    if (typeof host !== 'string' || host.length === 0) throw new TypeError('hosts: each must be a non-empty host name or IP address');
    names.push(isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host });
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${escapeDn(name)}, OU=${role}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 90) * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey), ca: ca.cert };
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

async function keyPem(key: WebCryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f; // positive
  return Buffer.from(b).toString('hex');
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}
