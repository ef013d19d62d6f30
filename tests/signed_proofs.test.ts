/**
 * Signed proof artifacts (issue 14 §7): workers sign their task proofs with
 * their node keys, one signature each or one per reported batch (a Merkle
 * root, each proof with its inclusion path); anyone holding the cluster CA
 * verifies them on demand with verifyProof or `grey proof verify`, and
 * every way a proof or its certificate can be wrong fails with its code.
 * Replicas never verify signatures when they apply a completion.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leafHash, merkleTree, rootFromPath } from '../actors/merkleTree.js';
import { base64url, expandProofBatch, ProofSigner, proofBytes, signProof, signProofBatch, type ProofBatchSignature, type ProofSigningMode } from '../actors/proofSignature.js';
import type { ProposeOutcome } from '../actors/clusterNode.js';
import { verifyProof, type VerifyProofOptions } from '../actors/proofVerification.js';
import { deriveIdentity } from '../actors/nodeIdentity.js';
import { generateIdentity } from '../system/nodeIdentityFiles.js';
import { createCertificateAuthority, toPem } from '../actors/nodeCertificate.js';
import { canonicalJson } from '../actors/canonical.js';
import { lengthPrefixed } from '../actors/domainEncoding.js';
import type { ProofArtifact } from '../actors/taskTable.js';
import { main } from '../system/cli.js';
import { createClusterCa, issueCertificate } from '../system/certificates.js';
import { createCluster, type Cluster } from '../system/cluster.js';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';

const root = mkdtempSync(join(tmpdir(), 'grey-proofs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NETWORK = { latency: { base: 2, jitter: 1, distribution: 'uniform' as const } };

/** A secure 3-node cluster that ran `n` echo tasks; their results and proofs, in submission order. */
async function ranTasks(n: number, proofSigning: ProofSigningMode = 'batch', seed = 5): Promise<{ c: Cluster; done: Array<{ result: unknown; proof: ProofArtifact }> }> {
  const c = createCluster({ nodes: 3, seed, network: NETWORK, security: { proofSigning } });
  c.registerHandler('echo', (p) => ({ echo: p }));
  await c.waitForLeader();
  const client = c.client();
  const handles = Array.from({ length: n }, (_, i) => client.submitTask({ type: 'echo', payload: i }));
  const done = await c.drive(Promise.all(handles.map((h) => h.result)), 10_000);
  return { c, done };
}

/** Options to verify a proof of cluster `c` with the certificate of its worker (or of `as`). */
function against(c: Cluster, proof: ProofArtifact, as = proof.workerId): VerifyProofOptions {
  return { certificate: c.security!.credentials(as).certificate, trusted: [c.security!.ca], now: c.kernel.now() };
}

describe('Merkle inclusion paths (RFC 9162)', () => {
  it('every leaf of trees of 1 to 70 leaves leads to the root by its path, and to nothing else by another index', () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leafHash(Uint8Array.of(i, n)));
      const tree = merkleTree(leaves);
      for (let i = 0; i < n; i++) {
        const path = tree.path(i);
        expect(Buffer.from(rootFromPath(leaves[i], i, n, path)!)).toEqual(Buffer.from(tree.root));
        expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        if (n > 1) {
          const other = rootFromPath(leaves[i], (i + 1) % n, n, path);
          expect(other === null || !Buffer.from(other).equals(Buffer.from(tree.root))).toBe(true);
        }
      }
    }
    // Two leaves and their parent: the root is SHA-256(0x01 ‖ leaf0 ‖ leaf1), never a leaf's hash.
    expect(rootFromPath(leafHash(Uint8Array.of(1)), 2, 2, [])).toBeNull();
    expect(() => merkleTree([])).toThrow(RangeError);
  });
});

