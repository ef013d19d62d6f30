import { describe, expect, it } from 'vitest';
import { ClusterState, type SessionCommand } from '../actors/clusterState.js';
import type { TenantDenial } from '../actors/tenantBook.js';
import type { LogEntry } from '../actors/raftTypes.js';
import type { NewTask, ProofArtifact } from '../actors/taskTable.js';
import { resultHash } from '../actors/resultHash.js';
import { resolveTaskSpec, type TaskSpec } from '../system/taskSpec.js';

let index = 0;
const entry = (command: SessionCommand): LogEntry & { payload: { kind: 'command' } } => ({ index: ++index, term: 1, payload: { kind: 'command', command } });

/** A state with the bootstrap tenants, tenant `t` with `quota`, and a worker. */
function stateWith(quota: Record<string, number>): { s: ClusterState; denials: TenantDenial[] } {
  const s = new ClusterState();
  const denials: TenantDenial[] = [];
  s.onDenial((d) => denials.push(d));
  s.apply(entry({ cmd: { op: 'bootstrap', voters: ['n1'] } }));
  expect(s.apply(entry({ cmd: { op: 'registerTenant', tenant: 't', quota } }))).toEqual({ ok: true });
  s.apply(entry({ cmd: { op: 'registerWorker', worker: 'w', capacity: { cpu: 8, memoryBytes: 8 * 2 ** 30 } } }));
  return { s, denials };
}

let ids = 0;
const task = (at: number, spec: Partial<TaskSpec> = {}): NewTask => ({ id: `k${++ids}`, spec: resolveTaskSpec({ type: 'x', tenant: 't', ...spec }), submittedAt: at });
const submit = (s: ClusterState, tasks: NewTask[], extra: { client?: string; seq?: number; tenant?: string } = {}) =>
  s.apply(entry({ ...(extra.client ? { client: extra.client, seq: extra.seq } : {}), cmd: { op: 'submitTasks', tasks, ...(extra.tenant ? { tenant: extra.tenant } : {}) } }));

function complete(s: ClusterState, id: string, result: unknown, at: number): void {
  const proof: ProofArtifact = { taskId: id, workerId: 'w', attempt: 1, startedAt: at, completedAt: at, cpuTimeUs: 0, resultHash: resultHash(result) };
  s.apply(entry({ cmd: { op: 'taskChanges', changes: [{ kind: 'assign', taskId: id, worker: 'w', at }, { kind: 'start', taskId: id, worker: 'w', attempt: 1, at }] } }));
  s.apply(entry({ cmd: { op: 'taskChanges', changes: [{ kind: 'complete', taskId: id, worker: 'w', attempt: 1, result, proof, at: at + 40 }] } }));
}

