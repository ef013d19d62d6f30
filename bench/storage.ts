/**
 * The durable log on this machine's disk (LmdbStorage: LMDB through
 * lmdb-js, each sync a committed transaction flushed with fsync before it
 * resolves). Appends of one entry each (a 200-byte command), each followed
 * by a sync, as a node does per proposal or per append it acknowledges:
 *
 * - one sync in flight at a time: every append pays its own flush;
 * - up to 64 syncs in flight: lmdb-js commits the syncs queued while one
 *   flushes as one transaction (group commit), as a busy node's do.
 *
 * Counted: entries durable per wall second, and each sync's latency (from
 * `sync()` to its promise resolving) at p50 and p99. The directory is a
 * fresh one under the OS temp folder.
 *
 * Run: `npx tsx bench/storage.ts`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry } from '../actors/raftTypes.js';
import { LmdbStorage } from '../system/lmdbStorage.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const COMMAND = { op: 'put', key: 'k', value: 'v'.repeat(180) };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Appends `total` entries, one per sync, with at most `inFlight` syncs outstanding. */
export async function benchSyncedAppends(inFlight: number, total = inFlight === 1 ? 2_000 : 20_000): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'grey-bench-lmdb-'));
  const storage = LmdbStorage.open(dir);
  const latencies: number[] = [];
  let outstanding = 0;
  let wake: (() => void) | null = null;
  const t0 = performance.now();
  for (let i = 1; i <= total; i++) {
    const entry: LogEntry = { index: i, term: 1, payload: { kind: 'command', command: COMMAND } };
    storage.append([entry]);
    const start = performance.now();
    outstanding++;
    void storage.sync().then(() => {
      latencies.push(performance.now() - start);
      outstanding--;
      wake?.();
    });
    while (outstanding >= inFlight) await new Promise<void>((resolve) => (wake = resolve));
  }
  while (outstanding > 0) await new Promise<void>((resolve) => (wake = resolve));
  const wall = (performance.now() - t0) / 1000;
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    name: `durable log: synced appends, ${inFlight === 1 ? 'one sync at a time' : `up to ${inFlight} syncs in flight (group commit)`}`,
    value: Math.round(total / wall),
    unit: 'entries/s',
    config: {
      storage: 'LmdbStorage (lmdb-js, fsync per committed transaction)',
      entries: total,
      entryBytes: 'about 200 (msgpack)',
      syncsInFlight: inFlight,
      syncLatencyP50Ms: Number(percentile(latencies, 50).toFixed(3)),
      syncLatencyP99Ms: Number(percentile(latencies, 99).toFixed(3)),
      wallMs: Math.round(wall * 1000),
    },
  };
}

if (isMainModule(import.meta.url)) {
  printResult(await benchSyncedAppends(1));
  printResult(await benchSyncedAppends(64));
}
