import { deriveTransitionTable, TableStepper } from './transitionTable.js';
import { taskContextUpdates, taskGuards, taskLifecycle, type TaskContext, type TaskEvent } from './taskLifecycle.js';

/** The task lifecycle's transition table, derived from the chart at load. */
export const taskTransitionTable = deriveTransitionTable(taskLifecycle);

/**
 * The hot-path form of {@link taskLifecycle}: steps plain task records
 * through the derived table with the chart's own guards and updates.
 */
export const taskStepper = new TableStepper<TaskContext, TaskEvent>(taskTransitionTable, {
  guards: taskGuards,
  updates: taskContextUpdates,
});
