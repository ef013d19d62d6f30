/**
 * Grey: a deterministic actor runtime for distributed task clusters, built
 * on XState v5 statecharts. This is the package's public surface.
 */

// Simulation kernel, time, randomness, ids
export { Kernel, SimulationTimeoutError, LivelockError, type KernelOptions, type RunUntilOptions } from './system/kernel.js';
export type { Clock, TimerHandle } from './system/clock.js';
export { WallClock, CryptoRandom } from './system/wallClock.js';
export { Random, type RandomSource } from './system/random.js';
export { seededIds, sequentialIds, randomIds, type IdSource } from './system/ids.js';

// Bus and network model
export type { Envelope } from './system/envelope.js';
export {
  Bus,
  DROP_REASONS,
  type BusOptions,
  type SendResult,
  type DropReason,
  type BackpressureSignal,
  type PressureSignal,
  type DropSignal,
  type DeliveryRecord,
  type FaultEvent,
  type LinkStats,
  type BusStats,
} from './system/bus.js';
export {
  DEFAULT_LINK_CONFIG,
  validateLinkConfig,
  type LinkConfig,
  type LinkConfigPatch,
  type LatencyConfig,
  type LatencyDistribution,
} from './system/network.js';

// Model-based testing and statechart coverage
export {
  generateModelPaths,
  runModelPath,
  checkModel,
  delayedEventsOf,
  isDelayedEvent,
  ModelMismatchError,
  type ModelPlan,
  type ModelPath,
  type ModelStep,
  type ModelReport,
} from './system/modelPaths.js';
export { MachineCoverage, stateNodesOf, transitionsOf, transitionKey, type CoverageReport, type CoverageCount } from './system/machineCoverage.js';
export { MACHINE_MODELS, checkMachineModel, type MachineModel } from './system/modelPlans/index.js';
export { watchTransitions, formatTransition, describeStateValue, type TransitionRecord } from './system/transitionWatch.js';

// Statecharts
export * from './machines/index.js';
