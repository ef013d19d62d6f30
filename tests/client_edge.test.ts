import { describe, expect, it } from 'vitest';
import { ClientError, InvalidCommandError } from '../system/client.js';
import { createTestCluster } from '../system/cluster.js';
import { rejection } from './helpers/rejection.js';

/** A value nested `depth` objects deep: { a: { a: … 1 } }. */
function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}


describe('the client edge: bad commands are refused with a typed error and leave nothing behind', () => {
  it('values outside the value domain, missing fields, null and unknown ops each get InvalidCommand naming the path', async () => {
    const c = createTestCluster(3, { seed: 61 });
    await c.waitForLeader();
    const client = c.client();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[unknown, string]> = [
      [{ op: 'put', key: 'k', value: () => 1 }, '$.value'],
      [{ op: 'put', key: 'k', value: { nested: [1, cyclic] } }, '$.value.nested[1].self'],
      [{ op: 'put', key: 'k', value: new Map([[1, 2]]) }, '$.value'],
      [{ op: 'put', key: 'k', value: [1, Number.NaN] }, '$.value[1]'],
      // An own __proto__ key (JSON.parse makes one) would be renamed by the wire codec on followers.
      [{ op: 'put', key: 'k', value: JSON.parse('{"a":{"__proto__":{"x":1}}}') }, '$.value.a.__proto__'],
      // A lone surrogate has no UTF-8 encoding: followers would read U+FFFD.
      [{ op: 'put', key: 'k', value: ['fine', 'x\ud800'] }, '$.value[1]'],
      // Nesting the wire codec could not carry inside its messages.
      [{ op: 'put', key: 'k', value: nested(600) }, `$.value${'.a'.repeat(511)}`],
      [{ op: 'put', value: 1 }, '$.key'],
      [{ op: 'put', key: '', value: 1 }, '$.key'],
      [{ op: 'put', key: 'k' }, '$.value'],
      [null, '$'],
      ['put', '$'],
      [{ op: 'explode' }, '$.op'],
      [{ op: 'remove' }, '$.node'],
      [{ op: 'registerWorker', worker: 'w', capacity: 8 }, '$.capacity'],
    ];
    for (const [cmd, path] of cases) {
      const err = await rejection(client.submit(cmd as never));
      expect(err, JSON.stringify(path)).toBeInstanceOf(InvalidCommandError);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as InvalidCommandError).code).toBe('InvalidCommand');
      expect((err as InvalidCommandError).outcome).toBe('failed');
      expect((err as InvalidCommandError).path).toBe(path);
      expect((err as Error).message).toContain(path);
    }
    // Nothing was proposed, and the cluster (and its online checker) carries on.
    await c.drive(client.submit({ op: 'put', key: 'after', value: 1 }));
    await c.settle();
    expect(c.checker!.violation ?? null).toBeNull();
    for (const n of c.upNodes()) expect(n.state.get('after')).toBe(1);
    expect(c.leader()!.state.get('k')).toBeUndefined();
  });

  it('task changes are checked at the edge by kind: a malformed one is refused naming it, and nothing is proposed', async () => {
    const c = createTestCluster(3, { seed: 63 });
    await c.waitForLeader();
    const client = c.client();
    const ok = { taskId: 'task_x', at: 0, reason: 'r' };
    const cases: Array<[unknown, string]> = [
      [42, '$.changes[0]'],
      [{ ...ok, kind: 'bogus' }, '$.changes[0].kind'],
      [{ at: 0, kind: 'cancel', reason: 'r' }, '$.changes[0].taskId'],
      [{ taskId: 'task_x', at: 0, kind: 'cancel' }, '$.changes[0].reason'],
      [{ ...ok, kind: 'cancel', taskId: 7 }, '$.changes[0].taskId'],
      [{ taskId: 'task_x', kind: 'retry' }, '$.changes[0].at'],
      [{ ...ok, kind: 'lost', worker: 'n1', reason: 7 }, '$.changes[0].reason'],
      [{ ...ok, kind: 'assign', worker: 42 }, '$.changes[0].worker'],
      [{ ...ok, kind: 'start', worker: 'n1', attempt: 'one' }, '$.changes[0].attempt'],
      [{ ...ok, kind: 'start', worker: 'n1', attempt: 0 }, '$.changes[0].attempt'],
      [{ ...ok, kind: 'progress', worker: 'n1', attempt: 1, progress: 'half' }, '$.changes[0].progress'],
      [{ ...ok, kind: 'complete', worker: 'n1', attempt: 1, result: 1, proof: null }, '$.changes[0].proof'],
      [{ ...ok, kind: 'fail', worker: 'n1', attempt: 1, error: { x: 1 }, retryable: true, retryAt: 0 }, '$.changes[0].error'],
      [{ ...ok, kind: 'fail', worker: 'n1', attempt: 1, error: 'e', retryable: 'yes', retryAt: 0 }, '$.changes[0].retryable'],
      [{ ...ok, kind: 'timeout', worker: 'n1', attempt: 1 }, '$.changes[0].retryAt'],
      [{ ...ok, kind: 'cancel', reason: { why: 1 } }, '$.changes[0].reason'],
      [{ ...ok, kind: 'lost', worker: null }, '$.changes[0].worker'],
    ];
    const before = c.leader()!.raft.log.lastIndex;
    for (const [change, path] of cases) {
      const err = await rejection(client.submit({ op: 'taskChanges', changes: [{ kind: 'cancel', ...ok }, change] } as never));
      const at = path.replace('[0]', '[1]');
      expect(err, at).toBeInstanceOf(InvalidCommandError);
      expect((err as InvalidCommandError).path).toBe(at);
    }
    // cancelTask checks its id the same way, before anything is sent.
    const err = await rejection(client.cancelTask(undefined as never));
    expect((err as InvalidCommandError).path).toBe('$.changes[0].taskId');
    expect(c.leader()!.raft.log.lastIndex).toBe(before);
    // A well-formed change of no known task still reaches the log, and is refused there by every replica.
    const refused = await rejection(c.drive(client.submit({ op: 'taskChanges', changes: [{ kind: 'cancel', ...ok }] })));
    expect((refused as ClientError).code).toBe('TaskNotFound');
  });

  it('a command past the size limit is refused before it is sent', async () => {
    const c = createTestCluster(3, { seed: 62 });
    await c.waitForLeader();
    const err = await rejection(c.client().submit({ op: 'put', key: 'big', value: 'x'.repeat(2 * 1024 * 1024) }));
    expect(err).toBeInstanceOf(InvalidCommandError);
    expect((err as Error).message).toMatch(/bytes, the limit is/);
  });

  it('no replica shares an object with a client: changing a submitted value or a read result changes nothing', async () => {
    const c = createTestCluster(3, { seed: 63 });
    c.registerHandler('echo', (payload) => payload);
    await c.waitForLeader();
    const client = c.client();
    const value = { colour: 'grey', tags: ['a'] };
    await c.drive(client.submit({ op: 'put', key: 'k', value }));
    value.colour = 'red';
    value.tags.push('b');
    const got = await c.drive(client.get('k'));
    const read = (got.found ? got.value : undefined) as typeof value;
    expect(read).toEqual({ colour: 'grey', tags: ['a'] });
    read.tags.push('c');
    for (const n of c.upNodes()) expect(n.state.get('k')).toEqual({ colour: 'grey', tags: ['a'] });

    const payload = { n: 1 };
    const h = client.submitTask({ type: 'echo', payload });
    payload.n = 2;
    expect((await c.drive(h.result)).result).toEqual({ n: 1 });
  });
});

