import { createActor, createMachine, type ActorScope, type AnyMachineSnapshot, type AnyStateMachine, type AnyStateNode, type EventObject, type InputFrom, type InspectionEvent } from 'xstate';
import { stateNodesOf, transitionKey, transitionsOf, type CoverageCount } from './machineCoverage.js';
import { contextLiterals, guardLiterals, payloadsFor, readsOf, type Literal } from './payloadSynthesis.js';
import { checkMachineArgument, checkOptionKeys } from './machineArgument.js';

/**
 * Model-based testing of a user's own system from an XState v5 machine, in
 * the spirit of `@xstate/test` (which supports XState v4 only): paths are
 * generated from the machine, and each path drives the system under test
 * with the user's event executors and checks it with the user's state
 * assertions.
 *
 * ```ts
 * const model = createTestModel(toggleMachine);
 * describe.each(model.getPaths())('$description', (path) => {
 *   it('holds', () => path.test({
 *     states: { on: async () => expect(await app.isOn()).toBe(true), off: … },
 *     events: { TOGGLE: async () => app.toggle() },
 *   }));
 * });
 * ```
 *
 * The machine is explored with XState's pure transition function, so no
 * action runs and no actor starts while paths are generated (`assign`s run:
 * one that draws from `Math.random` draws from a generator seeded by the
 * step, so exploration and paths are the same every time; a `sendParent`
 * goes to a parent that receives nothing). Besides the
 * events the machine handles, the explorer offers:
 * - a delayed event (`after`, or a delayed `raise`) while its timer is pending;
 * - the done and error events of each invoked actor that is active, where
 *   the machine handles them (an error only where an `onError` exists), with
 *   sample outputs and errors from {@link TestModelOptions.actors}.
 *
 * Paths first reach every state (history pseudo-states excepted: they are
 * never active), then take every transition left.
 */
export interface TestModelOptions<M extends AnyStateMachine> {
  input?: InputFrom<M>;
  /**
   * The events to try. By default every event type some state handles, with
   * no payload. An entry here replaces the default for its type: sample
   * events (a `type` may be left out), or a function of the snapshot giving
   * them.
   */
  events?: Record<string, ReadonlyArray<Partial<EventObject> & Record<string, unknown>> | ((snapshot: AnyMachineSnapshot) => ReadonlyArray<Partial<EventObject> & Record<string, unknown>>)>;
  /**
   * Sample outcomes of invoked actors, by invoke id or by the actor's `src`
   * name: `output` values for the done event (default one `undefined`) and
   * `error` values for the error event (default one `Error`).
   */
  actors?: Record<string, { output?: readonly unknown[]; error?: readonly unknown[] }>;
  /**
   * The abstraction of a snapshot that exploration tells apart. Default:
   * state value and context as JSON, actor references (spawned or invoked)
   * written as `[actor]` so that generated ids never split a state.
   * Abstract unbounded counters here, or bound them with `stopWhen`.
   */
  serialize?: (snapshot: AnyMachineSnapshot) => string;
  /** Snapshots not to explore further. */
  stopWhen?: (snapshot: AnyMachineSnapshot) => boolean;
  /**
   * Derive payloads where no samples are given (default true): the fields
   * the machine reads from an event, an actor's output or its error, filled
   * with the literals its guards compare against and the strings its
   * initial context's fields hold (a list, where one is read as such:
   * empty, or of one item), one field varied at a time, besides the
   * payload-less event. See `system/payloadSynthesis.ts`.
   */
  synthesize?: boolean;
  /**
   * Most abstract states explored (default 5,000). Past it exploration
   * stops and the paths cover what was seen: see {@link Exploration.truncated}.
   */
  limit?: number;
}

/** One step of a generated path: the event, the snapshot the model says follows, and the transitions it takes. */
export interface TestStep {
  event: EventObject;
  state: AnyMachineSnapshot;
  /** Transitions taken (keys as {@link transitionKey} names them). */
  transitions: string[];
  /** State ids active at some point of the step, transient ones included. */
  entered: string[];
}

