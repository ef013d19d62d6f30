import { describe, expect, it } from 'vitest';
import { assign, createActor, createMachine, fromPromise, sendParent, setup, spawnChild, type AnyMachineSnapshot, type EventObject } from 'xstate';
import { taskLifecycle, type TaskStatus } from '../machines/taskLifecycle.js';
import { resultHash } from '../actors/resultHash.js';
import { TaskTable, type TaskChange, type TaskTransition } from '../actors/taskTable.js';
import { createTestModel, TestPathError } from '../system/testModel.js';
import { main } from '../system/cli.js';
import { checkModel, runModelPath, generateModelPaths } from '../system/modelPaths.js';
import { resolveTaskSpec } from '../system/taskSpec.js';
import { circuitBreaker, type BreakerEvent } from '../machines/circuitBreaker.js';
import { breakerInvariant, EVENTS, SMALL } from '../system/modelPlans/circuitBreaker.plan.js';
import { Kernel } from '../system/kernel.js';

/** A door the tests drive: the system under test, written apart from its model. */
class Door {
  state: 'closed' | 'open' | 'locked' = 'closed';
  constructor(private readonly bug = false) {}
  open(): void {
    if (this.state === 'closed') this.state = 'open';
  }
  close(): void {
    if (this.state === 'open') this.state = 'closed';
  }
  lock(): void {
    if (this.state === 'closed') this.state = 'locked';
  }
  unlock(): void {
    // The planted bug: an unlocked door swings open.
    if (this.state === 'locked') this.state = this.bug ? 'open' : 'closed';
  }
}

const doorModel = createMachine({
  id: 'door',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'open', LOCK: 'locked' } },
    open: { on: { CLOSE: 'closed' } },
    locked: { on: { UNLOCK: 'closed' } },
  },
});

const driveDoor = (door: Door) => ({
  states: {
    closed: () => expect(door.state).toBe('closed'),
    open: () => expect(door.state).toBe('open'),
    locked: () => expect(door.state).toBe('locked'),
  },
  events: {
    OPEN: () => door.open(),
    CLOSE: () => door.close(),
    LOCK: () => door.lock(),
    UNLOCK: () => door.unlock(),
  },
});

describe('createTestModel: drives a system under test from a machine', () => {
  const model = createTestModel(doorModel);

  it.each(model.getPaths())('the door follows its model: $description', async (path) => {
    await path.test(driveDoor(new Door()));
  });

  it('the paths reach every state and transition, and the run reports what it covered', async () => {
    const paths = model.getPaths();
    expect(model.coverageOf(paths).states.missing).toEqual([]);
    expect(model.coverageOf(paths).transitions).toMatchObject({ covered: 4, total: 4 });
    const fresh = createTestModel(doorModel);
    for (const p of fresh.getPaths()) await p.test(driveDoor(new Door()));
    expect(fresh.coverage().transitions.covered).toBe(4);
  });

  it('a system that departs from the model fails, naming the path, the step and the state', async () => {
    const results = await Promise.all(model.getPaths().map((p) => p.test(driveDoor(new Door(true))).then(() => null, (e: unknown) => e)));
    const failures = results.filter((e) => e !== null);
    expect(failures).toHaveLength(1); // only the path through UNLOCK meets the bug
    const err = failures[0] as TestPathError;
    expect(err).toBeInstanceOf(TestPathError);
    expect(err.step).toBe(2);
    expect(err.event).toBe('UNLOCK');
    expect(err.message).toMatch(/path "LOCK → UNLOCK" failed at step 2 \(UNLOCK\), model state "closed": expected 'open' to be 'closed'/);
  });

  it('events with samples, a state assertion by tag and by id, and meta.test', async () => {
    const m = createMachine({
      id: 'counter',
      initial: 'idle',
      context: { n: 0 },
      states: {
        idle: { id: 'idle', tags: ['quiet'], on: { ADD: { target: 'busy', actions: assign({ n: ({ event }) => (event as { by: number } & EventObject).by }) } } },
        busy: { meta: { test: (ctx: { seen: string[] }) => ctx.seen.push('meta:busy') }, on: { RESET: 'idle' } },
      },
    });
    const model = createTestModel(m, { events: { ADD: [{ by: 2 }, { by: 3 }] } });
    const paths = model.getPaths();
    expect(paths.map((p) => p.description)).toEqual(['ADD {"by":2} → RESET']); // one path covers it all
    expect(model.exploration.states).toBe(5); // both samples explored: idle and busy with n = 2 and 3

    const ctx = { seen: [] as string[] };
    for (const p of paths) {
      await p.test({ context: ctx, states: { 'tag:quiet': (_s, c) => c.seen.push('tag'), '#idle': (_s, c) => c.seen.push('id') } });
    }
    expect(ctx.seen).toEqual(expect.arrayContaining(['tag', 'id', 'meta:busy']));
    await expect(paths[0].test({ states: { bsuy: () => {} } })).rejects.toThrow(/states\['bsuy'\] names no state of counter/);
  });
});

