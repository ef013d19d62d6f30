import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DcapStyleVerifier, softwareEvidence } from '../actors/attestation.js';
import type { NodeSecurity } from '../actors/clusterNode.js';
import { parseCertificate, validateCertificate, type ParsedCertificate } from '../actors/nodeCertificate.js';
import { identityFromPrivateKey, signBytes, verifySignature } from '../actors/nodeIdentity.js';
import { lengthPrefixed } from '../actors/domainEncoding.js';
import { pemCertificates, type TlsIdentity } from './certificates.js';

/** Options of a real-mode node's security beyond its TLS identity. */
export interface RealSecurityOptions {
  /** Code measurements (hex) a joining node may present besides this node's own. */
  allowMeasurements?: readonly string[];
  /** Raw Ed25519 public keys of TEE vendor roots, for nodes that bring hardware evidence from a verifier plugged in behind `AttestationVerifier`. */
  vendorRoots?: readonly Uint8Array[];
}

let ownMeasurement: string | undefined;

/**
 * A measurement of the Grey code this process runs: SHA-256 over the path
 * and bytes of every JavaScript or TypeScript file of the package's code
 * folders (`dist/` when built, else the sources), in path order. Two nodes
 * of the same Grey build measure the same. It is what software attestation
 * signs: the node vouches for it itself, which proves little.
 */
export function codeMeasurement(): string {
  if (ownMeasurement !== undefined) return ownMeasurement;
  const here = dirname(fileURLToPath(import.meta.url)); // system/ (or dist/system/)
  const root = resolve(here, '..');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|ts|mjs)$/.test(name) && !name.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const folder of ['machines', 'actors', 'system']) {
    try {
      walk(join(root, folder));
    } catch {
      // a folder the build does not have
    }
  }
  const h = createHash('sha256').update('grey/code-measurement/v1');
  for (const f of files) h.update(lengthPrefixed(relative(root, f).split(sep).join('/'), readFileSync(f)));
  return (ownMeasurement = h.digest('hex'));
}

function der(pem: string): Uint8Array {
  return parseCertificate(pem).der;
}

/**
 * What a real-mode node runs the join handshake with, from its TLS
 * identity (the cluster CA, its certificate and key): certificates are
 * checked against the CA on the wall clock; attestation is software (the
 * node signs {@link codeMeasurement} over the nonce), since a process has
 * no TEE here; hardware evidence is accepted from nodes whose vendor root
 * is configured. Joins through the handshake are not required, so an
 * operator can still add a node by hand (`grey member add`).
 */
export function realNodeSecurity(name: string, tls: TlsIdentity, options: RealSecurityOptions = {}): NodeSecurity {
  // Every CA of the bundle is trusted: during a rotation it holds the old CA beside the new one.
  const trusted: ParsedCertificate[] = pemCertificates(tls.ca).map((pem, i) => {
    try {
      return parseCertificate(pem);
    } catch (err) {
      throw new RangeError(`certificate ${i + 1} of the cluster CA bundle cannot be read: ${(err as Error).message}`);
    }
  });
  const identity = identityFromPrivateKey(name, tls.key);
  const measurement = codeMeasurement();
  const verifier = new DcapStyleVerifier({ vendorRoots: options.vendorRoots ?? [], measurements: [measurement, ...(options.allowMeasurements ?? [])] });
  const certificate = der(tls.cert);
  return {
    // Certificates are dated on the calendar: the node's own clock counts from its start, so this asks the wall clock.
    checkCertificate: (bytes) => {
      const c = validateCertificate(bytes, { trusted, now: Date.now() });
      return { role: c.subject.role, name: c.subject.name, publicKey: c.publicKey, fingerprint: c.fingerprint, notAfter: c.notAfter };
    },
    verifyEvidence: (evidence, ctx) => verifier.verify(evidence, { ...ctx, now: Date.now() }), // TCB info is dated on the calendar too
    verifySignature,
    credentials: {
      certificate,
      sign: (data) => signBytes(identity, data),
      evidence: (nonce) => softwareEvidence(identity, measurement, nonce),
    },
    policy: { minTrust: 'software', requireAuthenticatedJoin: false },
  };
}
