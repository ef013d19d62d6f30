/**
 * A node's operations endpoint: liveness, readiness that follows the
 * node's knowledge of a leader, Prometheus metrics with grey_ names and
 * bounded labels, and the node's status as JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { startOpsServer } from '../system/opsServer.js';
import { until } from './helpers/realTime.js';

const root = mkdtempSync(join(tmpdir(), 'grey-ops-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('operations endpoint', () => {
  it('serves /healthz, /readyz (503 until a leader is known), /metrics and /status', async () => {
    const network = new LocalNetwork();
    const ids = ['n1', 'n2', 'n3'];
    const start = (id: string) => startNode({ id, peers: ids, network, dataDir: join(root, id), raft: { heartbeatMs: 20, electionTimeoutMin: 200, electionTimeoutMax: 400 }, handlers: { noop: () => null } });
    // n1 alone first: without a quorum no leader can be elected, so it cannot be ready.
    const nodes = [await start('n1')];
    const ops = await startOpsServer(nodes[0], '127.0.0.1:0');
    const url = (path: string) => `http://127.0.0.1:${ops.address.port}${path}`;
    try {
      expect((await fetch(url('/healthz'))).status).toBe(200);
      const early = await fetch(url('/readyz'));
      expect(early.status).toBe(503);
      expect(await early.json()).toMatchObject({ ready: false, reason: 'no known leader' });
      nodes.push(await start('n2'), await start('n3'));

      const client = connect({ network, endpoints: ids, timeoutMs: 10_000 });
      await Promise.all(Array.from({ length: 5 }, () => client.submitTask({ type: 'noop' }).result));
      const ready = await fetch(url('/readyz'));
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, node: 'n1' });

      // The client's answers come from the leader; n1 may be a follower that
      // applies those completions one heartbeat later, so wait for them there.
      const metrics = await until(async () => {
        const text = await (await fetch(url('/metrics'))).text();
        return Number(/^grey_tasks\{status="completed",node="n1"\} (\d+)/m.exec(text)?.[1]) >= 5 && text;
      }, 'n1 applies the five completions');
      expect(metrics).toMatch(/^grey_raft_term\{node="n1"\} [1-9]/m);
      expect(metrics).toMatch(/^grey_raft_commit_index\{node="n1"\} [1-9]/m);
      const completed = Number(/^grey_tasks\{status="completed",node="n1"\} (\d+)/m.exec(metrics)?.[1]);
      expect(completed).toBe(5);
      expect(Number(/^grey_storage_sync_duration_seconds_count\{node="n1"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(Number(/^grey_transport_messages_sent_total\{node="n1"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(metrics).toMatch(/^grey_transport_links_open\{node="n1"\} 0$/m);
      // Labels come from fixed sets: task statuses only.
      const labels = new Set([...metrics.matchAll(/^grey_tasks\{status="(\w+)"/gm)].map((m) => m[1]));
      expect([...labels].sort()).toEqual(['assigned', 'cancelled', 'completed', 'failed', 'pending', 'retrying', 'running', 'timedOut']);

      expect(await (await fetch(url('/status'))).json()).toMatchObject({ id: 'n1', config: { voters: ids } });
      expect((await fetch(url('/nope'))).status).toBe(404);
      expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(405);
    } finally {
      await ops.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 20_000);
});
