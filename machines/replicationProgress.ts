import { setup } from 'xstate';

/**
 * How a leader replicates to one peer, as etcd's progress tracker does:
 *
 * ```
 *   probe ──ACCEPTED──► replicate         probe: one append at a time, backtracking
 *     ▲  ◄──REJECTED / UNREACHABLE──┘      replicate: stream appends, a window in flight
 *     │                                    snapshot: wait for InstallSnapshot to land
 *     └── SNAPSHOT_DONE / SNAPSHOT_FAILED ── snapshot ◄── NEED_SNAPSHOT (from probe or replicate)
 * ```
 *
 * The chart decides the state; the leader keeps `match`, `next` and the
 * in-flight window as numbers next to it and steps the chart through the
 * table derived from it (one per peer per response is too hot for an actor).
 */
export type ProgressEvent =
  | { type: 'ACCEPTED' }
  | { type: 'REJECTED' }
  | { type: 'UNREACHABLE' }
  | { type: 'NEED_SNAPSHOT' }
  | { type: 'SNAPSHOT_DONE' }
  | { type: 'SNAPSHOT_FAILED' };

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export const replicationProgress = setup({
  types: { events: {} as ProgressEvent },
}).createMachine({
  id: 'replicationProgress',
  initial: 'probe',
  states: {
    probe: {
      on: {
        ACCEPTED: { target: 'replicate' },
        REJECTED: {},
        NEED_SNAPSHOT: { target: 'snapshot' },
      },
    },
    replicate: {
      on: {
        ACCEPTED: {},
        REJECTED: { target: 'probe' },
        UNREACHABLE: { target: 'probe' },
        NEED_SNAPSHOT: { target: 'snapshot' },
      },
    },
    snapshot: {
      on: {
        SNAPSHOT_DONE: { target: 'probe' },
        SNAPSHOT_FAILED: { target: 'probe' },
      },
    },
  },
});