/** How a path drives and checks the system under test. */
export interface TestPathParams<C = unknown> {
  /**
   * Assertions against the system, by state: a state path (`'form.editing'`),
   * a state id (`'#editing'`) or a tag (`'tag:loading'`). Every key matching
   * the model's state is checked after each step, parents first. Throw (or
   * reject) to fail. A state node with a `meta.test` function is checked
   * with it too.
   */
  states?: Record<string, (snapshot: AnyMachineSnapshot, context: C) => unknown>;
  /**
   * Executors that perform an event on the system, by event type. Delayed
   * events fall back to `'xstate.after'`, invoked actors' to
   * `'xstate.done.actor'` / `'xstate.error.actor'`; an event with no
   * executor is performed by nothing (the system is expected to get there
   * on its own, as a timer would).
   */
  events?: Record<string, (event: EventObject, snapshot: AnyMachineSnapshot, context: C) => unknown>;
  /** Passed to every assertion, executor and `meta.test` (the page, the app, the client). */
  context?: C;
}

/** A generated path through the model. */
export interface TestPath {
  /** The events in order, readable: `GO → after(500) → done(load)`. */
  description: string;
  steps: TestStep[];
  /** The model's initial snapshot (the path starts there). */
  initial: AnyMachineSnapshot;
  /** Drives the system along the path; rejects with a {@link TestPathError} naming the failing step and state. */
  test<C>(params: TestPathParams<C>): Promise<void>;
}

/** Thrown by {@link TestPath.test}: which step, event and state failed, and why (`cause`). */
export class TestPathError extends Error {
  readonly code = 'TestPathFailed';
  constructor(
    readonly path: string,
    /** 0 for the initial state, else the 1-based step. */
    readonly step: number,
    readonly state: string,
    readonly event: string | null,
    override readonly cause: unknown,
  ) {
    const where = step === 0 ? 'in the initial state' : `at step ${step} (${event})`;
    super(`path "${path}" failed ${where}, model state ${state}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TestPathError';
  }
}

/** What exploring the machine found. */
export interface Exploration {
  /** Abstract states seen. */
  states: number;
  /** Transitions between them (events tried that changed something). */
  edges: number;
  /** Whether the limit stopped exploration early: paths then cover only what was seen. */
  truncated: boolean;
  /** Set when truncated: what happened and what to change. */
  message?: string;
  /**
   * Events that threw in some state (a guard or action reading a payload
   * the default samples lack, say): left out there, counted, and the first
   * few described. Give samples in `events` (or `actors`) to reach them.
   */
  skipped: { count: number; examples: string[] };
}

/** Model coverage of a set of paths, or of the paths run so far. */
export interface ModelCoverage {
  machine: string;
  states: CoverageCount;
  transitions: CoverageCount;
  exploration: Exploration;
}

const DEFAULT_LIMIT = 5_000;
/** Random walks past the limit, at most, and steps per walk (see `explore`). */
const WALKS = 400;
const WALK_DEPTH = 64;

interface Vertex {
  snapshot: AnyMachineSnapshot;
  /** Pending delayed events by send id. */
  pending: ReadonlyMap<string, EventObject>;
  parent: Vertex | null;
  via: Edge | null;
  states: string[];
  edges: Edge[];
}

interface Edge {
  event: EventObject;
  to: Vertex;
  transitions: string[];
  /** States active at some microstep on the way, transient ones (left by an `always` at once) included. */
  entered: string[];
}

const TEST_MODEL_OPTION_KEYS: ReadonlyArray<keyof TestModelOptions<AnyStateMachine>> = ['input', 'events', 'actors', 'serialize', 'stopWhen', 'synthesize', 'limit'];

/** Builds a test model of `machine`: see {@link TestModelOptions}. */
export function createTestModel<M extends AnyStateMachine>(machine: M, options: TestModelOptions<M> = {}): TestModel {
  return new TestModel(machine, options as TestModelOptions<AnyStateMachine>);
}

/** Paths and coverage of one machine; see {@link createTestModel}. */
export class TestModel {
  private explored: { vertices: Vertex[]; exploration: Exploration } | undefined;
  /** Transitions of the initial macrostep (eventless ones out of transient initial states). */
  private initialTransitions: string[] = [];
  private readonly synthesisCache = new Map<string, unknown[]>();
  private literals: Literal[] | undefined;
  private readonly coverStates: string[];
  private readonly coverTransitions: string[];
  private readonly ranStates = new Set<string>();
  private readonly ranTransitions = new Set<string>();

  constructor(
    readonly machine: AnyStateMachine,
    private readonly options: TestModelOptions<AnyStateMachine>,
  ) {
    checkMachineArgument('createTestModel', machine);
    checkOptionKeys('createTestModel', options, TEST_MODEL_OPTION_KEYS);
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer ≥ 1, got ${limit}`);
    for (const [type, spec] of Object.entries(options.events ?? {})) {
      if (!Array.isArray(spec) && typeof spec !== 'function') throw new TypeError(`events.${type} must be an array of sample events or a function of the snapshot giving them`);
    }
    for (const [name, spec] of Object.entries(options.actors ?? {})) {
      if (typeof spec !== 'object' || spec === null || (spec.output !== undefined && !Array.isArray(spec.output)) || (spec.error !== undefined && !Array.isArray(spec.error))) {
        throw new TypeError(`actors.${name} must be { output?: [...], error?: [...] }`);
      }
    }
    if (options.synthesize !== undefined && typeof options.synthesize !== 'boolean') throw new TypeError(`synthesize must be true or false, got ${String(options.synthesize)}`);
    for (const fn of ['serialize', 'stopWhen'] as const) {
      if (options[fn] !== undefined && typeof options[fn] !== 'function') throw new TypeError(`${fn} must be a function of the snapshot`);
    }
    this.coverStates = coverableStates(machine).map((n) => n.id);
    this.coverTransitions = transitionsOf(machine).map(transitionKey);
  }

