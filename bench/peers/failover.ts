/**
 * Leader failover as a client sees it: from the leader's SIGKILL to the
 * first write acknowledged by the new leader, trial after trial.
 *
 * A trial: wait until every member is up, all name one leader and each has
 * caught up; wait `settleMs` and a further uniform fraction of a heartbeat
 * (so the kill lands anywhere in the heartbeat cycle); SIGKILL the leader's
 * process group; from that instant, every `probeIntervalMs`, send one
 * write to each surviving member, each write given `probeTimeoutMs`; the
 * sample is the time from the kill to the first write acknowledged. Then
 * the killed member restarts from its data and the next trial waits for it.
 *
 * The probes are the same on both sides: a fresh write to each survivor
 * every few milliseconds, each sent once to the member it names, with no
 * client-side memory of who led (that memory would point at the dead
 * leader and measure the client's recovery, not the cluster's).
 *
 * - etcd: a put through that member's gRPC channel; a follower forwards it
 *   to the leader it knows (before it learns of the new one, to the dead
 *   one, where it is lost; the probe then runs out its deadline).
 * - Grey: a put through a client whose only endpoint is that member (a
 *   pool of them per member, one write at a time each, since a Grey client
 *   remembers the last leader hint). A follower relays it to the leader it
 *   knows, as etcd's do (to the dead one at first: lost, as etcd's), or
 *   answers NotLeader while it knows none, which ends that probe.
 */
import type { RealClient } from '../../system/embeddedNode.js';
import { ETCD_SYNC_METRIC, type EtcdCluster } from './etcd.js';
import { GREY_SYNC_METRIC, type GreyCluster } from './greyCluster.js';
import { exitOf, sleep } from './procs.js';
import { LogTail, etcdRoleEvents, greyRoleEvents, type RoleEvent } from './roleLog.js';
import { parseHistogram, scrape, type Histogram } from './metrics.js';

export interface FailoverOptions {
  trials: number;
  heartbeatMs: number;
  settleMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** A trial with no acknowledged write within this long counts as failed. */
  giveUpMs: number;
  /**
   * How the leader fails: `SIGKILL` (default: the process ends, its
   * operating system closes its sockets) or `SIGSTOP` (it hangs: its
   * sockets stay open and its peers hear nothing, as in a partition or a
   * long pause). A hung leader is killed after the trial and restarted.
   */
  signal?: 'SIGKILL' | 'SIGSTOP';
  /** Called after each trial (progress). */
  onTrial?: (i: number, sample: FailoverSample) => void;
}

export interface FailoverSample {
  /** Kill → first acknowledged write, ms (NaN: none within `giveUpMs`). */
  ms: number;
  /** Kill → the first survivor's election timeout (it logs pre-candidate or candidate), ms by the wall clock of the logs; NaN when not logged. */
  timeoutMs: number;
  /** Kill → a survivor logs that it leads, ms (wall clock, 1 ms resolution); NaN when not logged. */
  electedMs: number;
  killed: string;
  probes: number;
  /** Probes not sent for want of an idle probe client. */
  skipped: number;
}

/** What the trial loop needs of a cluster. */
export interface FailoverTarget {
  readonly ids: readonly string[];
  /** Resolves with the leader once all members are up, agree and have caught up. */
  waitConverged(): Promise<string>;
  leader(): Promise<string | undefined>;
  /** Gets ready to probe these members (connections up). */
  prepare(survivors: readonly string[]): Promise<void>;
  killNow(id: string, signal?: 'SIGKILL' | 'SIGSTOP'): void;
  /** Waits for the killed member's process to exit, then starts it again from its data. */
  restart(id: string): Promise<void>;
  /** One write sent to `member`; resolves once acknowledged, rejects otherwise. Null: no idle client to send it with. */
  probe(member: string, value: number): Promise<void> | null;
  /** The role changes member `id` logged since the last call. */
  roleEvents(id: string): RoleEvent[];
  /** Member `id`'s Prometheus metrics ('' when it does not answer). */
  metrics(id: string): Promise<string>;
  /** The histogram of its disk syncs in those metrics. */
  readonly syncMetric: string;
}

export interface FailoverResult {
  samples: FailoverSample[];
  /** Disk syncs over the run, as the members report them (each incarnation scraped before it is killed, and all at the end). */
  syncs: Histogram;
}

/** Role events from each member's log file, read incrementally. */
function roleReader(files: (id: string) => string, parse: (lines: readonly string[]) => RoleEvent[]): (id: string) => RoleEvent[] {
  const tails = new Map<string, LogTail>();
  return (id) => {
    let t = tails.get(id);
    if (!t) tails.set(id, (t = new LogTail(files(id))));
    return parse(t.lines());
  };
}

