/** Grey's statecharts: pure definitions, no I/O, no clock, no randomness. */
export * from './raftRole.js';
export * from './taskLifecycle.js';
export * from './taskTable.js';
export * from './transitionTable.js';
export * from './replicationProgress.js';
export * from './progressTable.js';