describe('createTestModel on machines as users write them', () => {
  it('a delayed transition is offered only while its timer is pending (an `after` on the root fires once)', () => {
    const m = createMachine({
      id: 'session',
      initial: 'active',
      after: { 1000: '.expired' },
      states: { active: { on: { PING: 'active' } }, expired: { on: { RENEW: 'active' } } },
    });
    const paths = createTestModel(m).getPaths();
    for (const p of paths) {
      const fired = p.steps.filter((s) => s.event.type.startsWith('xstate.after.')).length;
      expect(fired).toBeLessThanOrEqual(1);
    }
    expect(createTestModel(m).coverageOf().transitions.missing).toEqual([]);
  });

  it('invoked actors: done events where handled, error events only where an onError exists, with sample outputs', () => {
    const m = setup({ actors: { fetchUser: fromPromise(async () => ({ name: 'x' })), track: fromPromise(async () => null) } }).createMachine({
      id: 'loader',
      initial: 'loading',
      states: {
        loading: {
          invoke: [
            { id: 'user', src: 'fetchUser', onDone: { target: 'shown', guard: ({ event }) => event.output !== null }, onError: 'failed' },
            { id: 'tracking', src: 'track' },
          ],
          on: { CANCEL: 'failed' },
        },
        shown: {},
        failed: { on: { RETRY: 'loading' } },
      },
    });
    const model = createTestModel(m, { actors: { fetchUser: { output: [{ name: 'ada' }, null] } } });
    const events = model.getPaths().flatMap((p) => p.steps.map((s) => s.event.type));
    expect(events).toContain('xstate.done.actor.user');
    expect(events).toContain('xstate.error.actor.user');
    expect(events.some((t) => t.endsWith('actor.tracking'))).toBe(false);
    expect(model.coverageOf().states.missing).toEqual([]);
    expect(model.coverageOf().transitions.missing).toEqual([]);
  });

  it('history pseudo-states are not states to cover', () => {
    const m = createMachine({
      id: 'player',
      initial: 'on',
      states: {
        on: { initial: 'playing', states: { playing: { on: { PAUSE: 'paused' } }, paused: { on: { PLAY: 'playing' } }, hist: { type: 'history' } }, on: { OFF: 'off' } },
        off: { on: { ON: 'on.hist' } },
      },
    });
    const report = createTestModel(m).coverageOf();
    expect(report.states.total).toBe(5); // root, on, playing, paused, off
    expect(report.states.missing).toEqual([]);
  });

  it('spawned actors’ ids do not split states', () => {
    const child = createMachine({ id: 'child' });
    let n = 0;
    const m = setup({ actors: { child } }).createMachine({
      id: 'parent',
      initial: 'a',
      states: { a: { on: { SPAWN: { target: 'b', actions: spawnChild('child', { id: () => `c${n++}` }) } } }, b: { on: { BACK: 'a' } } },
    });
    const model = createTestModel(m, { limit: 50 });
    expect(model.exploration.truncated).toBe(false);
    expect(model.coverageOf().transitions.missing).toEqual([]);
  });

  it('a run past its limit returns a partial report naming serialize, stopWhen and limit, and lowering the limit truncates', () => {
    const m = createMachine({
      id: 'ticker',
      initial: 'on',
      context: { n: 0 },
      states: { on: { on: { TICK: { actions: assign({ n: ({ context }) => context.n + 1 }) }, STOP: 'off' } }, off: {} },
    });
    const model = createTestModel(m, { limit: 20 });
    expect(model.exploration.truncated).toBe(true);
    expect(model.exploration.states).toBe(20);
    expect(model.exploration.message).toMatch(/serialize.*stopWhen.*limit/);
    const report = model.coverageOf();
    expect(report.states.missing).toEqual([]); // off is reached from the first state already
    const bounded = createTestModel(m, { serialize: (s) => JSON.stringify(s.value) });
    expect(bounded.exploration.truncated).toBe(false);
    expect(() => createTestModel(m, { limit: 0 })).toThrow(RangeError);
    expect(() => createTestModel({} as never)).toThrow(/needs an XState v5 machine/);
    expect(() => createTestModel(m, { events: { TICK: 'fast' as never } })).toThrow(/events.TICK must be an array/);
    expect(() => createTestModel(m, { actors: { load: { output: 1 as never } } })).toThrow(/actors.load must be/);
    expect(() => createTestModel(m, { serialize: 'json' as never })).toThrow(/serialize must be a function/);
    expect(() => createTestModel(m, { limt: 5 } as never)).toThrow(/createTestModel: unknown option 'limt'; known: input, events/);
    // The path runner's plans are checked alike: no machine, no events function, a misspelt key.
    expect(() => checkModel({} as never)).toThrow(/a model plan needs an XState v5 machine/);
    expect(() => checkModel({ machine: m } as never)).toThrow(/a model plan needs events: a function of the snapshot/);
    expect(() => generateModelPaths({ machine: m, events: () => [], limt: 5 } as never)).toThrow(/model plan: unknown option 'limt'/);
    expect(checkModel({ machine: m, events: () => [{ type: 'TICK' }], serialize: (s) => JSON.stringify(s.value) }).states.total).toBeGreaterThan(0);
  });
});