describe('tenant admission at apply', () => {
  it('refuses a task declaring more CPU or memory than its tenant may hold: QuotaExceeded, audited, nothing applied', () => {
    const { s, denials } = stateWith({ maxCpuUnits: 2, maxMemoryBytes: 2 ** 20 });
    const ok = task(0, { resources: { cpu: 1, memoryBytes: 1024 } });
    const big = task(0, { resources: { cpu: 4, memoryBytes: 1024 } });
    expect(submit(s, [ok, big], { client: 'c', seq: 1 })).toMatchObject({ ok: false, code: 'QuotaExceeded', message: expect.stringMatching(/declares 4 CPU; tenant 't' may hold 2 CPU/) });
    expect(s.task(ok.id)).toBeUndefined(); // all or nothing
    expect(submit(s, [task(0, { resources: { cpu: 1, memoryBytes: 2 ** 21 } })])).toMatchObject({ ok: false, code: 'QuotaExceeded', message: expect.stringMatching(/bytes of memory/) });
    expect(denials.map((d) => [d.tenant, d.code, d.client, d.op])).toEqual([
      ['t', 'QuotaExceeded', 'c', 'submitTasks'],
      ['t', 'QuotaExceeded', null, 'submitTasks'],
    ]);
    expect(s.tenantStats('t')).toMatchObject({ submitted: 0, rejected: { QuotaExceeded: 2, RateLimited: 0, Unauthorized: 0 } });
  });

  it('rate-limits on the proposer time in the entry, with retryAfterMs, and the answer is kept for a retry', () => {
    const { s, denials } = stateWith({ maxTasksPerSecond: 10 });
    expect(submit(s, Array.from({ length: 10 }, () => task(1_000)))).toMatchObject({ ok: true });
    const limited = submit(s, [task(1_050), task(1_050)], { client: 'c', seq: 1 });
    expect(limited).toMatchObject({ ok: false, code: 'RateLimited', retryAfterMs: 150 });
    // The session answers a retry of the same request as it did, without taking tokens.
    expect(submit(s, [task(5_000)], { client: 'c', seq: 1 })).toEqual(limited);
    expect(submit(s, [task(1_200), task(1_200)])).toMatchObject({ ok: true });
    expect(submit(s, Array.from({ length: 11 }, () => task(99_000)))).toMatchObject({ ok: false, code: 'QuotaExceeded', message: expect.stringMatching(/burst of 10/) });
    expect(denials.map((d) => [d.code, d.retryAfterMs])).toEqual([['RateLimited', 150], ['QuotaExceeded', undefined]]);
  });

  it('accounts storage per tenant: payloads and results until the table lets them go', () => {
    const { s } = stateWith({ maxStorageBytes: 300 });
    const a = task(0, { payload: 'x'.repeat(100) });
    expect(submit(s, [a])).toMatchObject({ ok: true });
    expect(s.tenantStats('t')!.storedBytes).toBe(102);
    expect(submit(s, [task(0, { payload: 'y'.repeat(200) })])).toMatchObject({ ok: false, code: 'QuotaExceeded', message: expect.stringMatching(/storage quota of 300/) });
    complete(s, a.id, 'z'.repeat(50), 10);
    expect(s.tenantStats('t')).toMatchObject({ storedBytes: 154, completed: 1, live: 0, holding: 0 });
    s.apply(entry({ cmd: { op: 'pruneTasks', before: 1_000 } }));
    expect(s.task(a.id)).toBeUndefined();
    expect(s.tenantStats('t')!.storedBytes).toBe(0);
    expect(submit(s, [task(0, { payload: 'y'.repeat(200) })])).toMatchObject({ ok: true });
  });

  it('refuses a request acting for one tenant that reaches into another: Unauthorized, audited as crossTenant', () => {
    const { s, denials } = stateWith({});
    const mine = task(0);
    expect(submit(s, [mine], { tenant: 't' })).toMatchObject({ ok: true });
    const theirs = task(0, { tenant: 'default' });
    expect(submit(s, [theirs], { tenant: 't', client: 'c', seq: 1 })).toMatchObject({ ok: false, code: 'Unauthorized' });
    expect(submit(s, [theirs])).toMatchObject({ ok: true });
    const cancel = (taskId: string) => s.apply(entry({ cmd: { op: 'taskChanges', tenant: 't', changes: [{ kind: 'cancel', taskId, reason: 'x', at: 1 }] } }));
    expect(cancel(theirs.id)).toMatchObject({ ok: false, code: 'Unauthorized' });
    expect(s.task(theirs.id)!.status).toBe('pending');
    expect(cancel(mine.id)).toMatchObject({ ok: true });
    expect(denials.map((d) => [d.code, d.tenant, d.op])).toEqual([['Unauthorized', 't', 'submitTasks'], ['Unauthorized', 't', 'taskChanges']]);
    expect(s.tenantStats('t')).toMatchObject({ submitted: 1, cancelled: 1, rejected: { Unauthorized: 2 } });
  });

  it('updates quotas at runtime through the log, and refuses a bad quota naming the field', () => {
    const { s } = stateWith({ maxCpuUnits: 1 });
    expect(submit(s, [task(0, { resources: { cpu: 2 } })])).toMatchObject({ ok: false, code: 'QuotaExceeded' });
    expect(s.apply(entry({ cmd: { op: 'registerTenant', tenant: 't', quota: { maxCpuUnits: 4 } } }))).toEqual({ ok: true });
    expect(s.tenant('t')!.quota.maxCpuUnits).toBe(4);
    expect(submit(s, [task(0, { resources: { cpu: 2 } })])).toMatchObject({ ok: true });
    expect(s.apply(entry({ cmd: { op: 'registerTenant', tenant: 't', quota: { priorityWeight: -1 } } }))).toMatchObject({ ok: false, code: 'InvalidCommand', message: expect.stringMatching(/priorityWeight must be > 0/) });
    expect(s.tenant('t')!.quota.priorityWeight).toBe(1);
  });

  it('keeps the books through a snapshot: a restored replica admits and counts as the others', () => {
    const { s } = stateWith({ maxTasksPerSecond: 5, maxStorageBytes: 1_000 });
    const done = task(0, { payload: 'p'.repeat(20) });
    submit(s, [done, task(0), task(0)]);
    complete(s, done.id, { ok: 1 }, 5);
    const copy = new ClusterState();
    copy.restore(s.snapshot());
    expect(copy.tenantStats('t')).toEqual(s.tenantStats('t'));
    // The same next entry gets the same answer on both (the bucket came along).
    const next = entry({ cmd: { op: 'submitTasks', tasks: [task(100), task(100), task(100)] } });
    expect(copy.apply(next)).toEqual(s.apply(next));
    expect(copy.tenantStats('t')).toEqual(s.tenantStats('t'));
    expect(s.tenantStats('t')).toMatchObject({ submitted: 3, completed: 1, live: 2, rejected: { RateLimited: 1 } });
    expect(s.tenantStats('t')!.queueWaitMs.count).toBe(1);
    expect(s.tenantStats('t')!.runTimeMs).toMatchObject({ count: 1, sumMs: 40 });
  });

  it('judges a result against the storage quota only when its completion applies: a stale one in the same batch neither counts nor is recorded', () => {
    const { s, denials } = stateWith({ maxStorageBytes: 1_000 });
    const [a, b, c] = [task(0), task(0), task(0)];
    expect(submit(s, [a, b, c])).toMatchObject({ ok: true });
    const at = 10;
    s.apply(entry({ cmd: { op: 'taskChanges', changes: [a, b, c].flatMap((t) => [{ kind: 'assign' as const, taskId: t.id, worker: 'w', at }, { kind: 'start' as const, taskId: t.id, worker: 'w', attempt: 1, at }]) } }));
    const proof = (id: string, attempt: number, result: unknown): ProofArtifact => ({ taskId: id, workerId: 'w', attempt, startedAt: at, completedAt: at, cpuTimeUs: 0, resultHash: resultHash(result) });
    const big = 'x'.repeat(598); // 600 bytes as JSON
    // a's completion is for an attempt that is not the current one (stale): refused by the table, not judged for storage.
    const batch = [
      { kind: 'complete' as const, taskId: a.id, worker: 'w', attempt: 2, result: big, proof: proof(a.id, 2, big), at: at + 5 },
      { kind: 'complete' as const, taskId: b.id, worker: 'w', attempt: 1, result: big, proof: proof(b.id, 1, big), at: at + 5 },
      { kind: 'complete' as const, taskId: c.id, worker: 'w', attempt: 1, result: big, proof: proof(c.id, 1, big), at: at + 5 },
    ];
    s.apply(entry({ cmd: { op: 'taskChanges', changes: batch } }));
    expect(s.task(a.id)?.status).toBe('running');
    expect(s.task(b.id)?.status).toBe('completed'); // 600 of 1 000
    // c would make 1 200 with b's result, counted within the batch: it fails, not retried, storing nothing.
    const failed = s.task(c.id); // (a dead letter now)
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/a result of 600 bytes would take tenant 't' past its storage quota of 1000 \(it stores 600\)/) });
    expect(denials.map((d) => [d.code, d.op])).toEqual([['QuotaExceeded', 'taskChanges']]);
    expect(s.tenantStats('t')).toMatchObject({ completed: 1, failed: 1, rejected: { QuotaExceeded: 1 } });
    // A completion whose proof does not match is refused as before, never turned into a failure.
    const [d] = [task(0)];
    submit(s, [d]);
    s.apply(entry({ cmd: { op: 'taskChanges', changes: [{ kind: 'assign', taskId: d.id, worker: 'w', at }, { kind: 'start', taskId: d.id, worker: 'w', attempt: 1, at }] } }));
    s.apply(entry({ cmd: { op: 'taskChanges', changes: [{ kind: 'complete', taskId: d.id, worker: 'w', attempt: 1, result: big, proof: proof(d.id, 1, 'other'), at: at + 5 }] } }));
    expect(s.task(d.id)?.status).toBe('running');
    expect(denials).toHaveLength(1);
  });
});