  /** What exploration found (explores on first use). */
  get exploration(): Exploration {
    return this.explore().exploration;
  }

  /** Paths that together reach every state reachable, then take every transition left (as far as exploration got). */
  getPaths(): TestPath[] {
    return seeded(() => this.pathsSeeded());
  }

  private pathsSeeded(): TestPath[] {
    const { vertices } = this.explore();
    const root = vertices[0];
    const chosen: Edge[][] = [];
    const states = new Set<string>(root.states);
    const transitions = new Set<string>(this.initialTransitions);
    // The route to the first edge (in the order found, so shortest first) that `reaches`, taken.
    const takeFirst = (reaches: (e: Edge) => boolean) => {
      for (const v of vertices) {
        const e = v.edges.find(reaches);
        if (e === undefined) continue;
        const route = [...routeTo(v), e];
        chosen.push(route);
        for (const r of route) {
          for (const id of r.entered) states.add(id);
          for (const t of r.transitions) transitions.add(t);
        }
        return;
      }
    };
    // States first (a transient one: the edge passing it), then each transition left.
    for (const id of this.coverStates) if (!states.has(id)) takeFirst((e) => e.entered.includes(id));
    for (const key of this.coverTransitions) if (!transitions.has(key)) takeFirst((e) => e.transitions.includes(key));
    // A path that is a prefix of another (or a repeat) adds nothing.
    const isPrefix = (p: Edge[], q: Edge[]) => p.length <= q.length && p.every((e, k) => q[k] === e);
    const unique = chosen.filter((p, i) => !chosen.some((q, j) => j !== i && isPrefix(p, q) && (q.length > p.length || j < i)));
    if (unique.length === 0) unique.push([]);
    return unique.map((p) => this.toPath(root.snapshot, p));
  }

  /** The model coverage `paths` reach (default: the generated ones). */
  coverageOf(paths: readonly TestPath[] = this.getPaths()): ModelCoverage {
    const root = this.explore().vertices[0];
    const states = new Set<string>(paths.length > 0 ? root.states : []);
    const transitions = new Set<string>(paths.length > 0 ? this.initialTransitions : []);
    for (const p of paths) {
      for (const s of p.steps) {
        for (const id of s.entered) states.add(id);
        for (const t of s.transitions) transitions.add(t);
      }
    }
    return this.report(states, transitions);
  }

  /** The model coverage reached by the steps that `test` has run and passed so far. */
  coverage(): ModelCoverage {
    return this.report(this.ranStates, this.ranTransitions);
  }

  private report(states: Set<string>, transitions: Set<string>): ModelCoverage {
    const count = (all: string[], seen: Set<string>): CoverageCount => {
      const missing = all.filter((x) => !seen.has(x));
      return { covered: all.length - missing.length, total: all.length, missing };
    };
    return { machine: this.machine.id, states: count(this.coverStates, states), transitions: count(this.coverTransitions, transitions), exploration: this.exploration };
  }

