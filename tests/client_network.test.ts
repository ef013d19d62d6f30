/**
 * Clients on the network (issue: values on the wire, clients on the
 * network, exactly-once for real). A client reaches nodes only through the
 * bus and its network model, knows only what answers and timeouts tell it,
 * and a retry applies once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterState, type ClusterCommand, type SessionCommand } from '../actors/clusterState.js';
import type { ProposeOutcome } from '../actors/clusterNode.js';
import { EMPTY, Subject } from 'rxjs';
import { ClientError, ClusterClient as ClusterClientClass, type ClusterClient } from '../system/client.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import { rejection } from './helpers/rejection.js';


afterEach(() => vi.restoreAllMocks());

/** Records each application of a `put` by the state machine (on every node): its key and log index. A repeat answered from a session is not an application. */
function recordPutApplies(): Array<{ key: string; index: number }> {
  const applied: Array<{ key: string; index: number }> = [];
  type Apply = (this: ClusterState, cmd: ClusterCommand, index: number) => unknown;
  const proto = ClusterState.prototype as unknown as { applyCommand: Apply };
  const original = proto.applyCommand;
  vi.spyOn(proto, 'applyCommand').mockImplementation(function (this: ClusterState, cmd: ClusterCommand, index: number) {
    if (cmd.op === 'put') applied.push({ key: cmd.key, index });
    return original.call(this, cmd, index);
  });
  return applied;
}
const appliesOf = (applied: Array<{ key: string; index: number }>, key: string) => applied.filter((a) => a.key === key);

/** Resolves once `node` has received a client request carrying a `put` of `key`. */
function whenRequestArrives(c: Cluster, node: string, key: string): () => boolean {
  let seen = false;
  c.bus.inbox(node).subscribe((env) => {
    const p = env.payload as { kind?: string; command?: SessionCommand };
    if (env.type === 'client.request' && p.kind === 'propose' && p.command?.cmd.op === 'put' && p.command.cmd.key === key) seen = true;
  });
  return () => seen;
}

/**
 * Submits a put of `key` from `client` and loses every answer the leader
 * sends back once the request is there: the submit times out with outcome
 * unknown although the leader took the request. The link heals afterwards.
 */
async function submitAnswerLost(c: Cluster, leader: string, client: ClusterClient, key: string): Promise<ClientError> {
  const arrived = whenRequestArrives(c, leader, key);
  const pending = client.submit({ op: 'put', key, value: 1 });
  await c.runUntil(arrived, { within: 1_000, description: 'the request at the leader' });
  c.bus.cut(leader, client.id);
  const err = (await rejection(c.drive(pending, 5_000))) as ClientError;
  c.bus.restore(leader, client.id);
  return err;
}

