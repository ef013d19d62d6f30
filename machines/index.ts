/** Grey's statecharts: pure definitions, no I/O, no clock, no randomness. */
export * from './raftRole.js';
export * from './taskLifecycle.js';
export * from './taskTable.js';
export * from './transitionTable.js';
export * from './replicationProgress.js';
export * from './progressTable.js';
export * from './circuitBreaker.js';
export * from './quarantine.js';
export * from './membership.js';
export * from './membershipTable.js';
export * from './joinHandshake.js';
