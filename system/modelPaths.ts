import { createActor } from 'xstate';
import type { AnyStateMachine, AnyStateNode, EventFromLogic, InputFrom, InspectionEvent, SnapshotFrom } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { Kernel } from './kernel.js';
import { MachineCoverage, type CoverageReport } from './machineCoverage.js';
import { checkMachineArgument, checkOptionKeys } from './machineArgument.js';

type Snap<M extends AnyStateMachine> = SnapshotFrom<M>;
type Ev<M extends AnyStateMachine> = EventFromLogic<M>;

/**
 * What it takes to generate and run tests from a machine model.
 *
 * Delayed transitions (`after`) need no listing: the generator adds their
 * `xstate.after.*` events wherever a state has them, and the runner drives
 * them by advancing the kernel until the actor's timer fires.
 */
export interface ModelPlan<M extends AnyStateMachine> {
  machine: M;
  input?: InputFrom<M>;
  /** The events worth trying in a snapshot (sample payloads included). */
  events: (snapshot: Snap<M>) => readonly Ev<M>[];
  /**
   * The abstraction of a snapshot that the traversal tells apart (default:
   * state value and context as JSON). Abstract unbounded counters here so the
   * state space stays finite.
   */
  serialize?: (snapshot: Snap<M>) => string;
  /** Snapshots not to explore further (bounds a counter the serializer keeps exact). */
  stopWhen?: (snapshot: Snap<M>) => boolean;
  /** Assertions that must hold in every state reached; throw to fail. */
  invariant?: (snapshot: Snap<M>, kernel: Kernel) => void;
  /** `shortest` (default): one shortest path per edge. `simple`: every simple path (exponential; small machines). */
  strategy?: 'shortest' | 'simple';
  /** Traversal bound: more expansions than this throws instead of running away. */
  limit?: number;
}

/** One step of a model path: the event, and the snapshot the model says follows. */
export interface ModelStep<M extends AnyStateMachine> {
  event: Ev<M>;
  state: Snap<M>;
}

/** A generated path through a model, to be run against a live actor. */
export interface ModelPath<M extends AnyStateMachine> {
  description: string;
  steps: ModelStep<M>[];
}

/** The outcome of running every generated path of a model. */
export interface ModelReport extends CoverageReport {
  paths: number;
  steps: number;
}

/** Thrown when the live actor and the model disagree, or an invariant fails. */
export class ModelMismatchError extends Error {
  readonly code = 'ModelMismatch';
  constructor(message: string, readonly path: string) {
    super(`${message}\n  on path: ${path}`);
    this.name = 'ModelMismatchError';
  }
}

const AFTER_PREFIX = 'xstate.after.';

/** Whether an event type is a delayed (`after`) transition's event. */
export function isDelayedEvent(type: string): boolean {
  return type.startsWith(AFTER_PREFIX);
}

function defaultSerialize(snapshot: { value: unknown; context: unknown }): string {
  return JSON.stringify([snapshot.value, snapshot.context]);
}

function activeNodes(snapshot: unknown): AnyStateNode[] {
  return (snapshot as { _nodes?: AnyStateNode[] })._nodes ?? [];
}

/** The `xstate.after.*` events of the delayed transitions active in a snapshot. */
export function delayedEventsOf(snapshot: unknown): Array<{ type: string }> {
  const out: Array<{ type: string }> = [];
  const seen = new Set<string>();
  for (const node of activeNodes(snapshot)) {
    for (const t of node.after) {
      if (!seen.has(t.eventType)) {
        seen.add(t.eventType);
        out.push({ type: t.eventType });
      }
    }
  }
  return out;
}

function describeEvent(event: { type: string }): string {
  const { type, ...rest } = event;
  const name = isDelayedEvent(type) ? `after(${type.slice(AFTER_PREFIX.length).split('.')[0]})` : type;
  return Object.keys(rest).length ? `${name} ${JSON.stringify(rest)}` : name;
}

/**
 * Generates paths from a machine model with `xstate/graph`. The state
 * serializer is edge-aware (a vertex is the triple previous state, event,
 * state), so shortest paths reach every edge of the abstract graph, not
 * only every state: every transition is a step of some path.
 */
export function generateModelPaths<M extends AnyStateMachine>(plan: ModelPlan<M>): ModelPath<M>[] {
  checkPlan(plan);
  const key = (plan.serialize ?? defaultSerialize) as (s: Snap<M>) => string;
  const serializeEvent = (e: Ev<M>) => JSON.stringify(e);
  const options = {
    input: plan.input,
    events: (s: Snap<M>) => [...plan.events(s), ...(delayedEventsOf(s) as Ev<M>[])],
    serializeEvent,
    serializeState: (s: Snap<M>, e: Ev<M> | undefined, prev?: Snap<M>) =>
      prev === undefined || e === undefined ? key(s) : `${key(prev)} |${serializeEvent(e)}| ${key(s)}`,
    stopWhen: plan.stopWhen,
    limit: plan.limit ?? 100_000,
  };
  const generate = plan.strategy === 'simple' ? getSimplePaths : getShortestPaths;
  const raw = generate(plan.machine, options as never) as Array<{ steps: Array<{ event: Ev<M>; state: Snap<M> }> }>;
  return raw.map((p) => {
    // xstate/graph starts a path with the initial snapshot reached by `xstate.init`.
    const steps = p.steps.filter((s) => s.event.type !== 'xstate.init');
    return {
      description: steps.length ? steps.map((s) => describeEvent(s.event)).join(' → ') : '(initial state)',
      steps,
    };
  });
}

