/**
 * What `grey member add` and `grey node --join` rest on: the join carries
 * the address the other nodes dial (kept in the member's record, updated
 * by a later join), a node dials a peer it learnt that way, a tagged
 * client id (`app~3f9c`) stands for its certificate's name and nothing
 * more, and an embedded node started with `join` founds nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterState, type SessionCommand } from '../actors/clusterState.js';
import type { LogEntry } from '../actors/raftTypes.js';
import { createClusterCa, issueCertificate, type TlsIdentity } from '../system/certificates.js';
import { InvalidCommandError, checkCommand } from '../system/commandCheck.js';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { TlsNetwork, certifiedName } from '../system/tlsNetwork.js';
import { until } from './helpers/realTime.js';
import { hello } from './helpers/tlsHello.js';

const root = mkdtempSync(join(tmpdir(), 'grey-join-'));
let certs: Record<'n1' | 'n2' | 'app' | 'admin', TlsIdentity>;
beforeAll(async () => {
  const ca = await createClusterCa();
  certs = {
    n1: await issueCertificate(ca, 'node', 'n1'),
    n2: await issueCertificate(ca, 'node', 'n2'),
    app: await issueCertificate(ca, 'client', 'app'),
    admin: await issueCertificate(ca, 'operator', 'admin'),
  };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));


describe('joining with an address', () => {
  it('the join keeps the address in the member record; a join after removal updates it; a pending repeat does not', () => {
    let index = 0;
    const entry = (command: SessionCommand): LogEntry & { payload: { kind: 'command' } } => ({ index: ++index, term: 1, payload: { kind: 'command', command } });
    const s = new ClusterState();
    s.apply(entry({ cmd: { op: 'bootstrap', voters: ['n1'] } }));
    expect(s.apply(entry({ cmd: { op: 'join', node: 'n4', address: '10.0.0.4:7001' } }))).toEqual({ ok: true, value: 'pendingApproval' });
    expect(s.member('n4')).toMatchObject({ status: 'pendingApproval', address: '10.0.0.4:7001' });
    expect(s.apply(entry({ cmd: { op: 'join', node: 'n4', address: '10.0.0.9:7001' } }))).toMatchObject({ ok: false, code: 'InvalidTransition' });
    expect(s.member('n4')?.address).toBe('10.0.0.4:7001');
    s.apply(entry({ cmd: { op: 'approve', node: 'n4' } }));
    s.apply(entry({ cmd: { op: 'remove', node: 'n4' } }));
    expect(s.apply(entry({ cmd: { op: 'join', node: 'n4', address: '10.0.0.5:7001' } }))).toMatchObject({ ok: true, value: 'pendingApproval' });
    expect(s.member('n4')?.address).toBe('10.0.0.5:7001');
    expect(s.member('n1')).not.toHaveProperty('address');
    // Checked at the edge like a name.
    expect(() => checkCommand({ op: 'join', node: 'n5', address: 7001 })).toThrow(InvalidCommandError);
    expect(checkCommand({ op: 'join', node: 'n5', address: 'h:1' })).toEqual({ op: 'join', node: 'n5', address: 'h:1' });
  });

  it('a node dials a peer it learns of after it started, when asked for its address', async () => {
    const b = new TlsNetwork({ id: 'n2', role: 'node', tls: certs.n2, listen: '127.0.0.1:0' });
    const got: string[] = [];
    b.inbox('n2').subscribe((e) => got.push(`${e.from}:${e.type}`));
    const { port } = (await b.start())!;
    const book: Record<string, string> = {};
    const a = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, listen: '127.0.0.1:0', resolvePeer: (id) => book[id] });
    await a.start();
    try {
      a.send('n1', 'n2', 'raft.append', { n: 1 }); // unknown yet: dropped, as for a client that left
      expect(a.stats.dropped).toBe(1);
      book.n2 = `127.0.0.1:${port}`;
      a.send('n1', 'n2', 'raft.append', { n: 2 });
      await until(() => got.length > 0, 'the message delivered');
      expect(got).toEqual(['n1:raft.append']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a tagged client id stands for its certificate name: accepted as that client, refused for another name or as a node', async () => {
    expect([certifiedName('app~3f9c'), certifiedName('app'), certifiedName('~x')]).toEqual(['app', 'app', '~x']);
    const net = new TlsNetwork({ id: 'n1', role: 'node', tls: certs.n1, listen: '127.0.0.1:0' });
    const { port } = (await net.start())!;
    try {
      expect(await hello(port, certs.app, 'app~1')).toMatchObject({ ok: true });
      await until(() => net.roleOf('app~1') === 'client', 'the tagged client known as a client');
      expect(await hello(port, certs.admin, 'admin~2')).toMatchObject({ ok: true });
      await until(() => net.roleOf('admin~2') === 'operator', 'the tagged operator known as an operator');
      expect(await hello(port, certs.app, 'admin~3')).toMatchObject({ ok: false, error: expect.stringMatching(/not client:admin/) });
      expect(await hello(port, certs.n2, 'n2~4')).toMatchObject({ ok: false }); // a node certificate is no client
      expect(net.roleOf('n2~4')).toBeNull();
      expect(() => new TlsNetwork({ id: 'app~5', role: 'node', tls: certs.app })).toThrow(/not node:app~5/);
    } finally {
      await net.close();
    }
  });

  it('an embedded node started with join founds nothing and becomes a voter once added', async () => {
    const network = new LocalNetwork();
    const raft = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };
    const n1 = await startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'n1'), raft });
    const n2 = await startNode({ id: 'n2', peers: [], join: true, network, dataDir: join(root, 'n2'), raft });
    const client = connect({ network, endpoints: ['n1'], timeoutMs: 10_000 });
    try {
      await until(() => n1.status().role === 'leader', 'n1 leads');
      expect(n2.status().config).toEqual({ voters: [], learners: [] });
      await client.submit({ op: 'join', node: 'n2' });
      await client.submit({ op: 'approve', node: 'n2' });
      await until(() => n2.status().config.voters.includes('n2') && n1.status().config.voters.includes('n2'), 'n2 a voter');
      expect(n2.status().leader).toBe('n1');
      await expect(startNode({ id: 'n3', peers: ['n1'], network, dataDir: join(root, 'n3') })).rejects.toThrow(/must include the node itself/);
    } finally {
      await client.close();
      await Promise.all([n1.stop(), n2.stop()]);
    }
  });
});
