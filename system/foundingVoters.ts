import type { RaftConfig } from '../actors/raftTypes.js';
import type { FoundingRecord, LmdbStorage } from './lmdbStorage.js';

/**
 * A restart named other founding voters than the data directory's first
 * start recorded. Raft takes a node's founding voters from its start, not
 * from its log, so accepting them would change the voter set outside the
 * log: three nodes restarted with five peers would each count five voters
 * that the others never agreed to.
 */
export class FoundingVotersError extends Error {
  readonly code = 'FoundingVoters';
  constructor(
    /** The data directory. */
    readonly dataDir: string,
    /** The founding voters its first start recorded. */
    readonly recorded: readonly string[],
    /** The founding voters this start named (its `peers`). */
    readonly given: readonly string[],
  ) {
    super(
      `${dataDir} belongs to a node founded with voters ${recorded.join(', ')}, but peers now name ${given.join(', ')}. ` +
        "A node's founding voters are fixed at its first start: start it with the same peers, and change the voters through the log ('grey member add', 'grey member remove')",
    );
    this.name = 'FoundingVotersError';
  }
}

/**
 * The configuration a real node starts from, kept durable beside its log
 * (as etcd refuses a member whose data directory was bootstrapped with
 * another cluster). The first start records how the node came in: as one
 * of `voters`, or by joining. Every later start uses that record, whatever
 * its options say; a start that names other founding voters is refused
 * with a {@link FoundingVotersError}. A directory where the node never
 * wrote anything (its first start failed) takes the new options.
 *
 * @returns the founding configuration, or undefined for a node that joined
 * (it learns its configuration from the leader's log).
 */
export function foundingConfig(storage: LmdbStorage, start: FoundingRecord): RaftConfig | undefined {
  let record = storage.founding();
  if (record === null || storage.isBlank()) {
    record = 'voters' in start ? { voters: [...start.voters].sort() } : { joined: true };
    storage.recordFounding(record);
  } else if ('voters' in record && 'voters' in start && !sameMembers(record.voters, start.voters)) {
    throw new FoundingVotersError(storage.path, record.voters, [...start.voters].sort());
  }
  return 'voters' in record ? { voters: [...record.voters], learners: [] } : undefined;
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((x) => set.has(x));
}
