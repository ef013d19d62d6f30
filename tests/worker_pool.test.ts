/**
 * CPU-heavy handlers in worker threads (WorkerPool, on Piscina): results
 * and errors come back across threads; a CPU-bound handler past its
 * timeout is stopped and the pool keeps serving; the node's own loop
 * keeps running meanwhile; the proof says what its CPU time measures.
 * A task's declared memory is its thread's heap limit: past it the task
 * fails, typed and not retried, and the pool keeps serving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NonRetryableError, type HandlerContext } from '../actors/taskHandlers.js';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { heapLimitsOfTier, memoryTierMb, ResourceLimitExceededError, WorkerPool } from '../system/workerPool.js';
import { ClientError } from '../system/clientError.js';

const MODULE = new URL('./fixtures/cpuTasks.mjs', import.meta.url);
const MEMORY = new URL('./fixtures/memoryTasks.mjs', import.meta.url);
const MiB = 2 ** 20;
const root = mkdtempSync(join(tmpdir(), 'grey-pool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function context(signal = new AbortController().signal, memoryBytes = 64 * MiB): HandlerContext & { cpu: number[] } {
  const cpu: number[] = [];
  return { taskId: 't1', attempt: 1, worker: 'n1', resources: { cpu: 1, memoryBytes }, signal, progress: () => {}, sleep: async () => {}, now: () => 0, reportCpuTime: (us) => cpu.push(us), cpu };
}

/** The context of a task declaring `memoryBytes`. */
const declaring = (memoryBytes: number) => context(undefined, memoryBytes);

const measuresThreadCpu = typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === 'function';

describe('WorkerPool: handlers in worker threads', () => {
  it('runs an export in a thread with its payload and context; errors keep whether they are retryable', async () => {
    const pool = new WorkerPool({ module: MODULE, maxThreads: 2 });
    try {
      const ctx = context();
      expect(await pool.handler('sum')(1000, ctx)).toBe(499500);
      expect(await pool.handler('whoami')(null, ctx)).toEqual({ taskId: 't1', attempt: 1, worker: 'n1', resources: { cpu: 1, memoryBytes: 64 * MiB } });
      expect(ctx.cpu.length).toBe(measuresThreadCpu ? 2 : 0); // thread CPU time only where Node measures it
      await expect(pool.handler('flaky')(null, context())).rejects.toThrow('upstream busy');
      await expect(pool.handler('flaky')(null, context())).rejects.not.toBeInstanceOf(NonRetryableError);
      await expect(pool.handler('fatal')(null, context())).rejects.toBeInstanceOf(NonRetryableError);
      await expect(pool.handler('missing')(null, context())).rejects.toThrow(/exports no function 'missing'/);
      expect(pool.stats.completed).toBeGreaterThanOrEqual(5);
    } finally {
      await pool.destroy();
    }
  });

  it('an abort stops a CPU-bound task mid-loop, and the pool serves the next one', async () => {
    const pool = new WorkerPool({ module: MODULE, maxThreads: 1 });
    try {
      const ac = new AbortController();
      const spinning = pool.handler('spin')(60_000, context(ac.signal));
      setImmediate(() => ac.abort(new Error('timed out')));
      const t0 = performance.now();
      await expect(spinning).rejects.toThrow('timed out');
      expect(performance.now() - t0).toBeLessThan(10_000); // not the 60 s it would spin
      expect(pool.stats.aborted).toBe(1);
      expect(await pool.handler('sum')(10, context())).toBe(45);
    } finally {
      await pool.destroy();
    }
  });

  it('in a node: a CPU-bound handler past its timeout is terminated, the node stays leader, and the pool keeps serving', async () => {
    const pool = new WorkerPool({ module: MODULE, maxThreads: 1 });
    const network = new LocalNetwork();
    const node = await startNode({
      id: 'n1',
      peers: ['n1'],
      network,
      dataDir: join(root, 'n1'),
      raft: { heartbeatMs: 20, electionTimeoutMin: 100, electionTimeoutMax: 200 },
      handlers: pool.handlers(['spin', 'sum', 'fatal']),
    });
    try {
      const client = connect({ network, endpoints: ['n1'], timeoutMs: 10_000 });
      const stuck = client.submitTask({ type: 'spin', payload: 60_000, timeoutMs: 300, maxRetries: 0 });
      const err = await stuck.result.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('TaskFailed');
      expect((err as Error).message).toMatch(/timed out after 300 ms/);
      expect(pool.stats.aborted).toBe(1);
      expect(node.status().role).toBe('leader'); // its loop ran while the thread spun
      const ok = await client.submitTask({ type: 'sum', payload: 100_000 }).result;
      expect(ok.result).toBe(4_999_950_000);
      expect(ok.proof.cpuTimeSource).toBe(measuresThreadCpu ? 'thread' : 'elapsed');
      const fatalTask = client.submitTask({ type: 'fatal', maxRetries: 3 });
      const fatal = await fatalTask.result.then(() => null, (e: unknown) => e);
      expect((fatal as Error).message).toMatch(/bad input/);
      const record = await client.task(fatalTask.id);
      expect(record).toMatchObject({ status: 'failed', attempt: 1 }); // not retried
    } finally {
      await node.stop();
      await pool.destroy();
    }
  }, 30_000);
});

