import type { BackoffPolicy, NewTask, ResolvedTaskSpec, Resources } from './taskTable.js';

/**
 * A task spec as a `submitTasks` command carries it in the log: a resolved
 * spec with each field that equals {@link WIRE_SPEC_BASELINE} left out.
 * `resources` and `backoff` are left out whole or given whole.
 *
 * Why: a task of all defaults is `{ type, tenant }` on the wire, not fifteen
 * fields in three objects that every request, AppendEntries and replica
 * would encode, decode and keep. A full resolved spec is a wire spec too
 * (every field given), so logs written before this form apply unchanged.
 */
export type WireTaskSpec = { type: string } & Partial<Omit<ResolvedTaskSpec, 'type'>>;

/** A submitted task as a `submitTasks` command carries it. */
export interface WireTask extends Omit<NewTask, 'spec'> {
  spec: WireTaskSpec;
}

/**
 * What a field left out of a {@link WireTaskSpec} means. Part of the log's
 * format, so fixed for good: it is not the defaults a client fills in
 * (`TASK_DEFAULTS`, which may change from one version to the next). A
 * client whose default differs from it writes the field out, so every
 * replica, of any version, stores the spec the client resolved.
 */
export const WIRE_SPEC_BASELINE = Object.freeze({
  payload: null,
  tenant: 'default',
  priority: 0,
  resources: Object.freeze({ cpu: 1, memoryBytes: 64 * 2 ** 20 }) as Readonly<Resources>,
  maxRetries: 3,
  backoff: Object.freeze({ initialMs: 100, factor: 2, maxMs: 10_000, jitter: 0.1 }) as Readonly<BackoffPolicy>,
  timeoutMs: 30_000,
});

const B = WIRE_SPEC_BASELINE;

const isBaselineResources = (r: Resources): boolean => r.cpu === B.resources.cpu && r.memoryBytes === B.resources.memoryBytes;

const isBaselineBackoff = (b: BackoffPolicy): boolean =>
  b.initialMs === B.backoff.initialMs && b.factor === B.backoff.factor && b.maxMs === B.backoff.maxMs && b.jitter === B.backoff.jitter;

/**
 * `spec` for the wire: its type and tenant, and the other fields that
 * differ from {@link WIRE_SPEC_BASELINE} (a -0 or NaN is always written
 * out). The tenant is always written: a node serving a client bound to a
 * tenant gives a task that names none that tenant, so leaving out
 * `'default'` would change whose task it is.
 */
export function compactTaskSpec(spec: ResolvedTaskSpec): WireTaskSpec {
  const w: WireTaskSpec = { type: spec.type, tenant: spec.tenant };
  if (spec.payload !== null) w.payload = spec.payload;
  if (!Object.is(spec.priority, B.priority)) w.priority = spec.priority;
  if (!isBaselineResources(spec.resources)) w.resources = spec.resources;
  if (spec.maxRetries !== B.maxRetries) w.maxRetries = spec.maxRetries;
  if (!isBaselineBackoff(spec.backoff)) w.backoff = spec.backoff;
  if (spec.timeoutMs !== B.timeoutMs) w.timeoutMs = spec.timeoutMs;
  if (spec.idempotencyKey !== undefined) w.idempotencyKey = spec.idempotencyKey;
  return w;
}

/**
 * The resolved spec a wire spec stands for. A `resources` or `backoff` left
 * out is the baseline's frozen object, shared by every task that left it
 * out: nothing changes a stored spec, and a read hands out copies.
 */
export function expandTaskSpec(w: WireTaskSpec): ResolvedTaskSpec {
  const spec: ResolvedTaskSpec = {
    type: w.type,
    payload: w.payload === undefined ? B.payload : w.payload,
    tenant: w.tenant ?? B.tenant,
    priority: w.priority ?? B.priority,
    resources: w.resources ?? B.resources,
    maxRetries: w.maxRetries ?? B.maxRetries,
    backoff: w.backoff ?? B.backoff,
    timeoutMs: w.timeoutMs ?? B.timeoutMs,
  };
  if (w.idempotencyKey !== undefined) spec.idempotencyKey = w.idempotencyKey;
  return spec;
}

/** The tasks of a `submitTasks` command, their specs expanded for the table (a new array; the command is not changed). */
export function expandTasks(tasks: readonly WireTask[]): NewTask[] {
  const out: NewTask[] = new Array(tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i];
    const spec = expandTaskSpec(t.spec);
    out[i] = t.resubmitOf === undefined ? { id: t.id, spec, submittedAt: t.submittedAt } : { id: t.id, spec, submittedAt: t.submittedAt, resubmitOf: t.resubmitOf };
  }
  return out;
}