  /**
   * The path along `route`, replayed from the initial snapshot. A vertex
   * stands for every snapshot its serializer does not tell apart (say, any
   * term), and holds the first one found; a step's state must be the one
   * this path's own events lead to, so the events are applied again.
   */
  private toPath(initial: AnyMachineSnapshot, route: Edge[]): TestPath {
    const steps: TestStep[] = [];
    let snapshot = initial;
    let pending: Map<string, EventObject> = new Map(this.explore().vertices[0].pending);
    for (const e of route) {
      const fired = [...pending].find(([, p]) => p.type === e.event.type)?.[0];
      const next = step(this.machine, this.options.input, snapshot, e.event);
      if (fired !== undefined) pending.delete(fired);
      pending = timersAfter(pending, next.actions);
      snapshot = next.snapshot;
      steps.push({ event: e.event, state: snapshot, transitions: next.transitions, entered: next.entered });
    }
    const description = steps.length ? steps.map((s) => describeEvent(s.event)).join(' → ') : '(initial state)';
    return {
      description,
      steps,
      initial,
      test: (params) => this.run(description, initial, steps, params),
    };
  }

  private async run<C>(description: string, initial: AnyMachineSnapshot, steps: TestStep[], params: TestPathParams<C>): Promise<void> {
    this.checkStateKeys(params.states);
    const check = async (snapshot: AnyMachineSnapshot, step: number, event: EventObject | null) => {
      try {
        await assertState(snapshot, params);
      } catch (err) {
        throw new TestPathError(description, step, JSON.stringify(snapshot.value), event ? describeEvent(event) : null, err);
      }
    };
    await check(initial, 0, null);
    for (const id of this.explore().vertices[0].states) this.ranStates.add(id);
    for (const t of this.initialTransitions) this.ranTransitions.add(t);
    for (const [i, step] of steps.entries()) {
      const before = i === 0 ? initial : steps[i - 1].state;
      const executor = executorFor(step.event.type, params.events as TestPathParams['events']);
      try {
        await executor?.(step.event, before, params.context);
      } catch (err) {
        throw new TestPathError(description, i + 1, JSON.stringify(before.value), describeEvent(step.event), err);
      }
      await check(step.state, i + 1, step.event);
      for (const id of step.entered) this.ranStates.add(id);
      for (const t of step.transitions) this.ranTransitions.add(t);
    }
  }

  /** A `states` key that names no state, id or tag of the machine is a typo that would check nothing: refused. */
  private checkStateKeys(states: Record<string, unknown> | undefined): void {
    if (!states) return;
    const nodes = coverableStates(this.machine);
    for (const key of Object.keys(states)) {
      const known = key.startsWith('tag:')
        ? nodes.some((n) => n.tags.includes(key.slice(4)))
        : key.startsWith('#')
          ? nodes.some((n) => n.id === key.slice(1))
          : nodes.some((n) => n.path.join('.') === key);
      if (!known) throw new TypeError(`states['${key}'] names no state of ${this.machine.id} (use a path like 'a.b', '#id' or 'tag:name')`);
    }
  }

  private explore(): { vertices: Vertex[]; exploration: Exploration } {
    if (this.explored) return this.explored;
    return seeded(() => this.exploreSeeded());
  }

