import type { BackoffPolicy, ResolvedTaskSpec, Resources } from '../actors/taskTable.js';
import { isWellFormed } from '../actors/canonical.js';
import { copyValue, ValueDomainError } from './valueDomain.js';
import { MAX_RESULT_BYTES } from '../actors/resultHash.js';
import type { WireTaskSpec } from '../actors/wireTaskSpec.js';

/** What a user submits. Everything but `type` has a default. */
export interface TaskSpec {
  /** Name of a registered handler. */
  type: string;
  /** Data handed to the handler: a value of Grey's domain (JSON data or Uint8Array). */
  payload?: unknown;
  tenant?: string;
  /** Higher runs first; integer in [-100, 100]. */
  priority?: number;
  resources?: Partial<Resources>;
  /** Retries after the first attempt. */
  maxRetries?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Deadline of one attempt, ms. */
  timeoutMs?: number;
  /** A second submission with the same key returns the first task. */
  idempotencyKey?: string;
}

/** Defaults of every optional field of a {@link TaskSpec}. */
export const TASK_DEFAULTS = Object.freeze({
  tenant: 'default',
  priority: 0,
  resources: Object.freeze({ cpu: 1, memoryBytes: 64 * 2 ** 20 }),
  maxRetries: 3,
  backoff: Object.freeze({ initialMs: 100, factor: 2, maxMs: 10_000, jitter: 0.1 }),
  timeoutMs: 30_000,
});

/** Limits on what a task may ask for (explicit, as TigerBeetle keeps them). */
export const TASK_LIMITS = Object.freeze({
  maxPayloadBytes: 64 * 1024,
  /** A task's result, at most (a larger one fails the task, not retried). */
  maxResultBytes: MAX_RESULT_BYTES,
  maxRetries: 100,
  maxTimeoutMs: 24 * 3_600_000,
  maxTypeLength: 128,
  maxKeyLength: 256,
});

/** A task submission that cannot be accepted; `field` names what is wrong. */
export class InvalidTaskError extends Error {
  readonly code = 'InvalidTask';
  constructor(
    readonly field: string,
    /** What is wrong with it. */
    readonly detail: string,
  ) {
    super(`invalid task: ${field} ${detail}`);
    this.name = 'InvalidTaskError';
  }
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);
const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/** Text every replica reads the same: a lone surrogate has no UTF-8 encoding, so the wire would change it. */
function checkText(field: string, s: string): void {
  if (!isWellFormed(s)) throw new InvalidTaskError(field, 'must be well-formed text (it has a lone surrogate)');
}

/**
 * `given` over `defaults`, with only the defaults' fields: the spec is
 * replicated as it is, so nothing unchecked may ride along.
 */
function fieldsOf<T extends object>(field: string, given: unknown, defaults: T): T {
  if (given === undefined) return { ...defaults };
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new InvalidTaskError(field, 'must be an object');
  for (const k of Object.keys(given)) if (!Object.hasOwn(defaults, k)) throw new InvalidTaskError(`${field}.${k}`, `is not a ${field} field`);
  return { ...defaults, ...(given as Partial<T>) };
}

/** The fields of a {@link TaskSpec} (made once: this check runs for every submitted task). */
const TASK_FIELDS: ReadonlySet<string> = new Set(['type', 'payload', 'tenant', 'priority', 'resources', 'maxRetries', 'backoff', 'timeoutMs', 'idempotencyKey']);

/**
 * Validates a submission at the edge and fills in the defaults. Throws
 * {@link InvalidTaskError} naming the first field at fault. The payload
 * limit defaults to {@link TASK_LIMITS}`.maxPayloadBytes` (a client can set
 * its own, see `ClientOptions.limits`).
 */
export function resolveTaskSpec(spec: TaskSpec, maxPayloadBytes: number = TASK_LIMITS.maxPayloadBytes): ResolvedTaskSpec {
  return resolveTaskSpecSized(spec, maxPayloadBytes).spec;
}

/**
 * Bytes a submitted task takes in its command (as the command size limit
 * counts them), at most, beyond its payload and its strings: the field
 * names, numbers and object framing of a task and its resolved spec.
 */
const TASK_FRAME_BYTES = 512;

/**
 * {@link resolveTaskSpec}, also returning an upper bound of the bytes the
 * task adds to its command with id `id` (so a client need not walk a batch
 * again to know it is within the command limit).
 * @internal
 */
export function resolveTaskSpecSized(spec: TaskSpec, maxPayloadBytes: number, id = ''): { spec: ResolvedTaskSpec; bytesAtMost: number } {
  if (spec === null || typeof spec !== 'object') throw new InvalidTaskError('spec', 'must be an object');
  for (const k of Object.keys(spec)) if (!TASK_FIELDS.has(k)) throw new InvalidTaskError(k, 'is not a task field');
  if (typeof spec.type !== 'string' || spec.type.length === 0 || spec.type.length > TASK_LIMITS.maxTypeLength) {
    throw new InvalidTaskError('type', `must be a handler name of 1–${TASK_LIMITS.maxTypeLength} characters`);
  }
  checkText('type', spec.type);
  let payloadBytes = 0;
  let payload: unknown = null;
  if (spec.payload !== undefined) {
    try {
      // A copy: the submitter's object is not shared with any replica.
      ({ value: payload, bytes: payloadBytes } = copyValue(spec.payload, 'payload'));
    } catch (err) {
      if (!(err instanceof ValueDomainError)) throw err;
      throw new InvalidTaskError(err.path, `is outside Grey's value domain (JSON data or Uint8Array): ${err.detail}`);
    }
  }
  if (payloadBytes > maxPayloadBytes) throw new InvalidTaskError('payload', `is about ${payloadBytes} bytes, the limit is ${maxPayloadBytes}`);
  const resolved: ResolvedTaskSpec = {
    type: spec.type,
    payload,
    tenant: spec.tenant ?? TASK_DEFAULTS.tenant,
    priority: spec.priority ?? TASK_DEFAULTS.priority,
    resources: fieldsOf('resources', spec.resources, TASK_DEFAULTS.resources),
    maxRetries: spec.maxRetries ?? TASK_DEFAULTS.maxRetries,
    backoff: fieldsOf('backoff', spec.backoff, TASK_DEFAULTS.backoff),
    timeoutMs: spec.timeoutMs ?? TASK_DEFAULTS.timeoutMs,
  };
  if (spec.idempotencyKey !== undefined) resolved.idempotencyKey = spec.idempotencyKey;
  checkFields(resolved);
  // UTF-8 takes at most 3 bytes per UTF-16 unit of well-formed text.
  const strings = id.length + resolved.type.length + resolved.tenant.length + (resolved.idempotencyKey?.length ?? 0);
  return { spec: resolved, bytesAtMost: payloadBytes + TASK_FRAME_BYTES + 3 * strings };
}

