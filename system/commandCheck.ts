import type { ClusterCommand } from '../actors/clusterState.js';
import type { TaskChange } from '../actors/taskTable.js';
import { checkValue, copyValue, ValueDomainError } from './valueDomain.js';
import { ClientError } from './clientError.js';
import { checkWireTaskSpec, InvalidTaskError } from './taskSpec.js';
import { quotaProblem } from '../actors/tenantQuota.js';

/** Limits on what one client command may carry (explicit, as TigerBeetle keeps them). */
export interface CommandLimits {
  /** Bytes of the command, measured as {@link copyValue} counts them (about its encoded size). */
  maxCommandBytes: number;
  /** Characters of a key, node, tenant or worker name. */
  maxNameLength: number;
}

/** The default {@link CommandLimits}. */
export const COMMAND_LIMITS: Readonly<CommandLimits> = Object.freeze({
  maxCommandBytes: 1024 * 1024,
  maxNameLength: 256,
});

/**
 * A command refused at the client edge, before anything was sent: `path`
 * names the part of it that is wrong (`$.key`, `$.value.items[3]`).
 * Nothing was proposed, so nothing is left behind.
 */
export class InvalidCommandError extends ClientError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super('InvalidCommand', `invalid command: ${path} ${detail}`, 'failed');
    this.name = 'InvalidCommandError';
  }
}

type Check = (cmd: Record<string, unknown>, limits: CommandLimits) => void;

/** `record[field]` is a name: a string of 1 to `max` characters (`at` is the record's path). */
function checkName(record: Record<string, unknown>, field: string, at: string, max: number): void {
  const v = record[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new InvalidCommandError(`${at}.${field}`, `must be a string of 1–${max} characters`);
}

const name = (field: string): Check => (cmd, limits) => checkName(cmd, field, '$', limits.maxNameLength);
const optionalName = (field: string): Check => (cmd, limits) => {
  if (cmd[field] !== undefined) checkName(cmd, field, '$', limits.maxNameLength);
};
const optionalString = (field: string): Check => (cmd) => {
  if (cmd[field] !== undefined && typeof cmd[field] !== 'string') throw new InvalidCommandError(`$.${field}`, 'must be a string when given');
};
const array = (field: string): Check => (cmd) => {
  if (!Array.isArray(cmd[field])) throw new InvalidCommandError(`$.${field}`, 'must be an array');
};
/** `record[field]` is a finite number (`at` is the record's path). */
function checkFinite(record: Record<string, unknown>, field: string, at: string): void {
  const v = record[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidCommandError(`${at}.${field}`, 'must be a finite number');
}

const finite = (field: string): Check => (cmd) => checkFinite(cmd, field, '$');
const positiveInteger = (field: string): Check => (cmd) => {
  if (!Number.isSafeInteger(cmd[field]) || (cmd[field] as number) < 1) throw new InvalidCommandError(`$.${field}`, 'must be an integer ≥ 1');
};
/** Each element of the array `cmd[field]` is a name. */
const nameList = (field: string): Check => (cmd, limits) => {
  const list = cmd[field] as unknown[];
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v !== 'string' || v.length === 0 || v.length > limits.maxNameLength) throw new InvalidCommandError(`$.${field}[${i}]`, `must be a string of 1–${limits.maxNameLength} characters`);
  }
};
const object = (field: string, optional = false): Check => (cmd) => {
  const v = cmd[field];
  if (optional && v === undefined) return;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidCommandError(`$.${field}`, 'must be an object');
};
const present = (field: string): Check => (cmd) => {
  if (cmd[field] === undefined) throw new InvalidCommandError(`$.${field}`, 'is required');
};

const trustLevel = (field: string): Check => (cmd) => {
  const v = cmd[field];
  if (v !== undefined && v !== 'hardware' && v !== 'software' && v !== 'none') throw new InvalidCommandError(`$.${field}`, "must be 'hardware', 'software' or 'none' when given");
};
const optionalBoolean = (field: string): Check => (cmd) => {
  if (cmd[field] !== undefined && typeof cmd[field] !== 'boolean') throw new InvalidCommandError(`$.${field}`, 'must be a boolean when given');
};

