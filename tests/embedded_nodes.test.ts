/**
 * Real mode, in one process: three Grey nodes embedded with startNode, on
 * the wall clock, their logs in LMDB, talking over the in-process
 * transport; handlers doing real I/O (a file read, an HTTP call to a local
 * server); a client from connect(). The leader is stopped and the cluster
 * goes on; the node restarts from its data directory and catches up.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startNode, type GreyNode, type StartNodeOptions } from '../system/embeddedNode.js';
import { AddressInUseError, LocalNetwork } from '../system/localNetwork.js';
import { LmdbStorage, StorageFormatError } from '../system/lmdbStorage.js';
import { FoundingVotersError, foundingConfig } from '../system/foundingVoters.js';

const root = mkdtempSync(join(tmpdir(), 'grey-embedded-'));
let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, answer: 42 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

const IDS = ['n1', 'n2', 'n3'];
/** Wall-clock Raft timing short enough for a test: elections in a fraction of a second. */
const FAST = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };

function nodeOptions(network: LocalNetwork, id: string, dataFile: string): StartNodeOptions {
  return {
    id,
    peers: IDS,
    network,
    dataDir: join(root, id),
    raft: FAST,
    handlers: {
      readConfig: async () => JSON.parse(await readFile(dataFile, 'utf8')) as unknown,
      fetchAnswer: async (payload) => {
        const res = await fetch(`http://127.0.0.1:${port}/${String(payload)}`);
        return (await res.json()) as unknown;
      },
    },
  };
}