/**
 * Checks a spec as a submission carries it in a command: a
 * {@link WireTaskSpec}, each field left out standing for the log's
 * baseline. What a node receives from a client, and what each replica
 * checks again before applying, so a malformed spec is refused rather
 * than crashing every replica that reads it. Throws
 * {@link InvalidTaskError} naming the first field at fault. The payload
 * is not walked here: the command it rides in is checked as a value.
 */
export function checkWireTaskSpec(spec: unknown): asserts spec is WireTaskSpec {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new InvalidTaskError('spec', 'must be an object');
  const s = spec as Record<string, unknown>;
  for (const k in s) if (!TASK_FIELDS.has(k)) throw new InvalidTaskError(k, 'is not a task field');
  if (s.resources !== undefined) exactFields('resources', s.resources, TASK_DEFAULTS.resources);
  if (s.backoff !== undefined) exactFields('backoff', s.backoff, TASK_DEFAULTS.backoff);
  checkFields(s as Partial<ResolvedTaskSpec>);
}

/** `given` is an object with exactly the fields of `defaults`. */
function exactFields(field: string, given: unknown, defaults: object): void {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw new InvalidTaskError(field, 'must be an object');
  for (const k in given) if (!Object.hasOwn(defaults, k)) throw new InvalidTaskError(`${field}.${k}`, `is not a ${field} field`);
}

/** The value checks of each field `spec` gives (its shape is known); `type` is required, the rest are checked when present. */
function checkFields(spec: Partial<ResolvedTaskSpec>): void {
  if (typeof spec.type !== 'string' || spec.type.length === 0 || spec.type.length > TASK_LIMITS.maxTypeLength) {
    throw new InvalidTaskError('type', `must be a handler name of 1–${TASK_LIMITS.maxTypeLength} characters`);
  }
  checkText('type', spec.type);
  const { tenant, priority, resources, maxRetries, backoff, timeoutMs } = spec;
  if (tenant !== undefined) {
    if (typeof tenant !== 'string' || tenant.length === 0) throw new InvalidTaskError('tenant', 'must be a non-empty string');
    checkText('tenant', tenant);
  }
  if (priority !== undefined && (!isInt(priority) || priority < -100 || priority > 100)) throw new InvalidTaskError('priority', 'must be an integer in [-100, 100]');
  if (resources !== undefined) {
    if (!isNum(resources.cpu) || resources.cpu <= 0) throw new InvalidTaskError('resources.cpu', 'must be a positive number');
    if (!isInt(resources.memoryBytes) || resources.memoryBytes <= 0) throw new InvalidTaskError('resources.memoryBytes', 'must be a positive integer');
  }
  if (maxRetries !== undefined && (!isInt(maxRetries) || maxRetries < 0 || maxRetries > TASK_LIMITS.maxRetries)) {
    throw new InvalidTaskError('maxRetries', `must be an integer in [0, ${TASK_LIMITS.maxRetries}]`);
  }
  if (backoff !== undefined) {
    if (!isNum(backoff.initialMs) || backoff.initialMs < 0) throw new InvalidTaskError('backoff.initialMs', 'must be a number >= 0');
    if (!isNum(backoff.factor) || backoff.factor < 1) throw new InvalidTaskError('backoff.factor', 'must be a number >= 1');
    if (!isNum(backoff.maxMs) || backoff.maxMs < backoff.initialMs) throw new InvalidTaskError('backoff.maxMs', 'must be a number >= backoff.initialMs');
    if (!isNum(backoff.jitter) || backoff.jitter < 0 || backoff.jitter > 1) throw new InvalidTaskError('backoff.jitter', 'must be a fraction in [0, 1]');
  }
  if (timeoutMs !== undefined && (!isNum(timeoutMs) || timeoutMs <= 0 || timeoutMs > TASK_LIMITS.maxTimeoutMs)) {
    throw new InvalidTaskError('timeoutMs', `must be in (0, ${TASK_LIMITS.maxTimeoutMs}] ms`);
  }
  const key = spec.idempotencyKey;
  if (key !== undefined) {
    if (typeof key !== 'string' || key.length === 0 || key.length > TASK_LIMITS.maxKeyLength) throw new InvalidTaskError('idempotencyKey', `must be a string of 1–${TASK_LIMITS.maxKeyLength} characters`);
    checkText('idempotencyKey', key);
  }
}

export { backoffDelay } from '../actors/taskTable.js';