/** A compare-and-set's `expect`: exactly one of a revision (an integer ≥ 0; 0 means absent) or a value. */
const expectation: Check = (cmd) => {
  const e = cmd.expect as Record<string, unknown> | null | undefined;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new InvalidCommandError('$.expect', 'must be { revision } or { value }');
  const hasRevision = Object.hasOwn(e, 'revision');
  if (hasRevision === Object.hasOwn(e, 'value') || Object.keys(e).length !== 1) throw new InvalidCommandError('$.expect', 'must have exactly one of revision or value');
  if (hasRevision && (!Number.isSafeInteger(e.revision) || (e.revision as number) < 0)) throw new InvalidCommandError('$.expect.revision', 'must be an integer ≥ 0 (0: the key is absent)');
  if (!hasRevision && e.value === undefined) throw new InvalidCommandError('$.expect.value', 'is required');
};

/** A report's batch signature, when given: two strings and the leaf hashes (32 bytes each). */
const proofBatch: Check = (cmd) => {
  const b = cmd.proofBatch as Record<string, unknown> | undefined;
  if (b === undefined) return;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new InvalidCommandError('$.proofBatch', 'must be an object when given');
  if (typeof b.keyFingerprint !== 'string') throw new InvalidCommandError('$.proofBatch.keyFingerprint', 'must be a string');
  if (typeof b.value !== 'string') throw new InvalidCommandError('$.proofBatch.value', 'must be a string');
  if (!(b.leaves instanceof Uint8Array) || b.leaves.length === 0 || b.leaves.length % 32 !== 0) throw new InvalidCommandError('$.proofBatch.leaves', 'must be bytes, 32 per leaf');
};

/** The fields each kind of task change carries beyond `kind`, `taskId` and `at` (as `TaskChange` in the task table declares them). */
const CHANGE_FIELDS: Record<TaskChange['kind'], ReadonlyArray<'worker' | 'attempt' | 'progress' | 'proof' | 'error' | 'retryable' | 'retryAt' | 'reason' | 'reason?'>> = {
  assign: ['worker'],
  reassign: ['worker'],
  start: ['worker', 'attempt'],
  progress: ['worker', 'attempt', 'progress'],
  complete: ['worker', 'attempt', 'proof'],
  fail: ['worker', 'attempt', 'error', 'retryable', 'retryAt'],
  timeout: ['worker', 'attempt', 'retryAt'],
  retry: [],
  cancel: ['reason'],
  lost: ['worker', 'reason?'],
};

/**
 * The changes of a `taskChanges` command, each shaped as its kind needs:
 * a bad one is refused here, naming it, instead of reaching every replica
 * to be refused there as a transition of no known task.
 */
const taskChangeList: Check = (cmd, limits) => {
  const changes = cmd.changes as unknown[];
  for (let i = 0; i < changes.length; i++) {
    const at = `$.changes[${i}]`;
    const c = changes[i] as Record<string, unknown> | null;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new InvalidCommandError(at, 'must be an object');
    const kind = c.kind;
    if (typeof kind !== 'string' || !Object.hasOwn(CHANGE_FIELDS, kind)) {
      throw new InvalidCommandError(`${at}.kind`, `must be one of ${Object.keys(CHANGE_FIELDS).join(', ')}; got ${typeof kind === 'string' ? `'${kind}'` : String(kind)}`);
    }
    checkName(c, 'taskId', at, limits.maxNameLength);
    checkFinite(c, 'at', at);
    for (const f of CHANGE_FIELDS[kind as TaskChange['kind']]) {
      switch (f) {
        case 'worker':
          checkName(c, 'worker', at, limits.maxNameLength);
          break;
        case 'attempt':
          if (!Number.isSafeInteger(c.attempt) || (c.attempt as number) < 1) throw new InvalidCommandError(`${at}.attempt`, 'must be an integer ≥ 1');
          break;
        case 'progress':
        case 'retryAt':
          checkFinite(c, f, at);
          break;
        case 'proof':
          if (c.proof === null || typeof c.proof !== 'object' || Array.isArray(c.proof)) throw new InvalidCommandError(`${at}.proof`, 'must be an object');
          break;
        case 'error':
          if (typeof c.error !== 'string') throw new InvalidCommandError(`${at}.error`, 'must be a string');
          break;
        case 'retryable':
          if (typeof c.retryable !== 'boolean') throw new InvalidCommandError(`${at}.retryable`, 'must be a boolean');
          break;
        case 'reason':
        case 'reason?':
          if ((f === 'reason' || c.reason !== undefined) && typeof c.reason !== 'string') throw new InvalidCommandError(`${at}.reason`, f === 'reason' ? 'must be a string' : 'must be a string when given');
          break;
      }
    }
  }
};