  private exploreSeeded(): { vertices: Vertex[]; exploration: Exploration } {
    const o = this.options;
    const machine = this.machine;
    const limit = o.limit ?? DEFAULT_LIMIT;
    const serialize = o.serialize ?? defaultSerialize;
    const handled = handledEventTypes(machine);
    const vertices: Vertex[] = [];
    const byKey = new Map<string, Vertex>();
    let edges = 0;
    let truncated = false;
    let cap = limit;

    const keyOf = (snapshot: AnyMachineSnapshot, pending: ReadonlyMap<string, EventObject>) =>
      pending.size === 0 ? serialize(snapshot) : `${serialize(snapshot)} ⏲${[...pending.keys()].sort().join(',')}`;
    const visit = (snapshot: AnyMachineSnapshot, pending: ReadonlyMap<string, EventObject>, parent: Vertex | null, via: Omit<Edge, 'to'> | null): Vertex | null => {
      const key = keyOf(snapshot, pending);
      const known = byKey.get(key);
      if (known) {
        if (parent && via) parent.edges.push({ ...via, to: known });
        return null;
      }
      if (vertices.length >= cap) {
        truncated = true;
        return null;
      }
      const v: Vertex = { snapshot, pending, parent, via: null, states: activeNodes(snapshot).map((n) => n.id), edges: [] };
      if (parent && via) {
        const edge: Edge = { ...via, to: v };
        v.via = edge;
        parent.edges.push(edge);
      }
      byKey.set(key, v);
      vertices.push(v);
      return v;
    };

    const first = step(machine, o.input, null, null);
    const root = visit(first.snapshot, timersAfter(new Map(), first.actions), null, null)!;
    root.states = first.entered;
    // The synthesis dictionary: the guards' literals, then the strings the initial context holds.
    if (this.options.synthesize !== false) this.literals ??= [...new Set([...guardLiterals(machine), ...contextLiterals(first.snapshot.context)])];
    this.initialTransitions = first.transitions;
    const skipped: Exploration['skipped'] = { count: 0, examples: [] };
    const queue: Vertex[] = [root];
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head];
      const snap = v.snapshot;
      if (snap.status !== 'active' || o.stopWhen?.(snap)) continue;
      for (const event of this.eventsFor(v, handled)) {
        let next: Transition;
        try {
          next = step(machine, o.input, snap, event);
        } catch (err) {
          skipped.count++;
          if (skipped.examples.length < 5) skipped.examples.push(`${describeEvent(event)} in ${JSON.stringify(snap.value)}: ${(err as Error).message.split('\n').pop()}`);
          continue;
        }
        const after = pendingAfter(v, event, next);
        if (next.transitions.length === 0 && after.size === v.pending.size && next.snapshot === snap) continue;
        edges++;
        const added = visit(next.snapshot, after, v, { event, transitions: next.transitions, entered: next.entered });
        if (added) queue.push(added);
      }
    }
    // Stopped at the limit with something left to cover: random walks (seeded,
    // so the same model gives the same paths) from the frontier, deeper than
    // breadth-first order got, within a budget of a fifth of the limit more (at least 50).
    // A draw in tic-tac-toe lies nine moves deep, past thousands of boards.
    if (truncated && limit > 1) {
      const states = new Set<string>();
      const transitions = new Set<string>(this.initialTransitions);
      for (const v of vertices) {
        for (const id of v.states) states.add(id);
        for (const e of v.edges) for (const t of e.transitions) transitions.add(t);
      }
      const missing = () => this.coverStates.some((id) => !states.has(id)) || this.coverTransitions.some((t) => !transitions.has(t));
      let seed = 0x9e3779b9;
      const random = (n: number) => {
        // xorshift32: deterministic, no Math.random
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const budget = Math.max(50, Math.floor(limit / 5));
      cap = limit + budget;
      const explored = vertices.length;
      for (let walk = 0; walk < WALKS && vertices.length < cap && missing(); walk++) {
        // From the deepest quarter that breadth-first order reached.
        let v = vertices[explored - 1 - random(Math.max(1, explored >> 2))];
        for (let depth = 0; depth < WALK_DEPTH && v.snapshot.status === 'active' && !o.stopWhen?.(v.snapshot); depth++) {
          const events = this.eventsFor(v, handled);
          if (events.length === 0) break;
          const event = events[random(events.length)];
          let next: Transition;
          try {
            next = step(machine, o.input, v.snapshot, event);
          } catch {
            break;
          }
          const after = pendingAfter(v, event, next);
          for (const t of next.transitions) transitions.add(t);
          for (const id of next.entered) states.add(id);
          const key = keyOf(next.snapshot, after);
          const known = byKey.get(key);
          if (known) {
            v.edges.push({ event, transitions: next.transitions, entered: next.entered, to: known });
            edges++;
            v = known;
            continue;
          }
          const added = visit(next.snapshot, after, v, { event, transitions: next.transitions, entered: next.entered });
          if (added === null) break;
          edges++;
          v = added;
        }
      }
    }
    const exploration: Exploration = { states: vertices.length, edges, truncated, skipped };
    if (truncated) {
      exploration.message =
        `exploration of ${machine.id} stopped at its limit of ${limit} abstract states (then walked at random past it, up to a fifth more and at least 50, for what was left): the paths cover only what was seen. ` +
        'If the machine has an unbounded counter or a growing context, abstract it with `serialize` or stop it with `stopWhen`; else raise `limit`.';
    }
    this.explored = { vertices, exploration };
    return this.explored;
  }

  /**
   * Payloads synthesized for one event type or actor outcome (`key`) in the
   * states of `snap`: probed once per state value, cached. Empty when
   * synthesis is off or the machine reads nothing of it there.
   */
  private synthesized(snap: AnyMachineSnapshot, key: string, eventOf: (root: unknown) => EventObject): unknown[] {
    if (this.options.synthesize === false) return [];
    const cacheKey = `${key} ${JSON.stringify(snap.value)}`;
    let out = this.synthesisCache.get(cacheKey);
    if (out === undefined) {
      this.literals ??= guardLiterals(this.machine);
      const literals = this.literals;
      const use = readsOf((root) => step(this.machine, this.options.input, snap, eventOf(root)));
      out = use === null ? [] : payloadsFor(use, literals).filter((p) => !key.startsWith('event:') || (p !== null && typeof p === 'object'));
      this.synthesisCache.set(cacheKey, out);
    }
    return out;
  }

  private eventsFor(v: Vertex, handled: string[]): EventObject[] {
    const snap = v.snapshot;
    const o = this.options;
    const out: EventObject[] = [];
    // Not `snap.can`: it says no to a transition with no target and no action, which is still one to cover.
    // A guard that throws on this sample: offered anyway, so the step records it as skipped.
    const handles = (event: EventObject) => {
      try {
        return this.machine.getTransitionData(snap, event).length > 0;
      } catch {
        return true;
      }
    };
    for (const type of handled) {
      const spec = o.events?.[type];
      const samples = spec === undefined ? [{}, ...this.synthesized(snap, `event:${type}`, (root) => eventProbe(type, root))] : typeof spec === 'function' ? spec(snap) : spec;
      for (const s of samples) {
        const event = { ...(s as object), type } as EventObject;
        if (handles(event)) out.push(event);
      }
    }
    for (const e of v.pending.values()) out.push(e);
    for (const [id, child] of Object.entries(snap.children as Record<string, { src?: unknown } | undefined>)) {
      const src = typeof child?.src === 'string' ? child.src : undefined;
      const samples = o.actors?.[id] ?? (src !== undefined ? o.actors?.[src] : undefined);
      // XState names an invocation without an id like `0.machine.state`: a path says its `src` instead.
      const name = /^\d+\./.test(id) && src !== undefined ? src : id;
      const outputs = samples?.output ?? [undefined, ...this.synthesized(snap, `done:${id}`, (root) => ({ type: `xstate.done.actor.${id}`, output: root, actorId: id }))];
      for (const output of outputs) {
        const done = { type: `xstate.done.actor.${id}`, output, actorId: id } as EventObject;
        if (handles(done)) out.push(labelled(done, `done(${name})`));
      }
      const errors = samples?.error ?? [new Error(`${src ?? id} failed (a sample error)`), ...this.synthesized(snap, `error:${id}`, (root) => ({ type: `xstate.error.actor.${id}`, error: root, actorId: id })).map(asError)];
      for (const error of errors) {
        const failed = { type: `xstate.error.actor.${id}`, error, actorId: id } as EventObject;
        if (handles(failed)) out.push(labelled(failed, `error(${name})`));
      }
    }
    return out;
  }
}