/** Resolves once `node` reports itself leader or follower of a known leader. */
async function leaderOf(nodes: GreyNode[], within = 5_000): Promise<GreyNode> {
  const deadline = Date.now() + within;
  for (;;) {
    const leader = nodes.find((n) => n.status().role === 'leader');
    if (leader) return leader;
    if (Date.now() > deadline) throw new Error(`no leader within ${within} ms: ${JSON.stringify(nodes.map((n) => n.status().role))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('embedded nodes on the wall clock (startNode, connect)', () => {
  it('three nodes in one process run real handlers, survive losing the leader, and a node restarts from its data directory', async () => {
    const dataFile = join(root, 'config.json');
    writeFileSync(dataFile, JSON.stringify({ region: 'eu', replicas: 3 }));
    const network = new LocalNetwork();
    const nodes = await Promise.all(IDS.map((id) => startNode(nodeOptions(network, id, dataFile))));
    try {
      const client = connect({ network, endpoints: IDS, timeoutMs: 10_000 });
      const a = client.submitTask({ type: 'readConfig' });
      const b = client.submitTask({ type: 'fetchAnswer', payload: 'x' });
      const [ra, rb] = await Promise.all([a.result, b.result]);
      expect(ra.result).toEqual({ region: 'eu', replicas: 3 });
      expect(rb.result).toEqual({ path: '/x', answer: 42 });
      expect(ra.proof.taskId).toBe(ra.taskId);
      expect(await client.put('k', 'v1')).toMatchObject({ revision: expect.any(Number) });
      expect(await client.get('k')).toMatchObject({ found: true, value: 'v1' });
      // Two clients of one name, as a process and its restart would be: each
      // numbers its requests from 1, so each needs its own session, or the
      // second's put would be answered as the first's retry and never applied.
      const once = connect({ network, endpoints: IDS, id: 'app', timeoutMs: 10_000 });
      await once.put('who', 'first');
      await once.close(); // the process ends: its id is free
      const restarted = connect({ network, endpoints: IDS, id: 'app', timeoutMs: 10_000 });
      await restarted.put('who', 'second');
      expect(await client.get('who')).toMatchObject({ found: true, value: 'second' });

      // A graceful hand-over: the leader transfers leadership, another node leads.
      const before = await leaderOf(nodes);
      expect(await before.handOver(3_000)).toBe(true);
      expect(before.status().role).not.toBe('leader');
      expect((await leaderOf(nodes)).id).not.toBe(before.id);

      // Stop the leader: the other two elect one and go on.
      const first = await leaderOf(nodes);
      await first.stop();
      const rest = nodes.filter((n) => n !== first);
      const c = client.submitTask({ type: 'fetchAnswer', payload: 'after-failover' });
      expect((await c.result).result).toEqual({ path: '/after-failover', answer: 42 });
      const second = await leaderOf(rest);
      expect(second.status().term).toBeGreaterThan(0);

      // Restart the stopped node from its data directory: it recovers its log and catches up.
      const again = await startNode(nodeOptions(network, first.id, dataFile));
      nodes[nodes.indexOf(first)] = again;
      expect(again.status().lastIndex).toBeGreaterThan(0); // recovered from disk, before any message
      const d = client.submitTask({ type: 'readConfig' });
      const seen = firstValueFrom(again.events$.pipe(filter((e) => e.type === 'task.completed' && e.taskId === d.id)));
      expect((await d.result).result).toEqual({ region: 'eu', replicas: 3 });
      await seen; // the restarted node applied it too
      expect(await client.get('k')).toMatchObject({ found: true, value: 'v1' });
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 30_000);

  it('refuses bad options and data of another format with clear, typed errors', async () => {
    const network = new LocalNetwork();
    await expect(startNode({ id: 'n1', peers: ['n2'], network, dataDir: join(root, 'x') })).rejects.toThrow(/peers must include the node itself/);
    await expect(startNode({ id: '', peers: ['n1'], network, dataDir: join(root, 'x') })).rejects.toThrow(TypeError);
    expect(() => connect({ network, endpoints: [] })).toThrow(/endpoints/);
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'h'), handlers: { bad: 42 as never } })).rejects.toThrow(/handler for 'bad' must be a function/);
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'h') }).then((n) => n.stop())).resolves.toBeUndefined(); // nothing was left open
    // A data directory whose format mark says another version.
    const { open } = await import('lmdb');
    const { msgpackCodec } = await import('../system/codec.js');
    const dir = join(root, 'future');
    const db = open({ path: dir, maxDbs: 4 });
    db.openDB<Uint8Array, string>({ name: 'meta', encoding: 'binary' }).putSync('format', msgpackCodec.encode({ name: 'grey-raft-log', version: 99 }));
    await db.close();
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir: dir })).rejects.toThrow(StorageFormatError);
    // A data directory that is a file, or below one.
    writeFileSync(join(root, 'afile'), 'x');
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'afile') })).rejects.toThrow(/afile is not a directory/);
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'afile', 'n1') })).rejects.toThrow(StorageFormatError);
  });

  it('a start that fails on a bad option leaves nothing behind: the same directory and id start at once with the option corrected', async () => {
    const network = new LocalNetwork();
    const dataDir = join(root, 'retry');
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: { electionTimeoutMin: 500, electionTimeoutMax: 100 } })).rejects.toThrow(RangeError);
    // Typos and values out of range are refused before anything opens.
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir, bogus: 1 } as never)).rejects.toThrow(/startNode: unknown option 'bogus'/);
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: { heartbeat: 5 } } as never)).rejects.toThrow(/unknown option 'raft\.heartbeat'/);
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir, tasks: { maxPendingTasks: -1 } })).rejects.toThrow(/startNode: tasks\.maxPendingTasks must be an integer ≥ 1/);
    expect(() => connect({ network, endpoints: ['n1'], bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
    // An API address this machine does not have: the node had started, and is undone.
    await expect(startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: FAST, api: { listen: '203.0.113.7:0' } })).rejects.toThrow();
    expect(network.inUse('n1')).toBe(false);
    const node = await startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: FAST });
    await node.stop();
  });

  it('a node keeps the founding voters of its first start: a restart naming others is refused, a node that joined never takes peers as voters', async () => {
    const network = new LocalNetwork();
    const dataDir = join(root, 'founded');
    const first = await startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: FAST });
    await leaderOf([first]);
    await first.stop();
    // Restarted with five peers, n1 would count five voters nobody agreed to (and never reach a quorum alone).
    const err = await startNode({ id: 'n1', peers: ['n1', 'n2', 'n3', 'n4', 'n5'], network, dataDir, raft: FAST }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FoundingVotersError);
    expect(err).toMatchObject({ code: 'FoundingVoters', recorded: ['n1'], given: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    expect((err as Error).message).toMatch(/founded with voters n1, but peers now name n1, n2, n3, n4, n5.*grey member add/);
    expect(network.inUse('n1')).toBe(false); // refused, nothing left open
    // The same peers, in any order, start it: it leads alone again, its data intact.
    const again = await startNode({ id: 'n1', peers: ['n1'], network, dataDir, raft: FAST });
    await leaderOf([again]);
    const client = connect({ network, endpoints: ['n1'] });
    await client.put('kept', 1);
    await client.close();
    await again.stop();

    // What is recorded: a node that joined learns its voters from the log, so
    // restarted with peers and no join it still founds no cluster of its own.
    const storage = LmdbStorage.open(join(root, 'joined'));
    try {
      expect(foundingConfig(storage, { joined: true })).toBeUndefined();
      // Nothing written yet: a first start that failed may be corrected with other options.
      expect(foundingConfig(storage, { voters: ['j1', 'n1'] })).toEqual({ voters: ['j1', 'n1'], learners: [] });
      storage.recordFounding({ joined: true });
      storage.setHardState({ term: 3, votedFor: null });
      await storage.sync();
      expect(storage.isBlank()).toBe(false);
      expect(foundingConfig(storage, { voters: ['j1'] })).toBeUndefined();
      expect(storage.founding()).toEqual({ joined: true });
    } finally {
      await storage.close();
    }
  });

  it('a closed client refuses at once with Closed: a request after close was never sent (failed), one waiting at close may have taken effect (unknown)', async () => {
    const network = new LocalNetwork();
    const node = await startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'closed'), raft: FAST });
    try {
      const ok = connect({ network, endpoints: ['n1'], id: 'ok' });
      await ok.put('k', 1);
      await ok.close();
      // n9 is no node: a request sent there waits for an answer that never comes.
      const client = connect({ network, endpoints: ['n9'], id: 'shut', attemptTimeoutMs: 60_000, timeoutMs: 60_000 });
      const inFlight = client.put('k', 2).catch((e: unknown) => e);
      const t0 = performance.now();
      await client.close();
      expect(await inFlight).toMatchObject({ name: 'ClientError', code: 'Closed', outcome: 'unknown' });
      const after = await client.put('k', 3).catch((e: unknown) => e);
      expect(after).toMatchObject({ name: 'ClientError', code: 'Closed', outcome: 'failed' });
      expect((after as Error).message).toMatch(/this client was closed; nothing was sent/);
      await expect(ok.submitTask({ type: 'noop' }).accepted).rejects.toMatchObject({ code: 'Closed', outcome: 'failed' });
      expect(performance.now() - t0).toBeLessThan(5_000); // at once, not after a timeout
    } finally {
      await node.stop();
    }
  });

  it('refuses a second node or client at an id the LocalNetwork already delivers to, touching nothing', async () => {
    const network = new LocalNetwork();
    const first = await startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'owner'), raft: FAST });
    try {
      // Another n1 would receive n1's messages and answer for it with an empty log.
      const err = await startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'impostor'), raft: FAST }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AddressInUseError);
      expect((err as AddressInUseError).code).toBe('AddressInUse');
      expect(existsSync(join(root, 'impostor'))).toBe(false); // refused before its storage was opened
      expect(() => connect({ network, endpoints: ['n1'], id: 'n1' })).toThrow(AddressInUseError);
      const client = connect({ network, endpoints: ['n1'], id: 'app' });
      expect(() => connect({ network, endpoints: ['n1'], id: 'app' })).toThrow(/'app' is in use/);
      await client.put('k', 1);
      expect(await client.get('k')).toMatchObject({ found: true, value: 1 });
      await client.close();
      connect({ network, endpoints: ['n1'], id: 'app' }).close(); // closed, its id is free
      // Clients that come and go under fresh ids leave no address behind.
      const before = network.addresses;
      for (let i = 0; i < 50; i++) await connect({ network, endpoints: ['n1'] }).close();
      expect(network.addresses).toBe(before);
    } finally {
      await first.stop();
    }
    // Once stopped, the id is free again: the node restarts from its directory.
    const again = await startNode({ id: 'n1', peers: ['n1'], network, dataDir: join(root, 'owner'), raft: FAST });
    await again.stop();
  });
});
