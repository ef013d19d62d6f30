import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { NonRetryableError } from '../actors/taskHandlers.js';
import type { TaskRecord } from '../actors/taskTable.js';
import { ClientError } from '../system/client.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import { NodeMetrics } from '../system/nodeMetrics.js';
import { measureNoisyNeighbour } from '../bench/tenants.js';
import { settle } from './helpers/settle.js';

const fast = { latency: { base: 2, jitter: 1, distribution: 'uniform' as const } };
const ONE_CPU = { cpu: 1, memoryBytes: 1 };

/** The error a promise rejects with (it must reject). */
async function refusal(c: Cluster, p: Promise<unknown>): Promise<ClientError> {
  const err = await c.drive(p.then(() => null, (e: unknown) => e));
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

const operators = new WeakMap<Cluster, ReturnType<Cluster['client']>>();

/** Registers tenants (or updates their quotas) through the log, as an operator does. */
async function register(c: Cluster, tenants: Record<string, Record<string, number>>): Promise<void> {
  let operator = operators.get(c);
  if (!operator) operators.set(c, (operator = c.client({ id: 'operator' })));
  for (const [tenant, quota] of Object.entries(tenants)) await c.drive(operator.submit({ op: 'registerTenant', tenant, quota }));
}

/**
 * What the leader's scheduler has placed or running per tenant, every 10 ms
 * for `ms`: its decisions, exact (the replicated books lag them by a commit).
 */
async function sampleHolding(c: Cluster, tenants: readonly string[], ms: number): Promise<string[]> {
  const out = new Set<string>();
  for (let t = 0; t < ms; t += 10) {
    await c.run(10);
    const s = c.leader()!.tasks.schedulerView!;
    out.add(tenants.map((x) => `${x}:${s.tenant(x)?.holding ?? 0}`).join(' '));
  }
  return [...out];
}

/**
 * Of the tasks of `records` started while every tenant still had work
 * waiting (up to the first tenant's last start), the fraction each tenant
 * started.
 */
function startShares(records: readonly Readonly<TaskRecord>[], tenants: readonly string[]): Record<string, number> {
  const started = records.filter((t) => t.startedAt !== null);
  const until = Math.min(...tenants.map((x) => Math.max(...started.filter((t) => t.spec.tenant === x).map((t) => t.startedAt!))));
  const window = started.filter((t) => t.startedAt! < until);
  return Object.fromEntries(tenants.map((x) => [x, window.filter((t) => t.spec.tenant === x).length / window.length]));
}

/** The seed's multi-tenant isolation workflow (003, section 4). */
describe('Multi-tenant isolation workflow', () => {
  it('test_quota_enforcement: per-task CPU and memory, a rate limit with retryAfterMs, and CPU held at once; refusals audited on every node', async () => {
    const c = createTestCluster(3, { seed: 401, network: fast, workerCapacity: { cpu: 4, memoryBytes: 2 ** 30 } });
    let running = 0;
    let peak = 0;
    c.registerHandler('job', async (_p, ctx) => {
      peak = Math.max(peak, ++running);
      await ctx.sleep(100);
      running--;
    });
    await c.waitForLeader();
    await register(c, { a: { maxCpuUnits: 2, maxMemoryBytes: 2 ** 20, maxTasksPerSecond: 5 } });
    const a = c.tenant('a', { id: 'tenant-a' });

    // Declared requests past the quota: refused at admission, nothing applied.
    const tooBig = await refusal(c, a.submitTasks([{ type: 'job', resources: ONE_CPU }, { type: 'job', resources: { cpu: 4 } }])[0].accepted);
    expect([tooBig.code, tooBig.outcome]).toEqual(['QuotaExceeded', 'failed']);
    expect(tooBig.message).toMatch(/declares 4 CPU; tenant 'a' may hold 2 CPU/);
    expect((await refusal(c, a.submitTask({ type: 'job', resources: { cpu: 1, memoryBytes: 2 ** 21 } }).accepted)).code).toBe('QuotaExceeded');
    expect((await c.drive(a.tasks())).tasks).toEqual([]);

    // The rate: a burst of 5, then refused with the time to wait; after it, admitted.
    const burst = a.submitTasks(Array.from({ length: 5 }, () => ({ type: 'job', resources: ONE_CPU })));
    const limited = await refusal(c, a.submitTasks([{ type: 'job', resources: ONE_CPU }, { type: 'job', resources: ONE_CPU }])[0].accepted);
    expect(limited.code).toBe('RateLimited');
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(400); // 2 tokens at 5/s
    await c.run(limited.retryAfterMs!);
    const later = a.submitTasks([{ type: 'job', resources: ONE_CPU }, { type: 'job', resources: ONE_CPU }]);
    await c.drive(Promise.all([...burst, ...later].map((h) => h.result)));

    // 12 CPUs free, but the tenant may hold 2 at once.
    expect(peak).toBe(2);
    const m = await c.drive(a.metrics());
    expect(m).toMatchObject({ submitted: 7, completed: 7, rejected: { QuotaExceeded: 2, RateLimited: 1, Unauthorized: 0 } });

    // Decided at apply: every node refused the same requests and audited them.
    await settle(c);
    for (const n of c.upNodes()) {
      const records = n.audit.records({ kind: 'quota' });
      expect(records.map((r) => [r.subject, r.outcome, (r.detail as { code: string }).code])).toEqual([
        ['tenant-a', 'denied', 'QuotaExceeded'],
        ['tenant-a', 'denied', 'QuotaExceeded'],
        ['tenant-a', 'denied', 'RateLimited'],
      ]);
      expect(n.audit.verify().ok).toBe(true);
    }

    // Quotas change at runtime through the log: now 4 CPUs at once.
    await register(c, { a: { maxCpuUnits: 4, maxTasksPerSecond: 100 } });
    peak = 0;
    await c.drive(Promise.all(a.submitTasks(Array.from({ length: 8 }, () => ({ type: 'job', resources: ONE_CPU }))).map((h) => h.result)));
    expect(peak).toBe(4);
  });

  it('test_fair_scheduling: two tenants of equal weight flooding the same workers get equal shares', async () => {
    const c = createTestCluster(3, { seed: 402, network: fast, workerCapacity: { cpu: 4, memoryBytes: 2 ** 30 } });
    c.registerHandler('job', (_p, ctx) => ctx.sleep(50));
    await c.waitForLeader();
    await register(c, { a: {}, b: {} });
    const a = c.tenant('a');
    const b = c.tenant('b');
    // A submits its flood first; B arrives at the same instant, behind it.
    const hs = [...a.submitTasks(Array.from({ length: 120 }, () => ({ type: 'job', resources: ONE_CPU }))), ...b.submitTasks(Array.from({ length: 120 }, () => ({ type: 'job', resources: ONE_CPU })))];
    await c.run(100);
    // 12 slots, half each, at every moment both have work waiting.
    expect(await sampleHolding(c, ['a', 'b'], 500)).toEqual(['a:6 b:6']);
    expect(c.leader()!.tasks.schedulerView!.tenant('a')!.dominantShare).toBeCloseTo(0.5, 9);
    await c.drive(Promise.all(hs.map((h) => h.result)));
    const shares = startShares(c.leader()!.state.tasks(), ['a', 'b']);
    expect(shares.a).toBeGreaterThan(0.45);
    expect(shares.b).toBeGreaterThan(0.45);
  });

  it('test_weighted_fair_scheduling: weights 1 and 2 give a third and two thirds, and a higher priority does not buy more', async () => {
    const c = createTestCluster(3, { seed: 403, network: fast, workerCapacity: { cpu: 4, memoryBytes: 2 ** 30 } });
    c.registerHandler('job', (_p, ctx) => ctx.sleep(50));
    await c.waitForLeader();
    await register(c, { light: { priorityWeight: 1 }, heavy: { priorityWeight: 2 } });
    const light = c.tenant('light');
    const heavy = c.tenant('heavy');
    // The light tenant claims the top priority: it orders its own work, not the heavy tenant's.
    const hs = [
      ...light.submitTasks(Array.from({ length: 120 }, () => ({ type: 'job', priority: 100, resources: ONE_CPU }))),
      ...heavy.submitTasks(Array.from({ length: 240 }, () => ({ type: 'job', priority: -100, resources: ONE_CPU }))),
    ];
    await c.run(100);
    expect(await sampleHolding(c, ['light', 'heavy'], 500)).toEqual(['light:4 heavy:8']);
    const view = c.leader()!.tasks.schedulerView!;
    expect(view.tenant('light')!.dominantShare).toBeCloseTo(view.tenant('heavy')!.dominantShare, 9); // 1/3 at weight 1, 2/3 at weight 2
    await c.drive(Promise.all(hs.map((h) => h.result)));
    const shares = startShares(c.leader()!.state.tasks(), ['light', 'heavy']);
    expect(shares.light).toBeGreaterThan(0.28);
    expect(shares.light).toBeLessThan(0.38);
    expect(shares.heavy).toBeGreaterThan(0.62);
  });

  it('test_resource_isolation: a tenant sees, cancels and reads only its own tasks; a reach across is Unauthorized and audited; storage is per tenant', async () => {
    const c = createTestCluster(3, { seed: 404, network: fast });
    c.registerHandler('slow', async (p, ctx) => {
      await ctx.sleep(200);
      return p;
    });
    await c.waitForLeader();
    await register(c, { a: {}, b: {} });
    const a = c.tenant('a', { id: 'tenant-a' });
    const b = c.tenant('b', { id: 'tenant-b' });
    const secret = a.submitTask({ type: 'slow', payload: 'a secret of tenant a' });
    const own = b.submitTask({ type: 'slow', payload: 'b' });
    await c.drive(Promise.all([secret.accepted, own.accepted]));

    expect((await refusal(c, b.task(secret.id))).code).toBe('Unauthorized');
    expect((await refusal(c, b.cancelTask(secret.id))).code).toBe('Unauthorized');
    expect((await refusal(c, b.submitTask({ type: 'slow', tenant: 'a' }).accepted)).code).toBe('Unauthorized');
    expect((await c.drive(a.task(secret.id)))?.spec.payload).toBe('a secret of tenant a');
    expect((await c.drive(a.tasks())).tasks.map((t) => t.id)).toEqual([secret.id]);
    expect((await c.drive(b.tasks())).tasks.map((t) => t.id)).toEqual([own.id]);

    // The refused cancel changed nothing: the task completes.
    expect((await c.drive(secret.result)).result).toBe('a secret of tenant a');
    await c.drive(own.result);
    await c.drive(b.cancelTask(own.id).catch(() => {})); // its own task: allowed (already finished: InvalidTransition)

    // Storage is accounted per tenant: payloads and results of its own tasks only.
    const [ma, mb] = [await c.drive(a.metrics()), await c.drive(b.metrics())];
    expect(ma.storedBytes).toBe(2 * ('a secret of tenant a'.length + 2));
    expect(mb.storedBytes).toBe(2 * 3);
    expect(mb.rejected.Unauthorized).toBe(2); // the cancel and the submission (applied); the read is the serving node's

    await settle(c);
    for (const n of c.upNodes()) {
      const applied = n.audit.records({ kind: 'crossTenant' }).filter((r) => (r.detail as { op: string }).op !== 'query:task');
      expect(applied.map((r) => [r.subject, (r.detail as { op: string }).op])).toEqual([
        ['tenant-b', 'taskChanges'],
        ['tenant-b', 'submitTasks'],
      ]);
    }
    const reads = c.upNodes().flatMap((n) => n.audit.records({ kind: 'crossTenant' })).filter((r) => (r.detail as { op: string }).op === 'query:task');
    expect(reads).toHaveLength(1); // the node that served the read
    expect(reads[0].reason).toMatch(/tenant 'b' asks for task .* of another tenant/);
  });

  it('test_noisy_neighbor_prevention: A floods at 10× its share; B within its share keeps its p99 queue wait, and A is throttled', async () => {
    const r = await measureNoisyNeighbour({ seed: 405, durationMs: 1_000, spread: 0.5 });
    // B's p99 with A stays within 2× its value without A, or one task run time, whichever is larger.
    expect(r.flooded.bP99Ms).toBeLessThanOrEqual(r.boundMs);
    expect(r.withinBound).toBe(true);
    // B got everything it asked for.
    expect(r.flooded.bTasks).toBe(r.alone.bTasks);
    // A is throttled: its rate limit refused most of the flood (a burst of one second, then its rate).
    expect(r.flooded.aRateLimited).toBeGreaterThan(r.flooded.aAdmitted / 2);
    expect(r.flooded.aAdmitted).toBeLessThanOrEqual(r.capacityPerSecond * 2);
  });

  it('test_noisy_neighbor_lock_step: the same with every task exactly one run time (A in lock step): B is kept a slot of headroom, so its p99 stays within the bound', async () => {
    const r = await measureNoisyNeighbour({ seed: 407, durationMs: 1_000, spread: 0 });
    expect(r.flooded.bP99Ms).toBeLessThanOrEqual(r.boundMs);
    expect(r.flooded.bTasks).toBe(r.alone.bTasks);
    // Not held to a trickle: A still runs well over its fair share of the slots.
    expect(r.flooded.bShareOfStarts).toBeLessThan(0.4);
    // Negative control: plain work-conserving DRF (no headroom) misses it, B waiting a run time for a busy slot.
    const off = await measureNoisyNeighbour({ seed: 407, durationMs: 1_000, spread: 0, headroomTasks: 0 });
    expect(off.flooded.bP99Ms).toBeGreaterThan(off.boundMs);
  });

  it("test_headroom_lapses: once B is idle past the active window, A's flood takes the last slot without an event to wake the leader", async () => {
    const c = createTestCluster(3, { seed: 408, network: fast, workerCapacity: { cpu: 4, memoryBytes: 2 ** 30 } });
    c.registerHandler('job', (p, ctx) => ctx.sleep(p as number));
    await c.waitForLeader();
    await register(c, { a: {}, b: {} });
    const b = c.tenant('b');
    const a = c.tenant('a');
    const quick = b.submitTask({ type: 'job', payload: 1, resources: ONE_CPU });
    await c.drive(quick.result);
    const bAt = c.leader()!.state.task(quick.id)!.submittedAt;
    const long = a.submitTasks(Array.from({ length: 12 }, () => ({ type: 'job', payload: 5_000, resources: ONE_CPU })));
    await c.drive(Promise.all(long.map((h) => h.accepted)));
    await c.run(100);
    // One slot kept for B (active, under its share) while A borrows the rest.
    expect(c.leader()!.tasks.schedulerView!.tenant('a')!.holding).toBe(11);
    await c.runUntil(() => c.leader()!.tasks.schedulerView!.tenant('a')!.holding === 12, { within: 2_000, description: "A's twelfth task placed" });
    await c.runUntil(() => long.every((h) => c.leader()!.state.task(h.id)?.startedAt != null), { within: 1_000, description: "A's tasks started" });
    const last = Math.max(...long.map((h) => c.leader()!.state.task(h.id)!.startedAt!));
    // Placed when B's activity lapsed (its submission + 1 s), not when A's first task ends (5 s).
    expect(last).toBeGreaterThanOrEqual(bAt + 1_000);
    expect(last).toBeLessThan(bAt + 1_100);
  });

  it('test_concurrent_tenant_submission: many clients of many tenants at once; every task once, every replica the same books', async () => {
    const c = createTestCluster(3, { seed: 406, network: fast });
    c.registerHandler('noop', () => null);
    await c.waitForLeader();
    const tenants = ['t1', 't2', 't3', 't4'];
    await register(c, Object.fromEntries(tenants.map((t, i) => [t, { priorityWeight: i + 1 }])));
    const ids = new Map<string, string[]>(tenants.map((t) => [t, []]));
    const loops = tenants.flatMap((t) =>
      [0, 1, 2].map(async (k) => {
        const h = c.tenant(t, { id: `${t}-c${k}` });
        for (let i = 0; i < 15; i++) {
          const task = h.submitTask({ type: 'noop', payload: i });
          ids.get(t)!.push((await task.accepted).taskId);
          await task.result;
        }
      }),
    );
    await c.drive(Promise.all(loops), 30_000);
    await settle(c);
    for (const t of tenants) {
      const h = c.tenant(t);
      const listed = (await c.drive(h.tasks())).tasks.map((x) => x.id);
      expect(new Set(listed)).toEqual(new Set(ids.get(t)));
      expect(listed).toHaveLength(45);
      expect(await c.drive(h.metrics())).toMatchObject({ submitted: 45, completed: 45, live: 0, holding: 0 });
    }
    const books = c.upNodes().map((n) => JSON.stringify(tenants.map((t) => n.state.tenantStats(t))));
    expect(new Set(books).size).toBe(1);
  });

  it('test_observability_separation: each tenant reads its own metrics; Prometheus labels them by tenant, capped, never by task', async () => {
    const c = createTestCluster(3, { seed: 407, network: fast });
    c.registerHandler('ok', async (_p, ctx) => ctx.sleep(30));
    c.registerHandler('bad', () => {
      throw new NonRetryableError('no');
    });
    await c.waitForLeader();
    await register(c, { a: {}, b: { maxCpuUnits: 2 } });
    const a = c.tenant('a');
    const b = c.tenant('b');
    const seen = c.drive(firstValueFrom(a.metrics$({ pollMs: 50 })));
    const aHandles = [...a.submitTasks([{ type: 'ok' }, { type: 'ok' }, { type: 'ok' }]), a.submitTask({ type: 'bad', maxRetries: 0 })];
    const bHandles = b.submitTasks([{ type: 'ok' }, { type: 'ok' }]);
    await refusal(c, b.submitTask({ type: 'ok', resources: { cpu: 3 } }).accepted);
    await c.drive(Promise.allSettled([...aHandles, ...bHandles].map((h) => h.result)));
    expect((await seen).tenant).toBe('a');

    const [ma, mb] = [await c.drive(a.metrics()), await c.drive(b.metrics())];
    expect(ma).toMatchObject({ tenant: 'a', submitted: 4, completed: 3, failed: 1, rejected: { QuotaExceeded: 0 } });
    expect(mb).toMatchObject({ tenant: 'b', submitted: 2, completed: 2, failed: 0, rejected: { QuotaExceeded: 1 } });
    expect([ma.queueWaitMs.count, ma.runTimeMs.count, mb.queueWaitMs.count, mb.runTimeMs.count]).toEqual([4, 4, 2, 2]);
    // Start to the completion's proposal (the worker's report): 30 ms each, plus the report's way to the proposer.
    expect(mb.runTimeMs.sumMs).toBeGreaterThanOrEqual(60);
    expect(mb.runTimeMs.sumMs).toBeLessThan(100);

    await settle(c);
    const node = c.leader()!;
    const transport = { sent: 0, delivered: 0, dropped: 0 };
    const text = await new NodeMetrics(node, transport, { defaultMetrics: false }).text();
    const line = (name: string, labels: string) => text.split('\n').find((l) => l.startsWith(`${name}{${labels}`));
    expect(line('grey_tenant_tasks_completed_total', 'tenant="a"')).toMatch(/ 3$/);
    expect(line('grey_tenant_tasks_failed_total', 'tenant="a"')).toMatch(/ 1$/);
    expect(line('grey_tenant_tasks_completed_total', 'tenant="b"')).toMatch(/ 2$/);
    expect(line('grey_tenant_requests_rejected_total', 'tenant="b",reason="QuotaExceeded"')).toMatch(/ 1$/);
    expect(line('grey_tenant_run_time_seconds_bucket', 'le="0.05",tenant="b"')).toMatch(/ 2$/);
    expect(line('grey_tenant_run_time_seconds_bucket', 'le="0.025",tenant="b"')).toMatch(/ 0$/);
    expect(line('grey_tenant_run_time_seconds_sum', 'tenant="b"')).toBe(`grey_tenant_run_time_seconds_sum{tenant="b",node="${node.id}"} ${mb.runTimeMs.sumMs / 1000}`);
    expect(text).toMatch(/# TYPE grey_tenant_queue_wait_seconds histogram/);
    expect(text).toMatch(/grey_tenant_dominant_share\{tenant="a",node="n\d"\} 0/);
    for (const h of [...aHandles, ...bHandles]) expect(text).not.toContain(h.id);

    // Past the cap, tenants are counted together as `other` (here: a and b, after system and default).
    const capped = await new NodeMetrics(node, transport, { defaultMetrics: false, maxTenantLabels: 2 }).text();
    expect(capped).not.toMatch(/tenant="a"/);
    expect(capped.split('\n').find((l) => l.startsWith('grey_tenant_tasks_completed_total{tenant="other"'))).toMatch(/ 5$/);
  });
});

describe('storage quota and results', () => {
  it('a result that would take its tenant past its storage quota fails the task (not retried) and stores nothing; results within it are kept', async () => {
    const c = createTestCluster(3, { seed: 64 });
    c.registerHandler('make', (p) => 'x'.repeat(p as number));
    await c.waitForLeader();
    await register(c, { small: { maxStorageBytes: 1_000 } });
    const t = c.tenant('small', { id: 'tenant-small' });
    const fits = await c.drive(t.submitTask({ type: 'make', payload: 500, maxRetries: 3 }).result);
    expect(fits.result).toHaveLength(500);
    const over = t.submitTask({ type: 'make', payload: 600, maxRetries: 3 });
    const err = await c.drive(over.result.then(() => null, (e: unknown) => e));
    expect(err).toMatchObject({ code: 'TaskFailed', message: expect.stringMatching(/a result of 602 bytes would take tenant 'small' past its storage quota of 1000 \(it stores \d+\)/) });
    await settle(c);
    for (const n of c.upNodes()) {
      const record = n.state.task(over.id)!;
      expect(record.status).toBe('failed');
      expect(record.attempt).toBe(1); // not retried: the same handler returns the same result
      expect(record.result ?? null).toBeNull();
    }
    const m = await c.drive(t.metrics());
    expect(m.storedBytes).toBeLessThanOrEqual(1_000);
    expect(m.rejected.QuotaExceeded).toBe(1);
  });
});

describe('idempotency keys', () => {
  it('are kept per tenant: the same key in two tenants makes two tasks, each with its own result', async () => {
    const c = createTestCluster(3, { seed: 91, network: fast });
    c.registerHandler('echo', (p) => p);
    await c.waitForLeader();
    await register(c, { a: {}, b: {} });
    const a = c.tenant('a').submitTask({ type: 'echo', payload: 'A-secret', idempotencyKey: 'order-1' });
    await c.drive(a.accepted);
    const b = c.tenant('b').submitTask({ type: 'echo', payload: 'B-data', idempotencyKey: 'order-1' });
    const accepted = await c.drive(b.accepted);
    expect(accepted.taskId).toBe(b.id);
    expect(accepted.taskId).not.toBe(a.id);
    expect((await c.drive(b.result)).result).toBe('B-data');
    expect((await c.drive(a.result)).result).toBe('A-secret');
  });

  it('a second submission with the key of a task that has ended settles with that task\'s result; once the task is pruned, the key runs anew', async () => {
    const c = createTestCluster(3, { seed: 92, network: fast, tasks: { retentionMs: 1_000, tickMs: 50 } });
    c.registerHandler('echo', (p) => p);
    await c.waitForLeader();
    const client = c.client();
    const first = client.submitTask({ type: 'echo', payload: 3, idempotencyKey: 'k2' });
    expect((await c.drive(first.result)).result).toBe(3);
    const again = client.submitTask({ type: 'echo', payload: 4, idempotencyKey: 'k2' });
    expect((await c.drive(again.accepted)).taskId).toBe(first.id);
    expect(await c.drive(again.result, 5_000)).toMatchObject({ taskId: first.id, result: 3 });
    // Past its retention the first task is pruned, and its key with it.
    await c.run(3_000);
    expect(await c.drive(client.task(first.id))).toBeUndefined();
    const later = client.submitTask({ type: 'echo', payload: 5, idempotencyKey: 'k2' });
    expect((await c.drive(later.accepted)).taskId).toBe(later.id);
    expect((await c.drive(later.result)).result).toBe(5);
  });

  it('a handle awaited after its task\'s events left the event history still settles from the task\'s record', async () => {
    const c = createTestCluster(3, { seed: 93, network: fast, eventHistory: 5 });
    c.registerHandler('echo', (p) => p);
    await c.waitForLeader();
    const client = c.client();
    const hs = Array.from({ length: 20 }, (_, i) => client.submitTask({ type: 'echo', payload: i }));
    await c.drive(Promise.all(hs.slice(1).map((h) => h.result)));
    expect(await c.drive(hs[0].result, 5_000)).toMatchObject({ taskId: hs[0].id, result: 0 });
  });
});
