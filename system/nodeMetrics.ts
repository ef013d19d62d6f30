import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterNode } from '../actors/clusterNode.js';
import { TASK_STATUSES } from '../machines/taskLifecycle.js';
import { registerTenantMetrics } from './tenantMetrics.js';

/** The transport counters a node's metrics read (TlsNetwork and LocalNetwork keep them). */
export interface TransportStats {
  sent: number;
  delivered: number;
  dropped: number;
  connects?: number;
  refused?: number;
  /** Links whose circuit breaker is open (TlsNetwork). */
  linksOpen?: number;
}


/** A Counter that reports a monotonic number read at scrape time. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}

/**
 * A node's Prometheus metrics, in a registry of its own (several nodes in
 * one process do not collide): `grey_` names, base units (seconds, bytes),
 * labels from fixed sets only (task status), and per tenant (capped: see
 * `registerTenantMetrics`). Read at scrape time from the
 * node itself; the one thing measured as it happens is each storage sync.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  /** Seconds from a sync's start to its promise resolving: the fsync'd commit. */
  readonly syncSeconds: Histogram;

  /**
   * @param options.maxTenantLabels tenants given a `tenant` label value of
   *   their own (default 50, in registration order); the rest are `other`.
   */
  constructor(node: ClusterNode, transport: TransportStats, options: { defaultMetrics?: boolean; maxTenantLabels?: number } = {}) {
    const r = this.registry;
    r.setDefaultLabels({ node: node.id });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
    gauge('grey_raft_term', 'The current Raft term.', () => node.raft.status().term);
    gauge('grey_raft_commit_index', 'The highest log index known committed.', () => node.raft.status().commitIndex);
    gauge('grey_raft_applied_index', 'The highest log index applied to the state machine.', () => node.raft.status().lastApplied);
    gauge('grey_raft_last_index', 'The last index of the log.', () => node.raft.status().lastIndex);
    gauge('grey_raft_is_leader', '1 when this node leads, else 0.', () => (node.raft.isLeader ? 1 : 0));
    gauge('grey_raft_voters', 'Voters in the configuration.', () => node.raft.config.voters.length);
    gauge('grey_transport_links_open', 'Links to peers whose circuit breaker is open (dials failing; messages dropped at once).', () => transport.linksOpen ?? 0);
    new Gauge({
      name: 'grey_tasks',
      help: 'Tasks in the replicated table, by status.',
      labelNames: ['status'],
      registers: [r],
      collect() {
        const counts = new Map<string, number>(TASK_STATUSES.map((s) => [s, 0]));
        for (const t of node.state.tasks()) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    mirroredCounter(r, 'grey_transport_messages_sent_total', 'Messages this node sent.', () => transport.sent);
    mirroredCounter(r, 'grey_transport_messages_received_total', 'Messages delivered to this node.', () => transport.delivered);
    mirroredCounter(r, 'grey_transport_messages_dropped_total', 'Messages dropped (queue or buffer full, no receiver).', () => transport.dropped);
    mirroredCounter(r, 'grey_transport_connections_total', 'Authenticated connections made or accepted.', () => transport.connects ?? 0);
    mirroredCounter(r, 'grey_transport_refused_total', 'Connections refused (certificate, name, protocol).', () => transport.refused ?? 0);
    this.syncSeconds = new Histogram({
      name: 'grey_storage_sync_duration_seconds',
      help: 'Time from a storage sync to its data being on disk.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [r],
    });
    registerTenantMetrics(r, () => node.state, options.maxTenantLabels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: r, prefix: 'grey_' });
  }

  /** The exposition text (Prometheus format). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