describe('exactly once, with the client on the network', () => {
  it('a lost answer to a committed request: the retry with the same number returns the original index and the command applies once', async () => {
    const c = createTestCluster(3, { seed: 71 });
    const leader = (await c.waitForLeader()).id;
    const client = c.client({ id: 'w', timeoutMs: 1_500, attemptTimeoutMs: 300 });
    await c.drive(client.submit({ op: 'put', key: 'warm', value: 0 })); // the client learns who leads
    const applied = recordPutApplies();

    // Every answer from the leader to the client is lost once the request is there.
    const arrived = whenRequestArrives(c, leader, 'once');
    const pending = client.submit({ op: 'put', key: 'once', value: 1 });
    await c.runUntil(arrived, { within: 1_000, description: 'the request at the leader' });
    c.bus.cut(leader, 'w');
    const err = (await rejection(c.drive(pending, 5_000))) as ClientError;
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'Timeout', outcome: 'unknown' });
    expect(err.requestId).toBe('w#2');
    expect(client.inDoubt()).toEqual(['w#2']);
    // It did commit: every node applied it once.
    await c.settle();
    expect(c.ids.map((id) => c.node(id).state.get('once'))).toEqual([1, 1, 1]);
    expect(appliesOf(applied, 'once')).toHaveLength(3);
    const firstIndex = c.node(leader).raft.log.lastIndex;

    c.bus.restore(leader, 'w');
    const again = await c.drive(client.retry(err.requestId!));
    await c.settle();
    expect(again.requestId).toBe('w#2');
    expect(again.index).toBeLessThanOrEqual(firstIndex); // where it first took effect, not a new place
    expect(appliesOf(applied, 'once')).toHaveLength(3); // once per node: the retry applied nothing
    expect(client.inDoubt()).toEqual([]);
  });

  it('outcome(requestId) settles a timed-out request for good: applied with its index, or fenced so a late copy never applies', async () => {
    const c = createTestCluster(3, { seed: 72 });
    const leader = (await c.waitForLeader()).id;
    const client = c.client({ id: 'o', timeoutMs: 1_000, attemptTimeoutMs: 200 });
    await c.drive(client.submit({ op: 'put', key: 'warm', value: 0 }));

    // Applied, answer lost.
    const e1 = await submitAnswerLost(c, leader, client, 'applied');
    const settled1 = await c.drive(client.outcome(e1.requestId!));
    expect(settled1).toMatchObject({ applied: true });
    expect((settled1 as { index: number }).index).toBeGreaterThan(0);

    // Never arrived: the client cannot reach anyone.
    for (const id of c.ids) c.bus.cut('o', id);
    const e2 = (await rejection(c.drive(client.submit({ op: 'put', key: 'lost', value: 1 }), 5_000))) as ClientError;
    expect(e2).toMatchObject({ code: 'Timeout', outcome: 'unknown' });
    for (const id of c.ids) c.bus.restore('o', id);
    expect(await c.drive(client.outcome(e2.requestId!))).toEqual({ applied: false });
    // A late copy of the request (say, delayed in the network) is refused, never applied.
    const [session, seq] = e2.requestId!.split('#');
    const late: SessionCommand = { client: session, seq: Number(seq), cmd: { op: 'put', key: 'lost', value: 1 } };
    const lateOutcome = await c.drive(
      new Promise<ProposeOutcome>((resolve) => c.leader()!.propose(late, (o) => (c.kernel.wake(), resolve(o)))),
    );
    expect(lateOutcome).toMatchObject({ ok: true, result: { ok: false, code: 'Fenced' } });
    await c.settle();
    for (const n of c.upNodes()) expect(n.state.get('lost')).toBeUndefined();
    expect(client.inDoubt()).toEqual([]);
  });

  it('an evicted session answers SessionExpired to a retry, which is not applied as new', async () => {
    const c = createTestCluster(3, { seed: 73, limits: { maxSessions: 4 } });
    const leader = (await c.waitForLeader()).id;
    const client = c.client({ id: 'e', timeoutMs: 1_000, attemptTimeoutMs: 200 });
    await c.drive(client.submit({ op: 'put', key: 'warm', value: 0 }));
    const err = await submitAnswerLost(c, leader, client, 'k');
    // Other clients push e's session out of the cluster's bounded table.
    for (let i = 0; i < 6; i++) await c.drive(c.client({ id: `other${i}` }).submit({ op: 'put', key: `o${i}`, value: i }));
    const again = await rejection(c.drive(client.retry(err.requestId!)));
    expect(again).toMatchObject({ code: 'SessionExpired', outcome: 'unknown' });
    expect(c.leader()!.state.get('k')).toBe(1); // applied once, before; the retry did nothing
  });
});

