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
let certs: Record<'n1' | 'n2' | 'admin', TlsIdentity>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'grey-real-join-'));
  const ca = await createClusterCa();
  certs = { n1: await issueCertificate(ca, 'node', 'n1'), n2: await issueCertificate(ca, 'node', 'n2'), admin: await issueCertificate(ca, 'operator', 'admin') };
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
});