describe("WorkerPool: a task's declared memory is its thread's heap limit", () => {
  it('tiers: declared memory rounded up to a power of two MiB, at least the floor; young and old generations fit in the tier', () => {
    expect(memoryTierMb(1)).toBe(32); // the floor: a thread needs some heap to start
    expect(memoryTierMb(32 * MiB)).toBe(32);
    expect(memoryTierMb(32 * MiB + 1)).toBe(64);
    expect(memoryTierMb(64 * MiB)).toBe(64); // the default declared memory
    expect(memoryTierMb(65 * MiB)).toBe(128);
    expect(memoryTierMb(200 * MiB)).toBe(256);
    expect(memoryTierMb(512 * MiB)).toBe(512);
    expect(memoryTierMb(3 * 2 ** 30)).toBe(4096);
    expect(memoryTierMb(1, 16)).toBe(16);
    expect(memoryTierMb(20 * MiB, 24)).toBe(32);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => memoryTierMb(bad)).toThrow(RangeError);
    for (const tier of [16, 32, 64, 512, 4096]) {
      const { maxOldGenerationSizeMb: old, maxYoungGenerationSizeMb: young } = heapLimitsOfTier(tier);
      expect(old + young).toBe(tier);
      expect(young).toBeGreaterThanOrEqual(2);
      expect(young).toBeLessThanOrEqual(16);
    }
    expect(() => new WorkerPool({ module: MEMORY, resourceLimits: { maxOldGenerationSizeMb: 128 } })).toThrow(/memoryLimit: 'fixed'/);
    expect(() => new WorkerPool({ module: MEMORY, memoryLimit: 'loose' as 'fixed' })).toThrow(TypeError);
  });

  it('a task that allocates far past its declared 32 MiB fails with a typed, non-retryable error naming it, and the pool serves the next task', async () => {
    const pool = new WorkerPool({ module: MEMORY, maxThreads: 1 });
    try {
      const err = await Promise.resolve(pool.handler('hoard')(200, declaring(32 * MiB))).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ResourceLimitExceededError);
      expect(err).toBeInstanceOf(NonRetryableError);
      const e = err as ResourceLimitExceededError;
      expect(e.code).toBe('ResourceLimitExceeded');
      expect(e.retryable).toBe(false);
      expect(e.declaredBytes).toBe(32 * MiB);
      expect(e.limitMb).toBe(32);
      expect(e.message).toMatch(/^ResourceLimitExceeded: task t1 \(attempt 1\) ran out of memory: it declared resources\.memoryBytes 33554432 \(32 MiB\), and its thread's heap limit, 32 MiB, was reached/);
      expect(pool.stats.outOfMemory).toBe(1);
      // The same tier serves the next task, a small one, in a new thread.
      expect(await pool.handler('hoard')(4, declaring(32 * MiB))).toBe(4);
      expect(await pool.handler('whoami')(null, declaring(32 * MiB))).toMatchObject({ resources: { cpu: 1, memoryBytes: 32 * MiB } });
      expect(pool.stats.tiersMb).toContain(32);
    } finally {
      await pool.destroy();
    }
  }, 20_000);

  it('the same allocation declaring 512 MiB succeeds; with memoryLimit fixed the declared memory is not enforced, and the pool-wide limit is', async () => {
    const pool = new WorkerPool({ module: MEMORY, maxThreads: 1 });
    try {
      expect(await pool.handler('hoard')(200, declaring(512 * MiB))).toBe(200);
      expect(pool.stats.outOfMemory).toBe(0);
      expect(pool.stats.tiersMb).toContain(512);
    } finally {
      await pool.destroy();
    }
    const unlimited = new WorkerPool({ module: MEMORY, maxThreads: 1, memoryLimit: 'fixed' });
    try {
      expect(await unlimited.handler('hoard')(200, declaring(32 * MiB))).toBe(200); // the old behaviour: Node's default heap
      expect(unlimited.stats.tiersMb).toEqual([]);
    } finally {
      await unlimited.destroy();
    }
    const fixed = new WorkerPool({ module: MEMORY, maxThreads: 1, memoryLimit: 'fixed', resourceLimits: { maxOldGenerationSizeMb: 64 } });
    try {
      const err = await Promise.resolve(fixed.handler('hoard')(200, declaring(512 * MiB))).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ResourceLimitExceededError);
      expect((err as Error).message).toMatch(/heap limit, 64 MiB \(the pool's resourceLimits\), was reached/);
      expect(await fixed.handler('hoard')(4, declaring(512 * MiB))).toBe(4);
    } finally {
      await fixed.destroy();
    }
  }, 20_000);

  it('at most maxThreads tasks run at once across tiers, idle tiers are closed to make room, and a waiting task leaves when its signal fires', async () => {
    const pool = new WorkerPool({ module: MEMORY, maxThreads: 2 });
    try {
      expect(pool.stats.tiersMb).toEqual([64]); // the warm tier: the default declared memory
      const tiers = [32, 128, 256, 512].map((mb) => mb * MiB);
      const ac = new AbortController();
      const runs = tiers.map((m) => pool.handler('busy')(150, declaring(m)) as Promise<{ start: number; end: number }>);
      const dropped = pool.handler('busy')(150, context(ac.signal, 1024 * MiB));
      expect(pool.stats.queued).toBe(3); // two run, three wait
      ac.abort(new Error('cancelled while queued'));
      await expect(dropped).rejects.toThrow('cancelled while queued');
      expect(pool.stats.aborted).toBe(1);
      const spans = await Promise.all(runs);
      // Times are whole milliseconds of the wall clock every thread shares:
      // runs of 150 ms that overlap by less than 5 ms are back to back, not at once.
      const SKEW_MS = 5;
      let most = 0;
      for (const a of spans) most = Math.max(most, spans.filter((b) => b.start < a.end - SKEW_MS && a.start < b.end - SKEW_MS).length);
      expect(most).toBe(2);
      // Threads never passed maxThreads for long: the tiers left open hold at most two.
      expect(pool.stats.threads).toBeLessThanOrEqual(2);
      expect(pool.stats.tiersMb).not.toContain(1024); // the cancelled task never made its tier
      expect(pool.stats.tiersMb).not.toContain(64); // closed, idle, to make room
      expect(pool.stats.completed).toBe(4);
    } finally {
      await pool.destroy();
    }
  }, 20_000);

  it('in a node: the failure reaches the task record as failed, not retried, with the reason; the next task runs', async () => {
    const pool = new WorkerPool({ module: MEMORY, maxThreads: 1 });
    const network = new LocalNetwork();
    const node = await startNode({
      id: 'n1',
      peers: ['n1'],
      network,
      dataDir: join(root, 'n1-memory'),
      raft: { heartbeatMs: 20, electionTimeoutMin: 100, electionTimeoutMax: 200 },
      handlers: pool.handlers(['hoard', 'whoami']),
    });
    try {
      const client = connect({ network, endpoints: ['n1'], timeoutMs: 10_000 });
      const greedy = client.submitTask({ type: 'hoard', payload: 200, resources: { memoryBytes: 32 * MiB }, maxRetries: 3 });
      const err = await greedy.result.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('TaskFailed');
      expect((err as Error).message).toMatch(/ResourceLimitExceeded: .*declared resources\.memoryBytes 33554432 \(32 MiB\)/);
      const record = await client.task(greedy.id);
      expect(record).toMatchObject({ status: 'failed', attempt: 1 }); // not retried, though maxRetries is 3
      expect(record?.error).toMatch(/^ResourceLimitExceeded: task .* ran out of memory/);
      expect(node.status().role).toBe('leader');
      const who = await client.submitTask({ type: 'whoami', resources: { cpu: 2, memoryBytes: 512 * MiB } }).result;
      expect(who.result).toMatchObject({ worker: 'n1', resources: { cpu: 2, memoryBytes: 512 * MiB } });
      const roomy = await client.submitTask({ type: 'hoard', payload: 200, resources: { memoryBytes: 512 * MiB } }).result;
      expect(roomy.result).toBe(200);
      expect(pool.stats.outOfMemory).toBe(1);
    } finally {
      await node.stop();
      await pool.destroy();
    }
  }, 30_000);
});