/** The fields of one submitted task (`NewTask` in the task table). */
const NEW_TASK_FIELDS: ReadonlySet<string> = new Set(['id', 'spec', 'submittedAt', 'resubmitOf']);

/**
 * The tasks of a `submitTasks` command: at least one, each with an id, a
 * submission time and a spec in its wire form (the client resolves the
 * defaults and leaves out what equals the log's fixed baseline, so every
 * replica stores the same spec whatever its version's defaults). A
 * malformed task is refused here, naming it.
 */
const taskList: Check = (cmd, limits) => {
  const tasks = cmd.tasks as unknown[];
  if (tasks.length === 0) throw new InvalidCommandError('$.tasks', 'must hold at least one task');
  for (let i = 0; i < tasks.length; i++) {
    const at = `$.tasks[${i}]`;
    const t = tasks[i] as Record<string, unknown> | null;
    if (t === null || typeof t !== 'object' || Array.isArray(t)) throw new InvalidCommandError(at, 'must be an object { id, spec, submittedAt }');
    for (const k in t) if (!NEW_TASK_FIELDS.has(k)) throw new InvalidCommandError(`${at}.${k}`, 'is not a field of a submitted task');
    checkName(t, 'id', at, limits.maxNameLength);
    checkFinite(t, 'submittedAt', at);
    if (t.resubmitOf !== undefined) checkName(t, 'resubmitOf', at, limits.maxNameLength);
    try {
      checkWireTaskSpec(t.spec);
    } catch (err) {
      if (!(err instanceof InvalidTaskError)) throw err;
      throw new InvalidCommandError(err.field === 'spec' ? `${at}.spec` : `${at}.spec.${err.field}`, err.detail);
    }
  }
};

/**
 * A quota the cluster would store, but under which a tenant's tasks could
 * never run (no task at once): refused at the edge only, since a log
 * written before may hold one and every replica must apply it alike.
 */
const runnableQuota: Check = (cmd, limits) => {
  if (limits === APPLY_LIMITS || cmd.quota === undefined) return;
  const problem = quotaProblem(cmd.quota);
  if (problem !== null) throw new InvalidCommandError(`$.${problem.slice(0, problem.indexOf(' '))}`, problem.slice(problem.indexOf(' ') + 1));
  if ((cmd.quota as Record<string, unknown>).maxConcurrentTasks === 0) {
    throw new InvalidCommandError('$.quota.maxConcurrentTasks', 'must be ≥ 1: a tenant that may run no task at once would keep every task it submits waiting for good');
  }
};

/** A worker offering no CPU or no memory (or NaN) would take no task: refused at the edge only, as {@link runnableQuota}. */
const usableCapacity: Check = (cmd, limits) => {
  if (limits === APPLY_LIMITS) return;
  const c = cmd.capacity as Record<string, unknown>;
  for (const k of ['cpu', 'memoryBytes']) {
    const v = c[k];
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new InvalidCommandError(`$.capacity.${k}`, `must be a finite number > 0, got ${JSON.stringify(v) ?? String(v)}`);
  }
};

