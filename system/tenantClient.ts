import { Observable } from 'rxjs';
import type { TenantStats } from '../actors/clusterState.js';
import type { TaskRecord } from '../actors/taskTable.js';
import type { ClientClock, ClusterClient, TaskHandle } from './client.js';
import type { TimerHandle } from './clock.js';
import type { TaskSpec } from './taskSpec.js';

/** A task spec as a tenant submits it: its tenant is the handle's (naming another is refused by the cluster). */
export type TenantTaskSpec = TaskSpec;

/**
 * A client handle scoped to one tenant (`cluster.tenant('a')`). It submits
 * tasks for its tenant, and sees, cancels and reads the metrics of its
 * tenant's tasks only. The scope is checked by the cluster, not here: each
 * request carries the tenant, and a request that reaches into another
 * tenant's tasks (a spec naming another tenant, a cancel or read of
 * another tenant's task) is refused with `Unauthorized` and recorded in
 * the audit log (a command on every node, where it applies; a read on the
 * node that served it).
 *
 * The handle's tenant is what its requests claim. What binds a client to
 * a tenant whatever it claims is its credential: in real mode a client
 * certificate issued with a tenant (`grey certs --clients app --tenant a`,
 * a SAN URI `grey://tenant/a`), in the simulation `Cluster.bindTenant`.
 * Every node then scopes that client's requests to its tenant (filled in
 * when a request names none, `Unauthorized` and audited when it names
 * another). A client certificate without a tenant, and an operator's, are
 * not scoped: such a client can still claim any tenant.
 */
export class TenantClient {
  constructor(
    private readonly client: ClusterClient,
    private readonly clock: ClientClock,
  ) {
    if (client.tenant === undefined) throw new RangeError('TenantClient needs a client made with { tenant }');
  }

  /** The tenant this handle acts for. */
  get tenant(): string {
    return this.client.tenant as string;
  }

  /** The id (and network address) of the client underneath. */
  get id(): string {
    return this.client.id;
  }

  /** Submits a task of this tenant (`spec.tenant` defaults to it). */
  submitTask(spec: TenantTaskSpec): TaskHandle {
    return this.client.submitTask(spec);
  }

  /** Submits tasks of this tenant in one log entry: admitted all or none (quota, rate). */
  submitTasks(specs: readonly TenantTaskSpec[]): TaskHandle[] {
    return this.client.submitTasks(specs);
  }

  /** Cancels one of this tenant's tasks; another tenant's is refused (`Unauthorized`). */
  cancelTask(taskId: string, reason?: string): Promise<void> {
    return this.client.cancelTask(taskId, reason);
  }

  /** One of this tenant's tasks (linearizable); another tenant's is refused (`Unauthorized`). */
  task(taskId: string): Promise<Readonly<TaskRecord> | undefined> {
    return this.client.task(taskId);
  }

  /** This tenant's tasks in the table, dead letters included, oldest first (at most `limit`, default and cap 1,000). */
  tasks(limit?: number): Promise<{ tasks: TaskRecord[]; more: boolean }> {
    return this.client.query('tenantTasks', limit === undefined ? { tenant: this.tenant } : { tenant: this.tenant, limit });
  }

  /**
   * This tenant's metrics (linearizable): tasks submitted, completed,
   * failed, cancelled, requests rejected by reason, queue wait and run time
   * histograms, what its tasks hold and store, its dominant share.
   */
  async metrics(): Promise<TenantStats> {
    const stats = await this.client.query('tenantStats', { tenant: this.tenant });
    if (stats === null) throw new RangeError(`tenant '${this.tenant}' is not registered`);
    return stats;
  }

  /**
   * {@link TenantClient.metrics} as an Observable: a snapshot now, then one
   * every `pollMs` (default 1,000) of the cluster's time, until unsubscribed.
   * Errors with the read's error when no node answers in time.
   */
  metrics$(options: { pollMs?: number } = {}): Observable<TenantStats> {
    const pollMs = options.pollMs ?? 1_000;
    if (!(pollMs > 0)) throw new RangeError(`metrics$: pollMs must be > 0, got ${pollMs}`);
    return new Observable<TenantStats>((sub) => {
      let stopped = false;
      let timer: TimerHandle | undefined;
      const poll = async (): Promise<void> => {
        timer = undefined;
        try {
          const stats = await this.metrics();
          if (stopped) return;
          sub.next(stats);
          timer = this.clock.schedule(pollMs, () => void poll());
        } catch (err) {
          if (!stopped) sub.error(err);
        }
      };
      void poll();
      return () => {
        stopped = true;
        if (timer !== undefined) this.clock.cancel(timer);
      };
    });
  }
}