describe('createTestModel with no samples: payloads synthesized from what the machine reads', () => {
  const review = setup({
    actors: { score: fromPromise(async () => ({ status: 'ok' })), archive: fromPromise(async () => null) },
    guards: { looksApproved: ({ event }) => (event as unknown as { verdict: string }).verdict === 'approve' },
  }).createMachine({
    id: 'review',
    initial: 'open',
    context: { status: '' as string, note: '' },
    states: {
      open: {
        on: {
          NOTE: { guard: ({ event }) => (event as unknown as { text: string }).text.trim().length > 0, actions: assign({ note: ({ event }) => (event as unknown as { text: string }).text }) },
          DECIDE: [
            { guard: 'looksApproved', target: 'scoring' },
            { guard: ({ event }) => (event as unknown as { verdict: string }).verdict === 'reject', target: 'rejected' },
          ],
        },
      },
      scoring: {
        invoke: {
          src: 'score',
          onDone: { target: 'judged', actions: assign({ status: ({ event }) => (event.output as { status: string }).status }) },
        },
      },
      judged: {
        always: [
          { guard: ({ context }) => context.status === 'HIGH', target: 'archiving' },
          { guard: ({ context }) => context.status === 'LOW', target: 'rejected' },
        ],
      },
      archiving: {
        invoke: {
          src: 'archive',
          onDone: 'archived',
          onError: [
            { guard: ({ event }) => (event.error as Error).message === 'disk full', target: 'open' },
            { target: 'rejected' },
          ],
        },
      },
      archived: { type: 'final' },
      rejected: { type: 'final' },
    },
  });

  it('fills each field a guard compares with the literals the guards use: events, actor outputs and errors', () => {
    const model = createTestModel(review);
    const report = model.coverageOf();
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    const all = model.getPaths().map((p) => p.description).join('\n');
    expect(all).toContain('DECIDE {"verdict":"approve"}');
    expect(all).toContain('DECIDE {"verdict":"reject"}');
    expect(all).toContain('done(score) {"output":{"status":"HIGH"}}');
    expect(all).toMatch(/error\(archive\) \{"error":"disk full"\}/);
  });

  it('a field read as a string gets a non-empty sample; synthesize: false offers payload-less events only', () => {
    const withSynthesis = createTestModel(review).coverageOf();
    expect(withSynthesis.transitions.missing.filter((t) => t.includes('NOTE'))).toEqual([]);
    const without = createTestModel(review, { synthesize: false }).coverageOf();
    expect(without.states.missing).toContain('review.scoring');
    expect(without.transitions.missing.some((t) => t.includes('NOTE'))).toBe(true);
    expect(() => createTestModel(review, { synthesize: 'yes' as never })).toThrow(/synthesize must be true or false/);
  });

  it('numbers are tried with their neighbours: a guard that needs more than its literal (n - 1 < x) is passed', () => {
    const player = setup({
      actors: { load: fromPromise(async () => ({ tracks: 3 })) },
      guards: { hasNext: ({ context }) => context.track < context.tracks - 1 },
    }).createMachine({
      id: 'player',
      context: { track: 0, tracks: 0 },
      initial: 'loading',
      states: {
        loading: { invoke: { src: 'load', onDone: { target: 'ready', actions: assign({ tracks: ({ event }) => (event.output as { tracks: number }).tracks }) } } },
        ready: { on: { NEXT: { guard: 'hasNext', actions: assign({ track: ({ context }) => context.track + 1 }) } } },
      },
    });
    // Only 1 appears in the guard; a track list of 1 has no next track, one of 2 has.
    const model = createTestModel(player);
    expect(model.coverageOf().transitions.missing).toEqual([]);
    expect(model.getPaths().map((p) => p.description).join('\n')).toContain('done(load) {"output":{"tracks":2}} → NEXT');
  });

  it('samples given for an event or actor replace what would be synthesized', () => {
    const model = createTestModel(review, { events: { DECIDE: [{ verdict: 'reject' }] } });
    const all = model.getPaths().map((p) => p.description).join('\n');
    expect(all).not.toContain('DECIDE {"verdict":"approve"}');
    expect(model.coverageOf().states.missing).toContain('review.scoring');
  });
});