describe('signed proof artifacts', () => {
  it('a secure cluster signs every proof in batches; each verifies against the CA, and every replica holds the same signed proof', async () => {
    const { c, done } = await ranTasks(40);
    await c.settle(); // every replica has applied every completion
    const batched = done.filter((d) => d.proof.signature?.batch !== undefined);
    expect(batched.length).toBeGreaterThan(0); // completions reported together share one signature
    for (const { proof } of done) {
      const v = verifyProof(proof, against(c, proof));
      expect(v, JSON.stringify(v)).toMatchObject({ ok: true, signer: { name: proof.workerId, keyFingerprint: c.security!.identity(proof.workerId).fingerprint } });
      expect(proof.signature!.keyFingerprint).toBe(c.security!.identity(proof.workerId).fingerprint);
      for (const n of c.upNodes()) expect(n.state.task(proof.taskId)?.proof).toEqual(proof);
    }
    const [first] = batched;
    const sharing = batched.filter((d) => d.proof.signature!.value === first.proof.signature!.value);
    expect(sharing.length).toBe(first.proof.signature!.batch!.size);
  });

  it('a report carries its batch signature once, with a leaf hash per completion and no paths; replicas rebuild the proofs signProofBatch makes; a batch that does not fit is refused', async () => {
    const { c, done } = await ranTasks(40);
    await c.settle();
    // In the log: reports with a proofBatch, their completions unsigned, one 32-byte leaf each.
    const leader = c.leader()!;
    let reports = 0;
    for (let i = leader.raft.log.firstIndex; i <= leader.raft.log.lastIndex; i++) {
      const payload = leader.raft.log.entry(i)?.payload as { kind: string; command?: { cmd?: { op?: string; changes?: Array<{ kind: string; proof?: ProofArtifact }>; proofBatch?: ProofBatchSignature } } };
      const cmd = payload.command?.cmd;
      if (cmd?.op !== 'taskChanges' || cmd.proofBatch === undefined) continue;
      reports++;
      const completions = cmd.changes!.filter((x) => x.kind === 'complete');
      expect(completions.length).toBeGreaterThanOrEqual(2);
      expect(completions.every((x) => x.proof!.signature === undefined)).toBe(true);
      expect(cmd.proofBatch.leaves.length).toBe(32 * completions.length);
      // What the replicas stored: the same proofs, each with its path, verifying.
      for (const x of completions) expect(leader.state.task(x.proof!.taskId)!.proof!.signature!.value).toBe(cmd.proofBatch.value);
    }
    expect(reports).toBeGreaterThan(0);
    expect(done.every(({ proof }) => verifyProof(proof, against(c, proof)).ok)).toBe(true);

    // Unit: signReport's compact form expands to exactly signProofBatch's proofs.
    const id = c.security!.identity('n1');
    const proofs: ProofArtifact[] = Array.from({ length: 7 }, (_, i) => ({ taskId: `t${i}`, workerId: 'n1', attempt: 1, startedAt: i, completedAt: i + 1, cpuTimeUs: 5, cpuTimeSource: 'elapsed', resultHash: 'cd'.repeat(32) }));
    const report = new ProofSigner(id, 'batch').signReport(proofs);
    expect(report.batch!.leaves.length).toBe(7 * 32);
    expect(expandProofBatch(report.proofs, report.batch!)).toEqual(signProofBatch(proofs, id));
    expect(new ProofSigner(id, 'batch').signReport(proofs.slice(0, 1))).toEqual({ proofs: [signProof(proofs[0], id)] });
    expect(expandProofBatch(report.proofs.slice(1), report.batch!)).toBeNull(); // a leaf too many
    expect(expandProofBatch(report.proofs.slice(0, 1), { ...report.batch!, leaves: report.batch!.leaves.subarray(0, 32) })).toBeNull(); // a batch of one
    expect(expandProofBatch(report.proofs, { ...report.batch!, value: 1 as never })).toBeNull();

    // Through the log: a report whose batch does not fit its completions applies nothing and says why.
    const bad = { op: 'taskChanges' as const, changes: done.slice(0, 2).map(({ proof }) => ({ kind: 'complete' as const, taskId: proof.taskId, worker: proof.workerId, attempt: proof.attempt, result: null, proof: { ...proof, signature: undefined }, at: 0 })), proofBatch: { ...report.batch!, leaves: new Uint8Array(32) } };
    const outcome = await c.drive(new Promise<ProposeOutcome>((resolve) => leader.propose({ client: 'test', seq: 1, cmd: bad }, resolve)));
    expect(outcome).toMatchObject({ ok: true, result: { ok: false, code: 'InvalidCommand' } });
  });

  it("'each' signs every proof alone; 'off' and a cluster without security leave proofs unsigned (Unsigned)", async () => {
    const each = await ranTasks(6, 'each');
    for (const { proof } of each.done) {
      expect(proof.signature?.batch).toBeUndefined();
      expect(verifyProof(proof, against(each.c, proof))).toMatchObject({ ok: true, signed: { mode: 'each' } });
    }
    const off = await ranTasks(2, 'off');
    expect(off.done[0].proof.signature).toBeUndefined();
    expect(verifyProof(off.done[0].proof, against(off.c, off.done[0].proof))).toMatchObject({ ok: false, code: 'Unsigned' });

    const plain = createCluster({ nodes: 3, seed: 5, network: NETWORK });
    plain.registerHandler('echo', (p) => p);
    await plain.waitForLeader();
    const { proof } = await plain.drive(plain.client().submitTask({ type: 'echo', payload: 1 }).result);
    expect(proof.signature).toBeUndefined();
    expect(Object.keys(proof).sort()).toEqual(['attempt', 'completedAt', 'cpuTimeSource', 'cpuTimeUs', 'resultHash', 'startedAt', 'taskId', 'workerId']);
  });

  it('the same seed signs the same proofs, byte for byte (Ed25519 is deterministic, keys derive from the seed)', async () => {
    const a = await ranTasks(10, 'batch', 9);
    const b = await ranTasks(10, 'batch', 9);
    expect(b.done.map((d) => d.proof)).toEqual(a.done.map((d) => d.proof));
  });

  it('an altered field, result hash or batch path fails with BadSignature; a forged proof still applies (replicas never verify)', async () => {
    const { c, done } = await ranTasks(20);
    const { proof } = done.find((d) => d.proof.signature?.batch !== undefined)!;
    const alter = (change: Partial<ProofArtifact>) => verifyProof({ ...proof, ...change }, against(c, proof));
    expect(alter({ cpuTimeUs: proof.cpuTimeUs + 1 })).toMatchObject({ ok: false, code: 'BadSignature' });
    expect(alter({ attempt: proof.attempt + 1 })).toMatchObject({ ok: false, code: 'BadSignature' });
    expect(alter({ completedAt: proof.completedAt - 1 })).toMatchObject({ ok: false, code: 'BadSignature' });
    expect(alter({ resultHash: proof.resultHash.replace(/^./, (d) => (d === '0' ? '1' : '0')) })).toMatchObject({ ok: false, code: 'BadSignature' });
    expect(verifyProof({ ...proof, extra: 1 } as ProofArtifact, against(c, proof))).toMatchObject({ ok: false, code: 'BadSignature' }); // every field is signed
    const sig = proof.signature!;
    const otherPath = { ...sig, batch: { ...sig.batch!, path: [base64url(new Uint8Array(32)), ...sig.batch!.path.slice(1)] } };
    expect(verifyProof({ ...proof, signature: otherPath }, against(c, proof))).toMatchObject({ ok: false, code: 'BadSignature' });
    const otherIndex = { ...sig, batch: { ...sig.batch!, index: (sig.batch!.index + 1) % sig.batch!.size } };
    expect(verifyProof({ ...proof, signature: otherIndex }, against(c, proof))).toMatchObject({ ok: false, code: 'BadSignature' });
    // Malformed signatures are told apart from wrong ones.
    expect(verifyProof({ ...proof, signature: { ...sig, value: 'not base64!' } }, against(c, proof))).toMatchObject({ ok: false, code: 'MalformedProof' });
    expect(verifyProof({ ...proof, signature: { ...sig, batch: { ...sig.batch!, index: 99, size: 2 } } }, against(c, proof))).toMatchObject({ ok: false, code: 'MalformedProof' });
    expect(verifyProof({ taskId: 'x' }, against(c, proof))).toMatchObject({ ok: false, code: 'MalformedProof' });

    // The apply path checks the proof's consistency (task, worker, attempt, resultHash), not its signature.
    const leader = c.leader()!;
    c.registerHandler('slow', async (_p, ctx) => {
      await ctx.sleep(500);
      return 1;
    });
    const client = c.client();
    const h = client.submitTask({ type: 'slow' });
    const { taskId } = await c.drive(h.accepted);
    await c.runUntil(() => leader.state.task(taskId)?.status === 'running', { within: 1_000, description: 'running' });
    const t = leader.state.task(taskId)!;
    const forged: ProofArtifact = { taskId, workerId: t.worker!, attempt: t.attempt, startedAt: 0, completedAt: 1, cpuTimeUs: 1, resultHash: done[0].proof.resultHash, signature: { keyFingerprint: c.security!.identity(t.worker!).fingerprint, value: sig.value } };
    await c.drive(client.submit({ op: 'taskChanges', changes: [{ kind: 'complete', taskId, worker: t.worker!, attempt: t.attempt, result: done[0].result, proof: forged, at: 0 }] }));
    expect(leader.state.task(taskId)!.status).toBe('completed');
    expect(verifyProof(leader.state.task(taskId)!.proof, against(c, forged))).toMatchObject({ ok: false, code: 'BadSignature' });
  });

  it("another node's certificate, or one for the right name with another key, fails with WrongSigner", async () => {
    const { c, done } = await ranTasks(4);
    const { proof } = done[0];
    const other = c.ids.find((id) => id !== proof.workerId)!;
    expect(verifyProof(proof, against(c, proof, other))).toMatchObject({ ok: false, code: 'WrongSigner', reason: expect.stringContaining(`node '${other}'`) });
    const rekeyed = c.security!.credentials(proof.workerId, { identity: deriveIdentity(1234, proof.workerId) }).certificate;
    expect(verifyProof(proof, { ...against(c, proof), certificate: rekeyed })).toMatchObject({ ok: false, code: 'WrongSigner', reason: expect.stringMatching(/signed by key .* binds key/) });
    // A proof re-signed by another node's key, claiming the worker's name: the worker's certificate does not bind that key.
    const { signature: _s, ...unsigned } = proof;
    const impostor = signProof(unsigned, c.security!.identity(other));
    expect(verifyProof(impostor, against(c, proof))).toMatchObject({ ok: false, code: 'WrongSigner' });
    // …and with the impostor's fingerprint swapped for the worker's, the signature itself fails.
    expect(verifyProof({ ...impostor, signature: { ...impostor.signature!, keyFingerprint: proof.signature!.keyFingerprint } }, against(c, proof))).toMatchObject({ ok: false, code: 'BadSignature' });
  });

  it('an expired, not-yet-valid, foreign-CA or damaged certificate fails with its code', async () => {
    const { c, done } = await ranTasks(2);
    const { proof } = done[0];
    const sec = c.security!;
    const base = against(c, proof);
    const expired = sec.credentials(proof.workerId, { notBefore: 0, notAfter: 1_000 }).certificate;
    expect(verifyProof(proof, { ...base, certificate: expired, now: 5_000 })).toMatchObject({ ok: false, code: 'Expired' });
    expect(verifyProof(proof, { ...base, now: 31 * 86_400_000 })).toMatchObject({ ok: false, code: 'Expired' }); // the default 30-day certificate, a month on
    const later = sec.credentials(proof.workerId, { notBefore: 10_000_000, notAfter: 20_000_000 }).certificate;
    expect(verifyProof(proof, { ...base, certificate: later })).toMatchObject({ ok: false, code: 'NotYetValid' });
    const foreign = sec.credentials(proof.workerId, { ca: sec.foreignCa() }).certificate;
    expect(verifyProof(proof, { ...base, certificate: foreign })).toMatchObject({ ok: false, code: 'UntrustedIssuer' });
    expect(verifyProof(proof, { ...base, trusted: [sec.foreignCa()] })).toMatchObject({ ok: false, code: 'UntrustedIssuer' });
    const damaged = sec.credentials(proof.workerId, { tamper: (der) => der.map((b, i) => (i === der.length - 3 ? b ^ 1 : b)) }).certificate;
    expect(verifyProof(proof, { ...base, certificate: damaged })).toMatchObject({ ok: false, code: 'BadCertificate' });
    expect(verifyProof(proof, { ...base, certificate: 'not a certificate' })).toMatchObject({ ok: false, code: 'BadCertificate' });
    expect(verifyProof(proof, { ...base, isRevoked: (fp) => (fp === proof.signature!.keyFingerprint ? 'key leaked' : null) })).toMatchObject({ ok: false, code: 'Revoked' });
  });

  it('signProofBatch and ProofSigner: one signature per batch, a batch of one signed alone, every proof verifiable on its own', () => {
    const ca = createCluster({ nodes: 1, seed: 3, security: true, check: false }).security!;
    const id = ca.identity('w1');
    const proofs: ProofArtifact[] = Array.from({ length: 5 }, (_, i) => ({ taskId: `t${i}`, workerId: 'w1', attempt: 1, startedAt: i, completedAt: i + 1, cpuTimeUs: 1000, cpuTimeSource: 'elapsed', resultHash: 'ab'.repeat(32) }));
    const signed = signProofBatch(proofs, id);
    expect(new Set(signed.map((p) => p.signature!.value)).size).toBe(1);
    const opts = { certificate: ca.credentials('w1').certificate, trusted: [ca.ca], now: 0 };
    for (const p of signed) expect(verifyProof(p, opts).ok).toBe(true);
    expect(signProofBatch(proofs.slice(0, 1), id)[0].signature!.batch).toBeUndefined();
    expect(new ProofSigner(id, 'each').sign(proofs).every((p) => verifyProof(p, opts).ok)).toBe(true);
    expect(() => new ProofSigner(id, 'off' as never)).toThrow(RangeError);
    // The signed bytes are domain-separated canonical JSON, without the signature.
    const bytes = Buffer.from(proofBytes(signed[0]));
    expect(bytes.subarray(0, 17)).toEqual(Buffer.from('\x00\x00\x00\x0dgrey/proof/v1', 'latin1'));
    expect(bytes.subarray(21).toString()).toMatch(/^\{"attempt":1,"completedAt":1,.*"workerId":"w1"\}$/);
    expect(proofBytes(signed[0])).toEqual(proofBytes(proofs[0]));
    // The executor's proofs take a fast path to the same bytes as canonicalJson, whatever their strings and numbers.
    const general = (p: ProofArtifact) => lengthPrefixed('grey/proof/v1', canonicalJson(Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'signature'))));
    const odd: ProofArtifact[] = [
      { ...proofs[0], taskId: 'a"b\\c\n\u2028é', workerId: 'n\u0001', startedAt: -0, completedAt: 1e21, cpuTimeUs: 0.1 + 0.2 },
      { ...proofs[0], cpuTimeSource: 'thread', startedAt: 1.5e-7 },
      { ...proofs[0], cpuTimeSource: undefined },
      { ...proofs[0], extra: [1, { b: 2, a: 1 }] } as ProofArtifact,
      { taskId: 't', workerId: 'w', attempt: 2, startedAt: 0, completedAt: 0, cpuTimeUs: 0, resultHash: 'x' },
    ];
    for (const p of [...proofs, ...odd, ...signed]) expect(Buffer.from(proofBytes(p))).toEqual(Buffer.from(general(p)));
    expect(() => proofBytes({ ...proofs[0], taskId: 'lone \ud800' })).toThrow(/lone surrogate/);
  });

  it('a real-mode node signs with the key of its TLS certificate', async () => {
    const ca = await createClusterCa('proof test CA');
    const tls = await issueCertificate(ca, 'node', 'n1');
    const network = new LocalNetwork();
    const node = await startNode({ id: 'n1', peers: ['n1'], network, tls, dataDir: join(root, 'n1'), raft: { heartbeatMs: 20, electionTimeoutMin: 100, electionTimeoutMax: 200 }, handlers: { double: (p) => (p as number) * 2 } });
    try {
      const client = connect({ network, endpoints: ['n1'], timeoutMs: 10_000 });
      const { proof } = await client.submitTask({ type: 'double', payload: 21 }).result;
      expect(verifyProof(proof, { certificate: tls.cert, trusted: [ca.cert], now: Date.now() })).toMatchObject({ ok: true, signer: { name: 'n1' } });
      await client.close();
    } finally {
      await node.stop();
    }
    await expect(startNode({ id: 'n2', peers: ['n2'], network, tls, dataDir: join(root, 'n2'), proofSigning: 'sometimes' as never })).rejects.toThrow(/proofSigning must be/);
  });
});

