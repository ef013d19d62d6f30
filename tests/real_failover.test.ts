/**
 * Fast failover in real mode: when the leader's process ends, the kernel
 * closes its sockets and the other nodes' TLS links see them close. A
 * follower then campaigns after a short staggered delay (the role chart's
 * `follower.leaderGone` state) instead of waiting out its election timeout.
 * The leader here stops without handing over leadership, as a killed
 * process would; the election timeout is long (1–2 s), so only the fast
 * path passes through `leaderGone`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GreyInspectionEvent } from '../actors/chartInspection.js';
import { createClusterCa, issueCertificate, type TlsIdentity } from '../system/certificates.js';
import { startNode, type GreyNode } from '../system/embeddedNode.js';
import { freePort, until } from './helpers/realTime.js';

const RAFT = { heartbeatMs: 50, electionTimeoutMin: 1_000, electionTimeoutMax: 2_000 };
const IDS = ['n1', 'n2', 'n3'] as const;
let root: string;
let certs: Record<string, TlsIdentity>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'grey-real-failover-'));
  const ca = await createClusterCa();
  certs = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await issueCertificate(ca, 'node', id)] as const)));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The role chart's state values each node went through, in order (JSON). */
function roleStates(events: GreyInspectionEvent[], node: string): string[] {
  return events
    .filter((e) => e.node === node && e.type === '@xstate.snapshot' && (e.actorRef as { id?: string }).id?.startsWith('raft('))
    .map((e) => JSON.stringify((e as unknown as { snapshot: { value: unknown } }).snapshot.value));
}

describe('fast failover over mutual TLS', () => {
  it('a follower that sees every connection to its stopped leader close campaigns through leaderGone, and a new leader takes over', async () => {
    const ports = await Promise.all(IDS.map(() => freePort()));
    const peers = Object.fromEntries(IDS.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    const seen: GreyInspectionEvent[] = [];
    const nodes = new Map<string, GreyNode>();
    for (const id of IDS) {
      nodes.set(id, await startNode({ id, peers, listen: peers[id], tls: certs[id], dataDir: join(root, id), raft: RAFT, inspect: (e) => seen.push(e) }));
    }
    try {
      const first = await until(() => [...nodes.values()].find((n) => n.status().role === 'leader'), 'a first leader', 20_000);
      const term = first.status().term;
      // Every follower has heard from the leader (it knows whom it follows).
      await until(() => [...nodes.values()].every((n) => n.status().leader === first.id), 'followers know the leader', 10_000);
      const firstId = first.id;
      await first.stop();
      nodes.delete(firstId);
      const next = await until(() => [...nodes.values()].find((n) => n.status().role === 'leader'), 'a new leader', 20_000);
      // Usually term + 1; on a loaded machine the second in line may campaign too before the first wins.
      expect(next.status().term).toBeGreaterThan(term);
      // It got there through the fast path, not the election timeout.
      const states = roleStates(seen, next.id);
      const gone = states.lastIndexOf(JSON.stringify({ follower: 'leaderGone' }));
      expect(gone).toBeGreaterThanOrEqual(0);
      expect(states.slice(gone + 1)).toContain('"precandidate"');
    } finally {
      await Promise.all([...nodes.values()].map((n) => n.stop()));
    }
  }, 60_000);
});
