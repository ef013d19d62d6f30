/** Who may propose what, by the role of the certificate a request came in with. */
import { describe, expect, it } from 'vitest';
import { refusalOf, scopeCommand, scopeQuery } from '../actors/commandAccess.js';
import type { ClusterCommand } from '../actors/clusterState.js';
import type { NewTask } from '../actors/taskTable.js';

const req = (cmd: ClusterCommand, client = 'app') => ({ client, seq: 1, cmd });

describe('command access', () => {
  it('a client submits, cancels, uses the store and settles its own requests, in its own sessions only', () => {
    const ok: ClusterCommand[] = [
      { op: 'submitTasks', tasks: [] },
      { op: 'taskChanges', changes: [{ kind: 'cancel', taskId: 't', reason: 'r', at: 0 }] },
      { op: 'put', key: 'k', value: 1 },
      { op: 'delete', key: 'k' },
      { op: 'cas', key: 'k', expect: { revision: 0 }, value: 1 },
      { op: 'fence', client: 'app~2', seq: 3 },
      { op: 'noop' },
    ];
    for (const cmd of ok) expect(refusalOf('client', 'app', req(cmd)), cmd.op).toBeNull();
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'app~1'))).toBeNull();
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'bob'))).toMatch(/may not send in session 'bob'/);
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'apple'))).toMatch(/session 'apple'/);
    expect(refusalOf('client', 'app', req({ op: 'fence', client: 'bob', seq: 1 }))).toMatch(/own sessions/);
  });

  it('membership, tenants and draining a worker need an operator; bookkeeping and task reports need a node', () => {
    for (const cmd of [{ op: 'remove', node: 'n1' }, { op: 'approve', node: 'n4' }, { op: 'block', node: 'n2' }, { op: 'registerTenant', tenant: 't' }, { op: 'drainWorker', worker: 'n1' }] as ClusterCommand[]) {
      expect(refusalOf('client', 'app', req(cmd))).toMatch(/needs an operator certificate/);
      expect(refusalOf('operator', 'app', req(cmd))).toBeNull();
      expect(refusalOf('node', 'n1', req(cmd, 'n1/x'))).toBeNull();
    }
    for (const cmd of [{ op: 'registerWorker', worker: 'w', capacity: { cpu: 1, memoryBytes: 1 } }, { op: 'pruneTasks', before: 0 }, { op: 'bootstrap', voters: [] }] as ClusterCommand[]) {
      expect(refusalOf('operator', 'app', req(cmd))).toMatch(/cluster nodes only/);
    }
    const report: ClusterCommand = { op: 'taskChanges', changes: [{ kind: 'cancel', taskId: 't', reason: 'r', at: 0 }, { kind: 'start', taskId: 't', worker: 'n1', attempt: 1, at: 0 }] };
    expect(refusalOf('operator', 'app', req(report))).toMatch(/'start' task change comes from the node/);
    expect(refusalOf('node', 'n1', req(report, 'n1/abc'))).toBeNull();
  });

  it('a client bound to a tenant acts for it: a request naming none gets it, one naming another is refused', () => {
    const spec = (tenant?: string) => ({ type: 'job', payload: null, ...(tenant !== undefined ? { tenant } : {}), priority: 0, maxRetries: 0, timeoutMs: 1_000 }) as unknown as NewTask['spec'];
    const task = (id: string, tenant?: string) => ({ id, spec: spec(tenant), submittedAt: 0 }) as NewTask;
    const plain = req({ op: 'submitTasks', tasks: [task('t1'), task('t2', 'a')] });
    const scoped = scopeCommand('a', plain);
    expect(scoped).toMatchObject({ ok: true, value: { client: 'app', seq: 1, cmd: { op: 'submitTasks', tenant: 'a' } } });
    expect(((scoped as { value: { cmd: { tasks: NewTask[] } } }).value.cmd.tasks).map((t) => t.spec.tenant)).toEqual(['a', 'a']);
    expect((plain.cmd as { tasks: NewTask[] }).tasks[0].spec.tenant).toBeUndefined(); // pure: the request is not changed

    expect(scopeCommand('a', req({ op: 'submitTasks', tasks: [task('t1')], tenant: 'b' }))).toMatchObject({ ok: false, code: 'Unauthorized', reason: expect.stringMatching(/bound to tenant 'a' may not act for tenant 'b'/) });
    expect(scopeCommand('a', req({ op: 'submitTasks', tasks: [task('t1', 'a'), task('t2', 'b')] }))).toMatchObject({ ok: false, reason: expect.stringMatching(/may not submit task t2 for tenant 'b'/) });
    expect(scopeCommand('a', req({ op: 'submitTasks', tasks: [task('t1', 'default')], tenant: 'a' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/tenant 'default'/) });

    const cancel = { kind: 'cancel' as const, taskId: 't', reason: 'r', at: 0 };
    expect(scopeCommand('a', req({ op: 'taskChanges', changes: [cancel] }))).toMatchObject({ ok: true, value: { cmd: { tenant: 'a' } } });
    expect(scopeCommand('a', req({ op: 'taskChanges', changes: [cancel], tenant: 'b' }))).toMatchObject({ ok: false, code: 'Unauthorized' });
    expect(scopeCommand('a', req({ op: 'taskChanges', changes: [{ kind: 'start', taskId: 't', worker: 'n1', attempt: 1, at: 0 }] }))).toMatchObject({ ok: false, reason: expect.stringMatching(/may only cancel/) });
    for (const cmd of [{ op: 'fence', client: 'app', seq: 1 }, { op: 'noop' }] as ClusterCommand[]) expect(scopeCommand('a', req(cmd))).toEqual({ ok: true, value: req(cmd) });
    for (const cmd of [{ op: 'put', key: 'k', value: 1 }, { op: 'delete', key: 'k' }, { op: 'cas', key: 'k', expect: { revision: 0 }, value: 1 }] as ClusterCommand[]) {
      expect(scopeCommand('a', req(cmd))).toMatchObject({ ok: false, code: 'Unauthorized', reason: expect.stringMatching(/key-value store .* not scoped to tenants/) });
    }
    expect(scopeCommand('a', req({ op: 'registerTenant', tenant: 'a' }))).toMatchObject({ ok: false, reason: expect.stringMatching(/may not send 'registerTenant'/) });
  });

  it("a client bound to a tenant reads its tenant's tasks, books and records, and the cluster's shape; not the store", () => {
    expect(scopeQuery('a', 'task', { taskId: 't' })).toEqual({ ok: true, value: { taskId: 't', tenant: 'a' } });
    expect(scopeQuery('a', 'task', { taskId: 't', tenant: 'b' })).toMatchObject({ ok: false, code: 'Unauthorized', reason: expect.stringMatching(/may not read 'task' of tenant 'b'/) });
    for (const name of ['tenantTasks', 'tenantStats', 'deadLetters', 'tenants']) {
      expect(scopeQuery('a', name, undefined)).toEqual({ ok: true, value: { tenant: 'a' } });
      expect(scopeQuery('a', name, { tenant: 'a', limit: 3 })).toEqual({ ok: true, value: { tenant: 'a', limit: 3 } });
      expect(scopeQuery('a', name, { tenant: 'b' })).toMatchObject({ ok: false, code: 'Unauthorized' });
      expect(scopeQuery('a', name, 'b')).toMatchObject({ ok: false, code: 'InvalidQuery' });
      expect(scopeQuery('a', name, ['b'])).toMatchObject({ ok: false, code: 'InvalidQuery' });
    }
    expect(scopeQuery('a', 'members', {})).toEqual({ ok: true, value: {} });
    expect(scopeQuery('a', 'workers', {})).toEqual({ ok: true, value: {} });
    for (const name of ['get', 'range', 'changes']) expect(scopeQuery('a', name, { key: 'k' })).toMatchObject({ ok: false, code: 'Unauthorized', reason: expect.stringMatching(/key-value store/) });
    expect(scopeQuery('a', 'somethingNew', {})).toMatchObject({ ok: false, code: 'Unauthorized' });
  });
});