describe('handlers', () => {
  it('registering a second handler for a task type throws unless asked to replace it', async () => {
    const c = createTestCluster(3, { seed: 64 });
    c.registerHandler('job', () => 'first');
    expect(() => c.registerHandler('job', () => 'second')).toThrow(/already registered; pass \{ replace: true \}/);
    c.registerHandler('job', () => 'second', { replace: true });
    await c.waitForLeader();
    const h = c.client().submitTask({ type: 'job' });
    expect((await c.drive(h.result)).result).toBe('second');
  });
});

describe('handler results', () => {
  it('a result is kept as its canonical JSON copy, the same on every replica: a Date becomes its ISO string', async () => {
    const c = createTestCluster(3, { seed: 67 });
    const returned = { at: new Date(0), skipped: undefined, n: 1 };
    c.registerHandler('job', () => returned);
    await c.waitForLeader();
    const handles = Array.from({ length: 6 }, () => c.client().submitTask({ type: 'job' }));
    for (const h of handles) expect((await c.drive(h.result)).result).toEqual({ at: '1970-01-01T00:00:00.000Z', n: 1 });
    returned.n = 2; // the handler's object is not the one the cluster keeps
    await c.settle();
    expect(c.checker!.violation ?? null).toBeNull();
    const { taskId } = await handles[0].accepted;
    for (const n of c.upNodes()) expect(n.state.task(taskId)?.result).toEqual({ at: '1970-01-01T00:00:00.000Z', n: 1 });
  });
});

