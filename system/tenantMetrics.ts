import type { Registry } from 'prom-client';
import type { TenantStats } from '../actors/clusterState.js';
import { LATENCY_BOUNDS_MS, TENANT_REJECTIONS, type LatencyHistogram } from '../actors/tenantBook.js';

/** What the tenant metrics read: the tenants of a node's replicated state and their books. */
export interface TenantMetricsSource {
  tenants(): ReadonlyArray<{ tenant: string }>;
  tenantStats(tenant: string): TenantStats | undefined;
}

/** Tenants given a label value of their own by default; the rest are counted as `other`. */
export const DEFAULT_MAX_TENANT_LABELS = 50;

/** The label value of every tenant past the cap. */
export const OTHER_TENANT = 'other';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/**
 * Registers each tenant's metrics in `registry`, read at scrape time from
 * the node's replicated books (so every node reports the same numbers, and
 * they survive a restart of the node: they are in the snapshots). Names are
 * `grey_tenant_…` in base units (seconds, bytes); labels are `tenant` (and
 * `reason` for rejections), never a task id. Tenants are labelled in the
 * order they were registered, at most `maxTenantLabels` of them; the rest
 * are summed under `tenant="other"` (a gauge of shares takes the largest),
 * so a cluster with thousands of tenants cannot blow up the series count.
 *
 * - `grey_tenant_tasks_submitted_total`, `…_completed_total`,
 *   `…_failed_total`, `…_cancelled_total` (counters);
 * - `grey_tenant_requests_rejected_total{reason}`: `QuotaExceeded`,
 *   `RateLimited`, `Unauthorized` (decided at apply);
 * - `grey_tenant_queue_wait_seconds`, `grey_tenant_run_time_seconds`
 *   (histograms, on the proposers' times);
 * - `grey_tenant_dominant_share` (its weighted dominant share of the
 *   workers' capacity), `grey_tenant_tasks_live`, `grey_tenant_tasks_holding`,
 *   `grey_tenant_storage_bytes` (gauges).
 */
export function registerTenantMetrics(registry: Registry, source: () => TenantMetricsSource, maxTenantLabels = DEFAULT_MAX_TENANT_LABELS): void {
  if (!Number.isInteger(maxTenantLabels) || maxTenantLabels < 0) throw new RangeError(`maxTenantLabels must be an integer ≥ 0, got ${maxTenantLabels}`);

  /** Each labelled tenant's books, and the rest merged as `other`, at the time of the scrape. */
  const books = (): Array<[string, TenantStats]> => {
    const s = source();
    const out: Array<[string, TenantStats]> = [];
    let other: TenantStats | null = null;
    for (const { tenant } of s.tenants()) {
      const stats = s.tenantStats(tenant);
      if (stats === undefined) continue;
      if (out.length < maxTenantLabels) out.push([tenant, stats]);
      else other = other === null ? structuredClone(stats) : merge(other, stats);
    }
    if (other !== null) out.push([OTHER_TENANT, other]);
    return out;
  };

  const metric = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: (b: Array<[string, TenantStats]>) => Sample[]) => {
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: samples(books()) }),
      reset: () => {},
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  const perTenant = (read: (s: TenantStats) => number) => (b: Array<[string, TenantStats]>) => b.map(([tenant, s]) => ({ value: read(s), labels: { tenant } }));

  metric('grey_tenant_tasks_submitted_total', 'Tasks admitted, per tenant.', 'counter', perTenant((s) => s.submitted));
  metric('grey_tenant_tasks_completed_total', 'Tasks completed, per tenant.', 'counter', perTenant((s) => s.completed));
  metric('grey_tenant_tasks_failed_total', 'Tasks failed for good (dead letters), per tenant.', 'counter', perTenant((s) => s.failed));
  metric('grey_tenant_tasks_cancelled_total', 'Tasks cancelled, per tenant.', 'counter', perTenant((s) => s.cancelled));
  metric('grey_tenant_requests_rejected_total', 'Requests of a tenant refused at apply, by reason.', 'counter', (b) =>
    b.flatMap(([tenant, s]) => TENANT_REJECTIONS.map((reason) => ({ value: s.rejected[reason], labels: { tenant, reason } }))),
  );
  metric('grey_tenant_queue_wait_seconds', 'From submission to the start of the first attempt (proposer times).', 'histogram', (b) => b.flatMap(([tenant, s]) => histogram('grey_tenant_queue_wait_seconds', tenant, s.queueWaitMs)));
  metric('grey_tenant_run_time_seconds', 'From start to end of the attempt that finished a task (proposer times).', 'histogram', (b) => b.flatMap(([tenant, s]) => histogram('grey_tenant_run_time_seconds', tenant, s.runTimeMs)));
  metric('grey_tenant_dominant_share', "A tenant's weighted dominant share of the workers' capacity (held by its assigned and running tasks).", 'gauge', perTenant((s) => s.dominantShare));
  metric('grey_tenant_tasks_live', 'Tasks not finished, per tenant.', 'gauge', perTenant((s) => s.live));
  metric('grey_tenant_tasks_holding', 'Tasks assigned or running, per tenant.', 'gauge', perTenant((s) => s.holding));
  metric('grey_tenant_storage_bytes', 'Payload and result bytes the cluster holds for a tenant.', 'gauge', perTenant((s) => s.storedBytes));
}

/** Prometheus histogram samples (cumulative buckets in seconds, sum, count) of one tenant. */
function histogram(name: string, tenant: string, h: LatencyHistogram): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
    cumulative += h.counts[i];
    out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { le: LATENCY_BOUNDS_MS[i] / 1000, tenant } });
  }
  out.push({ metricName: `${name}_bucket`, value: h.count, labels: { le: '+Inf', tenant } });
  out.push({ metricName: `${name}_sum`, value: h.sumMs / 1000, labels: { tenant } });
  out.push({ metricName: `${name}_count`, value: h.count, labels: { tenant } });
  return out;
}

/** `into` plus `s`: counts summed, the dominant share the larger. */
function merge(into: TenantStats, s: TenantStats): TenantStats {
  into.submitted += s.submitted;
  into.completed += s.completed;
  into.failed += s.failed;
  into.cancelled += s.cancelled;
  for (const r of TENANT_REJECTIONS) into.rejected[r] += s.rejected[r];
  for (const k of ['queueWaitMs', 'runTimeMs'] as const) {
    for (let i = 0; i < into[k].counts.length; i++) into[k].counts[i] += s[k].counts[i];
    into[k].sumMs += s[k].sumMs;
    into[k].count += s[k].count;
  }
  into.live += s.live;
  into.holding += s.holding;
  into.heldMilliCpu += s.heldMilliCpu;
  into.heldMemoryBytes += s.heldMemoryBytes;
  into.storedBytes += s.storedBytes;
  into.dominantShare = Math.max(into.dominantShare, s.dominantShare);
  return into;
}
