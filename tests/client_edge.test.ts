import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientError, InvalidCommandError } from '../system/client.js';
import { createTestCluster } from '../system/cluster.js';
import { rejection } from './helpers/rejection.js';
import { resolveTaskSpec, resolveTaskSpecSized, type TaskSpec } from '../system/taskSpec.js';
import { checkValue } from '../system/valueDomain.js';
import { checkCommand } from '../system/commandCheck.js';
import { compactTaskSpec, expandTaskSpec, WIRE_SPEC_BASELINE } from '../actors/wireTaskSpec.js';

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
      // A worker offering nothing, or a tenant allowed no task at once: every task would wait for good.
      [{ op: 'registerWorker', worker: 'w', capacity: { cpu: 0, memoryBytes: 1 } }, '$.capacity.cpu'],
      [{ op: 'registerWorker', worker: 'w', capacity: { cpu: 1 } }, '$.capacity.memoryBytes'],
      [{ op: 'registerTenant', tenant: 't', quota: { maxConcurrentTasks: 0 } }, '$.quota.maxConcurrentTasks'],
      [{ op: 'registerTenant', tenant: 't', quota: { maxCpuUnits: -1 } }, '$.quota.maxCpuUnits'],
      [{ op: 'registerTenant', tenant: 't', quota: { bogus: 1 } }, '$.quota.bogus'],
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

  it('submitted tasks are checked at the edge, each spec in its wire form: a malformed one is refused naming it, and nothing is proposed', async () => {
    const c = createTestCluster(3, { seed: 65 });
    await c.waitForLeader();
    const client = c.client();
    const spec = resolveTaskSpec({ type: 'noop' });
    const task = { id: 'task_a', spec, submittedAt: 0 };
    const cases: Array<[unknown[], string]> = [
      [[], '$.tasks'],
      [[1], '$.tasks[0]'],
      [[{}], '$.tasks[0].id'],
      [[{ ...task, id: 7 }], '$.tasks[0].id'],
      [[{ ...task, submittedAt: 'now' }], '$.tasks[0].submittedAt'],
      [[{ ...task, extra: 1 }], '$.tasks[0].extra'],
      [[{ ...task, resubmitOf: 3 }], '$.tasks[0].resubmitOf'],
      [[{ id: 'task_a', submittedAt: 0 }], '$.tasks[0].spec'],
      [[{ ...task, spec: { ...spec, backoff: null } }], '$.tasks[0].spec.backoff'],
      [[{ ...task, spec: { ...spec, backoff: { initialMs: 5 } } }], '$.tasks[0].spec.backoff.factor'],
      [[{ ...task, spec: { tenant: 'default' } }], '$.tasks[0].spec.type'],
      [[{ ...task, spec: { ...spec, resources: { cpu: 1 } } }], '$.tasks[0].spec.resources.memoryBytes'],
      [[{ ...task, spec: { ...spec, priority: 1000 } }], '$.tasks[0].spec.priority'],
      [[{ ...task, spec: { ...spec, tenant: '' } }], '$.tasks[0].spec.tenant'],
      [[task, { ...task, id: 'task_b', spec: { ...spec, color: 'red' } }], '$.tasks[1].spec.color'],
    ];
    const before = c.leader()!.raft.log.lastIndex;
    for (const [tasks, path] of cases) {
      const err = await rejection(client.submit({ op: 'submitTasks', tasks } as never));
      expect(err, path).toBeInstanceOf(InvalidCommandError);
      expect((err as InvalidCommandError).path, path).toBe(path);
    }
    expect(c.leader()!.raft.log.lastIndex).toBe(before);
    // The same tasks well formed are accepted.
    const ok = await c.drive(client.submit({ op: 'submitTasks', tasks: [task] }));
    expect(ok.value).toEqual(['task_a']);
  });

  it('a spec travels in its wire form: fields equal to the log\'s baseline are left out, every replica stores the spec resolved, and a full spec (an older log) applies the same', async () => {
    const c = createTestCluster(3, { seed: 66 });
    await c.waitForLeader();
    const client = c.client();
    const plain = client.submitTask({ type: 'noop' });
    const custom = client.submitTask({ type: 'noop', priority: 5, resources: { cpu: 2 }, backoff: { jitter: 0 } });
    await c.drive(Promise.all([plain.accepted, custom.accepted]));
    await c.run(100); // every replica applies what the leader committed
    const leader = c.leader()!;
    const wire = new Map<string, unknown>();
    for (const e of leader.raft.log.slice(1, leader.raft.log.lastIndex, 10_000)) {
      const cmd = (e.payload as { command?: { cmd?: { op: string; tasks?: Array<{ id: string; spec: unknown }> } } }).command?.cmd;
      if (cmd?.op === 'submitTasks') for (const t of cmd.tasks!) wire.set(t.id, t.spec);
    }
    expect(wire.get(plain.id)).toEqual({ type: 'noop', tenant: 'default' });
    expect(wire.get(custom.id)).toEqual({ type: 'noop', tenant: 'default', priority: 5, resources: { cpu: 2, memoryBytes: 64 * 2 ** 20 }, backoff: { initialMs: 100, factor: 2, maxMs: 10_000, jitter: 0 } });
    for (const n of c.upNodes()) {
      expect(n.state.task(plain.id)!.spec).toEqual(resolveTaskSpec({ type: 'noop' }));
      expect(n.state.task(custom.id)!.spec).toEqual(resolveTaskSpec({ type: 'noop', priority: 5, resources: { cpu: 2 }, backoff: { jitter: 0 } }));
    }
    // A command written with the whole spec, as logs before the wire form hold them, stores the same spec.
    const full = resolveTaskSpec({ type: 'noop', tenant: 'default', maxRetries: 1 });
    await c.drive(client.submit({ op: 'submitTasks', tasks: [{ id: 'task_full', spec: full, submittedAt: 0 }] }));
    await c.run(100);
    for (const n of c.upNodes()) expect(n.state.task('task_full')!.spec).toEqual(full);
  });

  it('a wire spec expands to the spec it was compacted from, whatever fields differ from the baseline', () => {
    const specs: TaskSpec[] = [
      { type: 'a' },
      { type: 'a', payload: { x: [1, 2] }, tenant: 't', priority: -0, maxRetries: 0, timeoutMs: 5, idempotencyKey: 'k' },
      { type: 'a', payload: 0, resources: { memoryBytes: 1 }, backoff: { initialMs: 0, maxMs: 0 } },
      { type: 'a', priority: 100, resources: { cpu: 1, memoryBytes: 64 * 2 ** 20 }, backoff: { factor: 2 } },
    ];
    for (const given of specs) {
      const spec = resolveTaskSpec(given);
      const wire = compactTaskSpec(spec);
      expect(expandTaskSpec(wire)).toEqual(spec);
      expect(Object.is(expandTaskSpec(wire).priority, spec.priority)).toBe(true);
      // Only what differs from the baseline is written.
      for (const k of Object.keys(wire)) if (k !== 'type' && k !== 'tenant') expect(wire[k as keyof typeof wire], k).not.toEqual(WIRE_SPEC_BASELINE[k as keyof typeof WIRE_SPEC_BASELINE]);
    }
  });

  it('a submission is stamped with the leader\'s time, not the client\'s: a client clock far ahead cannot move a tenant\'s rate bucket', async () => {
    const c = createTestCluster(3, { seed: 68 });
    await c.waitForLeader();
    const client = c.client();
    await c.drive(client.submit({ op: 'registerTenant', tenant: 't', quota: { maxTasksPerSecond: 2 } }));
    const spec = resolveTaskSpec({ type: 'noop', tenant: 't' });
    const future = 1e12;
    await c.drive(client.submit({ op: 'submitTasks', tasks: [{ id: 'task_future', spec, submittedAt: future }] }));
    await c.run(100); // every replica has applied it
    const leader = c.leader()!;
    const at = leader.state.task('task_future')!.submittedAt;
    expect(at).toBeLessThan(c.kernel.now() + 1_000);
    for (const n of c.upNodes()) expect(n.state.task('task_future')!.submittedAt).toBe(at);
    // A second later the bucket has refilled as usual: an honest client is admitted.
    await c.run(1_000);
    const h = client.submitTasks([{ type: 'noop', tenant: 't' }, { type: 'noop', tenant: 't' }]);
    await c.drive(Promise.all(h.map((t) => t.accepted)));
  });

  it('a fence names a whole request number, and a bootstrap lists node ids', () => {
    expect(() => checkCommand({ op: 'fence', client: 'app', seq: 1.5 })).toThrow(/\$\.seq must be an integer ≥ 1/);
    expect(() => checkCommand({ op: 'bootstrap', voters: [1, null] } as never)).toThrow(/\$\.voters\[0\] must be a string/);
    expect(checkCommand({ op: 'fence', client: 'app', seq: 2 })).toEqual({ op: 'fence', client: 'app', seq: 2 });
  });

  it('the name length limit passed in is the one checked (not the default)', () => {
    const limits = { maxCommandBytes: 1e6, maxNameLength: 4 };
    expect(() => checkCommand({ op: 'put', key: 'abcdefghij', value: 1 }, limits)).toThrow(/\$\.key must be a string of 1–4 characters/);
    expect(() => checkCommand({ op: 'taskChanges', changes: [{ kind: 'cancel', taskId: 'task_long', reason: 'r', at: 0 }] }, limits)).toThrow(/\$\.changes\[0\]\.taskId must be a string of 1–4 characters/);
    expect(checkCommand({ op: 'put', key: 'abcd', value: 1 }, limits)).toEqual({ op: 'put', key: 'abcd', value: 1 });
  });

  it('a malformed command that reached the log anyway is refused by every replica, and a restart that replays it comes up', async () => {
    const c = createTestCluster(3, { seed: 66 });
    await c.waitForLeader();
    const leader = c.leader()!;
    // A node's own commands skip the client edge: one that a buggy or older node wrote.
    for (const cmd of [{ op: 'submitTasks', tasks: [1] }, { op: 'submitTasks', tasks: [{}] }, { op: 'put' }, { op: 'bogus' }]) leader.forward(cmd as never);
    await c.run(200);
    for (const n of c.upNodes()) expect(n.state.tasks().length, n.id).toBe(0);
    const indexes = c.upNodes().map((n) => n.raft.lastApplied);
    expect(Math.min(...indexes)).toBeGreaterThanOrEqual(leader.raft.log.lastIndex);
    // Replaying the log from storage applies (refuses) them again without a crash.
    const follower = c.upNodes().find((n) => n.id !== leader.id)!.id;
    c.crash(follower);
    c.restart(follower);
    await c.run(500);
    const client = c.client();
    await c.drive(client.put('after', 1));
    await c.run(100);
    expect(c.node(follower).state.get('after')).toBe(1);
  });

  it('a command past the size limit is refused before it is sent', async () => {
    const c = createTestCluster(3, { seed: 62 });
    await c.waitForLeader();
    const err = await rejection(c.client().submit({ op: 'put', key: 'big', value: 'x'.repeat(2 * 1024 * 1024) }));
    expect(err).toBeInstanceOf(InvalidCommandError);
    expect((err as Error).message).toMatch(/bytes, the limit is/);
  });

  it('the size bound a client computes for submitted tasks is never below the size the node measures', () => {
    const specs: TaskSpec[] = [
      { type: 'noop' },
      { type: 't'.repeat(128), tenant: 'é'.repeat(300), idempotencyKey: '😀'.repeat(128), payload: { a: [1, 'two', null, true], b: 'x'.repeat(1000) }, priority: -100, maxRetries: 100, timeoutMs: 1.5, resources: { cpu: 0.125, memoryBytes: 2 ** 40 }, backoff: { initialMs: 1.25, factor: 3.5, maxMs: 1e9, jitter: 0.33 } },
      { type: 'x', payload: new Uint8Array(4096) },
    ];
    for (const spec of specs) {
      const id = 'task_' + 'Z'.repeat(21);
      const sized = resolveTaskSpecSized(spec, 1e9, id);
      const measured = checkValue({ op: 'submitTasks', tasks: [{ id, spec: sized.spec, submittedAt: 123456.789, resubmitOf: 'task_' + 'Y'.repeat(21) }] });
      expect(measured, spec.type).toBeLessThanOrEqual(64 + sized.bytesAtMost + 3 * 26);
    }
  });

  it('tasks past the command size limit are refused at once, before anything is sent (each payload within its own limit)', async () => {
    const c = createTestCluster(3, { seed: 67 });
    await c.waitForLeader();
    const before = c.leader()!.raft.log.lastIndex;
    const small = c.client({ limits: { maxCommandBytes: 1_000 } });
    expect(() => small.submitTask({ type: 'noop', payload: 'x'.repeat(5_000) })).toThrow(/\$ is about \d+ bytes, the limit is 1000: submit fewer tasks at once/);
    // The default limit (1 MiB) holds a batch whose payloads are each within 64 KiB.
    const client = c.client();
    expect(() => client.submitTasks(Array.from({ length: 40 }, () => ({ type: 'noop', payload: 'x'.repeat(30_000) })))).toThrow(InvalidCommandError);
    expect(c.leader()!.raft.log.lastIndex).toBe(before);
    const ok = client.submitTasks(Array.from({ length: 10 }, () => ({ type: 'noop', payload: 'x'.repeat(30_000) })));
    expect((await c.drive(ok[9].accepted)).taskId).toBe(ok[9].id);
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

describe('client options', () => {
  it('a typo, a bad number or a bad limit is refused when the client is made, naming it', async () => {
    const c = createTestCluster(3, { seed: 69 });
    await c.waitForLeader();
    const cases: Array<[unknown, RegExp]> = [
      [{ idd: 'x' }, /unknown option 'idd' \(known: id, endpoints/],
      [{ timeoutMs: -1 }, /timeoutMs must be a number of ms > 0, got -1/],
      [{ timeoutMs: 0 }, /timeoutMs must be a number of ms > 0, got 0/],
      [{ attemptTimeoutMs: Number.NaN }, /attemptTimeoutMs must be a number of ms > 0, got null/],
      [{ retryMs: '5' }, /retryMs must be a number of ms > 0, got "5"/],
      [{ maxInDoubt: 1.5 }, /maxInDoubt must be an integer ≥ 0/],
      [{ limits: { maxCommandBytes: -1 } }, /limits\.maxCommandBytes must be an integer > 0, got -1/],
      [{ limits: { maxPayloadBytes: 'big' } }, /limits\.maxPayloadBytes must be an integer > 0, got "big"/],
      [{ limits: { bogus: 1 } }, /unknown limit 'bogus'/],
      [{ endpoints: 'n1' }, /endpoints must be an array of node ids/],
      [{ session: '' }, /session must be a non-empty string/],
    ];
    for (const [options, message] of cases) expect(() => c.client(options as never), message.source).toThrow(message);
    // None of them joined the network: a well-formed client still gets the first free id.
    expect(c.client().id).toBe('client1');
  });
});

describe('createCluster', () => {
  it('refuses unknown options, unknown raft options and node counts that are not positive integers', () => {
    expect(() => createTestCluster(3, { nodez: 3 } as never)).toThrow(/unknown option 'nodez'/);
    expect(() => createTestCluster(3, { raft: { electionTimeout: 100 } as never })).toThrow(/unknown option 'raft.electionTimeout'/);
    expect(() => createTestCluster(2.5)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(0)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(Number.NaN)).toThrow(/nodes must be a positive integer/);
    expect(() => createTestCluster(1e6)).toThrow(/at most 256 nodes, got 1000000/);
    expect(() => createTestCluster(3, { nodes: ['a', ''] })).toThrow(/non-empty string ids/);
    expect(() => createTestCluster(3, { seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => createTestCluster(3)).not.toThrow();
  });

  it('tasks, limits and raft values out of range are refused, naming the option (not a livelock or a stall later)', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ tasks: { tickMs: 0 } }, /tasks\.tickMs must be a number of ms > 0, got 0/],
      [{ tasks: { tickMs: -10 } }, /tasks\.tickMs must be a number of ms > 0/],
      [{ tasks: { maxAssignPerEntry: 0 } }, /tasks\.maxAssignPerEntry must be an integer ≥ 1/],
      [{ tasks: { maxPendingTasks: -1 } }, /tasks\.maxPendingTasks must be an integer ≥ 1/],
      [{ tasks: { retentionMs: -5 } }, /tasks\.retentionMs must be a number of ms ≥ 0/],
      [{ tasks: { placement: 'random' } }, /tasks\.placement must be 'binpack' or 'spread'/],
      [{ tasks: { fairShare: 'yes' } }, /tasks\.fairShare must be a boolean/],
      [{ tasks: { bogus: 1 } }, /unknown option 'tasks\.bogus'/],
      [{ limits: { bogus: 1 } }, /unknown option 'limits\.bogus'/],
      [{ limits: { maxSessions: -5 } }, /limits\.maxSessions must be an integer ≥ 1, got -5/],
      [{ limits: { tasks: { maxDeadLetters: 1.5 } } }, /limits\.tasks\.maxDeadLetters must be an integer ≥ 0/],
      [{ limits: { kv: { maxRange: 0 } } }, /limits\.kv\.maxRange must be an integer ≥ 1/],
      [{ raft: { heartbeatMs: -5 } }, /heartbeatMs must be > 0/],
      [{ raft: { snapshotThreshold: -1 } }, /snapshotThreshold and snapshotKeep must be integers ≥ 0/],
    ];
    for (const [options, message] of cases) expect(() => createTestCluster(3, { seed: 1, ...options } as never), message.source).toThrow(message);
    expect(() => createTestCluster(3, { seed: 1, tasks: { agingMs: Infinity, placement: 'spread' }, limits: { maxSessions: 5, kv: { maxChanges: 10, maxRange: 10 } } })).not.toThrow();
  });

  it('every other option of the wrong type or out of range is refused too, naming it (a worker offering nothing would leave every task waiting for good)', () => {
    const missing = join(tmpdir(), `grey-no-such-folder-${process.pid}`, 't.jsonl');
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ workerCapacity: { cpu: 0, memoryBytes: 1 } }, /createCluster: workerCapacity\.cpu must be a finite number > 0, got 0/],
      [{ workerCapacity: { cpu: -1, memoryBytes: 1 } }, /workerCapacity\.cpu must be a finite number > 0, got -1/],
      [{ workerCapacity: { cpu: 'x', memoryBytes: 1 } }, /workerCapacity\.cpu must be a finite number > 0, got "x"/],
      [{ workerCapacity: { cpu: 1 } }, /workerCapacity\.memoryBytes is missing/],
      [{ workerCapacity: { cpu: 1, memoryBytes: 1, gpu: 1 } }, /unknown option 'workerCapacity\.gpu'/],
      [{ bootstrap: 'bogus' }, /createCluster: bootstrap must be 'all' or 'first', got "bogus"/],
      [{ crashLoss: 5 }, /createCluster: crashLoss must be 'none', 'unsynced' or 'random', got 5/],
      [{ eventHistory: -5 }, /createCluster: eventHistory must be an integer ≥ 0, got -5/],
      [{ check: 'no' }, /createCluster: check must be a boolean, got "no"/],
      [{ keepTrace: 1 }, /createCluster: keepTrace must be a boolean/],
      [{ raft: { leaseReads: 'yes' } }, /createCluster: raft\.leaseReads must be a boolean, got "yes"/],
      [{ security: 'yes' }, /createCluster: security must be a boolean or an object of options, got "yes"/],
      [{ security: { bogus: 1 } }, /unknown option 'security\.bogus'/],
      [{ health: { bogus: 1 } }, /createCluster: unknown option 'health\.bogus'/],
      [{ health: { detector: 'magic' } }, /health\.detector must be 'phi' or 'heartbeat'/],
      [{ health: { checkIntervalMs: 0 } }, /health\.checkIntervalMs must be a number of ms > 0/],
      [{ recovery: { bogus: 1 } }, /createCluster: unknown option 'recovery\.bogus'/],
      [{ recovery: { minVoters: 0 } }, /recovery\.minVoters must be an integer ≥ 1, got 0/],
      [{ inspect: 5 }, /createCluster: inspect must be a function/],
      [{ onTrace: 'x' }, /createCluster: onTrace must be an array of functions/],
      [{ tracePath: missing }, /createCluster: tracePath .*: the folder .* does not exist/],
      [{ tracePath: tmpdir() }, /createCluster: tracePath .* is a folder; give a file path/],
      [{ workerConcurrency: 0 }, /createCluster: workerConcurrency must be an integer ≥ 1, got 0/],
      [{ network: { loss: 2 } }, /createCluster: network: .*loss/],
    ];
    for (const [options, message] of cases) expect(() => createTestCluster(3, { seed: 1, ...options } as never), message.source).toThrow(message);
    expect(() => createTestCluster(3, { seed: 1, workerCapacity: null, bootstrap: 'first', crashLoss: 'random', eventHistory: 0, check: false, raft: { leaseReads: true }, security: { proofSigning: 'off' }, health: { detector: 'heartbeat' }, recovery: { minVoters: 1 }, inspect: () => {}, onTrace: [() => {}] })).not.toThrow();
  });

  it('drive takes its time limit as a number, and says so when given runUntil\'s options', async () => {
    const c = createTestCluster(3, { seed: 70 });
    await expect(c.drive(Promise.resolve(1), { within: 10_000 } as never)).rejects.toThrow(/within is a number of virtual ms \(runUntil takes \{ within \}\), got \{"within":10000\}/);
    expect(await c.drive(Promise.resolve(1), 10_000)).toBe(1);
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

describe('closing a client', () => {
  it('a closed simulated client refuses with Closed before sending: a command, a read, a task (through its handle); closing twice does nothing', async () => {
    const c = createTestCluster(3, { seed: 66 });
    c.registerHandler('noop', () => null);
    await c.waitForLeader();
    const client = c.client();
    await c.drive(client.put('k', new Date(0)));
    expect(c.leader()!.state.get('k')).toBe('1970-01-01T00:00:00.000Z'); // a Date stands for its toJSON
    await client.close();
    await client.close();
    const sent = c.bus.stats().sent;
    for (const call of [() => client.put('k', 2), () => client.get('k')]) {
      const err = await rejection(call());
      expect(err).toMatchObject({ code: 'Closed', outcome: 'failed' });
      expect((err as Error).message).toMatch(/this client was closed; nothing was sent/);
    }
    const handle = client.submitTask({ type: 'noop' });
    expect(await rejection(handle.accepted)).toMatchObject({ code: 'Closed' });
    expect(await rejection(handle.result)).toMatchObject({ code: 'Closed' });
    expect(c.bus.stats().sent).toBe(sent);
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
    // What is in doubt is what it would have read: a read takes no effect, and has no request id to ask about.
    expect((err as Error).message).toMatch(/^query get: no answer within 500 ms \(last: .*\); what it would have read is unknown$/);
    expect((err as ClientError).requestId).toBeUndefined();
    const write = await rejection(c.drive(client.put('k', 1), 2_000));
    expect((write as Error).message).toMatch(/; it may or may not have taken effect$/);
  });
});

describe('the client edge admits only what the wire carries faithfully', () => {
  it('a value as deep as the edge allows is replicated intact to every node, its digest computed inside its wrappers', async () => {
    const c = createTestCluster(3, { seed: 63 });
    await c.waitForLeader();
    const value = nested(510); // the deepest the edge takes inside a put (511 levels with the command)
    await c.drive(c.client().submit({ op: 'put', key: 'deep', value }));
    await c.settle();
    expect(c.checker!.violation ?? null).toBeNull();
    for (const n of c.upNodes()) expect(n.state.get('deep')).toEqual(value);
  });
});
