/**
 * A graceful shutdown of a worker (what `grey node` does on SIGTERM, after
 * handing leadership over): the cluster assigns it nothing more, attempts
 * that end within the drain window finish there, the rest are handed back
 * at its end and run elsewhere, under the same ids, without using up an
 * attempt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskHandler } from '../actors/taskHandlers.js';
import { connect, startNode, type GreyNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { until } from './helpers/realTime.js';

const root = mkdtempSync(join(tmpdir(), 'grey-drain-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('draining a worker', () => {
  it('lets short attempts finish, hands long ones back to run elsewhere, and gets no new work', async () => {
    const network = new LocalNetwork();
    const ids = ['n1', 'n2', 'n3'];
    let victim = '';
    // On the node being drained 'long' runs until aborted; elsewhere it ends at once.
    const long: (id: string) => TaskHandler = (id) => (_p, ctx) =>
      id === victim ? new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) : Promise.resolve(`long on ${id}`);
    // 'short' on the node being drained waits for the drain to begin (so the test cannot miss it running, however slow
    // the machine), then ends well within the drain window; elsewhere it takes 150 ms.
    let drainBegun!: () => void;
    const draining = new Promise<void>((resolve) => (drainBegun = resolve));
    const short: TaskHandler = async (_p, ctx) => {
      if (ctx.worker === victim) await draining;
      await new Promise((resolve) => setTimeout(resolve, 150));
      return `short on ${ctx.worker}`;
    };
    const nodes: GreyNode[] = await Promise.all(
      ids.map((id) => startNode({ id, peers: ids, network, dataDir: join(root, id), raft: { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 }, tasks: { placement: 'spread' }, handlers: { long: long(id), short } })),
    );
    const client = connect({ network, endpoints: ids, timeoutMs: 15_000 });
    try {
      await until(() => nodes.find((n) => n.status().role === 'leader'), 'a leader');
      // Every worker registered before the tasks go out: one that registers late gets none of the long
      // tasks (which end at once elsewhere), and the wait below would never see one on the victim.
      await until(async () => (await client.query('workers', {})).length === ids.length, 'every worker registered');
      const leader = nodes.find((n) => n.status().role === 'leader')!;
      const target = nodes.find((n) => n !== leader)!;
      victim = target.id;
      const longs = client.submitTasks(Array.from({ length: 6 }, () => ({ type: 'long' })));
      const early = client.submitTasks(Array.from({ length: 6 }, () => ({ type: 'short' })));
      // Wait until the victim runs a long task and a short one.
      const running = async (handles: typeof longs) => (await Promise.all(handles.map((h) => client.task(h.id)))).filter((r) => r?.worker === victim && r.status === 'running').map((r) => r!.id);
      const [onVictim, shortOnVictim] = await until(async () => {
        const [l, s] = [await running(longs), await running(early)];
        return l.length > 0 && s.length > 0 && [l, s];
      }, 'a long and a short task running on the victim');

      const drain = target.drain(1_000);
      drainBegun();
      const drained = await drain;
      expect(drained.handedBack).toBeGreaterThanOrEqual(onVictim.length);
      expect(drained.finished).toBeGreaterThanOrEqual(1);
      // The short one finished where it ran, within the window.
      expect((await early.find((h) => h.id === shortOnVictim[0])!.result).result).toBe(`short on ${victim}`);
      // Handed back, they run elsewhere, under the same ids, on their first attempt.
      for (const taskId of onVictim) {
        const h = longs.find((x) => x.id === taskId)!;
        const r = await h.result;
        expect(r.result).not.toBe(`long on ${victim}`);
        expect(r.proof.attempt).toBe(1);
      }
      const record = await client.task(onVictim[0]);
      expect(record?.worker).not.toBe(victim);

      // Draining, it gets nothing new: every short task runs on the others.
      const shorts = await Promise.all(client.submitTasks(Array.from({ length: 9 }, () => ({ type: 'short' }))).map((h) => h.result));
      expect(shorts.every((r) => r.result !== `short on ${victim}`)).toBe(true);
    } finally {
      await client.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 30_000);
});