describe('createCluster', () => {
  it('refuses unknown options, unknown raft options and node counts that are not positive integers', () => {
    expect(() => createTestCluster(3, { nodez: 3 } as never)).toThrow(/unknown option 'nodez'/);
    expect(() => createTestCluster(3, { raft: { electionTimeout: 100 } as never })).toThrow(/unknown option 'raft.electionTimeout'/);
    expect(() => createTestCluster(2.5)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(0)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(Number.NaN)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(3, { nodes: ['a', ''] })).toThrow(/non-empty string ids/);
    expect(() => createTestCluster(3, { seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => createTestCluster(3)).not.toThrow();
  });

  it('fault injection names nodes by id: a node object (what leader() returns) is a TypeError saying so', async () => {
    const c = createTestCluster(3, { seed: 64 });
    await c.waitForLeader();
    const leader = c.leader()!;
    expect(() => c.crash(leader as never)).toThrow(new RegExp(`a node object \\(use its \\.id, '${leader.id}'\\)`));
    expect(() => c.crash(leader as never)).toThrow(TypeError);
    expect(() => c.restart(undefined as never)).toThrow(/named by its id, such as 'n1'; got undefined/);
    expect(() => c.crash('n9')).toThrow(/no node 'n9' \(nodes: n1, n2, n3\)/);
    expect(c.isUp(leader.id)).toBe(true);
  });
});

describe('sessions', () => {
  it('a client whose session the cluster evicted gets SessionExpired (outcome unknown), and later requests run in a new session', async () => {
    const c = createTestCluster(3, { seed: 65, limits: { maxSessions: 2 } });
    await c.waitForLeader();
    const a = c.client({ id: 'a' });
    await c.drive(a.submit({ op: 'put', key: 'k', value: 1 }));
    // Two other clients push a's session out (it is the least recently used, nodes' sessions included).
    await c.drive(c.client({ id: 'b' }).submit({ op: 'put', key: 'b', value: 1 }));
    await c.drive(c.client({ id: 'c' }).submit({ op: 'put', key: 'c', value: 1 }));
    const err = await rejection(c.drive(a.submit({ op: 'put', key: 'k', value: 2 })));
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'SessionExpired', outcome: 'unknown' });
    expect(c.leader()!.state.get('k')).toBe(1); // not applied as if new
    await c.drive(a.submit({ op: 'put', key: 'k', value: 3 }));
    expect(c.leader()!.state.get('k')).toBe(3);
  });
});

describe('timeouts', () => {
  it('a read that times out reports outcome unknown, like a write', async () => {
    const c = createTestCluster(3, { seed: 66 });
    await c.waitForLeader();
    const client = c.client({ timeoutMs: 500 });
    for (const id of c.ids) c.isolate(id); // no quorum anywhere: no read can be confirmed
    const err = await rejection(c.drive(client.get('k'), 2_000));
    expect(err).toMatchObject({ code: 'Timeout', outcome: 'unknown' });
  });
});

describe('the client edge admits only what the wire carries faithfully', () => {
  it('a value as deep as the edge allows is replicated intact to every node', async () => {
    const c = createTestCluster(3, { seed: 63 });
    await c.waitForLeader();
    const value = nested(500);
    await c.drive(c.client().submit({ op: 'put', key: 'deep', value }));
    await c.settle();
    expect(c.checker!.violation ?? null).toBeNull();
    for (const n of c.upNodes()) expect(n.state.get('deep')).toEqual(value);
  });
});
