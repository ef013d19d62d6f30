// @ts-check
/**
 * The entry point of a WorkerPool's threads (plain JavaScript, so a thread
 * loads it without a TypeScript loader): imports the user's task module
 * once per thread, runs the export the task names, and measures the
 * thread's CPU time where Node can (`process.threadCpuUsage`, Node ≥ 23.9).
 * A handler's error comes back as data, so that what marks it
 * non-retryable survives the trip between threads.
 */

/** @type {Map<string, Record<string, unknown>>} */
const modules = new Map();

/**
 * The thread's V8 heap limit is set by the pool when it starts the thread
 * (the task's memory tier, see `memoryTierMb`): a task that outgrows it
 * ends the thread, and the pool reports it.
 *
 * @param {{ module: string; name: string; payload: unknown; context: { taskId: string; attempt: number; worker: string; resources: { cpu: number; memoryBytes: number } } }} task
 * @returns {Promise<{ ok: true; result: unknown; cpuTimeUs: number | null } | { ok: false; name: string; message: string; retryable: boolean }>}
 */
export default async function runTask({ module, name, payload, context }) {
  let m = modules.get(module);
  if (!m) {
    m = /** @type {Record<string, unknown>} */ (await import(module));
    modules.set(module, m);
  }
  const fn = m[name];
  if (typeof fn !== 'function') {
    return { ok: false, name: 'TypeError', message: `${module} exports no function '${name}'`, retryable: false };
  }
  const threadCpu = /** @type {{ threadCpuUsage?: (prev?: { user: number; system: number }) => { user: number; system: number } }} */ (process).threadCpuUsage;
  const before = typeof threadCpu === 'function' ? threadCpu.call(process) : null;
  try {
    const result = await fn(payload, context);
    const used = before && threadCpu ? threadCpu.call(process, before) : null;
    return { ok: true, result, cpuTimeUs: used ? used.user + used.system : null };
  } catch (err) {
    const e = /** @type {{ name?: unknown; message?: unknown; retryable?: unknown }} */ (err ?? {});
    return {
      ok: false,
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(err),
      retryable: !(e.retryable === false || e.name === 'NonRetryableError'),
    };
  }
}
