import type { ClusterClient } from './client.js';
import type { Cluster } from './cluster.js';
import type { Random } from './random.js';

/**
 * Fault kinds a simulation can inject, after Jepsen's nemeses. The network
 * kinds `loss`, `duplicate` and `reorder` make every link faulty for the
 * whole run; `membership` runs its own schedule of membership changes
 * (remove a voter and add it back as a learner that is then promoted,
 * demote a voter, transfer leadership) alongside the other faults; the
 * others are episodes the nemesis starts and ends, one at a time.
 */
export const FAULT_KINDS = [
  'crash',
  'restart',
  'partition',
  'halves',
  'isolate-leader',
  'ring',
  'minority',
  'unsynced-loss',
  'flaky',
  'loss',
  'duplicate',
  'reorder',
  'membership',
  'clock',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** Parses `crash,restart,partition` into fault kinds, with a clear error for unknown names. */
export function parseFaults(text: string): FaultKind[] {
  if (text.trim() === '' || text === 'none') return [];
  const out: FaultKind[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (!(FAULT_KINDS as readonly string[]).includes(name)) {
      throw new RangeError(`unknown fault '${name}'; known: ${FAULT_KINDS.join(', ')}`);
    }
    out.push(name as FaultKind);
  }
  return out;
}

/** An episode the nemesis runs: how it starts and how it ends. */
interface Episode {
  name: string;
  start(): void;
  stop(): void;
}

/** A schedule of episodes, one at a time, on its own random stream. */
interface Lane {
  rng: Random;
  next(): Episode;
  active: Episode | null;
}

export interface NemesisOptions {
  faults: readonly FaultKind[];
  /** Mean quiet time between episodes (virtual ms). */
  meanGapMs?: number;
  /** Episode length range (virtual ms). */
  minEpisodeMs?: number;
  maxEpisodeMs?: number;
  /** Called when an episode takes the leader away (crash or isolation), for failover timing. */
  onLeaderLoss?: (term: number) => void;
}

/**
 * Injects faults into a cluster on a schedule drawn from the kernel's seeded
 * random stream `nemesis`: quiet, episode, quiet, episode… Episodes never
 * overlap, and each one is undone (heal, restart, restore links) before the
 * next starts, so the cluster always gets a chance to recover.
 */
export class Nemesis {
  private readonly rng: Random;
  private readonly episodes: Array<() => Episode>;
  /** Faults one at a time (crashes, partitions, flaky links)… */
  private readonly faults: Lane;
  /** …and membership changes beside them. */
  private readonly changes: Lane | null;
  private operator: ClusterClient | null = null;
  private readmitArmed = false;
  /** Nodes whose readmission is under way. */
  private readonly readmitting = new Set<string>();
  private stopped = false;
  readonly log: Array<{ t: number; episode: string; phase: 'start' | 'stop' }> = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly options: NemesisOptions,
  ) {
    this.rng = cluster.kernel.random('nemesis');
    const f = new Set(options.faults);
    const e: Array<() => Episode> = [];
    const crashLike = f.has('crash') || f.has('restart');
    if (crashLike) e.push(() => this.crashEpisode(false, 'unsynced'), () => this.crashEpisode(true, 'unsynced'));
    if (f.has('unsynced-loss')) e.push(() => this.crashEpisode(this.rng.chance(0.5), 'random'));
    if (f.has('partition') || f.has('halves')) e.push(() => this.partitionEpisode('halves'));
    if (f.has('partition') || f.has('minority')) e.push(() => this.partitionEpisode('minority'));
    if (f.has('partition') || f.has('isolate-leader')) e.push(() => this.isolateLeaderEpisode());
    if (f.has('partition') || f.has('ring')) e.push(() => this.ringEpisode());
    if (f.has('flaky')) e.push(() => this.flakyEpisode());
    if (f.has('clock')) e.push(() => this.clockEpisode());
    this.episodes = e;
    this.faults = { rng: this.rng, next: () => this.rng.pick(this.episodes)(), active: null };
    this.changes = f.has('membership') ? { rng: cluster.kernel.random('nemesis:membership'), next: () => this.membershipEpisode(), active: null } : null;
  }

  /** Starts the schedule. */
  start(): void {
    if (this.episodes.length > 0) this.runLane(this.faults);
    if (this.changes) this.runLane(this.changes);
  }

  /** Ends the current episodes (healing everything, re-adding removed nodes) and stops scheduling. */
  stop(): void {
    this.stopped = true;
    for (const lane of [this.faults, this.changes]) if (lane?.active) this.endLane(lane);
  }

  /** The operator's client: membership changes go through the log like any command. */
  private op(): ClusterClient {
    return (this.operator ??= this.cluster.client({ id: 'nemesis-operator', timeoutMs: 2_000 }));
  }

  /**
   * One membership change, picked from what the current configuration
   * allows: never below 3 voters, and one removal outstanding at a time.
   */
  private membershipEpisode(): Episode {
    const c = this.cluster;
    const rng = this.changes!.rng;
    const leader = c.leader();
    const voters = leader ? leader.raft.config.voters : [];
    const choices: Array<'remove' | 'demote' | 'transfer'> = ['transfer'];
    const outstanding = leader ? leader.state.members().some((m) => m.status !== 'voter') : true;
    if (voters.length >= 4 && !outstanding) choices.push('remove', 'demote');
    const kind = rng.pick(choices);
    const victim = voters.length > 0 ? rng.pick(voters) : null;
    if (!leader || victim === null) return { name: 'membership idle', start: () => {}, stop: () => {} };
    switch (kind) {
      case 'transfer': {
        const target = rng.pick(voters.filter((v) => v !== leader.id).concat(voters.length === 1 ? [leader.id] : []));
        return {
          name: `transfer leadership to ${target}`,
          start: () => {
            try {
              if (c.isUp(leader.id) && leader.raft.isLeader) leader.raft.transferLeadership(target);
            } catch {
              // Refused (a transfer under way, no longer leader): the episode is a no-op.
            }
          },
          stop: () => {},
        };
      }
      case 'demote':
        return {
          name: `demote ${victim}`,
          start: () => void this.op().submit({ op: 'demote', node: victim }).catch(() => {}),
          stop: () => {}, // a caught-up learner is promoted again by the leader
        };
      case 'remove':
        return {
          name: `remove ${victim}`,
          start: () => {
            this.armReadmit();
            this.op().submit({ op: 'remove', node: victim, reason: 'nemesis' }).catch(() => {});
          },
          stop: () => {}, // the readmission loop brings it back once the episode is over
        };
    }
  }

  /**
   * Brings back every node this nemesis removed: join, approve (a learner),
   * and the leader promotes it once caught up. Level-triggered, every
   * 250 ms from the first removal on, because a removal whose answer timed
   * out may still commit after the episode ended.
   */
  private armReadmit(): void {
    if (this.readmitArmed) return;
    this.readmitArmed = true;
    const c = this.cluster;
    const tick = () => {
      const leader = c.leader();
      for (const m of leader?.state.members() ?? []) {
        const stranded = m.status === 'removed' || m.status === 'pendingApproval'; // a readmission may stop halfway
        if (!stranded || m.context.reason !== 'nemesis' || this.readmitting.has(m.node)) continue;
        if (this.changes?.active?.name === `remove ${m.node}` && !this.stopped) continue; // still in its episode
        this.readmitting.add(m.node);
        const op = this.op();
        const joined = m.status === 'removed' ? op.submit({ op: 'join', node: m.node }) : Promise.resolve();
        joined
          .then(() => op.submit({ op: 'approve', node: m.node }))
          .catch(() => {})
          .finally(() => this.readmitting.delete(m.node));
      }
      c.kernel.schedule(250, tick);
    };
    c.kernel.schedule(0, tick);
  }


  /** Quiet, episode, quiet, episode… on one lane, until the nemesis stops. */
  private runLane(lane: Lane): void {
    const gap = lane.rng.exponential(this.options.meanGapMs ?? 1_500);
    this.cluster.kernel.schedule(gap, () => {
      if (this.stopped) return;
      const episode = lane.next();
      lane.active = episode;
      this.log.push({ t: this.cluster.kernel.now(), episode: episode.name, phase: 'start' });
      episode.start();
      const length = lane.rng.int(this.options.minEpisodeMs ?? 300, this.options.maxEpisodeMs ?? 3_000);
      this.cluster.kernel.schedule(length, () => {
        if (this.stopped || lane.active !== episode) return;
        this.endLane(lane);
        this.runLane(lane);
      });
    });
  }

  private endLane(lane: Lane): void {
    const episode = lane.active!;
    lane.active = null;
    episode.stop();
    this.log.push({ t: this.cluster.kernel.now(), episode: episode.name, phase: 'stop' });
  }

  private leaderLost(): void {
    const l = this.cluster.leader();
    if (l) this.options.onLeaderLoss?.(l.raft.currentTerm);
  }

  private crashEpisode(leader: boolean, loss: 'unsynced' | 'random'): Episode {
    const c = this.cluster;
    let victim: string | null = null;
    return {
      name: `${loss === 'random' ? 'unsynced-loss' : 'crash'}${leader ? ' leader' : ''}`,
      start: () => {
        const up = c.ids.filter((id) => c.isUp(id));
        const l = c.leader();
        victim = leader && l ? l.id : up.length > 0 ? this.rng.pick(up) : null;
        if (victim === null) return;
        if (l && victim === l.id) this.leaderLost();
        c.crash(victim, loss);
      },
      stop: () => {
        if (victim !== null && !c.isUp(victim)) c.restart(victim);
      },
    };
  }

  private partitionEpisode(kind: 'halves' | 'minority'): Episode {
    const c = this.cluster;
    return {
      name: kind,
      start: () => {
        const ids = this.rng.shuffle([...c.ids]);
        const cut = kind === 'halves' ? Math.floor(ids.length / 2) : this.rng.int(1, Math.max(1, Math.floor((ids.length - 1) / 2)));
        const minority = ids.slice(0, cut);
        const majority = ids.slice(cut);
        const l = c.leader();
        if (l && minority.includes(l.id)) this.leaderLost();
        // Clients are on the network too: some end up on the minority side
        // (they can only time out there), some with the majority, and the
        // rest, named in no group, still reach every node.
        for (const client of c.clientIds) {
          const side = this.rng.int(0, 2);
          if (side === 0) minority.push(client);
          else if (side === 1) majority.push(client);
        }
        c.partition([minority, majority]);
      },
      stop: () => c.heal(),
    };
  }

  private isolateLeaderEpisode(): Episode {
    const c = this.cluster;
    return {
      name: 'isolate-leader',
      start: () => {
        const l = c.leader();
        if (!l) return;
        this.leaderLost();
        c.isolate(l.id);
      },
      stop: () => c.heal(),
    };
  }

  /** Majorities ring: each node reaches only its neighbours, so every node sees a different majority. */
  private ringEpisode(): Episode {
    const c = this.cluster;
    return {
      name: 'ring',
      start: () => {
        const ids = this.rng.shuffle([...c.ids]);
        const n = ids.length;
        // Neighbours within k on either side: 2k+1 >= a majority, and no two nodes see the same majority.
        const k = Math.ceil(Math.floor(n / 2) / 2);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const d = Math.min((i - j + n) % n, (j - i + n) % n);
            if (d > k) c.bus.cut(ids[i], ids[j]);
          }
        }
      },
      stop: () => c.heal(),
    };
  }

  /**
   * Skews every node's clock to a new rate within the cluster's drift bound
   * (±1 % when it has none), one fast, another slow; restores them after.
   */
  private clockEpisode(): Episode {
    const c = this.cluster;
    const before = new Map<string, number>();
    return {
      name: 'clock',
      start: () => {
        const bound = c.clockDrift > 0 ? c.clockDrift : 0.01;
        for (const id of c.ids) {
          before.set(id, c.clockRate(id));
          c.setClockRate(id, 1 + (this.rng.float() * 2 - 1) * bound);
        }
      },
      stop: () => {
        for (const [id, rate] of before) c.setClockRate(id, rate);
      },
    };
  }

  private flakyEpisode(): Episode {
    const c = this.cluster;
    const touched: Array<[string, string]> = [];
    return {
      name: 'flaky',
      start: () => {
        const ids = c.ids;
        for (const a of ids) {
          for (const b of ids) {
            if (a !== b && this.rng.chance(0.3)) {
              c.bus.configureLink(a, b, { loss: 0.3, duplicate: 0.1, reorder: 0.2 });
              touched.push([a, b]);
            }
          }
        }
      },
      stop: () => {
        const d = c.bus.defaultLinkConfig;
        for (const [a, b] of touched) c.bus.configureLink(a, b, { loss: d.loss, duplicate: d.duplicate, reorder: d.reorder });
      },
    };
  }
}
