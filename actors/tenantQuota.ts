/**
 * A tenant's quota (the seed's `TenantQuota`), its defaults, and the check
 * every replica runs on a quota a `registerTenant` entry carries.
 */

/** Resource quota of a tenant. */
export interface TenantQuota {
  /** Memory its placed and running tasks may declare together; a task declaring more is refused at admission. */
  maxMemoryBytes: number;
  /** CPUs its placed and running tasks may declare together; a task declaring more is refused at admission. */
  maxCpuUnits: number;
  /** Bytes of payloads and results the cluster holds for it (tasks in the table, dead letters included). */
  maxStorageBytes: number;
  /** Submissions per second (a token bucket on the proposer's time, with a burst of one second's worth). */
  maxTasksPerSecond: number;
  /** Tasks it may have assigned or running at once; the rest wait. */
  maxConcurrentTasks: number;
  /** Its weight in the fair share: share = weight / Σ weights (weighted Dominant Resource Fairness). */
  priorityWeight: number;
}

/**
 * The quota of a tenant registered without one (`system` and `default` at
 * bootstrap among them): large enough not to limit a cluster of today's
 * sizes, so a single-tenant cluster behaves as before quotas were enforced;
 * an operator sets real limits per tenant with `registerTenant`.
 */
export const DEFAULT_TENANT_QUOTA: TenantQuota = Object.freeze({
  maxMemoryBytes: 2 ** 50,
  maxCpuUnits: 1_000_000,
  maxStorageBytes: 2 ** 50,
  maxTasksPerSecond: 1_000_000,
  maxConcurrentTasks: 1_000_000,
  priorityWeight: 1,
});

const INTEGER_FIELDS = new Set<keyof TenantQuota>(['maxMemoryBytes', 'maxStorageBytes', 'maxConcurrentTasks']);

/**
 * Why `quota` (a partial quota, as `registerTenant` carries it) cannot be
 * applied, or null: an unknown field, a value that is not a finite number,
 * a negative limit, a fractional byte or task count, a weight or rate that
 * is not > 0. Pure, so every replica refuses the same entries.
 */
export function quotaProblem(quota: unknown): string | null {
  if (quota === undefined) return null;
  if (quota === null || typeof quota !== 'object' || Array.isArray(quota)) return 'quota must be an object';
  for (const [k, v] of Object.entries(quota)) {
    if (!Object.hasOwn(DEFAULT_TENANT_QUOTA, k)) return `quota.${k} is not a quota field (known: ${Object.keys(DEFAULT_TENANT_QUOTA).join(', ')})`;
    if (typeof v !== 'number' || !Number.isFinite(v)) return `quota.${k} must be a finite number, got ${String(v)}`;
    if (INTEGER_FIELDS.has(k as keyof TenantQuota) && !Number.isSafeInteger(v)) return `quota.${k} must be an integer, got ${v}`;
    if ((k === 'priorityWeight' || k === 'maxTasksPerSecond') && !(v > 0)) return `quota.${k} must be > 0, got ${v}`;
    if (v < 0) return `quota.${k} must be ≥ 0, got ${v}`;
  }
  return null;
}
