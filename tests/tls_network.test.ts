/**
 * Nodes over TCP with mutual TLS (TlsNetwork): Ed25519 certificates from a
 * cluster CA bind each node's name; three embedded nodes on loopback form
 * a cluster and serve a TLS client; a certificate from another CA, one
 * that binds another name, a client sending Raft messages and a peer
 * speaking another protocol version are all refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { realNodeSecurity } from '../system/realSecurity.js';
import { caBundleProblem, certificateValidityProblem, createClusterCa, identitiesOf, issueCertificate, tlsIdentityProblem, type ClusterCa, type TlsIdentity } from '../system/certificates.js';
import { createCertificateAuthority, issueNodeCertificate, loadCertificateAuthority } from '../actors/nodeCertificate.js';
import { privateKeyPem } from '../actors/nodeIdentity.js';
import { generateIdentity } from '../system/nodeIdentityFiles.js';
import { connect, startNode, type GreyNode } from '../system/embeddedNode.js';
import { ClientError } from '../system/clientError.js';
import { PROTOCOL_VERSION, TlsNetwork } from '../system/tlsNetwork.js';
import { msgpackCodec } from '../system/codec.js';
import { freePort, freePorts, until } from './helpers/realTime.js';
import { hello } from './helpers/tlsHello.js';

const root = mkdtempSync(join(tmpdir(), 'grey-tls-'));
let ca: ClusterCa;
let certs: Record<string, TlsIdentity>;
beforeAll(async () => {
  ca = await createClusterCa();
  certs = {
    n1: await issueCertificate(ca, 'node', 'n1'),
    n2: await issueCertificate(ca, 'node', 'n2'),
    n3: await issueCertificate(ca, 'node', 'n3'),
    app: await issueCertificate(ca, 'client', 'app'),
    admin: await issueCertificate(ca, 'operator', 'admin'),
  };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FAST = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };



describe('certificates', () => {
  it('bind a name and a role in a grey:// URI, readable synchronously', async () => {
    expect(identitiesOf(certs.n1.cert)).toEqual([{ role: 'node', name: 'n1' }]);
    expect(identitiesOf(certs.app.cert)).toEqual([{ role: 'client', name: 'app' }]);
    expect(() => new TlsNetwork({ id: 'n2', role: 'node', tls: certs.n1 })).toThrow(/binds node:n1, not node:n2/);
  });

  it('carry the hosts a node is reached at, for ordinary TLS clients of its API', async () => {
    const { X509Certificate } = await import('node:crypto');
    const id = await issueCertificate(ca, 'node', 'n9', { hosts: ['127.0.0.1', 'grey-9.internal'] });
    const x = new X509Certificate(id.cert);
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkHost('grey-9.internal')).toBe('grey-9.internal');
    expect(x.checkHost('elsewhere.internal')).toBeUndefined();
    expect(identitiesOf(x)).toEqual([{ role: 'node', name: 'n9' }]);
    await expect(issueCertificate(ca, 'node', 'n9', { hosts: [''] })).rejects.toThrow(TypeError);
  });
});

describe('certificates that cannot be used, and peers that cannot be reached, say why', () => {
  it('an expired or not-yet-valid certificate, or CA, is refused before anything opens, naming the date', () => {
    const authority = loadCertificateAuthority(ca.cert, ca.key);
    const issue = (notBefore: number, notAfter: number): TlsIdentity => {
      const identity = generateIdentity('n1');
      return { cert: issueNodeCertificate(authority, { role: 'node', name: 'n1', publicKey: identity.publicKey, notBefore, notAfter, serial: 'a1' }).pem, key: privateKeyPem(identity), ca: ca.cert };
    };
    const day = 86_400_000;
    const expired = issue(Date.now() - 10 * day, Date.now() - day);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: expired })).toThrow(/certificate for node:n1 is expired on \d{4}-.*issue a new one/);
    const early = issue(Date.now() + day, Date.now() + 10 * day);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: early })).toThrow(/is not valid until .*clock behind/);
    const oldCa = createCertificateAuthority(generateIdentity('old CA'), { name: 'old CA', notBefore: Date.now() - 10 * day, notAfter: Date.now() - day, serial: '01' });
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, ca: oldCa.pem } })).toThrow(/cluster CA certificate is expired/);
    expect(certificateValidityProblem(certs.n1.cert)).toBeNull();
  });

  it('a certificate its CA bundle did not issue, a key that is not the certificate\'s, or a file that is not PEM is refused before anything opens, naming which', async () => {
    const otherCa = await createClusterCa('Someone else');
    const stranger = await issueCertificate(otherCa, 'node', 'n1');
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...stranger, ca: certs.n1.ca } })).toThrow(/^TlsNetwork: the CA bundle did not issue the certificate beside it \(a CA of another cluster/);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, key: certs.n2.key } })).toThrow(/^TlsNetwork: the private key is not the key of the certificate beside it/);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, cert: 'garbage' } })).toThrow(/^TlsNetwork: the certificate is not a PEM certificate \(/);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, key: 'garbage' } })).toThrow(/^TlsNetwork: the private key is not a PEM private key \(/);
    // A bundle in rotation holding the issuing CA among others is fine.
    expect(tlsIdentityProblem({ ...certs.n1, ca: `${otherCa.cert}\n${certs.n1.ca}` })).toBeNull();
    expect(tlsIdentityProblem(stranger)).toBeNull();
  });

  it('a client connecting with a node certificate is told which certificate a client needs', () => {
    expect(() => connect({ endpoints: { n1: '127.0.0.1:1' }, tls: certs.n1 })).toThrow(/^connect: the certificate binds no client or operator \(it binds node:n1\); a client connects with a client or operator certificate .*\.grey\/tls\/admin\)$/);
  });

  it('a CA bundle in rotation, an expired old CA first and the valid one after it, is accepted; a bundle with no valid CA is refused, naming each', () => {
    const day = 86_400_000;
    const old = createCertificateAuthority(generateIdentity('old CA'), { name: 'old CA', notBefore: Date.now() - 10 * day, notAfter: Date.now() - day, serial: '02' });
    const older = createCertificateAuthority(generateIdentity('older CA'), { name: 'older CA', notBefore: Date.now() - 20 * day, notAfter: Date.now() - 2 * day, serial: '03' });
    expect(caBundleProblem(`${old.pem}\n${certs.n1.ca}`)).toBeNull();
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, ca: `${old.pem}\n${certs.n1.ca}` } })).not.toThrow();
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, ca: `${old.pem}\n${older.pem}` } })).toThrow(/cluster CA certificate is expired on [^,]+, and no other certificate in its bundle is usable either \(expired on /);
    expect(() => caBundleProblem('not a certificate')).toThrow(/holds no PEM certificate/);
    const junk = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    expect(caBundleProblem(`${junk}\n${certs.n1.ca}`)).toBeNull();
    expect(caBundleProblem(junk)).toMatch(/^unreadable \(/);
    expect(() => new TlsNetwork({ id: 'n1', role: 'node', tls: { ...certs.n1, ca: 'not a certificate' } })).toThrow(/^TlsNetwork: the cluster CA: the CA bundle holds no PEM certificate$/);
    // The join handshake trusts every CA of the bundle, the old one first included.
    const security = realNodeSecurity('n1', { ...certs.n1, ca: `${old.pem}\n${certs.n1.ca}` });
    expect(security.checkCertificate(new Uint8Array(new X509Certificate(certs.n2.cert).raw), 0)).toMatchObject({ role: 'node', name: 'n2' });
  });

  it('a client that cannot connect says why in its timeout, not only that the node did not answer', async () => {
    const port = await freePort(); // nothing listens there
    const client = connect({ endpoints: { n1: `127.0.0.1:${port}` }, tls: certs.admin, timeoutMs: 1_500, attemptTimeoutMs: 500 });
    try {
      const err = await client.nodeStatus('n1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as Error).message).toMatch(/n1 did not answer in 500 ms \(connecting: connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
    } finally {
      await client.close();
    }
  });
});

describe('nodes over TCP with mutual TLS', () => {
  it('three nodes on loopback elect a leader and serve a TLS client; a restarted node rejoins', async () => {
    const probe = await Promise.all(['n1', 'n2', 'n3'].map(() => freePort()));
    const peers = { n1: `127.0.0.1:${probe[0]}`, n2: `127.0.0.1:${probe[1]}`, n3: `127.0.0.1:${probe[2]}` };
    const start = (id: 'n1' | 'n2' | 'n3') => startNode({ id, peers, listen: peers[id], tls: certs[id], dataDir: join(root, id), raft: FAST, handlers: { upper: (p) => String(p).toUpperCase() } });
    const nodes: GreyNode[] = await Promise.all((['n1', 'n2', 'n3'] as const).map(start));
    const client = connect({ endpoints: peers, tls: certs.app, timeoutMs: 10_000 });
    try {
      await until(() => nodes.some((n) => n.status().role === 'leader'), 'a leader');
      const { result } = await client.submitTask({ type: 'upper', payload: 'over tls' }).result;
      expect(result).toBe('OVER TLS');
      expect(await client.put('k', 1)).toMatchObject({ revision: expect.any(Number) });

      // Authorization by certificate role: a client may not change membership or tenants, nor report task progress; an operator may.
      const refused = await client.submit({ op: 'registerTenant', tenant: 'acme' }).then(() => null, (e: unknown) => e);
      expect(refused).toBeInstanceOf(ClientError);
      expect((refused as ClientError).code).toBe('Unauthorized');
      expect((refused as Error).message).toMatch(/needs an operator certificate/);
      const forged = await client.submit({ op: 'taskChanges', changes: [{ kind: 'complete', taskId: 'x', worker: 'n1', attempt: 1, result: 1, proof: {} as never, at: 0 }] }).then(() => null, (e: unknown) => e);
      expect((forged as ClientError).code).toBe('Unauthorized');
      expect((await client.submit({ op: 'remove', node: 'n3' }).catch((e: ClientError) => e)) as ClientError).toMatchObject({ code: 'Unauthorized' });
      const admin = connect({ endpoints: peers, tls: certs.admin, timeoutMs: 10_000 });
      try {
        expect((await admin.submit({ op: 'registerTenant', tenant: 'acme' })).index).toBeGreaterThan(0);
      } finally {
        await admin.close();
      }

      // A client that knows only a follower's address: the follower relays its commands and reads to the leader.
      const follower = await until(() => nodes.find((n) => n.status().role === 'follower' && n.status().leader !== null), 'a follower');
      const partial = connect({ endpoints: { [follower.id]: peers[follower.id as 'n1' | 'n2' | 'n3'] }, tls: certs.app, timeoutMs: 10_000 });
      try {
        expect(await partial.put('via-follower', 'yes')).toMatchObject({ revision: expect.any(Number) });
        expect(await partial.get('via-follower')).toMatchObject({ found: true, value: 'yes' });
        expect((await partial.submit({ op: 'remove', node: 'n3' }).catch((e: ClientError) => e)) as ClientError).toMatchObject({ code: 'Unauthorized' }); // relayed with the client's rights, not the node's
      } finally {
        await partial.close();
      }

      const leader = nodes.find((n) => n.status().role === 'leader')!;
      const id = leader.id as 'n1' | 'n2' | 'n3';
      await leader.stop();
      expect((await client.submitTask({ type: 'upper', payload: 'again' }).result).result).toBe('AGAIN');
      const back = await start(id);
      nodes[nodes.indexOf(leader)] = back;
      await client.put('k', 2);
      const target = nodes.find((n) => n.status().role === 'leader')!.status().commitIndex;
      await until(() => back.status().lastApplied >= target, 'the restarted node caught up');
      expect(await client.get('k')).toMatchObject({ found: true, value: 2 });
    } finally {
      await client.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 30_000);

  it('refuses a certificate from another CA, a certificate binding another name, another protocol version, and Raft messages from a client', async () => {
    const net = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, listen: '127.0.0.1:0' });
    const received: string[] = [];
    net.inbox('n1').subscribe((e) => received.push(`${e.from}:${e.type}`));
    const { port } = (await net.start())!;
    try {
      const otherCa = await createClusterCa('Someone else');
      const stranger = await issueCertificate(otherCa, 'node', 'n2');
      const e = await hello(port, stranger, 'n2');
      expect(e === 'closed' || e instanceof Error).toBe(true); // the TLS handshake fails: not our CA
      await until(() => net.refusals.some((r) => /TLS handshake/.test(r.reason)), 'the foreign CA refused');
      expect(net.refusals.find((r) => /TLS handshake/.test(r.reason))).toMatchObject({ code: 'tls', byPeer: false });

      // The answer says why in words and as a code, which the dialing side reports as the peer's.
      expect(await hello(port, certs.n3, 'n2')).toMatchObject({ ok: false, code: 'identity', error: expect.stringMatching(/binds node:n3, not any:n2/) });
      expect(await hello(port, certs.n2, 'n2', PROTOCOL_VERSION + 1)).toMatchObject({ ok: false, code: 'protocol', error: expect.stringMatching(/protocol version 2/) });
      expect(await hello(port, certs.n2, 'n2')).toMatchObject({ ok: true, id: 'n1' });

      // A client connects and tries to speak Raft: refused, dropped; its requests get through.
      const client = new TlsNetwork({ id: 'app', role: 'client', tls: certs.app, peers: { n1: `127.0.0.1:${port}` } });
      client.send('app', 'n1', 'raft.append', { term: 99 });
      client.send('app', 'n1', 'client.request', { kind: 'query' });
      await until(() => received.length > 0, 'the request delivered');
      expect(received).toEqual(['app:client.request']);
      expect(net.refusals.find((r) => r.peer === 'app' && /raft.append message from a client/.test(r.reason))).toMatchObject({ code: 'message', byPeer: false });
      await client.close();
    } finally {
      await net.close();
    }
  }, 20_000);

  it('closes a connection that never completes its TLS handshake (an idle one would hold a file descriptor for good)', async () => {
    const net = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, listen: '127.0.0.1:0', handshakeTimeoutMs: 200 });
    const { port } = (await net.start())!;
    try {
      const raw = createConnection({ host: '127.0.0.1', port });
      let closed = false;
      raw.on('close', () => (closed = true));
      raw.on('error', () => {});
      await until(() => closed, 'the silent connection closed');
      expect(net.refusals.some((r) => /TLS handshake/.test(r.reason))).toBe(true);
    } finally {
      await net.close();
    }
  }, 20_000);

  it('closing ends accepted connections still in their TLS handshake or before their hello, at once (it does not wait for their timeout)', async () => {
    // Timeouts far past the test's own: a close that waited for them would time the test out.
    const net = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, listen: '127.0.0.1:0', handshakeTimeoutMs: 120_000 });
    const { port } = (await net.start())!;
    const raw = createConnection({ host: '127.0.0.1', port });
    raw.on('error', () => {});
    const rawClosed = new Promise<void>((done) => raw.on('close', () => done()));
    await new Promise<void>((done) => raw.on('connect', () => done()));
    // Through the TLS handshake, then silent: no hello.
    const quiet = tls.connect({ host: '127.0.0.1', port, cert: certs.n2.cert, key: certs.n2.key, ca: certs.n2.ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    quiet.on('error', () => {});
    const quietClosed = new Promise<void>((done) => quiet.on('close', () => done()));
    await new Promise<void>((done) => quiet.on('secureConnect', () => done()));
    await net.close();
    await Promise.all([rawClosed, quietClosed]);
    expect(net.stats.connects).toBe(0);
  }, 10_000);

  it('two processes running with one node id: every peer keeps the later-started one, whatever order they connect in, and refuses the other, naming why', async () => {
    const base = await freePorts(2);
    const listeners = ['n2', 'n3'].map((id, i) => new TlsNetwork({ id, role: 'node', tls: certs[id], listen: `127.0.0.1:${base + i}` }));
    const [n2, n3] = listeners;
    const got: Record<string, unknown[]> = { n2: [], n3: [] };
    n2.inbox('n2').subscribe((e) => got.n2.push(e.payload));
    n3.inbox('n3').subscribe((e) => got.n3.push(e.payload));
    await Promise.all(listeners.map((n) => n.start()));
    const peers = { n2: `127.0.0.1:${base}`, n3: `127.0.0.1:${base + 1}` };
    const a = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers });
    const b = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers });
    const [winner, loser] = a.incarnation > b.incarnation ? [a, b] : [b, a];
    const name = (n: TlsNetwork) => (n === a ? 'a' : 'b');
    try {
      // n2 meets a first, n3 meets b first; then each meets the other one.
      a.send('n1', 'n2', 'ping', 'a to n2');
      await until(() => got.n2.includes('a to n2'), 'a reaches n2');
      b.send('n1', 'n3', 'ping', 'b to n3');
      await until(() => got.n3.includes('b to n3'), 'b reaches n3');
      b.send('n1', 'n2', 'ping', 'b to n2');
      a.send('n1', 'n3', 'ping', 'a to n3');
      await until(() => got.n2.includes(`${name(winner)} to n2`) && got.n3.includes(`${name(winner)} to n3`), 'the later-started one reaches both');
      // From now on both peers talk to the later-started one only, and refuse the other.
      for (const peer of ['n2', 'n3']) {
        loser.send('n1', peer, 'ping', `loser to ${peer}`);
        winner.send('n1', peer, 'ping', `winner to ${peer}`);
      }
      await until(() => got.n2.includes('winner to n2') && got.n3.includes('winner to n3'), 'the later-started one is served by both');
      for (const peer of ['n2', 'n3']) {
        await until(() => /another process runs as n1, started later/.test(loser.whyUnreachable(peer) ?? ''), `${peer} refuses the earlier-started one`);
        expect(loser.whyUnreachable(peer)).toContain(`incarnation ${winner.incarnation}, connected here; this one is ${loser.incarnation}`);
        // As a code too: the loser was refused by the peer, the peer refused it.
        expect(loser.refusals.find((r) => r.peer === peer && r.byPeer)).toMatchObject({ code: 'superseded' });
      }
      for (const peer of listeners) expect(peer.refusals.find((r) => r.peer === 'n1' && !r.byPeer)).toMatchObject({ code: 'superseded' });
      expect([...got.n2, ...got.n3]).not.toContain('loser to n2');
      expect([...got.n2, ...got.n3]).not.toContain('loser to n3');
      expect(winner.whyUnreachable('n2')).toBeNull();
    } finally {
      await a.close();
      await b.close();
      await Promise.all(listeners.map((n) => n.close()));
    }
  }, 30_000);

  it('a link from a build before incarnations counts as older: a process saying one closes it, and the peer hears that the former process is gone', async () => {
    const port = await freePort();
    const n2 = new TlsNetwork({ id: 'n2', role: 'node', tls: certs.n2, listen: `127.0.0.1:${port}` });
    const got: unknown[] = [];
    n2.inbox('n2').subscribe((e) => got.push(e.payload));
    const gone: string[] = [];
    n2.disconnects$.subscribe((peer) => gone.push(peer));
    await n2.start();
    // An n1 of the earlier build: its hello says no incarnation, and it keeps the link open.
    let oldClosed = false;
    const old = tls.connect({ host: '127.0.0.1', port, cert: certs.n1.cert, key: certs.n1.key, ca: certs.n1.ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, () => {
      const body = msgpackCodec.encode({ grey: PROTOCOL_VERSION, id: 'n1' });
      const frame = Buffer.alloc(4 + body.byteLength);
      frame.writeUInt32BE(body.byteLength, 0);
      frame.set(body, 4);
      old.write(frame);
    });
    old.on('error', () => {});
    old.on('data', () => {}); // read what n2 answers, so that its closing is seen
    old.on('close', () => (oldClosed = true));
    const n1 = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers: { n2: `127.0.0.1:${port}` } });
    try {
      await until(() => n2.stats.connects === 1, 'the earlier build linked');
      n1.send('n1', 'n2', 'ping', 'new');
      await until(() => got.includes('new'), 'the process saying an incarnation linked');
      await until(() => oldClosed, 'the earlier build\'s link closed');
      // Replaced, not closed by its host: a leader's followers must still hear that its process is gone (to fail over early).
      expect(gone).toEqual(['n1']);
    } finally {
      old.destroy();
      await n1.close();
      await n2.close();
    }
  }, 20_000);

  it('closing the network ends a dial still in its handshake: no link opens after, and its stopped breaker hears nothing', async () => {
    // A peer that takes the TLS connection and the hello, and never answers.
    const port = await freePort();
    let helloReceived = false;
    let peerClosed = false;
    const server = tls.createServer({ cert: certs.n2.cert, key: certs.n2.key, ca: certs.n2.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
      socket.on('error', () => {});
      socket.on('close', () => (peerClosed = true));
      socket.once('data', () => (helloReceived = true));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const warnings: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void warnings.push(a.join(' ')));
    const n1 = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers: { n2: `127.0.0.1:${port}` } });
    try {
      n1.send('n1', 'n2', 'ping', 1);
      await until(() => helloReceived, 'the hello reached the peer');
      await n1.close();
      await until(() => peerClosed, 'the dial in flight closed with the network');
      expect(n1.stats.connects).toBe(0);
      expect(warnings.filter((w) => /stopped actor/.test(w))).toEqual([]);
    } finally {
      warn.mockRestore();
      await n1.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 20_000);

  it('a link whose dials keep failing trips its circuit breaker: messages are dropped at once, and a trial dial finds the peer again', async () => {
    const port = await freePort(); // nothing listens there yet
    const n1 = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers: { n2: `127.0.0.1:${port}` }, breaker: { failureThreshold: 3, resetTimeoutMs: 300 } });
    let n2: TlsNetwork | null = null;
    try {
      n1.send('n1', 'n2', 'ping', 1);
      await until(() => n1.linkStates().n2 === 'open', 'the breaker trips after 3 failed dials');
      const dropped = n1.stats.dropped;
      expect(dropped).toBeGreaterThanOrEqual(1); // what waited was dropped when it tripped
      n1.send('n1', 'n2', 'ping', 2);
      expect(n1.stats.dropped).toBe(dropped + 1); // open: dropped at once, not queued

      // The peer comes up; after the reset timeout a send is the trial that finds it.
      n2 = new TlsNetwork({ id: 'n2', role: 'node', tls: certs.n2, listen: `127.0.0.1:${port}` });
      const got: unknown[] = [];
      n2.inbox('n2').subscribe((e) => got.push(e.payload));
      await n2.start();
      await until(() => n1.linkStates().n2 === 'halfOpen', 'half-open after the reset timeout');
      n1.send('n1', 'n2', 'ping', 3);
      await until(() => got.includes(3), 'the trial message delivered');
      expect(n1.linkStates().n2).toBe('closed');
      expect(got).not.toContain(2);
    } finally {
      await n1.close();
      await n2?.close();
    }
  }, 20_000);

  it('frames written in one tick leave corked together and arrive whole and in order, a frame of a megabyte across many TLS records included', async () => {
    const port = await freePort();
    const n2 = new TlsNetwork({ id: 'n2', role: 'node', tls: certs.n2, listen: `127.0.0.1:${port}` });
    const n1 = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, peers: { n2: `127.0.0.1:${port}` } });
    try {
      const got: unknown[] = [];
      n2.inbox('n2').subscribe((e) => got.push(e.payload));
      await n2.start();
      n1.send('n1', 'n2', 'ping', 0);
      await until(() => got.length === 1, 'the link is up');
      const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
      for (let i = 1; i <= 50; i++) n1.send('n1', 'n2', 'ping', i === 25 ? { i, big } : { i });
      await until(() => got.length === 51, 'every frame delivered');
      expect(got.slice(1).map((p) => (p as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, k) => k + 1));
      expect(Buffer.compare((got[25] as { big: Uint8Array }).big, big)).toBe(0);
    } finally {
      await n1.close();
      await n2.close();
    }
  }, 20_000);
});
