/**
 * Three Grey nodes as processes, as `grey cluster up` and the processes
 * test start them: `grey node` over mutual TLS on loopback, each with its
 * log in LMDB (every vote, append and acknowledgement waits for its fsync),
 * a handlers module with a no-op task, and an ops endpoint (`--ops`) for
 * `/metrics`. The CLI runs compiled (`.bench-build/system/cli.js`) when
 * this file is compiled, else `system/cli.ts` through tsx.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClusterCa, issueCertificate, type ClusterCa, type TlsIdentity } from '../../system/certificates.js';
import { connect, type ConnectOptions, type RealClient } from '../../system/embeddedNode.js';
import { freePorts, killGroup, spawnGroup, stopGroup, waitFor } from './procs.js';

export const GREY_IDS = ['n1', 'n2', 'n3'] as const;
/** A node's disk syncs (LMDB commit until flushed), in its /metrics. */
export const GREY_SYNC_METRIC = 'grey_storage_sync_duration_seconds';

export interface GreyClusterOptions {
  /** A folder of its own (certificates, data, logs, the handlers module). */
  root: string;
  heartbeatMs: number;
  electionTimeoutMs: readonly [number, number];
  /** Extra arguments for node itself (e.g. `--cpu-prof`), before the CLI. */
  nodeArgs?: readonly string[];
}

/** How to start the CLI: compiled next to this file, or the TypeScript through tsx. */
function cliInvocation(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../../system/cli.ts', import.meta.url))];
  return [fileURLToPath(new URL('../../system/cli.js', import.meta.url))];
}

/** Whether the Grey nodes run compiled JavaScript (the fair way) or through tsx. */
export function greyRunsCompiled(): boolean {
  return !fileURLToPath(import.meta.url).endsWith('.ts');
}

export class GreyCluster {
  readonly ids = [...GREY_IDS];
  readonly peers: Record<string, string> = {};
  readonly opsPorts: Record<string, number> = {};
  private readonly procs = new Map<string, ChildProcess>();
  private readonly identities = new Map<string, TlsIdentity>();
  private readonly clients = new Set<RealClient>();
  private admin!: RealClient;

  private constructor(
    private readonly options: GreyClusterOptions,
    private readonly ca: ClusterCa,
  ) {}