describe('clients live on the network', () => {
  it('a client on the minority side of a partition gets no answer (outcome unknown); healed, its retry applies once', async () => {
    const c = createTestCluster(5, { seed: 74 });
    const old = (await c.waitForLeader()).id;
    const client = c.client({ id: 'm', timeoutMs: 1_000, attemptTimeoutMs: 200 });
    await c.drive(client.submit({ op: 'put', key: 'warm', value: 0 }));
    const others = c.ids.filter((id) => id !== old);
    c.partition([[old, others[0], 'm'], others.slice(1)]);
    const err = (await rejection(c.drive(client.submit({ op: 'put', key: 'minority', value: 1 }), 5_000))) as ClientError;
    expect(err).toMatchObject({ code: 'Timeout', outcome: 'unknown' });
    // The majority side elected a leader and went on; the client could not tell, only time out.
    expect(c.leader()!.id).not.toBe(old);
    c.heal();
    const applied = await c.drive(client.retry(err.requestId!));
    await c.settle();
    expect(applied.requestId).toBe(err.requestId);
    for (const n of c.upNodes()) expect(n.state.get('minority')).toBe(1);
  });

  it('under loss, duplication and reordering on every link (client links too) every acknowledged write is there once', async () => {
    const c = createTestCluster(3, { seed: 75, network: { latency: { base: 2, jitter: 2, distribution: 'uniform' }, loss: 0.05, duplicate: 0.2, reorder: 0.2 } });
    await c.waitForLeader();
    const applied = recordPutApplies();
    const clients = Array.from({ length: 4 }, (_, i) => c.client({ id: `d${i}`, timeoutMs: 10_000 }));
    const acked: string[] = [];
    await c.drive(
      Promise.all(
        clients.map(async (cl, i) => {
          for (let k = 0; k < 25; k++) {
            await cl.submit({ op: 'put', key: `${i}-${k}`, value: k });
            acked.push(`${i}-${k}`);
          }
        }),
      ),
      120_000,
    );
    expect(acked).toHaveLength(100);
    const stats = c.bus.stats();
    const clientLinks = stats.links.filter((l) => l.from.startsWith('d') || l.to.startsWith('d'));
    expect(clientLinks.reduce((n, l) => n + l.duplicated, 0)).toBeGreaterThan(0);
    expect(clientLinks.reduce((n, l) => n + l.dropped.loss, 0)).toBeGreaterThan(0);
    await c.settle();
    for (const n of c.upNodes()) for (const key of acked) expect(n.state.get(key)).toBe(Number(key.split('-')[1]));
    // Each write applied once per node, however often the network duplicated or the client resent it.
    for (const key of acked) expect(appliesOf(applied, key), key).toHaveLength(3);
  });

  it('a node answers named queries; an unknown one is refused with a typed error', async () => {
    const c = createTestCluster(3, { seed: 76 });
    await c.waitForLeader();
    const client = c.client();
    await c.drive(client.submit({ op: 'put', key: 'bytes', value: new Uint8Array([1, 2, 3]) }));
    const got = await c.drive(client.get('bytes'));
    const bytes = got.found ? got.value : undefined;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...(bytes as Uint8Array)]).toEqual([1, 2, 3]);
    expect(await c.drive(client.get('missing'))).toMatchObject({ found: false, key: 'missing' });
    expect((await c.drive(client.members())).map((m) => m.node).sort()).toEqual(c.ids);
    const err = await rejection(c.drive(client.query('nope' as never, {} as never)));
    expect(err).toMatchObject({ code: 'UnknownQuery', outcome: 'failed' });
  });

  it('a leader’s own commands leave its queue once applied, so its session keeps only the answers still in flight', async () => {
    const c = createTestCluster(3, { seed: 78 });
    const leader = await c.waitForLeader();
    await c.settle();
    for (let i = 0; i < 200; i++) leader.forward({ op: 'put', key: `own${i}`, value: i });
    // Well inside one retry tick: applied means done, not "done at the next timer".
    await c.runUntil(() => leader.forwardsPending === 0, { within: 20, description: 'own commands settled on apply' });
    leader.forward({ op: 'put', key: 'last', value: 0 });
    await c.runUntil(() => leader.forwardsPending === 0, { within: 20, description: 'the last one settled' });
    await c.settle();
    const sessions = (leader.state as unknown as { s: { sessions: Map<string, { answers: Map<number, unknown> }> } }).s.sessions;
    expect(sessions.get(leader.sessionId)!.answers.size).toBeLessThanOrEqual(1);
  });

  it('commands a node forwards carry its session: a resend the leader already applied is answered, not applied again', async () => {
    const c = createTestCluster(3, { seed: 77 });
    const leader = (await c.waitForLeader()).id;
    await c.settle();
    const follower = c.node(c.ids.find((id) => id !== leader)!);
    const applied = recordPutApplies();
    // The leader's answers to the follower's forward are lost: the follower sends it again.
    c.bus.cut(leader, follower.id);
    follower.forward({ op: 'put', key: 'fwd', value: 1 });
    await c.run(1_000);
    c.bus.restore(leader, follower.id);
    await c.runUntil(() => follower.forwardsPending === 0, { within: 5_000, description: 'the forward settled' });
    await c.settle();
    const entries = c.node(leader).raft.log.slice(1, c.node(leader).raft.log.lastIndex, 10_000);
    const copies = entries.filter((e) => JSON.stringify(e.payload).includes('"fwd"'));
    expect(copies.length).toBeGreaterThan(1); // it was sent (and logged) more than once …
    const applies = appliesOf(applied, 'fwd');
    expect(new Set(applies.map((a) => a.index)).size).toBe(1); // … and applied at one index only, on every node
    expect(applies).toHaveLength(3);
    expect(follower.sessionId).toMatch(new RegExp(`^${follower.id}/`));
  });

  it('a node checks what arrives from a client: a malformed request is refused with InvalidCommand and nothing is proposed', async () => {
    const c = createTestCluster(3, { seed: 79 });
    const leader = await c.waitForLeader();
    await c.settle();
    c.bus.addNode('raw', { kind: 'client' });
    const replies: Array<{ rid: number; ok: boolean; code?: string }> = [];
    c.bus.inbox<{ rid: number; ok: boolean; code?: string }>('raw').subscribe((env) => replies.push(env.payload));
    const lastIndex = leader.raft.log.lastIndex;
    const bad = [
      { kind: 'propose', rid: 1, command: { client: 'raw', seq: 1, cmd: { op: 'explode' } } },
      { kind: 'propose', rid: 2, command: { client: 'raw', seq: 'one', cmd: { op: 'noop' } } },
      { kind: 'propose', rid: 3, command: { client: '', seq: 1, cmd: { op: 'noop' } } },
      { kind: 'propose', rid: 4, command: { client: 'raw', seq: 2, firstUnanswered: 5, cmd: { op: 'noop' } } },
      { kind: 'propose', rid: 5, command: null },
    ];
    for (const req of bad) c.bus.send('raw', leader.id, 'client.request', req);
    await c.run(100);
    expect(replies.map((r) => [r.rid, r.ok, r.code])).toEqual(bad.map((r) => [r.rid, false, 'InvalidCommand']));
    expect(leader.raft.log.lastIndex).toBe(lastIndex);
  });
});