interface Transition {
  snapshot: AnyMachineSnapshot;
  actions: Array<{ type: string; params?: unknown }>;
  transitions: string[];
  entered: string[];
}

/**
 * An inert actor scope (no action runs: each is recorded) whose system
 * reports microsteps: what XState's pure `transition` uses, plus the
 * transitions taken. Reused across steps; a step that spawns an actor with
 * a `systemId` taken by an earlier step gets a fresh one (see {@link step}).
 */
class Scope {
  transitions: string[] = [];
  entered = new Set<string>();
  actions: Transition['actions'] = [];
  readonly scope: ActorScope<AnyMachineSnapshot, EventObject>;

  constructor(machine: AnyStateMachine, input: unknown) {
    // A parent that receives nothing (actions are only recorded), so that `sendParent` resolves.
    const parent = createActor(createMachine({}));
    const self = createActor(machine, { input, parent } as never);
    self.system.inspect({
      next: (ev: InspectionEvent) => {
        if (ev.type !== '@xstate.microstep') return;
        for (const t of ev._transitions) this.transitions.push(transitionKey(t));
        for (const n of activeNodes(ev.snapshot as AnyMachineSnapshot)) this.entered.add(n.id);
      },
    });
    this.scope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      actionExecutor: (a: { type: string; params?: unknown }) => this.actions.push(a),
    } as unknown as ActorScope<AnyMachineSnapshot, EventObject>;
  }

  reset(): void {
    this.transitions = [];
    this.entered = new Set();
    this.actions = [];
  }
}

const scopes = new WeakMap<AnyStateMachine, Scope>();