describe('createTestModel on actions that draw from Math.random, lists and parents', () => {
  // A board shuffled by an action, and a move whose direction only the context's initial value gives away
  // (the guard's source names no direction).
  const DIRECTIONS = new Set(['Up', 'Down', 'Left', 'Right']);
  const game = setup({
    types: { context: {} as { dir: string; board: number[]; steps: number }, events: {} as { type: 'MOVE'; dir: string } | { type: 'SHUFFLE' } },
  }).createMachine({
    id: 'game',
    initial: 'idle',
    context: { dir: 'Right', board: [0, 1, 2, 3], steps: 0 },
    states: {
      idle: {
        on: {
          SHUFFLE: { actions: assign({ board: ({ context }) => [...context.board].sort(() => Math.random() - 0.5) }) },
          MOVE: { guard: ({ event }) => DIRECTIONS.has(event.dir), target: 'moved' },
        },
      },
      moved: { type: 'final' },
    },
  });

  it('runs actions with a seeded Math.random (the same paths every time), restoring it after', () => {
    const random = Math.random;
    const boards = () => createTestModel(game).getPaths().flatMap((p) => p.steps.map((s) => JSON.stringify(s.state.context.board)));
    expect(boards()).toEqual(boards());
    expect(Math.random).toBe(random);
  });

  it("tries the strings the context's fields start with as payloads (an enumeration's first member)", () => {
    const model = createTestModel(game);
    expect(model.coverageOf().states.missing).toEqual([]);
    expect(model.getPaths().map((p) => p.description).join('\n')).toContain('MOVE {"dir":"Right"}');
  });

  it('gives an output read as a list (`output.map`) an empty list, and resolves sendParent', () => {
    const m = setup({ actors: { load: fromPromise(async () => [] as string[]) } }).createMachine({
      id: 'lists',
      initial: 'loading',
      context: { names: [] as string[] },
      states: {
        loading: { invoke: { src: 'load', onDone: { target: 'done', actions: assign({ names: ({ event }) => event.output.map((n: string) => n.toUpperCase()) }) } } },
        done: { entry: sendParent({ type: 'LOADED' }), type: 'final' },
      },
    });
    const model = createTestModel(m);
    expect(model.coverageOf().states.missing).toEqual([]);
    expect(model.coverageOf().transitions.missing).toEqual([]);
  });
});

