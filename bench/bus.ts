/**
 * Bus benchmark: deliveries per wall second with the network model on.
 *
 * Five nodes exchange messages all-to-all in a closed loop: every delivery
 * makes the receiver send one message to the next peer in turn, and a
 * message the network loses is sent again, so the number of messages in
 * flight stays constant. Latency is 5 ± 2 ms (uniform jitter) and 1 % of
 * messages are lost. Each message carries a payload shaped like a Raft
 * heartbeat, built afresh per send. Time is measured with `performance.now()`
 * around `kernel.advance`, after a warm-up run.
 *
 * Measured twice: with the default codec (every payload encoded to bytes at
 * send and decoded at each delivery, as the bus always runs) and with
 * `codec: null` (payload objects handed over as they are), to show what the
 * wire costs.
 *
 * Run: `npx tsx bench/bus.ts`
 */
import { Bus } from '../system/bus.js';
import type { Codec } from '../system/codec.js';
import type { Envelope } from '../system/envelope.js';
import { Kernel } from '../system/kernel.js';
import type { LinkConfigPatch } from '../system/network.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Parameters of {@link benchBus}. */
export interface BusBenchOptions {
  nodes?: number;
  /** Messages kept in flight across the bus. */
  inFlight?: number;
  /** Virtual ms of warm-up (not measured). */
  warmupMs?: number;
  /** Virtual ms measured. */
  measureMs?: number;
  seed?: number;
  /** The bus codec; `null` hands payload objects over unencoded. Default: the bus default (msgpack). */
  codec?: Codec | null;
}

/** The payload every message carries: the shape of a Raft heartbeat. */
interface Heartbeat {
  term: number;
  leader: string;
  prevIndex: number;
  prevTerm: number;
  entries: unknown[];
  commit: number;
  readRound: number;
}

/** Runs the bus benchmark and returns deliveries per wall second. */
export async function benchBus(options: BusBenchOptions = {}): Promise<BenchResult> {
  const nodeCount = options.nodes ?? 5;
  const inFlight = options.inFlight ?? 1000;
  const warmupMs = options.warmupMs ?? 1000;
  const measureMs = options.measureMs ?? 10_000;
  const seed = options.seed ?? 1;
  const encoded = options.codec !== null;
  const link: LinkConfigPatch = { latency: { base: 5, jitter: 2, distribution: 'uniform' }, loss: 0.01 };

  const kernel = new Kernel({ seed });
  const ids = Array.from({ length: nodeCount }, (_, i) => `n${i}`);
  const bus = new Bus(kernel, { nodes: ids, link, ...(options.codec === undefined ? {} : { codec: options.codec }) });
  const heartbeat = (from: string, n: number): Heartbeat => ({ term: 7, leader: from, prevIndex: 1000 + n, prevTerm: 7, entries: [], commit: 990 + n, readRound: n });

  // Each node answers every delivery with one message to its next peer
  // (round robin over the others); a lost message is sent again.
  ids.forEach((id, i) => {
    let turn = 0;
    bus.inbox<Heartbeat>(id).subscribe((env: Envelope<Heartbeat>) => {
      turn = turn === nodeCount - 2 ? 0 : turn + 1;
      const to = ids[(i + 1 + turn) % nodeCount];
      const payload = heartbeat(id, (env.payload.readRound + 1) & 0xffff);
      while (!bus.send(id, to, 'raft.append', payload).ok);
    });
  });
  for (let m = 0; m < inFlight; m++) {
    const from = m % nodeCount;
    const to = (from + 1 + (m % (nodeCount - 1))) % nodeCount;
    while (!bus.send(ids[from], ids[to], 'raft.append', heartbeat(ids[from], 0)).ok);
  }

  kernel.advance(warmupMs);
  const before = bus.stats();
  const t0 = performance.now();
  kernel.advance(measureMs);
  const wallMs = performance.now() - t0;
  const stats = bus.stats();
  const deliveries = stats.delivered - before.delivered;

  return {
    name: encoded ? 'bus deliveries, payloads encoded (msgpack)' : 'bus deliveries, no codec (objects handed over)',
    value: Math.round(deliveries / (wallMs / 1000)),
    unit: 'deliveries/s',
    target: encoded ? 500_000 : 1_000_000,
    config: {
      nodes: nodeCount,
      traffic: 'all-to-all, closed loop (each delivery sends one message; lost messages are resent)',
      payload: 'a Raft heartbeat { term, leader, prevIndex, prevTerm, entries: [], commit, readRound }',
      codec: encoded ? 'msgpack' : 'none',
      inFlight,
      latency: link.latency,
      loss: link.loss,
      virtualMs: measureMs,
      deliveries,
      bytesPerMessage: encoded ? +((stats.bytes - before.bytes) / (stats.sent - before.sent - (stats.dropped.loss - before.dropped.loss))).toFixed(1) : 0,
      wallMs: Math.round(wallMs),
      lost: stats.dropped.loss,
      seed,
    },
  };
}

if (isMainModule(import.meta.url)) {
  printResult(await benchBus());
  printResult(await benchBus({ codec: null }));
}