/** One pure transition (or the initial one, for a null snapshot), with the actions XState would execute and the transitions and states it went through. */
function step(machine: AnyStateMachine, input: unknown, snapshot: AnyMachineSnapshot | null, event: EventObject | null): Transition {
  let s = scopes.get(machine) ?? new Scope(machine, input);
  scopes.set(machine, s);
  // An action that draws from Math.random (a shuffle, a new id, where an apple
  // appears) draws from a generator seeded by the step itself, so that
  // exploring twice finds the same graph and a path replays the very
  // snapshots exploration saw. (Math.random is replaced once around
  // exploration and replay, see `seeded`: replacing it at every step costs
  // V8 its optimized code.)
  return seeded(() => {
    try {
      rngStep = { snapshot, event };
      return stepIn(s, machine, input, snapshot, event);
    } catch (err) {
      if (!/system ?id/i.test(String((err as Error)?.message))) throw err;
      scopes.set(machine, (s = new Scope(machine, input)));
      rngStep = { snapshot, event };
      return stepIn(s, machine, input, snapshot, event);
    }
  });
}

/** State of the seeded generator that stands in for Math.random within {@link seeded}; seeded from the step on its first draw (most steps draw nothing). */
let rngState = 0;
let rngStep: { snapshot: AnyMachineSnapshot | null; event: EventObject | null } | null = null;
let seededDepth = 0;