describe('createTestModel past its limit', () => {
  it('walks at random (seeded) past the limit to what breadth-first order could not reach, the same paths every time', () => {
    // `goal` needs thirty TICKs; a NOISE flag doubles the states at each depth, so breadth-first stops far short.
    const deep = createMachine({
      id: 'deep',
      initial: 'counting',
      context: { n: 0, flag: false },
      states: {
        counting: {
          always: { guard: ({ context }) => context.n >= 30, target: 'goal' },
          on: {
            TICK: { actions: assign({ n: ({ context }) => context.n + 1 }) },
            NOISE: { actions: assign({ flag: ({ context }) => !context.flag }) },
          },
        },
        goal: { type: 'final' },
      },
    });
    const model = createTestModel(deep, { limit: 40 });
    expect(model.exploration.truncated).toBe(true);
    expect(model.exploration.states).toBeGreaterThan(40); // the walks' vertices, within a fifth more (at least 50)
    expect(model.exploration.states).toBeLessThanOrEqual(40 + 50);
    expect(model.coverageOf().states.missing).toEqual([]);
    const again = createTestModel(deep, { limit: 40 });
    expect(again.getPaths().map((p) => p.description)).toEqual(model.getPaths().map((p) => p.description));
    // The walks go no further than exploration would: stopWhen holds for them too.
    const stopped = createTestModel(deep, { limit: 40, stopWhen: (s) => (s.context as { n: number }).n >= 20 });
    expect(stopped.coverageOf().states.missing).toEqual(['deep.goal']);
  });
});

