import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { quarantine, type HealthState, type QuarantineInput } from '../machines/quarantine.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import { HeartbeatDetector, type FailureDetector, type HeartbeatDetectorInput } from './heartbeatDetector.js';
import { PhiAccrualDetector, type PhiAccrualInput } from './phiAccrualDetector.js';

/** How a node judges its peers. */
export interface PeerHealthOptions {
  /** `phi` (phi accrual, the default) or `heartbeat` (a plain timeout). */
  detector?: 'phi' | 'heartbeat';
  phi?: PhiAccrualInput;
  heartbeat?: HeartbeatDetectorInput;
  /** The quarantine chart's timings (suspect timeout, quarantine, probation). */
  quarantine?: QuarantineInput;
  /** How often the detectors are consulted (ms). */
  checkIntervalMs?: number;
}

/** Defaults for a cluster with 50 ms heartbeats: a silent peer is quarantined in well under a second. */
export const DEFAULT_PEER_HEALTH = {
  phi: { threshold: 8, minStdDeviationMs: 25, firstHeartbeatEstimateMs: 100, acceptableHeartbeatPauseMs: 50 },
  heartbeat: { timeoutMs: 300 },
  quarantine: { suspectTimeoutMs: 200, baseQuarantineMs: 2_000, maxQuarantineMs: 60_000, probationPeriodMs: 500, probationHeartbeats: 3, strikeDecayMs: 60_000 },
  checkIntervalMs: 100,
} as const;

/** A change of one peer's health, as this node sees it. */
export interface HealthChange {
  peer: string;
  from: HealthState;
  to: HealthState;
  reason: string | null;
  at: number;
}

/**
 * Why a peer's health changed, now: the chart keeps the cause of its last
 * suspicion in its context, which explains a move into suspect or
 * quarantine but would be stale for a move out of them.
 */
function reasonOfChange(from: HealthState, to: HealthState, context: { reason: string | null; quarantineMs: number }): string | null {
  if (to === 'suspect' || to === 'quarantined') return context.reason;
  if (to === 'probation') return `quarantine of ${context.quarantineMs} ms served`;
  if (from === 'suspect') return 'heard from again';
  if (from === 'probation') return 'probation passed';
  return 'cleared by an operator';
}

interface Watched {
  detector: FailureDetector;
  chart: Actor<typeof quarantine>;
  state: HealthState;
}

/**
 * One node's LOCAL view of its peers' health (not replicated): a failure
 * detector per peer fed by every message that arrives from it, and a
 * `quarantine` chart per peer holding the verdict (healthy → suspect →
 * quarantined → probation → healthy). Only the peers this node expects to
 * hear from are judged (a leader its members, a follower its leader).
 */
export class PeerHealth {
  /** Inspection of each peer's quarantine chart (null: not inspected). */
  inspect: ((event: InspectionEvent) => void) | null = null;
  private readonly watched = new Map<string, Watched>();
  private readonly options: Required<Pick<PeerHealthOptions, 'detector' | 'checkIntervalMs'>> & PeerHealthOptions;
  private timer: TimerHandle | undefined;
  private readonly listeners: Array<(c: HealthChange) => void> = [];
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    options: PeerHealthOptions = {},
  ) {
    this.options = { detector: options.detector ?? 'phi', checkIntervalMs: options.checkIntervalMs ?? DEFAULT_PEER_HEALTH.checkIntervalMs, ...options };
  }

  /** Subscribes to health changes; returns the unsubscribe function. */
  onChange(listener: (c: HealthChange) => void): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  /** Judges exactly these peers from now on (new ones start healthy, with a fresh detector). */
  expectOnly(peers: readonly string[]): void {
    if (this.stopped) return;
    const keep = new Set(peers);
    for (const [peer, w] of this.watched) {
      if (!keep.has(peer)) {
        w.chart.stop();
        this.watched.delete(peer);
      }
    }
    for (const peer of peers) if (!this.watched.has(peer)) this.watch(peer);
    if (this.watched.size > 0 && this.timer === undefined) this.arm();
  }

  /** A message from `peer` arrived: evidence that it is alive. */
  observe(peer: string): void {
    const w = this.watched.get(peer);
    if (!w) return;
    w.detector.heartbeat(this.clock.now());
    // Only a peer under suspicion or on probation needs to hear about it (cheap otherwise).
    if (w.state === 'suspect' || w.state === 'probation') w.chart.send({ type: 'ALIVE' });
  }

  /** This node's own hard evidence against a peer (a breaker opened on it). */
  reportFailure(peer: string, reason: string): void {
    this.watched.get(peer)?.chart.send({ type: 'FAILURE', reason });
  }

  state(peer: string): HealthState {
    return this.watched.get(peer)?.state ?? 'healthy';
  }

  /** Peers judged quarantined now. */
  quarantined(): string[] {
    return [...this.watched].filter(([, w]) => w.state === 'quarantined').map(([p]) => p);
  }

  /** Every judged peer and its state. */
  snapshot(): Record<string, HealthState> {
    const out: Record<string, HealthState> = {};
    for (const [p, w] of this.watched) out[p] = w.state;
    return out;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    for (const w of this.watched.values()) w.chart.stop();
    this.watched.clear();
  }

  private watch(peer: string): void {
    const now = this.clock.now();
    const o = this.options;
    const detector: FailureDetector =
      o.detector === 'heartbeat'
        ? new HeartbeatDetector({ ...DEFAULT_PEER_HEALTH.heartbeat, ...o.heartbeat }, now)
        : new PhiAccrualDetector({ ...DEFAULT_PEER_HEALTH.phi, ...o.phi });
    // A peer starts with the benefit of the doubt: its first "heartbeat" is now.
    detector.heartbeat(now);
    const chart = createActor(quarantine, { clock: this.clock, id: `health(${peer})`, input: { ...DEFAULT_PEER_HEALTH.quarantine, ...o.quarantine }, ...(this.inspect ? { inspect: this.inspect } : {}) });
    const w: Watched = { detector, chart, state: 'healthy' };
    chart.subscribe((snap) => {
      const to = snap.value as HealthState;
      if (to === w.state) return;
      const change: HealthChange = { peer, from: w.state, to, reason: reasonOfChange(w.state, to, snap.context), at: this.clock.now() };
      w.state = to;
      for (const l of [...this.listeners]) l(change);
    });
    chart.start();
    this.watched.set(peer, w);
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      const now = this.clock.now();
      for (const w of this.watched.values()) {
        if ((w.state === 'healthy' || w.state === 'probation') && !w.detector.isAvailable(now)) {
          const reason = w.detector instanceof PhiAccrualDetector ? `phi ${w.detector.phi(now).toFixed(1)} over threshold` : 'heartbeat timeout';
          w.chart.send({ type: 'SUSPECT', reason });
        }
      }
      if (this.watched.size > 0) this.arm();
    }, this.options.checkIntervalMs);
  }
}