/**
 * Runs one model path against a live actor of the machine on a fresh
 * kernel: plain events are sent, delayed events are driven by advancing
 * virtual time until the actor's own timer fires. After every step the
 * actor's snapshot must equal the model's (under the plan's abstraction)
 * and the invariant must hold.
 */
export function runModelPath<M extends AnyStateMachine>(
  plan: ModelPlan<M>,
  path: ModelPath<M>,
  coverage?: MachineCoverage,
  seed = 1,
): void {
  const key = (plan.serialize ?? defaultSerialize) as (s: Snap<M>) => string;
  const kernel = new Kernel({ seed });
  const received: string[] = [];
  const actor = createActor(plan.machine, {
    clock: kernel,
    input: plan.input,
    inspect: (ev: InspectionEvent) => {
      coverage?.inspect(ev);
      if (ev.type === '@xstate.event' && ev.actorRef === actorRef) received.push(ev.event.type);
    },
  } as never);
  const actorRef = actor as unknown;
  actor.start();
  // Stopped however the path ends, so a failed path leaks no actor and no timer.
  try {
    runSteps(plan, path, actor, kernel, received, key);
  } finally {
    actor.stop();
  }
}

function runSteps<M extends AnyStateMachine>(
  plan: ModelPlan<M>,
  path: ModelPath<M>,
  actor: { getSnapshot(): unknown; send(event: Ev<M>): void },
  kernel: Kernel,
  received: string[],
  key: (s: Snap<M>) => string,
): void {
  const check = (where: string) => {
    const snap = actor.getSnapshot() as Snap<M>;
    if ((snap as { status?: string }).status === 'error') {
      throw new ModelMismatchError(`actor errored ${where}: ${String((snap as { error?: unknown }).error)}`, path.description);
    }
    try {
      plan.invariant?.(snap, kernel);
    } catch (err) {
      throw new ModelMismatchError(`invariant failed ${where}: ${(err as Error).message}`, path.description);
    }
    return snap;
  };
  check('in the initial state');
  path.steps.forEach((step, i) => {
    const type = step.event.type as string;
    if (isDelayedEvent(type)) {
      // Fire timers in order until the actor has processed this delayed event.
      const seenBefore = received.filter((t) => t === type).length;
      let guard = 0;
      while (received.filter((t) => t === type).length === seenBefore) {
        if (!kernel.step()) {
          throw new ModelMismatchError(`step ${i + 1}: no timer left, ${describeEvent(step.event)} never fired`, path.description);
        }
        if (++guard > 10_000) throw new ModelMismatchError(`step ${i + 1}: ${describeEvent(step.event)} did not fire`, path.description);
      }
    } else if ((actor.getSnapshot() as { status: string }).status === 'active') {
      actor.send(step.event); // a stopped (final) actor takes nothing, as the model says
    }
    const snap = check(`after step ${i + 1} (${describeEvent(step.event)})`);
    const got = key(snap);
    const want = key(step.state);
    if (got !== want) {
      throw new ModelMismatchError(`step ${i + 1} (${describeEvent(step.event)}): actor is in ${got}, model expects ${want}`, path.description);
    }
  });
}

const PLAN_KEYS: ReadonlyArray<keyof ModelPlan<AnyStateMachine>> = ['machine', 'input', 'events', 'serialize', 'stopWhen', 'invariant', 'strategy', 'limit'];

/** Refuses a plan that is not one (no machine, no `events` function, an unknown key), naming what is wrong. */
function checkPlan(plan: unknown): void {
  if (plan === null || typeof plan !== 'object') throw new TypeError('a model plan must be an object { machine, events, … }');
  checkOptionKeys('model plan', plan, PLAN_KEYS);
  const p = plan as Partial<ModelPlan<AnyStateMachine>>;
  checkMachineArgument('a model plan', p.machine);
  if (typeof p.events !== 'function') throw new TypeError('a model plan needs events: a function of the snapshot giving the events to try from it');
}

/**
 * Generates and runs every path of a model; returns its size and coverage.
 * Pass one `coverage` to several plans of the same machine (other inputs)
 * to measure what they cover together.
 */
export function checkModel<M extends AnyStateMachine>(
  plan: ModelPlan<M>,
  coverage?: MachineCoverage,
): ModelReport {
  checkPlan(plan);
  coverage ??= new MachineCoverage(plan.machine);
  const paths = generateModelPaths(plan);
  let steps = 0;
  for (const path of paths) {
    runModelPath(plan, path, coverage);
    steps += path.steps.length;
  }
  return { ...coverage.report(), paths: paths.length, steps };
}