describe('Grey’s own components against their charts', () => {
  // The task table is production code: it folds log entries through the chart's
  // derived transition table. Each model path drives a fresh table with the
  // changes the cluster would commit, and checks its status after each step.
  const model = createTestModel(taskLifecycle, {
    input: { maxRetries: 1, timeoutMs: 100, backoffMs: 40 },
    events: { ASSIGN: [{ worker: 'w1' }], REASSIGN: [{ worker: 'w2' }], PROGRESS: [{ progress: 0.5 }], FAIL: [{}, { retryable: false }] },
  });

  const driveTable = () => {
    const table = new TaskTable();
    const out: TaskTransition[] = [];
    let index = 1;
    table.submit([{ id: 't', spec: resolveTaskSpec({ type: 'x', maxRetries: 1, timeoutMs: 100, backoff: { initialMs: 40 } }), submittedAt: 0 }], index, out);
    const rec = () => table.get('t')!;
    const apply = (c: TaskChange) => {
      const before = out.length;
      table.change([c], ++index, out);
      const refused = out.slice(before).find((t) => t.rejected);
      if (refused) throw new Error(`table refused ${c.kind}: ${refused.reason}`);
    };
    const at = 0;
    const states = Object.fromEntries(
      (['pending', 'assigned', 'running', 'retrying', 'timedOut', 'completed', 'failed', 'cancelled'] as TaskStatus[]).map((s) => [s, () => expect(rec().status).toBe(s)]),
    );
    return {
      states,
      events: {
        ASSIGN: (e: EventObject) => apply({ kind: 'assign', taskId: 't', worker: (e as { worker: string } & EventObject).worker, at }),
        REASSIGN: (e: EventObject) => apply({ kind: 'reassign', taskId: 't', worker: (e as { worker: string } & EventObject).worker, at }),
        START: () => apply({ kind: 'start', taskId: 't', worker: rec().worker!, attempt: rec().attempt + 1, at }),
        PROGRESS: () => apply({ kind: 'progress', taskId: 't', worker: rec().worker!, attempt: rec().attempt, progress: 0.5, at }),
        COMPLETE: () =>
          apply({ kind: 'complete', taskId: 't', worker: rec().worker!, attempt: rec().attempt, result: 1, proof: { taskId: 't', workerId: rec().worker!, attempt: rec().attempt, startedAt: 0, completedAt: 0, cpuTimeUs: 0, resultHash: resultHash(1) }, at }),
        FAIL: (e: EventObject) => apply({ kind: 'fail', taskId: 't', worker: rec().worker!, attempt: rec().attempt, error: 'boom', retryable: (e as { retryable?: boolean } & EventObject).retryable !== false, retryAt: 40, at }),
        TIMEOUT: () => apply({ kind: 'timeout', taskId: 't', worker: rec().worker!, attempt: rec().attempt, retryAt: 40, at }),
        RETRY: () => apply({ kind: 'retry', taskId: 't', at }),
        CANCEL: () => apply({ kind: 'cancel', taskId: 't', reason: 'test', at }),
        WORKER_LOST: () => apply({ kind: 'lost', taskId: 't', worker: rec().worker!, at }),
        // The chart's own timers: in the cluster the task controller commits these changes when they fire.
        'xstate.after': (_e: EventObject, s: AnyMachineSnapshot) =>
          s.value === 'running' ? apply({ kind: 'timeout', taskId: 't', worker: rec().worker!, attempt: rec().attempt, retryAt: 40, at }) : apply({ kind: 'retry', taskId: 't', at }),
      },
    };
  };

  it.each(model.getPaths())('the task table follows the task lifecycle chart: $description', async (path) => {
    await path.test(driveTable());
  });

  it('those paths cover the whole task chart', () => {
    const report = model.coverageOf();
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

describe('the circuit breaker, live on the kernel, against its chart', () => {
  // The system under test is a breaker actor as the nodes and clients run it:
  // on the kernel's clock, its reset timer real (virtual) time. The model is
  // explored purely; each step is performed on the live actor, and the live
  // snapshot must be the model's state and keep the breaker's invariant.
  const model = createTestModel(circuitBreaker, { input: SMALL });
  const paths = model.getPaths();

  it.each(paths)('a live breaker follows its chart: $description', async (path) => {
    const kernel = new Kernel({ seed: 1 });
    const actor = createActor(circuitBreaker, { clock: kernel, input: SMALL }).start();
    try {
      const same = (s: AnyMachineSnapshot) => {
        const live = actor.getSnapshot();
        expect(live.value).toBe(s.value);
        expect(live.context).toEqual(s.context);
        breakerInvariant(live);
      };
      const states = Object.fromEntries(['closed', 'open', 'halfOpen', 'forcedOpen', 'disabled'].map((v) => [v, same]));
      await path.test({
        states,
        events: {
          ...Object.fromEntries(EVENTS.map((e) => [e.type, (ev: EventObject) => actor.send(ev as BreakerEvent)])),
          'xstate.after': () => kernel.advance(SMALL.resetTimeoutMs!),
        },
      });
    } finally {
      actor.stop();
    }
  });

  it('those paths cover the whole breaker chart', () => {
    const report = model.coverageOf(paths);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

describe('runModelPath', () => {
  it('stops the actor of a path that fails, so no actor or timer leaks', () => {
    const m = createMachine({ id: 'leak', initial: 'a', states: { a: { after: { 10: 'b' } }, b: {} } });
    const plan = { machine: m, events: () => [], invariant: (s: AnyMachineSnapshot) => { if (s.value === 'b') throw new Error('b is wrong'); } };
    const [path] = generateModelPaths(plan).filter((p) => p.steps.length > 0);
    let stopped = 0;
    const actorProto = Object.getPrototypeOf(createActor(m));
    const stop = actorProto.stop;
    actorProto.stop = function (this: unknown) {
      stopped++;
      return stop.call(this);
    };
    try {
      expect(() => runModelPath(plan, path)).toThrow(/b is wrong/);
    } finally {
      actorProto.stop = stop;
    }
    expect(stopped).toBe(1);
  });
});

describe('grey paths', () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  it('lists the paths of a user’s machine and the coverage they reach; exits 1 when something is not reached', async () => {
    const c = capture();
    expect(await main(['paths', 'bench/machines/trafficLight.ts'], c.io)).toBe(0);
    expect(c.out.at(-1)).toMatch(/^2 paths; states 7\/7, transitions 5\/5/);
    const partial = capture();
    // A correct answer must equal the id of a character an actor loaded: no sample finds that by itself.
    expect(await main(['paths', 'bench/machines/triviaGame.ts#machine'], partial.io)).toBe(1);
    expect(partial.out.join('\n')).toMatch(/not taken: .*user\.selectAnswer/);
  });

  it('--json gives the paths with their events, and --options reads samples from the module', async () => {
    const c = capture();
    expect(await main(['paths', 'bench/machines/fetch.ts', '--json', '--limit', '50'], c.io)).toBe(0);
    const report = JSON.parse(c.out.join('\n'));
    expect(report.paths.length).toBeGreaterThan(0);
    expect(report.coverage.states.missing).toEqual([]);
    // An invocation without an id is named by its src, not by XState's internal id.
    const text = capture();
    await main(['paths', 'bench/machines/fetch.ts'], text.io);
    expect(text.out[0]).toMatch(/FETCH → done\(fetchUser\)/);
  });

  it('a bad module, export or limit is a one-line usage error', async () => {
    for (const args of [['paths'], ['paths', 'nope.js'], ['paths', 'bench/machines/index.ts'], ['paths', 'bench/machines/fetch.ts', '--limit', '0']]) {
      const c = capture();
      expect(await main(args, c.io)).toBe(2);
      expect(c.err[0]).toMatch(/^grey: /);
    }
  });
});
