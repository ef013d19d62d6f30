/**
 * Faults between real sockets: every node reaches the others through a
 * proxy that delays bytes, resets connections and cuts a node off. The
 * cluster keeps committing with a majority, every acknowledged write is
 * read back, and once the faults heal every node holds the same log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate, type TlsIdentity } from '../system/certificates.js';
import { connect, startNode, type GreyNode } from '../system/embeddedNode.js';
import { FaultyProxy } from './helpers/faultyProxy.js';
import { freePort, until } from './helpers/realTime.js';

const root = mkdtempSync(join(tmpdir(), 'grey-proxy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));



describe('faults between processes, through a proxy', () => {
  it('delays, resets and a node cut off: a majority keeps committing, nothing acknowledged is lost, the logs agree after healing', async () => {
    const ca = await createClusterCa();
    const ids = ['n1', 'n2', 'n3'] as const;
    const certs: Record<string, TlsIdentity> = {};
    for (const id of ids) certs[id] = await issueCertificate(ca, 'node', id);
    const app = await issueCertificate(ca, 'client', 'app');
    const ports = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await freePort()] as const)));
    // A proxy per ordered pair: what src dials to reach dst goes through proxy src→dst (the client is a source too).
    const sources = [...ids, 'app'];
    const proxies = new Map<string, FaultyProxy>();
    const addressOf = new Map<string, string>();
    for (const src of sources) {
      for (const dst of ids) {
        if (src === dst) continue;
        const p = new FaultyProxy({ host: '127.0.0.1', port: ports[dst] });
        proxies.set(`${src}>${dst}`, p);
        addressOf.set(`${src}>${dst}`, `127.0.0.1:${await p.start()}`);
      }
    }
    const peersOf = (src: string) => Object.fromEntries(ids.filter((d) => d !== src).map((d) => [d, addressOf.get(`${src}>${d}`)!]));
    const nodes: GreyNode[] = await Promise.all(
      ids.map((id) => startNode({ id, listen: `127.0.0.1:${ports[id]}`, peers: { ...peersOf(id), [id]: `127.0.0.1:${ports[id]}` }, tls: certs[id], dataDir: join(root, id), raft: { heartbeatMs: 30, electionTimeoutMin: 300, electionTimeoutMax: 600 } })),
    );
    const client = connect({ endpoints: peersOf('app'), tls: app, timeoutMs: 20_000, attemptTimeoutMs: 400 });
    const acked = new Map<string, number>();
    const write = async (i: number) => {
      await client.put(`k${i}`, i);
      acked.set(`k${i}`, i);
    };
    const all = [...proxies.values()];
    try {
      await until(() => nodes.some((n) => n.status().role === 'leader'), 'a leader');
      for (let i = 0; i < 20; i++) await write(i);

      // Slow links everywhere, then connections reset under load.
      for (const p of all) p.delayMs = 15;
      for (let i = 20; i < 40; i++) await write(i);
      for (const p of all) p.resetAll();
      for (let i = 40; i < 60; i++) await write(i);

      // Cut the leader off from everyone: the other two elect a leader and go on.
      const leader = nodes.find((n) => n.status().role === 'leader')!;
      const cut = [...proxies].filter(([pair]) => pair.split('>').includes(leader.id)).map(([, p]) => p);
      for (const p of cut) p.cutOff();
      const oldTerm = leader.status().term;
      for (let i = 60; i < 90; i++) await write(i);
      const others = nodes.filter((n) => n !== leader);
      expect(others.some((n) => n.status().role === 'leader' && n.status().term > oldTerm)).toBe(true);
      expect(cut.reduce((a, p) => a + p.stats.refused, 0)).toBeGreaterThan(0);

      for (const p of all) p.heal();
      for (let i = 90; i < 100; i++) await write(i);
      for (const [k, v] of acked) expect(await client.get(k), k).toMatchObject({ found: true, value: v });
      await until(() => {
        const s = nodes.map((n) => n.status());
        return s.every((x) => x.lastApplied === s[0].lastApplied && x.commitIndex === x.lastIndex);
      }, 'every node applied the same log');
    } finally {
      await client.close();
      await Promise.all(nodes.map((n) => n.stop()));
      await Promise.all([...proxies.values()].map((p) => p.close()));
    }
  }, 60_000);
});