describe('grey proof verify', () => {
  /** `grey …` in this process: exit code and output lines. */
  async function grey(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  it('exits 0 for a good proof, 1 with the code and reason for a bad one, 2 for a usage mistake or an unreadable file', async () => {
    const { c, done } = await ranTasks(6);
    const { result, proof } = done[0];
    const sec = c.security!;
    const dir = mkdtempSync(join(root, 'cli-'));
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const cert = file('cert.pem', toPem(sec.credentials(proof.workerId).certificate));
    const otherCert = file('other.pem', toPem(sec.credentials(c.ids.find((id) => id !== proof.workerId)!).certificate));
    const ca = file('ca.pem', sec.ca.pem);
    const good = file('proof.json', JSON.stringify(proof));
    // Simulated certificates are valid from virtual time 0 (1970) for 30 days: check them then.
    const at = ['--at', String(c.kernel.now())];

    const ok = await grey(['proof', 'verify', good, '--cert', cert, '--ca', ca, ...at]);
    expect(ok).toMatchObject({ code: 0, err: [] });
    // A CA bundle (during a rotation: another CA first, then the cluster's) verifies it too.
    const other = createCertificateAuthority(generateIdentity('other CA'), { name: 'other CA', notBefore: 0, notAfter: Date.now() + 86_400_000, serial: '07' });
    const bundle = file('bundle.pem', `${other.pem}\n${sec.ca.pem}`);
    expect(await grey(['proof', 'verify', good, '--cert', cert, '--ca', bundle, ...at])).toMatchObject({ code: 0, err: [] });
    expect(ok.out[0]).toMatch(new RegExp(`^proof ok: task ${proof.taskId} attempt 1, signed (alone|in a batch \\(leaf \\d+ of \\d+\\)) by node ${proof.workerId} \\(key [0-9a-f]{16}…, CA [0-9a-f]{16}…\\)$`));
    // A line of 'grey submit --wait' (result and proof): the result is checked against the signed hash too.
    const line = file('line.json', JSON.stringify({ taskId: proof.taskId, status: 'completed', result, proof }));
    expect((await grey(['proof', 'verify', line, '--cert', cert, '--ca', ca, ...at])).out[0]).toMatch(/the result matches its resultHash$/);
    const wrongResult = file('wrong-result.json', JSON.stringify({ result: { echo: 'other' }, proof }));
    expect(await grey(['proof', 'verify', wrongResult, '--cert', cert, '--ca', ca, ...at])).toMatchObject({ code: 1, err: [expect.stringMatching(/^grey: proof not verified: ResultMismatch: the result hashes to/)] });

    const altered = file('altered.json', JSON.stringify({ ...proof, cpuTimeUs: proof.cpuTimeUs + 1 }));
    expect(await grey(['proof', 'verify', altered, '--cert', cert, '--ca', ca, ...at])).toMatchObject({ code: 1, out: [], err: [expect.stringMatching(/^grey: proof not verified: BadSignature: /)] });
    expect((await grey(['proof', 'verify', good, '--cert', otherCert, '--ca', ca, ...at])).err[0]).toMatch(/: WrongSigner: /);
    expect((await grey(['proof', 'verify', good, '--cert', cert, '--ca', ca])).err[0]).toMatch(/: Expired: /); // now, not 1970
    const unsigned = file('unsigned.json', JSON.stringify({ ...proof, signature: undefined }));
    expect(await grey(['proof', 'verify', unsigned, '--cert', cert, '--ca', ca, ...at])).toMatchObject({ code: 1, err: [expect.stringMatching(/: Unsigned: /)] });

    for (const argv of [
      ['proof'],
      ['proof', 'check', good],
      ['proof', 'verify'],
      ['proof', 'verify', good, '--ca', ca],
      ['proof', 'verify', good, '--cert', cert],
      ['proof', 'verify', good, good, '--cert', cert, '--ca', ca],
      ['proof', 'verify', good, '--cert', cert, '--ca', ca, '--at', 'yesterday'],
      ['proof', 'verify', good, '--cert', cert, '--ca', ca, '--colour'],
    ]) {
      const r = await grey(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toEqual([expect.stringMatching(/^grey: \S/), "(run 'grey help' for usage)"]);
    }
    expect(await grey(['proof', 'verify', join(dir, 'missing.json'), '--cert', cert, '--ca', ca])).toMatchObject({ code: 2, err: [expect.stringMatching(/^grey: cannot read proof file /)] });
    expect(await grey(['proof', 'verify', file('bad.json', '{'), '--cert', cert, '--ca', ca])).toMatchObject({ code: 2, err: [expect.stringMatching(/is not JSON/)] });
    expect(await grey(['proof', 'verify', good, '--cert', join(dir, 'none.pem'), '--ca', ca])).toMatchObject({ code: 2, err: [expect.stringMatching(/cannot read worker certificate/)] });
  });
  it('--task reads the proof from a running cluster (a node over mutual TLS) and takes the PEMs of the cluster folder', async () => {
    const dir = mkdtempSync(join(root, 'task-'));
    const tlsDir = join(dir, 'tls');
    expect(await grey(['certs', '--dir', tlsDir, '--nodes', 'n1', '--operators', 'admin'])).toMatchObject({ code: 0 });
    const read = (who: string, f: string) => readFileSync(join(tlsDir, who, f), 'utf8');
    const tls = { cert: read('n1', 'cert.pem'), key: read('n1', 'key.pem'), ca: read('n1', 'ca.pem') };
    const node = await startNode({ id: 'n1', listen: '127.0.0.1:0', peers: {}, tls, dataDir: join(dir, 'data'), raft: { heartbeatMs: 20, electionTimeoutMin: 100, electionTimeoutMax: 200 }, handlers: { double: (p) => (p as number) * 2 } });
    try {
      const address = `127.0.0.1:${node.address!.port}`;
      writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ nodes: { n1: { address } }, tls: tlsDir, client: 'admin' }));
      const client = connect({ endpoints: { n1: address }, tls: { cert: read('admin', 'cert.pem'), key: read('admin', 'key.pem'), ca: read('admin', 'ca.pem') }, timeoutMs: 10_000 });
      const { taskId } = await client.submitTask({ type: 'double', payload: 4 }).result;
      await client.close();
      const ok = await grey(['proof', 'verify', '--task', taskId, '--dir', dir]);
      expect(ok, ok.err.join('\n')).toMatchObject({ code: 0, out: [expect.stringMatching(new RegExp(`^proof ok: task ${taskId} attempt 1, signed alone by node n1 .*; the result matches its resultHash$`))] });
      expect(await grey(['proof', 'verify', '--task', 'task_AAAAAAAAAAAAAAAA', '--dir', dir])).toMatchObject({ code: 1, err: [expect.stringMatching(/^grey: no task task_AAAAAAAAAAAAAAAA \(never submitted, or pruned: finished tasks are kept for 60 s by default, 'grey node --retention'\)$/)] });
      expect((await grey(['proof', 'verify', join(dir, 'x.json'), '--task', taskId, '--dir', dir])).code).toBe(2);
    } finally {
      await node.stop();
    }
  }, 30_000);
});
