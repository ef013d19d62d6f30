/**
 * `grey simulate --workload kv`: concurrent clients, several requests in
 * flight each, on a few keys under faults; the history they observe must be
 * linearizable, and a planted bug must be caught.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RaftNode } from '../actors/raftNode.js';
import { main } from '../system/cli.js';
import { runSimulation, seedFailed, type SimulationOptions } from '../system/simulation.js';
import { whyFailed } from '../system/simulateCommand.js';

const KV: Omit<SimulationOptions, 'seed'> = { nodes: 5, durationMs: 20_000, faults: ['partition', 'minority'], latency: [5, 15], electionTimeout: [150, 300], rate: 200, workload: 'kv' };

afterEach(() => vi.restoreAllMocks());

describe('the kv workload', () => {
  it('under partitions, puts, reads, deletes and cas from five clients with three requests in flight each form a linearizable history', async () => {
    const r = await runSimulation({ ...KV, seed: 2 });
    expect(seedFailed(r), whyFailed(r)).toBe(false);
    expect(r.history!.operations).toBeGreaterThan(1_000);
    expect(r.history!.keys).toBe(5);
    expect(r.history!.unknown).toBeGreaterThan(0); // timeouts under partition: operations of unknown outcome were checked too
    expect(r.history!.result).toMatchObject({ ok: true });
  });

  it('a planted bug (every node answers reads from its own state, no ReadIndex round) fails the seed with a witness of stale reads', async () => {
    const proto = RaftNode.prototype as unknown as { readIndex: RaftNode['readIndex']; lastApplied: number };
    vi.spyOn(proto, 'readIndex').mockImplementation(function (this: RaftNode, done) {
      done(null, this.lastApplied);
    });
    const r = await runSimulation({ ...KV, seed: 2 });
    expect(seedFailed(r)).toBe(true);
    const h = r.history!.result;
    if (h.ok || h.kind !== 'violation') throw new Error(`expected a violation, got ${JSON.stringify(h)}`);
    expect(whyFailed(r)).toMatch(/^the clients' history is not linearizable: key 'x\d'/);
    expect(h.witness).toMatch(/read\(x\d\) → \{"found":true/);
  });

  it('a search budget too small to decide fails the seed; it never passes it', async () => {
    const r = await runSimulation({ ...KV, seed: 2, durationMs: 5_000, checkBudget: 10 });
    expect(seedFailed(r)).toBe(true);
    expect(whyFailed(r)).toMatch(/the linearizability check did not finish: .*budget of 10 steps/);
  });

  it('grey simulate --workload kv reports the histories it checked', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => {} };
    expect(await main(['simulate', '--seeds', '1-2', '--duration', '3s', '--workload', 'kv', '--faults', 'crash,partition'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/^linearizable\s+2 of 2 histories \(\d+ operations, \d+ with unknown outcome; checked at \d+ ops\/s, slowest \d+ ms\)$/m);
    expect(await main(['simulate', '--workload', 'bank'], { out: () => {}, err: () => {} })).toBe(2);
  });
});