/** mulberry32 over {@link rngState}: numbers in [0, 1). */
function seededRandom(): number {
  if (rngStep !== null) {
    rngState = stepSeed(rngStep.snapshot, rngStep.event);
    rngStep = null;
  }
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Runs `fn` with Math.random replaced by the seeded generator (nested calls share it), restored after. */
function seeded<T>(fn: () => T): T {
  if (seededDepth > 0) return fn();
  const random = Math.random;
  Math.random = seededRandom;
  seededDepth++;
  try {
    return fn();
  } finally {
    seededDepth--;
    Math.random = random;
  }
}

/**
 * A seed from the step's snapshot (state value and context, as the default
 * serializer writes them) and event (FNV-1a): the same step draws the same
 * numbers, and steps from different contexts draw different ones (two ids
 * made in a row differ).
 */
function stepSeed(snapshot: AnyMachineSnapshot | null, event: EventObject | null): number {
  if (snapshot === null) return 0x2545f491;
  let text: string;
  try {
    text = `${defaultSerialize(snapshot)}${JSON.stringify(event)}`;
  } catch {
    text = `${JSON.stringify(snapshot.value)}${event?.type ?? ''}`;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function stepIn(s: Scope, machine: AnyStateMachine, input: unknown, snapshot: AnyMachineSnapshot | null, event: EventObject | null): Transition {
  s.reset();
  const { transitions, entered, actions, scope } = s;
  const done = (next: AnyMachineSnapshot, taken: string[]): Transition => {
    for (const n of activeNodes(next)) entered.add(n.id);
    return { snapshot: next, actions, transitions: [...new Set(taken)], entered: [...entered] };
  };
  if (snapshot === null || event === null) return done(machine.getInitialSnapshot(scope, input) as AnyMachineSnapshot, transitions);
  // The event's own transitions, as `snapshot.can` selects them: XState reports no
  // microstep for a transition with no target and no action (a `PROGRESS: {}`).
  const selected = machine.getTransitionData(snapshot, event).map(transitionKey);
  return done(machine.transition(snapshot, event, scope) as AnyMachineSnapshot, [...selected, ...transitions]);
}

/** An event of `type` whose other fields are read from the recording stand-in `root`. */
function eventProbe(type: string, root: unknown): EventObject {
  return new Proxy({ type } as EventObject, {
    get: (target, key) => (key === 'type' ? type : (root as Record<PropertyKey, unknown>)[key]),
  });
}

/** A synthesized error payload as an Error with those fields (a message first of all). */
function asError(payload: unknown): unknown {
  if (payload === null || typeof payload !== 'object') return payload;
  const fields = payload as Record<string, unknown>;
  return Object.assign(new Error(typeof fields.message === 'string' ? fields.message : 'a synthesized error'), fields);
}

/** Timers pending after `event` left `v`: `v`'s own, less the one that fired (if it was one), then as `next`'s actions set or cancel them. */
function pendingAfter(v: Vertex, event: EventObject, next: Transition): Map<string, EventObject> {
  const pending = new Map(v.pending);
  for (const [id, e] of v.pending) {
    if (e === event) {
      pending.delete(id);
      break;
    }
  }
  return timersAfter(pending, next.actions);
}

/** Pending delayed events after `actions` ran: a delayed raise adds one, a cancel removes one. */
function timersAfter(pending: Map<string, EventObject>, actions: Transition['actions']): Map<string, EventObject> {
  for (const a of actions) {
    const p = a.params as { event?: EventObject; id?: string; delay?: number; sendId?: string } | undefined;
    if (a.type === 'xstate.raise' && p?.delay !== undefined && p.event) pending.set(p.id ?? p.event.type, p.event);
    else if (a.type === 'xstate.cancel' && p?.sendId !== undefined) pending.delete(p.sendId);
  }
  return pending;
}

/** The edges from the initial vertex to `v`, along the first (shortest) route found. */
function routeTo(v: Vertex): Edge[] {
  const out: Edge[] = [];
  for (let at: Vertex = v; at.via !== null; at = at.parent!) out.push(at.via);
  return out.reverse();
}

function activeNodes(snapshot: AnyMachineSnapshot): AnyStateNode[] {
  return ((snapshot as { _nodes?: AnyStateNode[] })._nodes ?? []).filter((n) => n.type !== 'history');
}

/** The state nodes a test can reach: all but history pseudo-states, which are never active. */
export function coverableStates(machine: AnyStateMachine): AnyStateNode[] {
  return stateNodesOf(machine).filter((n) => n.type !== 'history');
}

/** Every event type some state handles (XState's own and the wildcard excepted), in document order. */
function handledEventTypes(machine: AnyStateMachine): string[] {
  const out = new Set<string>();
  for (const node of stateNodesOf(machine)) {
    for (const type of node.transitions.keys()) {
      if (type !== '*' && !type.startsWith('xstate.')) out.add(type);
    }
  }
  return [...out];
}

function defaultSerialize(snapshot: AnyMachineSnapshot): string {
  return JSON.stringify([snapshot.value, snapshot.context], (_key, value: unknown) => {
    if (typeof value === 'function') return '[function]';
    if (value !== null && typeof value === 'object') {
      if (typeof (value as { send?: unknown }).send === 'function' && 'sessionId' in value) return '[actor]';
      if (value instanceof Map) return ['[Map]', ...value];
      if (value instanceof Set) return ['[Set]', ...value];
    }
    return value;
  });
}

/** How a path shows an event type: delayed and invoked actors' events by their delay and actor. */
function nameOf(type: string): string {
  if (type.startsWith('xstate.after.')) return `after(${type.slice('xstate.after.'.length).split('.')[0]})`;
  if (type.startsWith('xstate.done.actor.')) return `done(${type.slice('xstate.done.actor.'.length)})`;
  if (type.startsWith('xstate.error.actor.')) return `error(${type.slice('xstate.error.actor.'.length)})`;
  return type;
}

/** Names events a path shows by something other than their type (an invocation by its `src`). */
const labels = new WeakMap<EventObject, string>();

function labelled(event: EventObject, label: string): EventObject {
  labels.set(event, label);
  return event;
}

function describeEvent(event: EventObject): string {
  const { type, ...rest } = event as EventObject & Record<string, unknown>;
  const name = labels.get(event) ?? nameOf(type);
  delete rest.actorId;
  const shown = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => [k, v instanceof Error ? v.message : v]));
  return Object.keys(shown).length ? `${name} ${JSON.stringify(shown)}` : name;
}

function executorFor(type: string, events: TestPathParams['events']): ((event: EventObject, snapshot: AnyMachineSnapshot, context: unknown) => unknown) | undefined {
  if (!events) return undefined;
  if (events[type]) return events[type];
  if (type.startsWith('xstate.after.')) return events['xstate.after'];
  if (type.startsWith('xstate.done.actor.')) return events['xstate.done.actor'];
  if (type.startsWith('xstate.error.actor.')) return events['xstate.error.actor'];
  return undefined;
}

/** Runs every assertion matching the snapshot: `states` keys by path, id or tag, then `meta.test` of active nodes; parents first. */
async function assertState<C>(snapshot: AnyMachineSnapshot, params: TestPathParams<C>): Promise<void> {
  const nodes = activeNodes(snapshot);
  const states = params.states ?? {};
  for (const [key, assertion] of Object.entries(states)) {
    if (key.startsWith('tag:') ? snapshot.hasTag(key.slice(4)) : key.startsWith('#') ? nodes.some((n) => n.id === key.slice(1)) : matchesPath(nodes, key)) {
      await assertion(snapshot, params.context as C);
    }
  }
  for (const n of nodes) {
    const test = (n.meta as { test?: unknown } | undefined)?.test;
    if (typeof test === 'function') await test(params.context, snapshot);
  }
}

/** Whether a state path like `form.editing` (from the root, without the machine id) is active. */
function matchesPath(nodes: AnyStateNode[], path: string): boolean {
  return nodes.some((n) => n.path.join('.') === path);
}
