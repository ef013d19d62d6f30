import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toArray, firstValueFrom } from 'rxjs';
import { NonRetryableError } from '../actors/taskHandlers.js';
import { canonicalJson } from '../system/canonical.js';
import { ClientError } from '../system/client.js';
import { createTestCluster } from '../system/cluster.js';
import type { GreyEvent } from '../system/events.js';
import { InvalidTaskError } from '../system/taskSpec.js';
import { settle } from './helpers/settle.js';

const fast = { latency: { base: 2, jitter: 1, distribution: 'uniform' as const } };

/** The seed's task execution pipeline workflow (003, section 2). */
describe('Task execution pipeline workflow', () => {
  it('test_basic_task_submission: a submission is validated, gets an id, and is acknowledged once committed', async () => {
    const c = createTestCluster(3, { seed: 31, network: fast });
    c.registerHandler('echo', (p) => p);
    await c.waitForLeader();
    const client = c.client();
    const h = client.submitTask({ type: 'echo', payload: { x: 1 } });
    expect(h.id).toMatch(/^task_[A-Za-z0-9_-]{16}$/);
    const acc = await c.drive(h.accepted);
    expect(acc.taskId).toBe(h.id);
    expect(c.leader()!.state.task(h.id)).toBeDefined(); // acknowledged means committed
    expect(() => client.submitTask({ type: '' })).toThrow(InvalidTaskError);
    expect(() => client.submitTask({ type: 'echo', priority: 1000 })).toThrow(/priority/);
    expect(() => client.submitTask({ type: 'echo', resources: { cpu: -1 } })).toThrow(/resources\.cpu/);
    expect(() => client.submitTask({ type: 'echo', payload: () => 1 } as never)).toThrow(/payload/);
    // Only what the wire carries as it is: known fields, well-formed text.
    expect(() => client.submitTask({ type: 'echo', resources: { cpu: 1, gpu: new Date() } as never })).toThrow(/resources\.gpu is not a resources field/);
    expect(() => client.submitTask({ type: 'echo', backoff: 5 as never })).toThrow(/backoff must be an object/);
    expect(() => client.submitTask({ type: 'echo', tenant: 'x\ud800' })).toThrow(/tenant must be well-formed text/);
    expect(() => client.submitTask({ type: 'echo', idempotencyKey: '\udc00' })).toThrow(/idempotencyKey must be well-formed text/);
    // An idempotency key resolves a second submission to the first task.
    const a = client.submitTask({ type: 'echo', idempotencyKey: 'order-42' });
    const b = client.submitTask({ type: 'echo', idempotencyKey: 'order-42' });
    expect((await c.drive(b.accepted)).taskId).toBe((await c.drive(a.accepted)).taskId);
  });

  it('test_deterministic_scheduling: the same seed and inputs give the same schedule', async () => {
    async function schedule(seed: number) {
      const c = createTestCluster(3, { seed, network: fast });
      c.registerHandler('work', async (_p, ctx) => ctx.sleep(20));
      await c.waitForLeader();
      const client = c.client();
      const hs = client.submitTasks(Array.from({ length: 30 }, (_, i) => ({ type: 'work', priority: i % 3, resources: { cpu: 2 } })));
      const events: string[] = [];
      c.events$.subscribe((e) => e.type === 'task.assigned' && events.push(`${e.taskId}@${e.worker}`));
      await c.drive(Promise.all(hs.map((h) => h.result)));
      return events;
    }
    const a = await schedule(5);
    expect(a).toHaveLength(30);
    expect(await schedule(5)).toEqual(a);
  });

  it('test_resource_governance_enforcement: a task goes only where its resources fit; capacity bounds concurrency', async () => {
    const c = createTestCluster(3, { seed: 32, network: fast, workerCapacity: { cpu: 4, memoryBytes: 2 ** 30 } });
    let running = 0;
    let peak = 0;
    c.registerHandler('heavy', async (_p, ctx) => {
      peak = Math.max(peak, ++running);
      await ctx.sleep(50);
      running--;
    });
    await c.waitForLeader();
    const client = c.client();
    const tooBig = client.submitTask({ type: 'heavy', resources: { cpu: 64 } });
    const hs = client.submitTasks(Array.from({ length: 12 }, () => ({ type: 'heavy', resources: { cpu: 2 } })));
    await c.drive(Promise.all(hs.map((h) => h.result)));
    expect(peak).toBeLessThanOrEqual(6); // 3 workers × 4 cpu / 2 cpu each
    expect(peak).toBeGreaterThan(1);
    await c.run(500);
    expect((await c.drive(client.task((await c.drive(tooBig.accepted)).taskId)))?.status).toBe('pending');

    // A tenant's quota bounds it too, below what the workers could take: 2 CPUs at once, and nothing declaring more.
    await c.drive(client.submit({ op: 'registerTenant', tenant: 'small', quota: { maxCpuUnits: 2 } }));
    const small = c.tenant('small');
    const refused = await c.drive(small.submitTask({ type: 'heavy', resources: { cpu: 3 } }).accepted.catch((e: unknown) => e));
    expect(refused).toMatchObject({ code: 'QuotaExceeded' });
    peak = 0;
    await c.drive(Promise.all(small.submitTasks(Array.from({ length: 6 }, () => ({ type: 'heavy', resources: { cpu: 1 } }))).map((h) => h.result)));
    expect(peak).toBe(2); // the workers had 12 CPUs free
  });

  it('test_complete_task_execution_flow: submitted → assigned → started → completed, with result and proof', async () => {
    const c = createTestCluster(3, { seed: 33, network: fast });
    c.registerHandler('square', async (p, ctx) => {
      ctx.progress(0.5);
      await ctx.sleep(200);
      return (p as number) ** 2;
    });
    await c.waitForLeader();
    const h = c.client().submitTask({ type: 'square', payload: 12 });
    const types = c.drive(firstValueFrom(h.status$.pipe(toArray())));
    const r = await c.drive(h.result);
    expect(r.result).toBe(144);
    expect((await types).map((e) => e.type)).toEqual(['task.submitted', 'task.assigned', 'task.started', 'task.progress', 'task.completed']);
    await settle(c);
    for (const n of c.upNodes()) expect(n.state.task(h.id)).toMatchObject({ status: 'completed', result: 144, attempt: 1 });
  });

  it('test_priority_based_scheduling: higher priority first, FIFO within a priority', async () => {
    const c = createTestCluster(1, { seed: 34, network: fast, workerCapacity: { cpu: 1, memoryBytes: 2 ** 30 } });
    const order: string[] = [];
    c.registerHandler('job', async (p, ctx) => {
      order.push(p as string);
      await ctx.sleep(10);
    });
    await c.waitForLeader();
    const client = c.client();
    const blocker = client.submitTask({ type: 'job', payload: 'first' });
    await c.drive(blocker.accepted);
    const hs = client.submitTasks([
      { type: 'job', payload: 'low-1', priority: -5 },
      { type: 'job', payload: 'high-1', priority: 10 },
      { type: 'job', payload: 'mid-1', priority: 0 },
      { type: 'job', payload: 'high-2', priority: 10 },
      { type: 'job', payload: 'low-2', priority: -5 },
    ]);
    await c.drive(Promise.all(hs.map((h) => h.result)));
    expect(order).toEqual(['first', 'high-1', 'high-2', 'mid-1', 'low-1', 'low-2']);
  });

  it('test_task_failure_and_retry: failures retry with backoff; exhausted retries dead-letter; non-retryable errors stop at once', async () => {
    const c = createTestCluster(3, { seed: 36, network: fast });
    const attempts: Record<string, number[]> = {};
    c.registerHandler('flaky', (p, ctx) => {
      (attempts[p as string] ??= []).push(ctx.now());
      if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
      return 'ok';
    });
    c.registerHandler('doomed', () => {
      throw new Error('always');
    });
    c.registerHandler('fatal', () => {
      throw new NonRetryableError('bad input');
    });
    await c.waitForLeader();
    const client = c.client();
    const flaky = client.submitTask({ type: 'flaky', payload: 'f', maxRetries: 3, backoff: { initialMs: 100, factor: 2, jitter: 0 } });
    const doomed = client.submitTask({ type: 'doomed', maxRetries: 2, backoff: { initialMs: 10, jitter: 0 } });
    const fatal = client.submitTask({ type: 'fatal', maxRetries: 5 });
    expect((await c.drive(flaky.result)).result).toBe('ok');
    const gaps = attempts.f.slice(1).map((t, i) => t - attempts.f[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(100); // backoff 100, then 200
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    await expect(c.drive(doomed.result)).rejects.toMatchObject({ code: 'TaskFailed' });
    await expect(c.drive(fatal.result)).rejects.toBeInstanceOf(ClientError);
    const dead = await c.drive(client.deadLetters());
    expect(dead.map((t) => [t.id, t.attempt]).sort()).toEqual([[doomed.id, 3], [fatal.id, 1]].sort());
    // A dead letter can be resubmitted as a new task.
    c.registerHandler('doomed', () => 'fixed', { replace: true });
    const again = await c.drive(client.resubmit(doomed.id));
    expect((await c.drive(again.result)).result).toBe('fixed');
    expect((await c.drive(client.deadLetters())).map((t) => t.id)).toEqual([fatal.id]);
  });

  it('test_batch_task_submission: many tasks in one log entry, all run', async () => {
    const c = createTestCluster(3, { seed: 37, network: fast, keepTrace: true });
    c.registerHandler('inc', (p) => (p as number) + 1);
    await c.waitForLeader();
    const hs = c.client().submitTasks(Array.from({ length: 100 }, (_, i) => ({ type: 'inc', payload: i })));
    const indexes = new Set((await c.drive(Promise.all(hs.map((h) => h.accepted)))).map((a) => a.index));
    expect(indexes.size).toBe(1); // one entry
    const results = await c.drive(Promise.all(hs.map((h) => h.result)));
    expect(results.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('test_proof_artifact_integrity: the proof names the worker, attempt and times, and hashes the result', async () => {
    const c = createTestCluster(3, { seed: 38, network: fast });
    c.registerHandler('report', async (p, ctx) => {
      await ctx.sleep(75);
      return { input: p, by: ctx.worker };
    });
    await c.waitForLeader();
    const h = c.client().submitTask({ type: 'report', payload: [1, 2, 3] });
    const events: GreyEvent[] = [];
    c.events$.subscribe((e) => events.push(e));
    const { result, proof } = await c.drive(h.result);
    const started = events.find((e) => e.type === 'task.started' && e.taskId === h.id) as Extract<GreyEvent, { type: 'task.started' }>;
    expect(proof).toMatchObject({ taskId: h.id, workerId: started.worker, attempt: 1 });
    expect(proof.completedAt - proof.startedAt).toBe(75);
    expect(proof.cpuTimeUs).toBe(75_000);
    expect(proof.resultHash).toBe(createHash('sha256').update(canonicalJson(result)).digest('hex'));
    // Every node holds the same proof.
    await settle(c);
    for (const n of c.upNodes()) expect(n.state.task(h.id)?.proof).toEqual(proof);
  });
});

describe('results are values', () => {
  it('a handler may return binary data (Uint8Array), which every replica keeps and the proof hashes; a result that is no value fails the task naming the path', async () => {
    const c = createTestCluster(3, { seed: 94, network: fast });
    c.registerHandler('bytes', (p) => ({ data: new Uint8Array([1, 2, 3]), echo: p }));
    c.registerHandler('map', () => ({ ok: 1, table: new Map() }));
    await c.waitForLeader();
    const client = c.client();
    const h = client.submitTask({ type: 'bytes', payload: new Uint8Array([9]) });
    const r = await c.drive(h.result);
    expect(r.result).toEqual({ data: new Uint8Array([1, 2, 3]), echo: new Uint8Array([9]) });
    await c.run(100);
    for (const n of c.upNodes()) {
      const t = n.state.task(h.id)!;
      expect(t.status, n.id).toBe('completed');
      expect((t.result as { data: Uint8Array }).data).toBeInstanceOf(Uint8Array);
    }
    const bad = client.submitTask({ type: 'map' });
    const err = await c.drive(bad.result).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as Error).message).toMatch(/result is not a value \(JSON data or Uint8Array\): \$\.table is a Map/);
  });

  it('a result past the size limit fails the task at once (not retried), and nothing of it reaches the log', async () => {
    const c = createTestCluster(3, { seed: 95, network: fast });
    let attempts = 0;
    c.registerHandler('huge', () => {
      attempts++;
      return 'x'.repeat(2 * 1024 * 1024);
    });
    await c.waitForLeader();
    const h = c.client().submitTask({ type: 'huge' });
    const err = await c.drive(h.result).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/result is about \d+ bytes, the limit is 1048576/);
    expect(attempts).toBe(1);
    expect(c.leader()!.state.task(h.id)?.result ?? null).toBeNull();
  });
});

describe('Task execution pipeline workflow: stealing', () => {
  it('test_work_stealing: an idle worker takes tasks queued for a busy one', async () => {
    // One attempt at a time per worker; binpack piles assignments onto the fullest worker.
    const c = createTestCluster(3, { seed: 35, network: fast, workerConcurrency: 1, tasks: { placement: 'binpack', maxQueuedPerWorker: 4 } });
    const ranOn: Record<string, string> = {};
    c.registerHandler('slow', async (p, ctx) => {
      ranOn[p as string] = ctx.worker;
      await ctx.sleep(300);
    });
    await c.waitForLeader();
    const reassigned: string[] = [];
    const firstWorker: Record<string, string> = {};
    c.events$.subscribe((e) => {
      if (e.type !== 'task.assigned') return;
      if (firstWorker[e.taskId] && firstWorker[e.taskId] !== e.worker) reassigned.push(`${e.taskId}: ${firstWorker[e.taskId]} → ${e.worker}`);
      firstWorker[e.taskId] ??= e.worker;
    });
    const hs = c.client().submitTasks(Array.from({ length: 6 }, (_, i) => ({ type: 'slow', payload: `t${i}` })));
    const t0 = c.kernel.now();
    await c.drive(Promise.all(hs.map((h) => h.result)));
    expect(reassigned.length).toBeGreaterThan(0);
    expect(new Set(Object.values(ranOn)).size).toBeGreaterThan(1); // the work spread out
    expect(c.kernel.now() - t0).toBeLessThan(6 * 300); // faster than one worker doing it all
  });
});

describe('proof artifacts are checked when a completion is applied', () => {
  it('a completion whose proof does not match its result is refused on every replica and recorded; the real one goes through', async () => {
    const c = createTestCluster(3, { seed: 71, keepTrace: true });
    c.registerHandler('slow', async (p, ctx) => {
      await ctx.sleep(300);
      return { real: p };
    });
    const leader = await c.waitForLeader();
    const client = c.client();
    const h = client.submitTask({ type: 'slow', payload: 1 });
    const { taskId } = await c.drive(h.accepted);
    await c.runUntil(() => leader.state.task(taskId)?.status === 'running', { within: 1_000, description: 'running' });
    const t = leader.state.task(taskId)!;
    const forged = { taskId, workerId: t.worker!, attempt: t.attempt, startedAt: 0, completedAt: 1, cpuTimeUs: 1, resultHash: createHash('sha256').update(canonicalJson({ real: 1 })).digest('hex') };
    // The hash is of the real result, the result is not: refused.
    const refusal = c.drive(client.submit({ op: 'taskChanges', changes: [{ kind: 'complete', taskId, worker: t.worker!, attempt: t.attempt, result: { real: 'forged' }, proof: forged, at: 0 }] }));
    await expect(refusal).rejects.toMatchObject({ code: 'InvalidTransition', message: expect.stringMatching(/proof refused: resultHash .* does not match the result/) });
    expect(leader.state.task(taskId)!.status).toBe('running');
    const done = await c.drive(h.result);
    expect(done.result).toEqual({ real: 1 });
    expect(done.proof.resultHash).toBe(forged.resultHash);
    await c.settle();
    const refused = c.trace!.toJSONL().trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'task' && e.taskId === taskId && e.rejected);
    expect(refused.length).toBe(3); // once per replica
    expect(refused.every((e) => /proof refused/.test(e.reason))).toBe(true);
  });
});

describe('handler context', () => {
  it('a handler may destructure its context: sleep, now, progress and signal work unbound', async () => {
    const c = createTestCluster(3, { seed: 31 });
    c.registerHandler('destructured', async (_payload, { taskId, attempt, worker, sleep, now, progress, signal }) => {
      const t0 = now();
      progress(0.5);
      await sleep(20);
      return { taskId, attempt, worker: typeof worker, slept: now() - t0, aborted: signal.aborted };
    });
    await c.waitForLeader();
    const handle = c.client().submitTask({ type: 'destructured' });
    const { result } = await c.drive(handle.result, 5_000);
    expect(result).toEqual({ taskId: handle.id, attempt: 1, worker: 'string', slept: 20, aborted: false });
  });
});
