/**
 * The seed's security and attestation workflow, on a simulated cluster
 * whose CA, TEE vendor and node keys derive from its seed: identities,
 * certificate validation, hardware and software attestation, the join
 * handshake (certificate → challenge → evidence → verdict → approval),
 * refusals of every kind, the audit log, blocking and trust levels.
 */
import { describe, expect, it } from 'vitest';
import { createCluster, type Cluster } from '../system/cluster.js';
import { deriveIdentity } from '../actors/nodeIdentity.js';
import { parseCertificate, validateCertificate, CertificateError } from '../actors/nodeCertificate.js';
import { JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_HELLO, JOIN_RESULT, joinProofBytes, type JoinChallenge, type JoinResult } from '../actors/joinAuthenticator.js';
import type { JoinOutcome } from '../actors/joinRequester.js';
import type { SimulatedSecurityOptions } from '../system/simulatedSecurity.js';
import type { ClusterNode } from '../actors/clusterNode.js';

const SEEDS = ['n1', 'n2', 'n3'];

async function secureCluster(security: SimulatedSecurityOptions = {}, seed = 7): Promise<Cluster> {
  const c = createCluster({ nodes: 3, seed, security });
  await c.waitForLeader();
  await c.run(200); // the bootstrap entry (policy, founders' identities) is applied
  return c;
}

async function join(c: Cluster, node: ClusterNode): Promise<JoinOutcome> {
  return c.drive(node.requestJoin(SEEDS), 10_000);
}

/** Runs until `check` holds on every founding member's replicated state. */
async function onEveryMember(c: Cluster, check: (node: ClusterNode) => boolean, description: string): Promise<void> {
  await c.runUntil(() => SEEDS.every((id) => check(c.node(id))), { within: 5_000, description });
}

/** Join records every member wrote about `subject`, newest last. */
function joinAudit(c: Cluster, subject: string) {
  return SEEDS.flatMap((id) => c.node(id).audit.records({ kind: 'join', subject }));
}

/**
 * A node on the bus that speaks the handshake by hand (to replay a nonce,
 * answer late, or claim a name it does not hold), collecting what it is sent.
 */
function rawEndpoint(c: Cluster, id: string, register = true) {
  if (register) c.bus.addNode(id);
  const inbox: Array<{ from: string; type: string; payload: unknown }> = [];
  c.bus.inbox(id).subscribe((e) => inbox.push({ from: e.from, type: e.type, payload: e.payload }));
  return {
    inbox,
    send: (to: string, type: string, payload: unknown) => void c.bus.send(id, to, type, payload),
    last: <T>(type: string): T | undefined => inbox.filter((m) => m.type === type).at(-1)?.payload as T | undefined,
  };
}