/** A client on a clock driven by hand (timers fire when the test says, maybe late) and a network that never answers. */
function handDriven() {
  const h = {
    now: 0,
    timers: [] as Array<{ at: number; fn: (arg: unknown) => void; arg: unknown; live: boolean }>,
    sent: [] as number[],
    sendThrows: false,
  };
  const clock = {
    now: () => h.now,
    setTimeout: () => 0,
    clearTimeout: () => {},
    sleep: (ms: number) => new Promise<void>((resolve) => void h.timers.push({ at: h.now + ms, fn: () => resolve(), arg: undefined, live: true })),
    schedule<A>(delay: number, fn: (arg: A) => void, arg?: A) {
      if (!(delay >= 0)) throw new RangeError(`delay must be a non-negative number, got ${delay}`);
      const t = { at: h.now + delay, fn: fn as (arg: unknown) => void, arg, live: true };
      h.timers.push(t);
      return t;
    },
    cancel(handle: unknown) {
      (handle as { live: boolean }).live = false;
      return true;
    },
    wake() {},
    random: () => ({ next: () => 0.5, int: (n: number) => Math.floor(n / 2) }),
  };
  const bus = {
    inbox: () => new Subject<never>(),
    send: (_f: string, _t: string, _type: string, p: { rid: number }) => {
      if (h.sendThrows) throw new TypeError('the wire refuses this');
      h.sent.push(p.rid);
    },
  };
  const client = new ClusterClientClass({ kernel: clock, bus, trace: undefined, ids: ['n1'], watchTask: () => EMPTY } as never, 'late', { timeoutMs: 10_000, attemptTimeoutMs: 300, minRetransmitMs: 20, breaker: false });
  const live = () => h.timers.filter((t) => t.live);
  /** Fires `t` at `at` (its own time unless told later). */
  const fire = (t: (typeof h.timers)[number], at = t.at) => {
    t.live = false;
    h.now = at;
    t.fn(t.arg);
  };
  return { h, client, live, fire };
}

describe('an attempt on a clock whose timers fire late', () => {
  it('a retransmission timer that fires past the attempt deadline ends the attempt: one timer at a time, never a negative delay', async () => {
    const { h, client, live, fire } = handDriven();
    const answer = client.get('k').catch((e: unknown) => e);
    expect(h.sent).toEqual([1]);
    // One timer per attempt: the first retransmission (no separate deadline timer).
    expect(live()).toHaveLength(1);
    // It fires 500 ms late, past the attempt's 300 ms: the request goes again, and the timer left is the attempt's end, due now.
    const first = live()[0];
    fire(first, first.at + 500);
    expect(h.sent).toEqual([1, 1]);
    expect(live()).toHaveLength(1);
    const end = live()[0];
    expect(end.at).toBe(h.now);
    fire(end);
    // The attempt ended: the client pauses before its next one (a sleep), nothing else is pending.
    await vi.waitFor(() => expect(live()).toHaveLength(1));
    expect(live()[0].at).toBe(h.now + 50);
    void client.close();
    fire(live()[0]);
    const err = (await answer) as ClientError;
    expect(err).toBeInstanceOf(ClientError);
    expect(err.code).toBe('Closed');
    expect(h.sent).toEqual([1, 1]);
  });

  it('a retransmission whose send throws still leaves the attempt its end: it settles at the deadline', async () => {
    const { h, client, live, fire } = handDriven();
    const answer = client.get('k').catch((e: unknown) => e);
    h.sendThrows = true;
    expect(() => fire(live()[0])).toThrow(/the wire refuses this/);
    // The next timer was set before the send: the attempt still ends, within its 300 ms.
    expect(live()).toHaveLength(1);
    h.sendThrows = false;
    while (live().length === 1 && live()[0].at <= 300) fire(live()[0]);
    await vi.waitFor(() => expect(live()).toHaveLength(1));
    expect(live()[0].at).toBe(350); // the pause after an attempt that ended at 300 ms
    void client.close();
    fire(live()[0]);
    expect(((await answer) as ClientError).code).toBe('Closed');
  });
});