/** Each op a client may send, and the fields it needs (beyond the value domain every field is checked against). */
const OPS: Record<ClusterCommand['op'], Check[]> = {
  put: [name('key'), present('value')],
  delete: [name('key')],
  cas: [name('key'), expectation, present('value')],
  noop: [],
  join: [name('node'), optionalName('address')],
  approve: [name('node')],
  reject: [name('node'), optionalString('reason')],
  promote: [name('node')],
  demote: [name('node')],
  remove: [name('node'), optionalString('reason')],
  block: [name('node'), optionalString('reason')],
  unblock: [name('node')],
  setSecurityPolicy: [trustLevel('minTrust'), optionalBoolean('requireAuthenticatedJoin')],
  registerTenant: [name('tenant'), object('quota', true), runnableQuota],
  registerWorker: [name('worker'), object('capacity'), usableCapacity],
  drainWorker: [name('worker')],
  submitTasks: [array('tasks'), taskList, optionalName('tenant')],
  taskChanges: [array('changes'), taskChangeList, optionalName('tenant'), proofBatch],
  pruneTasks: [finite('before')],
  bootstrap: [array('voters'), nameList('voters')],
  fence: [name('client'), positiveInteger('seq')],
};

/** No length limits: what every replica checks again must not depend on a node's configuration. */
const APPLY_LIMITS: Readonly<CommandLimits> = Object.freeze({ maxCommandBytes: Number.POSITIVE_INFINITY, maxNameLength: Number.MAX_SAFE_INTEGER });

/**
 * Why a committed command cannot be applied, or null: its op and the
 * shape of its fields, as {@link checkCommand} checks them at the edge but
 * without the configurable limits or the value walk. Each replica asks
 * before applying, so a malformed command that reached the log (from an
 * older version, or a node that skipped the edge check) is refused the
 * same way everywhere instead of crashing every replica, and every
 * restart that replays it. A task change list is checked change by change
 * by the task table, which refuses a bad change alone.
 */
export function commandShapeProblem(cmd: unknown): string | null {
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) return 'the command is not an object';
  const record = cmd as Record<string, unknown>;
  const op = record.op;
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) return `unknown op '${String(op)}'`;
  try {
    for (const check of OPS[op as ClusterCommand['op']]) if (check !== taskChangeList) check(record, APPLY_LIMITS);
  } catch (err) {
    if (err instanceof InvalidCommandError) return err.message;
    throw err;
  }
  return null;
}

/**
 * Checks a command at the client edge and returns a copy of it that shares
 * nothing with the caller's objects (so changing them later cannot reach any
 * replica). Throws {@link InvalidCommandError} naming the first part at
 * fault: not an object, an unknown op, a missing or malformed field, a value
 * outside Grey's value domain (JSON data or Uint8Array: no functions,
 * cycles, `Map`s, class instances, `undefined` in arrays or non-finite
 * numbers), or a command past its {@link CommandLimits}. With `copy`
 * false it returns the command itself: for one just decoded from the wire,
 * which nobody else holds.
 */
export function checkCommand(cmd: unknown, limits: CommandLimits = COMMAND_LIMITS, copy = true): ClusterCommand {
  return checkCommandSized(cmd, limits, copy).cmd;
}

/** {@link checkCommand}, also returning the command's size as its limit counts it. */
export function checkCommandSized(cmd: unknown, limits: CommandLimits = COMMAND_LIMITS, copy = true): { cmd: ClusterCommand; bytes: number } {
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) throw new InvalidCommandError('$', 'must be an object with an op');
  const record = cmd as Record<string, unknown>;
  const op = record.op;
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) {
    throw new InvalidCommandError('$.op', `must be one of ${Object.keys(OPS).join(', ')}; got ${typeof op === 'string' ? `'${op}'` : String(op)}`);
  }
  for (const check of OPS[op as ClusterCommand['op']]) check(record, limits);
  let checked: { value: unknown; bytes: number };
  try {
    checked = copy ? copyValue(cmd) : { value: cmd, bytes: checkValue(cmd) };
  } catch (err) {
    if (!(err instanceof ValueDomainError)) throw err;
    throw new InvalidCommandError(err.path, `is outside Grey's value domain (JSON data or Uint8Array): ${err.detail}`);
  }
  if (checked.bytes > limits.maxCommandBytes) throw new InvalidCommandError('$', `is about ${checked.bytes} bytes, the limit is ${limits.maxCommandBytes}`);
  return { cmd: checked.value as ClusterCommand, bytes: checked.bytes };
}