describe('security & attestation workflow', () => {
  it('test_identity_generation: keys derive from the seed and the name, the same every time, and each certificate binds its node’s key', async () => {
    const a = deriveIdentity(7, 'n4');
    expect(Buffer.from(deriveIdentity(7, 'n4').publicKey)).toEqual(Buffer.from(a.publicKey));
    expect(a.fingerprint).not.toBe(deriveIdentity(8, 'n4').fingerprint);
    expect(a.fingerprint).not.toBe(deriveIdentity(7, 'n5').fingerprint);
    expect(a.publicKey.length).toBe(32);
    const c = await secureCluster();
    const cert = parseCertificate(c.security!.credentials('n4').certificate);
    expect(cert.subject).toEqual({ role: 'node', name: 'n4' });
    expect(cert.fingerprint).toBe(a.fingerprint);
    // Founding members are recorded with their derived keys.
    for (const id of SEEDS) expect(c.node('n1').state.member(id)?.identity?.fingerprint).toBe(deriveIdentity(7, id).fingerprint);
  });

  it('test_certificate_validation: expiry first, then the signature, then a trusted issuer, then revocation', async () => {
    const c = await secureCluster();
    const s = c.security!;
    const good = s.credentials('n4').certificate;
    const trusted = [s.ca];
    expect(validateCertificate(good, { trusted, now: 1_000 }).subject.name).toBe('n4');
    const code = (der: Uint8Array, now = 1_000, isRevoked?: () => string | null) => {
      try {
        validateCertificate(der, { trusted, now, ...(isRevoked ? { isRevoked } : {}) });
        return 'valid';
      } catch (err) {
        expect(err).toBeInstanceOf(CertificateError);
        return (err as CertificateError).code;
      }
    };
    const flipLast = (der: Uint8Array) => {
      const d = Uint8Array.from(der);
      d[d.length - 1] ^= 0xff;
      return d;
    };
    expect(code(s.credentials('n4', { notAfter: 500 }).certificate)).toBe('Expired');
    expect(code(s.credentials('n4', { notBefore: 5_000 }).certificate)).toBe('NotYetValid');
    expect(code(s.credentials('n4', { notAfter: 500, tamper: flipLast }).certificate)).toBe('Expired'); // expiry is checked first
    expect(code(s.credentials('n4', { tamper: flipLast }).certificate)).toBe('BadSignature');
    expect(code(s.credentials('n4', { ca: s.foreignCa() }).certificate)).toBe('UntrustedIssuer');
    expect(code(good, 1_000, () => 'blocked by an operator')).toBe('Revoked');
  });

  it('test_hardware_attestation: a quote from a trusted TEE, bound to the nonce and the node’s key, earns hardware trust', async () => {
    const c = await secureCluster({ minTrust: 'hardware' });
    const n4 = c.addNode('n4');
    const outcome = await join(c, n4);
    expect(outcome).toEqual({ ok: true, trust: 'hardware' });
    await onEveryMember(c, (n) => n.state.member('n4')?.status === 'pendingApproval', 'n4 pending approval everywhere');
    const m = c.node('n2').state.member('n4')!;
    expect(m.identity).toMatchObject({ trust: 'hardware', measurement: c.security!.tee.measurement, fingerprint: deriveIdentity(7, 'n4').fingerprint });
  });

  it('test_software_attestation: a self-signed measurement is accepted at the lower software trust where the policy allows it', async () => {
    const c = await secureCluster({ minTrust: 'software' });
    const n4 = c.addNode('n4', { credentials: c.security!.credentials('n4', { attestation: 'software' }) });
    expect(await join(c, n4)).toEqual({ ok: true, trust: 'software' });
    await c.runUntil(() => c.node('n3').state.member('n4')?.identity?.trust === 'software', { within: 2_000 });
  });

  it('test_node_join_authentication: certificate → challenge → evidence → accepted → approved → learner → voter', async () => {
    const c = await secureCluster();
    const n4 = c.addNode('n4');
    const states: string[] = [];
    const r = n4.requestJoin(SEEDS);
    // The joiner's handshake chart, step by step.
    states.push((n4 as unknown as { joining: { state: string } }).joining.state);
    const outcome = await c.drive(r, 10_000);
    states.push((n4 as unknown as { joining: { state: string } }).joining.state);
    expect(states).toEqual(['presenting', 'admitted']);
    expect(outcome.ok).toBe(true);
    const op = c.client({ id: 'operator' });
    await c.runUntil(() => c.node('n1').state.member('n4')?.status === 'pendingApproval', { within: 2_000 });
    await c.drive(op.submit({ op: 'approve', node: 'n4' }));
    await c.runUntil(() => c.node('n1').state.member('n4')?.status === 'voter', { within: 10_000, description: 'n4 promoted once caught up' });
    await c.runUntil(() => c.node('n4').raft.config.voters.includes('n4'), { within: 5_000, description: 'n4 has applied its promotion' });
    expect(joinAudit(c, 'n4').map((r) => r.outcome)).toEqual(['accepted']);
  });

  it('test_unauthorized_node_rejection: nodes with bad credentials are refused, never become members, and every refusal is audited', async () => {
    const c = await secureCluster({ minTrust: 'hardware' });
    const s = c.security!;
    const cases: Array<[string, Parameters<typeof s.credentials>[1], string]> = [
      ['x1', { ca: s.foreignCa() }, 'UntrustedIssuer'],
      ['x2', { attestation: 'none' }, 'NoAttestation'],
      ['x3', { attestation: 'software' }, 'InsufficientTrust'],
      ['x4', { signer: deriveIdentity(7, 'thief') }, 'BadProof'],
    ];
    for (const [id, creds, code] of cases) {
      const outcome = await join(c, c.addNode(id, { credentials: s.credentials(id, creds) }));
      expect(outcome, id).toMatchObject({ ok: false, code });
      expect(c.node('n1').state.member(id), id).toBeUndefined();
      expect(joinAudit(c, id).map((r) => [r.outcome, r.detail])).toEqual([['rejected', expect.objectContaining({ code })]]);
    }
    // A join proposed without the handshake is refused by the replicated state itself.
    const op = c.client({ id: 'operator' });
    await expect(c.drive(op.submit({ op: 'join', node: 'x9' }))).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  it('test_audit_logging: joins, refusals, approvals and blocks are logged, hash-chained, on every member', async () => {
    const c = await secureCluster({ minTrust: 'hardware' });
    await join(c, c.addNode('n4'));
    await join(c, c.addNode('x1', { credentials: c.security!.credentials('x1', { attestation: 'none' }) }));
    const op = c.client({ id: 'operator' });
    await c.runUntil(() => c.node('n1').state.member('n4')?.status === 'pendingApproval', { within: 2_000 });
    await c.drive(op.submit({ op: 'block', node: 'n4', reason: 'key leaked' }));
    await c.run(100);
    const all = SEEDS.flatMap((id) => c.node(id).audit.records());
    expect(all.filter((r) => r.kind === 'join').map((r) => `${r.subject}:${r.outcome}`).sort()).toEqual(['n4:accepted', 'x1:rejected']);
    for (const id of SEEDS) {
      const a = c.node(id).audit;
      expect(a.records({ kind: 'block', subject: 'n4' }).map((r) => r.reason)).toEqual(['key leaked']);
      expect(a.verify()).toMatchObject({ ok: true });
      const recs = a.records();
      for (let i = 1; i < recs.length; i++) expect(recs[i].prev).toBe(recs[i - 1].hash);
    }
  });

  it('test_node_blocking: a blocked node and its key stay out: not under its name, not under another', async () => {
    const c = await secureCluster();
    const op = c.client({ id: 'operator' });
    expect(await join(c, c.addNode('n4'))).toMatchObject({ ok: true });
    await c.runUntil(() => c.node('n1').state.member('n4')?.status === 'pendingApproval', { within: 2_000 });
    await c.drive(op.submit({ op: 'approve', node: 'n4' }));
    await c.runUntil(() => c.node('n1').state.member('n4')?.status === 'voter', { within: 10_000 });
    await c.drive(op.submit({ op: 'block', node: 'n4', reason: 'compromised' }));
    await onEveryMember(c, (n) => n.state.member('n4')?.status === 'blocked' && !n.raft.config.voters.includes('n4'), 'n4 blocked and out of the configuration');
    expect(c.node('n2').state.member('n4')?.status).toBe('blocked');
    expect(c.node('n2').state.blockedReason('other', deriveIdentity(7, 'n4').fingerprint)).toMatch(/blocked/);
    // The same key under a new name: its certificate is refused as revoked.
    const again = await join(c, c.addNode('n5', { credentials: c.security!.credentials('n5', { identity: deriveIdentity(7, 'n4') }) }));
    expect(again).toMatchObject({ ok: false, code: 'Revoked' });
    // Unblocking lifts the key too; the node must still ask again.
    await c.drive(op.submit({ op: 'unblock', node: 'n4' }));
    await c.run(100);
    expect(c.node('n1').state.blockedReason('n5', deriveIdentity(7, 'n4').fingerprint)).toBeNull();
  });

  it('test_trust_verification: each member’s trust level is recorded as attested, and the policy’s minimum is enforced and can be raised', async () => {
    const c = await secureCluster({ minTrust: 'software' });
    const s = c.security!;
    await join(c, c.addNode('n4'));
    await join(c, c.addNode('n5', { credentials: s.credentials('n5', { attestation: 'software' }) }));
    await onEveryMember(c, (n) => n.state.member('n4')?.identity !== undefined && n.state.member('n5')?.identity !== undefined, 'n4 and n5 recorded everywhere');
    for (const id of SEEDS) {
      expect(c.node(id).state.member('n4')?.identity?.trust).toBe('hardware');
      expect(c.node(id).state.member('n5')?.identity?.trust).toBe('software');
    }
    const op = c.client({ id: 'operator' });
    await c.drive(op.submit({ op: 'setSecurityPolicy', minTrust: 'hardware' }));
    await c.run(100);
    expect(c.node('n3').state.securityPolicy.minTrust).toBe('hardware');
    expect(await join(c, c.addNode('n6', { credentials: s.credentials('n6', { attestation: 'software' }) }))).toMatchObject({ ok: false, code: 'InsufficientTrust' });
  });
});

describe('join authentication: each refusal', () => {
  async function refused(creds: Parameters<NonNullable<Cluster['security']>['credentials']>[1], security: SimulatedSecurityOptions = {}): Promise<JoinOutcome> {
    const c = await secureCluster(security);
    return join(c, c.addNode('n4', { credentials: c.security!.credentials('n4', creds) }));
  }

  it('an expired certificate', async () => {
    expect(await refused({ notAfter: 100 })).toMatchObject({ ok: false, code: 'Expired' });
  });
  it('a certificate not yet valid', async () => {
    expect(await refused({ notBefore: 3_600_000 })).toMatchObject({ ok: false, code: 'NotYetValid' });
  });
  it('a certificate from another CA', async () => {
    const c = await secureCluster();
    const outcome = await join(c, c.addNode('n4', { credentials: c.security!.credentials('n4', { ca: c.security!.foreignCa('rogue CA') }) }));
    expect(outcome).toMatchObject({ ok: false, code: 'UntrustedIssuer' });
  });
  it('a certificate with a bad signature', async () => {
    const flip = (der: Uint8Array) => {
      const d = Uint8Array.from(der);
      d[d.length - 2] ^= 0x01;
      return d;
    };
    expect(await refused({ tamper: flip })).toMatchObject({ ok: false, code: 'BadSignature' });
  });
  it('a replayed nonce', async () => {
    const c = await secureCluster();
    const x = rawEndpoint(c, 'n4');
    const creds = c.security!.credentials('n4');
    x.send('n2', JOIN_HELLO, { certificate: creds.certificate });
    await c.run(20);
    const ch = x.last<JoinChallenge>(JOIN_CHALLENGE)!;
    const answer = { nonce: ch.nonce, evidence: creds.evidence(ch.nonce, c.kernel.now()), signature: creds.sign(joinProofBytes('n4', ch.nonce)) };
    x.send('n2', JOIN_EVIDENCE, answer);
    await c.run(20);
    expect(x.last<JoinResult>(JOIN_RESULT)).toMatchObject({ ok: true });
    x.send('n2', JOIN_EVIDENCE, answer);
    await c.run(20);
    expect(x.last<JoinResult>(JOIN_RESULT)).toMatchObject({ ok: false, code: 'ReplayedNonce' });
  });
  it('an expired challenge', async () => {
    const c = await secureCluster({ challengeTtlMs: 500 });
    const x = rawEndpoint(c, 'n4');
    const creds = c.security!.credentials('n4');
    x.send('n2', JOIN_HELLO, { certificate: creds.certificate });
    await c.run(20);
    const ch = x.last<JoinChallenge>(JOIN_CHALLENGE)!;
    await c.run(600);
    x.send('n2', JOIN_EVIDENCE, { nonce: ch.nonce, evidence: creds.evidence(ch.nonce, c.kernel.now()), signature: creds.sign(joinProofBytes('n4', ch.nonce)) });
    await c.run(20);
    expect(x.last<JoinResult>(JOIN_RESULT)).toMatchObject({ ok: false, code: 'ChallengeExpired' });
  });
  it('no attestation', async () => {
    expect(await refused({ attestation: 'none' })).toMatchObject({ ok: false, code: 'NoAttestation' });
  });
  it('software attestation where hardware is required', async () => {
    expect(await refused({ attestation: 'software' }, { minTrust: 'hardware' })).toMatchObject({ ok: false, code: 'InsufficientTrust' });
  });
  it('a revoked TCB', async () => {
    const c = await secureCluster();
    const tee = c.security!.platform('old-machine', { tcbStatus: 'Revoked' });
    expect(await join(c, c.addNode('n4', { credentials: c.security!.credentials('n4', { attestation: tee }) }))).toMatchObject({ ok: false, code: 'TcbRevoked' });
  });
  it('a blocked identity', async () => {
    const c = await secureCluster();
    await c.drive(c.client({ id: 'operator' }).submit({ op: 'block', node: 'n4', reason: 'known bad' }));
    expect(await join(c, c.addNode('n4'))).toMatchObject({ ok: false, code: 'Revoked' });
  });
  it('a node id that collides with an existing member', async () => {
    const c = await secureCluster();
    // Someone holding a CA-issued certificate for 'n1' with another key speaks as n1.
    const impostor = deriveIdentity(99, 'n1');
    const creds = c.security!.credentials('n1', { identity: impostor });
    const x = rawEndpoint(c, 'n1', false);
    x.send('n2', JOIN_HELLO, { certificate: creds.certificate });
    await c.run(20);
    const refusal = c.node('n2').audit.records({ kind: 'join', subject: 'n1' }).at(-1);
    expect(refusal).toMatchObject({ outcome: 'rejected', detail: expect.objectContaining({ code: 'NameTaken' }) });
    expect(c.node('n2').state.member('n1')?.identity?.fingerprint).toBe(deriveIdentity(7, 'n1').fingerprint);
  });
});

describe('message authentication between nodes (simulation: a MAC under a per-link key from an authenticated exchange)', () => {
  /** A sealed message n1 sent n2, as it was on the wire. */
  async function capture(c: Cluster): Promise<{ type: string; payload: { s: number; b: Uint8Array; m: Uint8Array } }> {
    const seen: Array<{ from: string; type: string; payload: unknown }> = [];
    const sub = c.bus.inbox('n2').subscribe((e) => seen.push({ from: e.from, type: e.type, payload: e.payload }));
    await c.runUntil(() => seen.some((m) => m.from === 'n1' && m.type.startsWith('raft.')), { within: 1_000 });
    sub.unsubscribe();
    const m = seen.find((x) => x.from === 'n1' && x.type.startsWith('raft.'))!;
    return { type: m.type, payload: m.payload as { s: number; b: Uint8Array; m: Uint8Array } };
  }
  const drops = (c: Cluster, node: string, from: string) => c.node(node).audit.records({ kind: 'message', subject: from }).map((r) => (r.detail as { reason: string }).reason);

  it('every node-to-node message carries a MAC; clients and the join handshake do not need one', async () => {
    const c = await secureCluster();
    const m = await capture(c);
    expect(m.payload.m).toBeInstanceOf(Uint8Array);
    expect(m.payload.m.length).toBe(16);
    expect(m.payload.s).toBeGreaterThan(0);
    // A client on the network is served as before.
    expect((await c.drive(c.client({ id: 'app' }).put('k', 1))).revision).toBeGreaterThan(0);
    for (const id of SEEDS) expect(c.node(id).audit.records({ kind: 'message' })).toEqual([]);
  });

  it('a forged message (a MAC not made with the link key) is dropped and audited', async () => {
    const c = await secureCluster();
    const before = c.node('n2').raft.status().commitIndex;
    void c.bus.send('n1', 'n2', 'raft.append', { s: 1_000_000, b: new Uint8Array([0x80]), m: new Uint8Array(16) });
    await c.run(50);
    expect(drops(c, 'n2', 'n1')).toEqual(['BadMac']);
    expect(c.node('n2').raft.status().commitIndex).toBeGreaterThanOrEqual(before);
  });

  it('an altered message (one byte of a real message changed) is dropped and audited', async () => {
    const c = await secureCluster();
    const m = await capture(c);
    const b = Uint8Array.from(m.payload.b);
    b[b.length - 1] ^= 0x01;
    void c.bus.send('n1', 'n2', m.type, { ...m.payload, b });
    await c.run(50);
    expect(drops(c, 'n2', 'n1')).toEqual(['BadMac']);
  });

  it('a replayed message (a real message sent again) is dropped and audited', async () => {
    const c = await secureCluster();
    const m = await capture(c);
    await c.run(50);
    void c.bus.send('n1', 'n2', m.type, m.payload);
    await c.run(50);
    expect(drops(c, 'n2', 'n1')).toEqual(['Replayed']);
  });

  it("a non-member's messages are dropped and audited, even with a certificate from the cluster CA", async () => {
    const c = await secureCluster();
    c.addNode('x9'); // certified by the cluster CA, never joined
    const x = c.node('x9');
    // It speaks Raft to n2 as if it were a member: its link hello is refused, so nothing it sends is read.
    (x as unknown as { transport: { send(to: string, type: string, p: unknown): void } }).transport.send('n2', 'raft.vote', { term: 99, candidate: 'x9', lastIndex: 0, lastTerm: 0, preVote: false, transfer: false });
    await c.run(200);
    expect(drops(c, 'n2', 'x9')).toContain('Refused');
    expect(c.node('n2').raft.currentTerm).toBeLessThan(99);
  });

  it('a blocked node is cut off at once: its session ends when the block applies, and it cannot open another', async () => {
    const c = await secureCluster();
    const op = c.client({ id: 'operator' });
    await join(c, c.addNode('n4'));
    await onEveryMember(c, (n) => n.state.member('n4')?.status === 'pendingApproval', 'n4 pending');
    await c.drive(op.submit({ op: 'approve', node: 'n4' }));
    await onEveryMember(c, (n) => n.state.member('n4')?.status === 'voter', 'n4 a voter');
    await c.drive(op.submit({ op: 'block', node: 'n4', reason: 'compromised' }));
    await onEveryMember(c, (n) => n.state.member('n4')?.status === 'blocked', 'n4 blocked everywhere');
    await c.run(300); // n4 keeps talking (heartbeat replies, elections): every member drops it
    for (const id of SEEDS) {
      expect(drops(c, id, 'n4').length, id).toBeGreaterThan(0);
      expect(drops(c, id, 'n4').every((r) => r === 'NoSession' || r === 'Refused'), id).toBe(true);
    }
    // The cluster goes on without it.
    expect((await c.drive(op.put('after', 1))).revision).toBeGreaterThan(0);
  });
});
