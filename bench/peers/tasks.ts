/**
 * End-to-end tasks per second, bulk submission on both sides.
 *
 * One producer in the benchmark's process submits `total` no-op tasks in
 * batches of `batch`, with up to `inFlight` batches awaiting their
 * acknowledgement; workers in other processes run them. Counted: `total`
 * over the time from the first submission to the moment the system says
 * the last one has completed (polled every `pollMs` once every batch is
 * acknowledged, on both sides).
 *
 * - Grey: `client.submitTasks(batch)` (one log entry per batch, acknowledged
 *   once committed: on 2 of 3 disks); the three nodes are the workers, each
 *   running up to `concurrency` tasks at once (a task asks for 8/concurrency
 *   of a node's 8 CPUs). Completed: the leader's `grey_tasks{status="completed"}`
 *   from its `/metrics` (a completion is a committed log entry).
 * - BullMQ: `Queue.addBulk(batch)` (one MULTI per batch; Redis answers once
 *   its AOF is written, fsync'd first under `appendfsync always`); `workers`
 *   worker processes with a no-op processor, `concurrency` jobs at a time
 *   each. Completed: `Queue.getCompletedCount()`.
 */
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { GreyCluster } from './greyCluster.js';
import { exitOf, spawnGroup, stopGroup, sleep } from './procs.js';

export interface TaskWorkload {
  total: number;
  batch: number;
  inFlight: number;
  /** Tasks one worker (a Grey node, a BullMQ worker process) runs at once. */
  concurrency: number;
  pollMs: number;
}

export interface TaskRun {
  tasksPerSec: number;
  wallMs: number;
  /** Time until every batch was acknowledged. */
  submitMs: number;
  completed: number;
  failed: number;
  /** CPU the benchmark's process (the producer) used per wall second: 1.0 is one core busy. */
  clientCpu: number;
}

/** Keeps up to `inFlight` batches outstanding; resolves when all `total` items are acknowledged. */
async function submitAll(total: number, batch: number, inFlight: number, send: (n: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const n = Math.min(batch, total - next);
      next += n;
      await send(n);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

let taskClients = 0;

export async function greyTasks(cluster: GreyCluster, w: TaskWorkload): Promise<TaskRun> {
  const leader = await cluster.waitConverged();
  // A name of its own per run: two live connections under one client name would share its answers.
  const client = await cluster.client(`bench-tasks-${++taskClients}`, { timeoutMs: 60_000 });
  try {
    const spec = { type: 'noop', resources: { cpu: 8 / w.concurrency, memoryBytes: 1 }, maxRetries: 0 };
    await client.submitTasks([spec])[0].accepted; // connections up, one task through before the clock starts
    const before = await cluster.taskCounts(leader);
    const base = before.completed ?? 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await submitAll(w.total, w.batch, w.inFlight, async (n) => {
      const handles = client.submitTasks(Array.from({ length: n }, () => spec));
      await handles[0].accepted;
    });
    const submitMs = performance.now() - t0;
    let counts: Record<string, number> = {};
    for (;;) {
      counts = await cluster.taskCounts(leader);
      if ((counts.completed ?? 0) - base + (counts.failed ?? 0) - (before.failed ?? 0) >= w.total) break;
      await sleep(w.pollMs);
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { tasksPerSec: w.total / (wallMs / 1000), wallMs, submitMs, completed: (counts.completed ?? 0) - base, failed: (counts.failed ?? 0) - (before.failed ?? 0), clientCpu: (cpu.user + cpu.system) / 1000 / wallMs };
  } finally {
    await client.close();
  }
}

function workerInvocation(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./bullWorker.ts', import.meta.url))];
  return [fileURLToPath(new URL('./bullWorker.js', import.meta.url))];
}

export async function bullTasks(redisPort: number, w: TaskWorkload & { workers: number }, queueName = `bench-${process.pid}-${Date.now()}`): Promise<TaskRun> {
  const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection });
  queue.on('error', () => {});
  const workers = Array.from({ length: w.workers }, () => {
    const child = spawnGroup(process.execPath, [...workerInvocation(), String(redisPort), queueName, String(w.concurrency)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      void exitOf(child).then(() => reject(new Error('a BullMQ worker process exited before it was ready')));
    });
    return { child, ready };
  });
  try {
    await Promise.all(workers.map((x) => x.ready));
    const data = {};
    const opts = { attempts: 1 };
    await queue.add('noop', data, opts); // one job through before the clock starts
    while ((await queue.getCompletedCount()) < 1) await sleep(w.pollMs);
    const base = await queue.getCompletedCount();
    const failedBase = await queue.getFailedCount();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await submitAll(w.total, w.batch, w.inFlight, async (n) => {
      await queue.addBulk(Array.from({ length: n }, () => ({ name: 'noop', data, opts })));
    });
    const submitMs = performance.now() - t0;
    let completed = 0;
    let failed = 0;
    for (;;) {
      [completed, failed] = await Promise.all([queue.getCompletedCount(), queue.getFailedCount()]);
      if (completed - base + failed - failedBase >= w.total) break;
      await sleep(w.pollMs);
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { tasksPerSec: w.total / (wallMs / 1000), wallMs, submitMs, completed: completed - base, failed: failed - failedBase, clientCpu: (cpu.user + cpu.system) / 1000 / wallMs };
  } finally {
    await Promise.all(workers.map((x) => stopGroup(x.child, 3_000)));
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}
