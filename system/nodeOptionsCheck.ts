import type { ClusterStateLimits } from '../actors/clusterState.js';
import type { TaskControllerOptions } from '../actors/taskController.js';

/**
 * Checks of the options a node takes for its task pipeline (`tasks`) and
 * its replicated state's limits (`limits`), shared by `createCluster` and
 * `startNode`. A typo would otherwise be ignored, and a zero or negative
 * value would stall the pipeline (no assignment per entry), spin it (a
 * controller tick of 0 ms) or refuse everything (no pending task allowed),
 * far from the option that caused it.
 */

/** What a number option must be, and how to say so. */
interface NumberRule {
  ok: (v: number) => boolean;
  says: string;
}

const positiveInt: NumberRule = { ok: (v) => Number.isSafeInteger(v) && v >= 1, says: 'an integer ≥ 1' };
const countOrZero: NumberRule = { ok: (v) => Number.isSafeInteger(v) && v >= 0, says: 'an integer ≥ 0' };
const positiveMs: NumberRule = { ok: (v) => Number.isFinite(v) && v > 0, says: 'a number of ms > 0' };
const msOrZero: NumberRule = { ok: (v) => Number.isFinite(v) && v >= 0, says: 'a number of ms ≥ 0' };
const msOrInfinity: NumberRule = { ok: (v) => v > 0, says: 'a number of ms > 0 (Infinity: never)' };
const fraction: NumberRule = { ok: (v) => v >= 0 && v <= 1, says: 'a fraction in [0, 1]' };

const TASK_OPTION_RULES: Record<keyof TaskControllerOptions, NumberRule | 'placement' | 'boolean'> = {
  placement: 'placement',
  fairShare: 'boolean',
  agingMs: msOrInfinity,
  maxQueuedPerWorker: positiveInt,
  lookahead: positiveInt,
  reserveAfterMs: { ok: (v) => v >= 0, says: 'a number of ms ≥ 0 (Infinity: never)' },
  headroomTasks: countOrZero,
  activeWindowMs: msOrZero,
  maxHeadroomShare: fraction,
  tickMs: positiveMs,
  maxAssignPerEntry: positiveInt,
  stallGraceMs: msOrZero,
  retentionMs: msOrZero,
  maxPendingTasks: positiveInt,
};

const LIMIT_RULES: Record<Exclude<keyof ClusterStateLimits, 'tasks' | 'kv'>, NumberRule> = {
  maxSessions: positiveInt,
  maxAnswersPerSession: positiveInt,
  maxRejectedKept: countOrZero,
};
const TASK_LIMIT_RULES: Record<keyof ClusterStateLimits['tasks'], NumberRule> = { retentionMs: msOrZero, maxDeadLetters: countOrZero, maxIdempotencyKeys: countOrZero };
const KV_LIMIT_RULES: Record<keyof ClusterStateLimits['kv'], NumberRule> = { maxChanges: positiveInt, maxRange: positiveInt };

function objectAt(where: string, path: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where}: ${path} must be an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function checkNumbers(where: string, path: string, value: unknown, rules: Record<string, NumberRule>): void {
  const o = objectAt(where, path, value);
  for (const [key, v] of Object.entries(o)) {
    const rule = rules[key];
    if (!rule) throw new TypeError(`${where}: unknown option '${path}.${key}'; known: ${Object.keys(rules).join(', ')}`);
    if (v !== undefined && !(typeof v === 'number' && rule.ok(v))) throw new RangeError(`${where}: ${path}.${key} must be ${rule.says}, got ${JSON.stringify(v) ?? String(v)}`);
  }
}

/** Refuses a `tasks` option with an unknown key or a value out of range, naming it (`where`: the function, for the message). */
export function checkTaskOptions(where: string, tasks: unknown): void {
  if (tasks === undefined) return;
  const o = objectAt(where, 'tasks', tasks);
  for (const [key, v] of Object.entries(o)) {
    const rule = (TASK_OPTION_RULES as Record<string, NumberRule | 'placement' | 'boolean'>)[key];
    if (!rule) throw new TypeError(`${where}: unknown option 'tasks.${key}'; known: ${Object.keys(TASK_OPTION_RULES).join(', ')}`);
    if (v === undefined) continue;
    if (rule === 'placement') {
      if (v !== 'binpack' && v !== 'spread') throw new RangeError(`${where}: tasks.placement must be 'binpack' or 'spread', got ${JSON.stringify(v)}`);
    } else if (rule === 'boolean') {
      if (typeof v !== 'boolean') throw new TypeError(`${where}: tasks.${key} must be a boolean, got ${JSON.stringify(v)}`);
    } else if (!(typeof v === 'number' && rule.ok(v))) {
      throw new RangeError(`${where}: tasks.${key} must be ${rule.says}, got ${JSON.stringify(v) ?? String(v)}`);
    }
  }
}

