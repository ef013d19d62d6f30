import { deriveTransitionTable, TableStepper } from './transitionTable.js';
import { replicationProgress, type ProgressEvent } from './replicationProgress.js';

/** The replication progress chart as a table, derived at load. */
export const progressTransitionTable = deriveTransitionTable(replicationProgress);

/** Steps a peer's progress state through the derived table. */
export const progressStepper = new TableStepper<object, ProgressEvent>(progressTransitionTable, { guards: {}, updates: {} });
