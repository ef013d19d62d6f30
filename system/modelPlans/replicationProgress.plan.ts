import type { SnapshotFrom } from 'xstate';
import { replicationProgress, type ProgressEvent } from '../../machines/replicationProgress.js';
import type { ModelPlan } from '../modelPaths.js';

const EVENTS: ProgressEvent[] = [
  { type: 'ACCEPTED' },
  { type: 'REJECTED' },
  { type: 'UNREACHABLE' },
  { type: 'NEED_SNAPSHOT' },
  { type: 'SNAPSHOT_DONE' },
  { type: 'SNAPSHOT_FAILED' },
];

/** The model plan of `replicationProgress`: every event in every state. */
export const replicationProgressPlan: ModelPlan<typeof replicationProgress> = {
  machine: replicationProgress,
  events: () => EVENTS,
  invariant: (snap: SnapshotFrom<typeof replicationProgress>) => {
    if (!['probe', 'replicate', 'snapshot'].includes(snap.value)) throw new Error(`unknown progress state ${snap.value}`);
  },
};