export async function runFailover(target: FailoverTarget, o: FailoverOptions): Promise<FailoverResult> {
  const samples: FailoverSample[] = [];
  const scrapes: string[] = [];
  for (let trial = 0; trial < o.trials; trial++) {
    let leader = await target.waitConverged();
    await sleep(o.settleMs + Math.random() * o.heartbeatMs);
    const now = await target.leader();
    if (now !== leader) {
      trial--; // leadership moved on its own while settling: start the trial again
      continue;
    }
    leader = now;
    const survivors = target.ids.filter((id) => id !== leader);
    await target.prepare(survivors);
    for (const id of target.ids) target.roleEvents(id); // what was logged before this trial
    scrapes.push(await target.metrics(leader)); // its counters die with it

    const killAt = performance.now();
    const killWall = Date.now();
    target.killNow(leader, o.signal ?? 'SIGKILL');
    let ackMs = Number.NaN;
    let probes = 0;
    let skipped = 0;
    const outstanding = new Set<Promise<void>>();
    while (Number.isNaN(ackMs) && performance.now() - killAt < o.giveUpMs) {
      for (const member of survivors) {
        const p = target.probe(member, trial);
        if (p === null) {
          skipped++;
          continue;
        }
        probes++;
        const tracked: Promise<void> = p.then(
          () => {
            if (Number.isNaN(ackMs)) ackMs = performance.now() - killAt;
          },
          () => {},
        ).finally(() => outstanding.delete(tracked));
        outstanding.add(tracked);
      }
      await sleep(o.probeIntervalMs);
    }
    await Promise.all(outstanding);
    const events = survivors.flatMap((id) => target.roleEvents(id)).filter((e) => e.at >= killWall);
    const first = (roles: string[]) => Math.min(...events.filter((e) => roles.includes(e.role)).map((e) => e.at - killWall));
    const timeoutMs = first(['precandidate', 'candidate']);
    const electedMs = first(['leader']);
    const sample = { ms: ackMs, timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : Number.NaN, electedMs: Number.isFinite(electedMs) ? electedMs : Number.NaN, killed: leader, probes, skipped };
    samples.push(sample);
    o.onTrial?.(trial, sample);
    if (o.signal === 'SIGSTOP') target.killNow(leader, 'SIGKILL');
    await target.restart(leader);
  }
  await target.waitConverged();
  for (const id of target.ids) scrapes.push(await target.metrics(id));
  return { samples, syncs: parseHistogram(scrapes, target.syncMetric) };
}

/** Grey as a failover target: a pool of single-endpoint probe clients per node. */
export async function greyFailoverTarget(cluster: GreyCluster, probeTimeoutMs: number, poolSize: number): Promise<FailoverTarget & { close(): Promise<void> }> {
  const pools = new Map<string, Array<{ client: RealClient; busy: boolean }>>();
  for (const id of cluster.ids) {
    const pool: Array<{ client: RealClient; busy: boolean }> = [];
    for (let k = 0; k < poolSize; k++) {
      // One endpoint: a NotLeader answer ends the probe (the hint names a node this client cannot reach).
      const client = await cluster.client(`probe-${id}-${k}`, { timeoutMs: probeTimeoutMs, attemptTimeoutMs: probeTimeoutMs, retryMs: 1 }, [id]);
      pool.push({ client, busy: false });
    }
    pools.set(id, pool);
  }
  return {
    ids: cluster.ids,
    waitConverged: () => cluster.waitConverged(),
    leader: () => cluster.leader(),
    prepare: async (survivors) => {
      // Each probe client's TLS connection up (a status request is answered at once and leaves no leader guess behind).
      await Promise.all(survivors.flatMap((s) => pools.get(s)!.map((p) => p.client.nodeStatus(s).catch(() => null))));
    },
    killNow: (id, signal) => cluster.killNow(id, signal),
    restart: async (id) => {
      const child = cluster.process(id);
      if (child) await exitOf(child);
      cluster.startNode(id);
    },
    probe: (member, value) => {
      const slot = pools.get(member)!.find((p) => !p.busy);
      if (!slot) return null;
      slot.busy = true;
      return slot.client.put('failover', value).then(
        () => {
          slot.busy = false;
        },
        (err: unknown) => {
          slot.busy = false;
          throw err;
        },
      );
    },
    roleEvents: roleReader((id) => cluster.logFile(id), greyRoleEvents),
    metrics: (id) => scrape(cluster.metricsUrl(id)),
    syncMetric: GREY_SYNC_METRIC,
    close: async () => {
      await Promise.all([...pools.values()].flat().map((p) => p.client.close()));
    },
  };
}

/** etcd as a failover target: each member's own gRPC client, a deadline per probe. */
export function etcdFailoverTarget(cluster: EtcdCluster, probeTimeoutMs: number): FailoverTarget {
  return {
    ids: cluster.ids,
    waitConverged: () => cluster.waitConverged(),
    leader: () => cluster.leader(),
    prepare: async (survivors) => {
      await Promise.all(survivors.map((s) => cluster.status(s)));
    },
    killNow: (id, signal) => cluster.killNow(id, signal),
    restart: async (id) => {
      await cluster.kill(id); // waits for the exit
      cluster.startMember(id);
    },
    probe: (member, value) =>
      cluster
        .client(member)
        .put('failover')
        .value(String(value))
        .options({ deadline: Date.now() + probeTimeoutMs })
        .exec()
        .then(() => undefined),
    roleEvents: roleReader((id) => cluster.logFile(id), etcdRoleEvents),
    metrics: (id) => scrape(cluster.metricsUrl(id)),
    syncMetric: ETCD_SYNC_METRIC,
  };
}
