/**
 * CPU-heavy handlers in worker threads (WorkerPool, on Piscina): results
 * and errors come back across threads; a CPU-bound handler past its
 * timeout is stopped and the pool keeps serving; the node's own loop
 * keeps running meanwhile; the proof says what its CPU time measures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NonRetryableError, type HandlerContext } from '../actors/taskHandlers.js';
import { connect, startNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { WorkerPool } from '../system/workerPool.js';
import { ClientError } from '../system/clientError.js';

const MODULE = new URL('./fixtures/cpuTasks.mjs', import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'grey-pool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function context(signal = new AbortController().signal): HandlerContext & { cpu: number[] } {
  const cpu: number[] = [];
  return { taskId: 't1', attempt: 1, worker: 'n1', signal, progress: () => {}, sleep: async () => {}, now: () => 0, reportCpuTime: (us) => cpu.push(us), cpu };
}

const measuresThreadCpu = typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === 'function';

describe('WorkerPool: handlers in worker threads', () => {
  it('runs an export in a thread with its payload and context; errors keep whether they are retryable', async () => {
    const pool = new WorkerPool({ module: MODULE, maxThreads: 2 });
    try {
      const ctx = context();
      expect(await pool.handler('sum')(1000, ctx)).toBe(499500);
      expect(await pool.handler('whoami')(null, ctx)).toEqual({ taskId: 't1', attempt: 1, worker: 'n1' });
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
