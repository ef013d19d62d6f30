/**
 * The join handshake in real mode: a node started with `join` over mutual
 * TLS presents its certificate to the members, answers the challenge with
 * software attestation (a measurement of Grey's code signed with its key),
 * and waits for an operator's approval; a node certified by another CA
 * never gets as far as the handshake. Each node's audit log is kept in its
 * data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate, type TlsIdentity } from '../system/certificates.js';
import { connect, startNode } from '../system/embeddedNode.js';
import { readAuditRecords } from '../system/lmdbAuditStore.js';
import { codeMeasurement } from '../system/realSecurity.js';
import { freePort, until } from './helpers/realTime.js';

const FAST = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };
let root: string;
let certs: Record<'n1' | 'n2' | 'n3' | 'admin', TlsIdentity>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'grey-real-join-'));
  const ca = await createClusterCa();
  certs = { n1: await issueCertificate(ca, 'node', 'n1'), n2: await issueCertificate(ca, 'node', 'n2'), n3: await issueCertificate(ca, 'node', 'n3'), admin: await issueCertificate(ca, 'operator', 'admin') };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('joining in real mode, over mutual TLS', () => {
  it('a new node joins through the handshake with software attestation, an operator approves it, and both audit logs say so on disk', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const a1 = `127.0.0.1:${p1}`;
    const a2 = `127.0.0.1:${p2}`;
    const n1 = await startNode({ id: 'n1', peers: { n1: a1 }, listen: a1, tls: certs.n1, dataDir: join(root, 'n1'), raft: FAST });
    await until(() => n1.status().role === 'leader', 'n1 leads');
    const n2 = await startNode({ id: 'n2', peers: { n1: a1 }, join: true, listen: a2, tls: certs.n2, dataDir: join(root, 'n2'), raft: FAST });
    const admin = connect({ endpoints: { n1: a1 }, tls: certs.admin, timeoutMs: 10_000 });
    try {
      expect(n1.joined).toBeNull();
      expect(await n2.joined).toEqual({ ok: true, trust: 'software' });
      const member = await until(async () => (await admin.members()).find((m) => m.node === 'n2' && m.status === 'pendingApproval'), 'n2 pending approval');
      expect(member.identity).toMatchObject({ trust: 'software', measurement: codeMeasurement() });
      expect(member.address).toBe(a2);
      await admin.submit({ op: 'approve', node: 'n2' });
      await until(() => n2.status().config.voters.includes('n2'), 'n2 a voter');
      expect(n1.audit.records({ kind: 'join', subject: 'n2' }).map((r) => r.outcome)).toEqual(['accepted']);
      expect(n2.audit.records({ kind: 'join', subject: 'n2' }).map((r) => r.outcome)).toEqual(['accepted']);
    } finally {
      await admin.close();
      await Promise.all([n1.stop(), n2.stop()]);
    }
    // Durable with the log: read back from the data directory once the node is stopped.
    const { node, records } = await readAuditRecords(join(root, 'n1'));
    expect(node).toBe('n1');
    expect(records.filter((r) => r.kind === 'join').map((r) => `${r.subject} ${r.outcome}`)).toEqual(['n2 accepted']);
  }, 30_000);

  it("a certified node that is no member is not listened to (dropped, audited); once blocked, its links are cut and its connections refused", async () => {
    const [p1, p3] = [await freePort(), await freePort()];
    const a1 = `127.0.0.1:${p1}`;
    const a3 = `127.0.0.1:${p3}`;
    const n1 = await startNode({ id: 'n1', peers: { n1: a1 }, listen: a1, tls: certs.n1, dataDir: join(root, 'm1'), raft: FAST });
    await until(() => n1.status().role === 'leader', 'n1 leads');
    const term = n1.status().term;
    // n3 holds a certificate from the cluster CA, but founds a cluster of its own with n1 in it, and asks n1 for votes.
    const n3 = await startNode({ id: 'n3', peers: { n3: a3, n1: a1 }, listen: a3, tls: certs.n3, dataDir: join(root, 'm3'), raft: FAST });
    const admin = connect({ endpoints: { n1: a1 }, tls: certs.admin, timeoutMs: 10_000 });
    const refusedTotal = async () => Number(/^grey_transport_refused_total(?:\{[^}]*\})? (\d+)/m.exec(await n1.metrics.registry.metrics())?.[1] ?? 0);
    try {
      const dropped = await until(() => n1.audit.records({ kind: 'message', subject: 'n3' }).at(0), 'n3 audited');
      expect(dropped).toMatchObject({ outcome: 'dropped', reason: 'Refused: n3 is not a member' });
      expect(n1.status()).toMatchObject({ role: 'leader', term });
      const before = await refusedTotal();
      await admin.submit({ op: 'block', node: 'n3', reason: 'rogue' });
      await until(async () => (await refusedTotal()) > before, 'n3 refused at the handshake');
      expect(n1.audit.records({ kind: 'block', subject: 'n3' }).map((r) => r.reason)).toEqual(['rogue']);
      expect(n1.status()).toMatchObject({ role: 'leader', term });
    } finally {
      await admin.close();
      await Promise.all([n1.stop(), n3.stop()]);
    }
  }, 30_000);
});
