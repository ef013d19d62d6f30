/**
 * A 3-member etcd cluster (Debian's `etcd-server`) on loopback, each
 * member with its data (WAL and bbolt) in a fresh folder. etcd fsyncs its
 * WAL before a member acknowledges an append, as Grey does its log.
 * Clients and peers speak plain HTTP/2 (no TLS: Grey cannot turn its TLS
 * off, so this favours etcd). PreVote is on, as in etcd 3.5 and later and
 * as Grey runs it, so a restarted member does not disrupt the leader.
 *
 * Clients are the `etcd3` package over gRPC (etcd's own protocol; the JSON
 * gateway would add a translation layer to every call), one per member
 * (`hosts` with that member alone), with the package's retry and
 * circuit-breaker policies off: a call goes to the member it names, once.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { freePorts, killGroup, spawnGroup, stopGroup, waitFor } from './procs.js';

export const ETCD_IDS = ['e1', 'e2', 'e3'] as const;
/** A member's WAL fsyncs (what an append waits for before it is acknowledged), in its /metrics. */
export const ETCD_SYNC_METRIC = 'etcd_disk_wal_fsync_duration_seconds';

export interface EtcdClusterOptions {
  root: string;
  heartbeatMs: number;
  electionTimeoutMs: number;
  bin?: string;
}

interface MemberStatus {
  memberId: string;
  leader: string;
  raftIndex: number;
  appliedIndex: number;
  term: number;
}

export class EtcdCluster {
  readonly ids = [...ETCD_IDS];
  readonly clientUrls: Record<string, string> = {};
  readonly peerUrls: Record<string, string> = {};
  private readonly procs = new Map<string, ChildProcess>();
  private readonly clients = new Map<string, Etcd3>();
  private readonly extra = new Set<Etcd3>();
  /** Member id (hex, as status reports it) → name. */
  private readonly names = new Map<string, string>();
  version = '?';

  private constructor(private readonly options: EtcdClusterOptions) {}

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const c = new EtcdCluster(options);
    const ports = await freePorts(2 * ETCD_IDS.length);
    ETCD_IDS.forEach((id, i) => {
      c.clientUrls[id] = `http://127.0.0.1:${ports[i]}`;
      c.peerUrls[id] = `http://127.0.0.1:${ports[ETCD_IDS.length + i]}`;
    });
    mkdirSync(join(options.root, 'logs'), { recursive: true });
    for (const id of ETCD_IDS) c.startMember(id);
    for (const id of ETCD_IDS) c.clients.set(id, c.newClient([id]));
    await c.waitForLeader(60_000);
    for (const id of ETCD_IDS) {
      const s = await c.status(id);
      if (s) c.names.set(s.memberId, id);
    }
    const one = await c.clients.get(ETCD_IDS[0])!.maintenance.status();
    c.version = one.version;
    return c;
  }

  private newClient(members: readonly string[]): Etcd3 {
    return new Etcd3({
      hosts: members.map((m) => this.clientUrls[m]),
      faultHandling: { host: () => noop, global: noop },
      dialTimeout: 2_000,
      // Reconnect to a restarted member within tens of ms (gRPC's default backoff starts at 1 s).
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 200 },
    });
  }

  /** A new client of the given members (closed by {@link stop}), without retries or circuit breaking. */
  makeClient(members: readonly string[]): Etcd3 {
    const client = this.newClient(members);
    this.extra.add(client);
    return client;
  }

  /** The client of member `id` alone (its gRPC channel is shared by every call through it). */
  client(id: string): Etcd3 {
    return this.clients.get(id)!;
  }

  /** Starts (or restarts, from its data) member `id`. */
  startMember(id: string): ChildProcess {
    const o = this.options;
    const dataDir = join(o.root, 'data', id);
    const args = [
      '--name', id, '--data-dir', dataDir,
      '--listen-client-urls', this.clientUrls[id], '--advertise-client-urls', this.clientUrls[id],
      '--listen-peer-urls', this.peerUrls[id], '--initial-advertise-peer-urls', this.peerUrls[id],
      '--initial-cluster', this.ids.map((m) => `${m}=${this.peerUrls[m]}`).join(','),
      '--initial-cluster-state', 'new', '--initial-cluster-token', 'grey-bench',
      '--heartbeat-interval', String(o.heartbeatMs), '--election-timeout', String(o.electionTimeoutMs),
      // info: etcd logs each role change ("became leader at term 7"), which the failover benchmark reads.
      '--pre-vote=true', '--logger', 'zap', '--log-level', 'info',
    ];
    const log = openSync(this.logFile(id), 'a');
    const child = spawnGroup(o.bin ?? 'etcd', args, { stdio: ['ignore', log, log], cwd: o.root });
    closeSync(log);
    this.procs.set(id, child);
    return child;
  }

  /** Where member `id` serves its Prometheus metrics (on its client URL). */
  metricsUrl(id: string): string {
    return `${this.clientUrls[id]}/metrics`;
  }

  /** Member `id`'s log (zap JSON lines, across restarts). */
  logFile(id: string): string {
    return join(this.options.root, 'logs', `${id}.log`);
  }

  /** SIGKILLs member `id`'s process group, without waiting; `SIGSTOP` hangs it instead (its sockets stay open). */
  killNow(id: string, signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): void {
    const child = this.procs.get(id);
    if (child?.pid !== undefined) process.kill(-child.pid, signal);
  }

  async kill(id: string): Promise<void> {
    const child = this.procs.get(id);
    if (child) await killGroup(child);
  }

  async status(id: string): Promise<MemberStatus | null> {
    try {
      const s = await this.clients.get(id)!.maintenance.status({ deadline: Date.now() + 500 });
      return { memberId: s.header.member_id, leader: s.leader, raftIndex: Number(s.raftIndex), appliedIndex: Number(s.raftAppliedIndex ?? s.raftIndex), term: Number(s.raftTerm) };
    } catch {
      return null;
    }
  }

  /** The name of the member that leads, by its own word. */
  async leader(): Promise<string | undefined> {
    const all = await Promise.all(this.ids.map(async (id) => [id, await this.status(id)] as const));
    for (const [id, s] of all) if (s && s.leader !== '0' && s.leader === s.memberId) return id;
    return undefined;
  }

  async waitForLeader(withinMs = 20_000): Promise<string> {
    return waitFor(() => this.leader(), 'an etcd leader', withinMs, 50);
  }

  /** Waits until every member answers, all name one leader, and each has applied what the leader had committed when asked. */
  async waitConverged(withinMs = 30_000): Promise<string> {
    let target = -1;
    return waitFor(
      async () => {
        const all = await Promise.all(this.ids.map(async (id) => [id, await this.status(id)] as const));
        const leaderRow = all.find(([, s]) => s && s.leader !== '0' && s.leader === s.memberId);
        if (!leaderRow) return undefined;
        const [leader, ls] = leaderRow;
        if (target < 0) target = ls!.raftIndex;
        return all.every(([, s]) => s && s.leader === ls!.memberId && s.appliedIndex >= target) ? leader : undefined;
      },
      'the etcd members to agree on a leader and catch up',
      withinMs,
      25,
    );
  }

  async stop(graceMs = 5_000): Promise<void> {
    for (const c of [...this.clients.values(), ...this.extra]) c.close();
    this.clients.clear();
    this.extra.clear();
    await Promise.all([...this.procs.values()].map((c) => stopGroup(c, graceMs)));
  }
}
