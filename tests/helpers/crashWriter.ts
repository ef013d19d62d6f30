/**
 * The child of the crash test: writes a Raft log through LmdbStorage as
 * fast as it can, with several syncs in flight (group commit), and prints
 * `ack <index> <term>` once a sync covering entries up to `index` (and hard
 * state term `term`) has resolved. It never stops on its own: the test
 * kills it with SIGKILL mid-write, then checks the data directory.
 *
 * Usage: node --import tsx tests/helpers/crashWriter.ts <dir>
 */
import { LmdbStorage } from '../../system/lmdbStorage.js';
import type { LogEntry } from '../../actors/raftTypes.js';

/** The command of entry `index`: the checker recomputes it. */
export function commandOf(index: number): unknown {
  return { op: 'write', n: index, pad: 'x'.repeat(64 + (index % 64)) };
}

async function main(dir: string): Promise<void> {
  const storage = LmdbStorage.open(dir);
  const durable = storage.load();
  let last = durable.entries.length > 0 ? durable.entries[durable.entries.length - 1].index : (durable.snapshot?.index ?? 0);
  let term = Math.max(durable.hardState.term, 1);
  let snapshotAt = durable.snapshot?.index ?? 0;
  // The term of each entry after the last snapshot: a snapshot names the
  // term of the entry it ends at, as a node's own does. (Naming the current
  // term instead made the storage, rightly, drop a tail it could not match.)
  const termOf = new Map<number, number>();
  for (const e of durable.entries) termOf.set(e.index, e.term);
  const MAX_IN_FLIGHT = 8;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  for (let round = 0; ; round++) {
    if (round % 40 === 0) {
      term++;
      storage.setHardState({ term, votedFor: 'n1' });
    }
    const n = 1 + (round % 17);
    const entries: LogEntry[] = Array.from({ length: n }, (_, i) => ({ index: last + 1 + i, term, payload: { kind: 'command', command: commandOf(last + 1 + i) } }));
    storage.append(entries);
    for (const e of entries) termOf.set(e.index, e.term);
    last += n;
    if (last - snapshotAt > 3_000) {
      // Compact as a node does: a snapshot at an entry it holds, in that entry's term, the tail kept.
      const at = last - 100;
      storage.saveSnapshot({ index: at, term: termOf.get(at)!, config: { voters: ['n1'], learners: [] }, data: { upTo: at } });
      for (let i = snapshotAt + 1; i <= at; i++) termOf.delete(i);
      snapshotAt = at;
    }
    const covered = last;
    const coveredTerm = term;
    inFlight++;
    void storage.sync().then(() => {
      process.stdout.write(`ack ${covered} ${coveredTerm}\n`);
      inFlight--;
      wake?.();
    });
    if (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
  }
}

if (process.argv[2]) await main(process.argv[2]);
