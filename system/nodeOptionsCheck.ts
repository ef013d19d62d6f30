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
