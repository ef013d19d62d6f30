/**
 * Client interaction (Raft paper §8, dissertation §6.3–§6.4) on a full
 * simulated cluster: linearizable reads through ReadIndex, and client
 * sessions that make a retried command apply once.
 */
import { describe, expect, it } from 'vitest';
import type { ProposeOutcome } from '../../actors/clusterNode.js';
import type { SessionCommand } from '../../actors/clusterState.js';
import { createTestCluster, type Cluster } from '../../system/cluster.js';

/** Proposes through one node and resolves when it applies there (or refuses). */
function proposeAt(c: Cluster, id: string, sc: SessionCommand): Promise<ProposeOutcome> {
  return new Promise((resolve) =>
    c.node(id).propose(sc, (outcome) => {
      c.kernel.wake();
      resolve(outcome);
    }),
  );
}

describe('§8 client interaction', () => {
  it('a ReadIndex read never returns stale data: it sees acknowledged writes, and a deposed leader cannot serve it', async () => {
    // No CheckQuorum: the partitioned leader goes on believing it leads (the stale-read trap).
    const c = createTestCluster(3, { seed: 31, raft: { checkQuorum: false } });
    const old = (await c.waitForLeader(2_000)).id;
    const writer = c.client();
    const reader = c.client();
    await c.drive(writer.submit({ op: 'put', key: 'k', value: 'v1' }));
    expect(await c.drive(reader.get('k'))).toMatchObject({ found: true, value: 'v1' }); // served by `old`, whom the reader now asks first

    c.partition([[old], c.ids.filter((id) => id !== old)]);
    await c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== old, { within: 3_000, description: 'a new leader' });
    await c.drive(writer.submit({ op: 'put', key: 'k', value: 'v2' }));
    expect(c.node(old).raft.isLeader).toBe(true);
    expect(c.node(old).state.get('k')).toBe('v1');

    // Straight at the deposed leader: no answer, or a refusal — never 'v1'.
    const direct: unknown[] = [];
    c.node(old).read((s) => s.get('k'), (r) => direct.push(r));
    // Through the client, which tries `old` first: no answer there, so it gets the fresh value elsewhere.
    const t0 = c.kernel.now();
    expect(await c.drive(reader.get('k'))).toMatchObject({ found: true, value: 'v2' });
    expect(c.kernel.now() - t0).toBeGreaterThanOrEqual(1_000); // it waited out its attempt at `old`
    await c.run(2_000);
    expect(direct.filter((r) => (r as { ok: boolean }).ok)).toEqual([]);

    // Healed, the old leader steps down and its pending read is refused, not answered.
    c.heal();
    await c.runUntil(() => !c.node(old).raft.isLeader, { within: 3_000, description: 'the old leader to step down' });
    expect(direct).toEqual([expect.objectContaining({ ok: false, code: 'NotLeader' })]);
  });

  it('a command retried with the same (client, seq) after a leader change is applied once', async () => {
    const c = createTestCluster(3, { seed: 41 });
    const first = (await c.waitForLeader(2_000)).id;
    const put = (value: string): SessionCommand => ({ client: 'c1', seq: 1, cmd: { op: 'put', key: 'k', value } });

    // c1's put commits, but its leader crashes before c1 hears back.
    const applied = await c.drive(proposeAt(c, first, put('a')));
    expect(applied).toMatchObject({ ok: true, result: { ok: true } });
    c.crash(first);
    await c.runUntil(() => c.leader() !== undefined, { within: 3_000, description: 'a new leader' });
    const second = c.leader()!.id;
    expect(second).not.toBe(first);

    // Meanwhile another client overwrites k; then c1 retries its request at the new leader.
    await c.drive(c.client({ id: 'c2' }).submit({ op: 'put', key: 'k', value: 'b' }));
    const retried = await c.drive(proposeAt(c, second, put('a')));
    expect(retried).toMatchObject({ ok: true, result: { ok: true } }); // answered as the first time
    expect((retried as { index: number }).index).toBeGreaterThan((applied as { index: number }).index);

    c.restart(first);
    await c.run(1_000);
    const log = c.node(second).raft.log;
    const copies = log.slice(log.firstIndex, log.lastIndex, Number.MAX_SAFE_INTEGER).filter((e) => e.payload.kind === 'command' && (e.payload.command as SessionCommand).client === 'c1');
    expect(copies).toHaveLength(2); // proposed twice...
    for (const id of c.ids) expect(c.node(id).state.get('k')).toBe('b'); // ...applied once, everywhere

    // Without a session the same retry would have applied again.
    await c.drive(proposeAt(c, second, { cmd: { op: 'put', key: 'k', value: 'a' } }));
    expect(c.node(second).state.get('k')).toBe('a');
  });
});