  /** Makes the certificates and starts the three nodes; resolves once one leads. */
  static async start(options: GreyClusterOptions): Promise<GreyCluster> {
    const ca = await createClusterCa('Grey bench CA');
    const c = new GreyCluster(options, ca);
    const ports = await freePorts(2 * GREY_IDS.length);
    GREY_IDS.forEach((id, i) => {
      c.peers[id] = `127.0.0.1:${ports[i]}`;
      c.opsPorts[id] = ports[GREY_IDS.length + i];
    });
    for (const id of GREY_IDS) {
      const node = await issueCertificate(ca, 'node', id);
      const dir = join(options.root, 'tls', id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'ca.pem'), node.ca);
      writeFileSync(join(dir, 'cert.pem'), node.cert);
      writeFileSync(join(dir, 'key.pem'), node.key, { mode: 0o600 });
    }
    mkdirSync(join(options.root, 'logs'), { recursive: true });
    writeFileSync(join(options.root, 'handlers.mjs'), 'export function noop() {\n  return null;\n}\n');
    c.admin = c.track(connect({ endpoints: c.peers, tls: await c.identity('operator', 'admin'), timeoutMs: 2_000, attemptTimeoutMs: 300 }));
    for (const id of GREY_IDS) c.startNode(id);
    await c.waitForLeader(60_000);
    return c;
  }

  /** A certificate for a client (`client` role) or operator, issued once per name. */
  async identity(role: 'client' | 'operator', name: string): Promise<TlsIdentity> {
    let id = this.identities.get(name);
    if (!id) this.identities.set(name, (id = await issueCertificate(this.ca, role, name)));
    return id;
  }

  /** A client of the whole cluster (it finds the leader), with the given options. */
  async client(name: string, options: Omit<ConnectOptions, 'endpoints' | 'tls' | 'network'> = {}, endpoints: readonly string[] = this.ids): Promise<RealClient> {
    const tls = await this.identity('client', name);
    return this.track(connect({ ...options, endpoints: Object.fromEntries(endpoints.map((e) => [e, this.peers[e]])), tls }));
  }

  private track(c: RealClient): RealClient {
    this.clients.add(c);
    return c;
  }

  /** Starts (or restarts, from its data) node `id`. */
  startNode(id: string): ChildProcess {
    const o = this.options;
    const peers = Object.entries(this.peers).map(([k, v]) => `${k}=${v}`).join(',');
    const args = [
      ...(o.nodeArgs ?? []),
      ...cliInvocation(),
      'node', '--id', id, '--listen', this.peers[id], '--peers', peers,
      '--data', join(o.root, 'data', id), '--tls', join(o.root, 'tls', id), '--handlers', join(o.root, 'handlers.mjs'),
      '--heartbeat', String(o.heartbeatMs), '--election-timeout', `${o.electionTimeoutMs[0]}-${o.electionTimeoutMs[1]}`,
      // info: a line per role change (and at start), which the failover benchmark reads.
      '--ops', `127.0.0.1:${this.opsPorts[id]}`, '--log-level', 'info',
    ];
    const log = openSync(this.logFile(id), 'a');
    const child = spawnGroup(process.execPath, args, { stdio: ['ignore', log, log], cwd: o.root });
    closeSync(log);
    this.procs.set(id, child);
    return child;
  }

  /** Node `id`'s log (JSON lines, stdout and stderr, across restarts). */
  logFile(id: string): string {
    return join(this.options.root, 'logs', `${id}.log`);
  }

  /** The process of node `id`. */
  process(id: string): ChildProcess | undefined {
    return this.procs.get(id);
  }

  /** SIGKILLs node `id`'s process (its group), without waiting; `SIGSTOP` hangs it instead (its sockets stay open). */
  killNow(id: string, signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): void {
    const child = this.procs.get(id);
    if (child?.pid !== undefined) process.kill(-child.pid, signal);
  }

  /** SIGKILLs node `id` and waits for it to exit. */
  async kill(id: string): Promise<void> {
    const child = this.procs.get(id);
    if (child) await killGroup(child);
  }

  /** What each node says of itself (role, term, leader, commit and applied), or null when it does not answer. */
  async statuses(): Promise<Record<string, { role: string; term: number; leader: string | null; commitIndex: number; lastApplied: number } | null>> {
    const out: Record<string, { role: string; term: number; leader: string | null; commitIndex: number; lastApplied: number } | null> = {};
    await Promise.all(this.ids.map(async (id) => (out[id] = await this.admin.nodeStatus(id).catch(() => null))));
    return out;
  }

  /** The node that says it leads, if one does. */
  async leader(): Promise<string | undefined> {
    const s = await this.statuses();
    return this.ids.find((id) => s[id]?.role === 'leader');
  }

  async waitForLeader(withinMs = 20_000): Promise<string> {
    return waitFor(() => this.leader(), 'a Grey leader', withinMs, 50);
  }

  /** Waits until every node is up, all agree on one leader, and each has applied what the leader had committed when asked. */
  async waitConverged(withinMs = 30_000): Promise<string> {
    let target = -1;
    return waitFor(
      async () => {
        const s = await this.statuses();
        const leader = this.ids.find((id) => s[id]?.role === 'leader');
        if (!leader) return undefined;
        if (target < 0) target = s[leader]!.commitIndex;
        return this.ids.every((id) => s[id] && s[id]!.leader === leader && s[id]!.lastApplied >= target) ? leader : undefined;
      },
      'the Grey nodes to agree on a leader and catch up',
      withinMs,
      25,
    );
  }

  /** Where node `id` serves its Prometheus metrics. */
  metricsUrl(id: string): string {
    return `http://127.0.0.1:${this.opsPorts[id]}/metrics`;
  }

  /** Tasks by status on node `id`, from its `/metrics` (the `grey_tasks` gauge). */
  async taskCounts(id: string): Promise<Record<string, number>> {
    const res = await fetch(this.metricsUrl(id));
    const text = await res.text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^grey_tasks\{[^}]*status="(\w+)"[^}]*\} (\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  }

  /** Stops the nodes (SIGTERM: a node hands leadership over and stops; SIGKILL after `graceMs`) and closes the clients. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all([...this.clients].map((c) => c.close().catch(() => {})));
    this.clients.clear();
    await Promise.all([...this.procs.values()].map((c) => stopGroup(c, graceMs)));
  }
}