/** Refuses a `limits` option with an unknown key or a value out of range, naming it. */
export function checkStateLimits(where: string, limits: unknown): void {
  if (limits === undefined) return;
  const o = objectAt(where, 'limits', limits);
  const { tasks, kv, ...rest } = o;
  checkNumbers(where, 'limits', rest, LIMIT_RULES);
  if (tasks !== undefined) checkNumbers(where, 'limits.tasks', tasks, TASK_LIMIT_RULES);
  if (kv !== undefined) checkNumbers(where, 'limits.kv', kv, KV_LIMIT_RULES);
}

const RAFT_FLAGS = ['preVote', 'checkQuorum', 'leaseReads', 'fastFailover'] as const;

/** Refuses a `raft` flag that is not a boolean (`'yes'` would read as on), naming it; numbers are checked by the Raft node. */
export function checkRaftFlags(where: string, raft: unknown): void {
  if (raft === undefined) return;
  const o = objectAt(where, 'raft', raft);
  for (const key of RAFT_FLAGS) {
    const v = o[key];
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${where}: raft.${key} must be a boolean, got ${JSON.stringify(v) ?? String(v)}`);
  }
}

const CAPACITY_RULE: NumberRule = { ok: (v) => Number.isFinite(v) && v > 0, says: 'a finite number > 0' };

/**
 * Refuses a worker capacity that is not `{ cpu, memoryBytes }` of finite
 * numbers > 0 (or null, when `nullable`): a worker offering nothing, or
 * NaN, would take no task, and every task would wait for good.
 */
export function checkWorkerCapacity(where: string, capacity: unknown, nullable: boolean): void {
  if (capacity === undefined || (nullable && capacity === null)) return;
  const o = objectAt(where, 'workerCapacity', capacity);
  checkNumbers(where, 'workerCapacity', o, { cpu: CAPACITY_RULE, memoryBytes: CAPACITY_RULE });
  for (const key of ['cpu', 'memoryBytes']) if (o[key] === undefined) throw new TypeError(`${where}: workerCapacity.${key} is missing (give both cpu and memoryBytes)`);
}

const RECOVERY_RULES: Record<string, NumberRule> = {
  removeAfterMs: msOrZero,
  minVoters: positiveInt,
  maxRequeuePerEntry: positiveInt,
  requeueIntervalMs: positiveMs,
  sweepMs: positiveMs,
};

/** Refuses a `recovery` option with an unknown key or a value out of range, naming it. */
export function checkRecoveryOptions(where: string, recovery: unknown): void {
  if (recovery !== undefined) checkNumbers(where, 'recovery', recovery, RECOVERY_RULES);
}

const HEALTH_KEYS = ['detector', 'phi', 'heartbeat', 'quarantine', 'checkIntervalMs'];

/**
 * Refuses a `health` option with an unknown key, a detector other than
 * `phi` or `heartbeat`, or a check interval that is not > 0. The
 * detectors' and quarantine's own numbers are checked where they are made.
 */
export function checkHealthOptions(where: string, health: unknown): void {
  if (health === undefined) return;
  const o = objectAt(where, 'health', health);
  for (const key of Object.keys(o)) if (!HEALTH_KEYS.includes(key)) throw new TypeError(`${where}: unknown option 'health.${key}'; known: ${HEALTH_KEYS.join(', ')}`);
  if (o.detector !== undefined && o.detector !== 'phi' && o.detector !== 'heartbeat') throw new RangeError(`${where}: health.detector must be 'phi' or 'heartbeat', got ${JSON.stringify(o.detector)}`);
  for (const key of ['phi', 'heartbeat', 'quarantine']) if (o[key] !== undefined) objectAt(where, `health.${key}`, o[key]);
  const i = o.checkIntervalMs;
  if (i !== undefined && !(typeof i === 'number' && positiveMs.ok(i))) throw new RangeError(`${where}: health.checkIntervalMs must be ${positiveMs.says}, got ${JSON.stringify(i) ?? String(i)}`);
}
