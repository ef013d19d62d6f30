import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, transition } from 'xstate';
import { FINAL_TASK_STATUSES, taskLifecycle, type TaskContext, type TaskEvent, type TaskStatus } from '../../machines/taskLifecycle.js';
import { taskStepper, taskTransitionTable } from '../../machines/taskTable.js';
import { checkModel, generateModelPaths, isDelayedEvent } from '../../system/modelPaths.js';
import { TASK_SAMPLE_EVENTS, taskLifecyclePlan } from '../../system/modelPlans/taskLifecycle.plan.js';
import { Kernel } from '../../system/kernel.js';

const EVENTS = TASK_SAMPLE_EVENTS;
const plan = taskLifecyclePlan;

describe('taskLifecycle model', () => {
  it('covers every state and transition of the chart on generated paths, actor agreeing with the model', () => {
    const report = checkModel(plan);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.states.covered).toBe(report.states.total);
    expect(report.transitions.covered).toBe(report.transitions.total);
    expect(report.paths).toBeGreaterThan(20);
  });

  it('a completed task never changes again, whatever it is sent', () => {
    const k = new Kernel();
    const actor = createActor(taskLifecycle, { clock: k, input: { maxRetries: 0 } }).start();
    for (const e of [{ type: 'ASSIGN', worker: 'a' }, { type: 'START' }, { type: 'COMPLETE' }] as TaskEvent[]) actor.send(e);
    const done = actor.getSnapshot();
    expect(done.value).toBe('completed');
    expect(done.status).toBe('done');
    for (const e of EVENTS) {
      const [next] = transition(taskLifecycle, done, e);
      expect(next.value).toBe('completed');
      expect(next.context).toEqual(done.context);
    }
  });

  it('runs its deadline and backoff as named delays on virtual time', () => {
    const k = new Kernel();
    const actor = createActor(taskLifecycle, { clock: k, input: { maxRetries: 1, timeoutMs: 500, backoffMs: 200 } }).start();
    actor.send({ type: 'ASSIGN', worker: 'w' });
    actor.send({ type: 'START' });
    k.advance(499);
    expect(actor.getSnapshot().value).toBe('running');
    k.advance(1);
    expect(actor.getSnapshot().value).toBe('timedOut');
    k.advance(200);
    expect(actor.getSnapshot().value).toBe('pending');
    actor.send({ type: 'ASSIGN', worker: 'w' });
    actor.send({ type: 'START' });
    k.advance(500);
    expect(actor.getSnapshot().value).toBe('failed'); // retries exhausted: timedOut passes straight on
  });
});

describe('taskLifecycle transition table', () => {
  it('is derived from the chart: every state, final state and event of the definition', () => {
    expect(taskTransitionTable.initial).toBe('pending');
    expect(taskTransitionTable.states).toEqual(Object.keys(taskLifecycle.root.states));
    expect(taskTransitionTable.finals).toEqual(['completed', 'failed', 'cancelled']);
    expect(Object.keys(taskTransitionTable.on.running).sort()).toEqual(
      [...taskLifecycle.root.states.running.transitions.keys()].sort(),
    );
    expect(taskTransitionTable.on.running.FAIL.map((t) => t.guard)).toEqual(['canRetry', null]);
  });

  it('agrees with the machine on every generated path', () => {
    const paths = generateModelPaths(plan);
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths) {
      const ctx: TaskContext = { attempt: 0, maxRetries: 1, timeoutMs: 100, backoffMs: 40, worker: null };
      let state = taskStepper.initial(ctx);
      for (const step of path.steps) {
        const next = taskStepper.step(state, ctx, step.event as TaskEvent);
        if (next !== null) state = next;
        expect({ path: path.description, state, ctx }).toEqual({ path: path.description, state: step.state.value, ctx: step.state.context });
      }
    }
  });

  it('rejects what the chart does not allow and leaves the record untouched', () => {
    const ctx: TaskContext = { attempt: 0, maxRetries: 3, timeoutMs: 1, backoffMs: 1, worker: null };
    expect(taskStepper.step('pending', ctx, { type: 'COMPLETE' })).toBeNull();
    expect(taskStepper.step('completed', ctx, { type: 'CANCEL' })).toBeNull();
    expect(ctx).toEqual({ attempt: 0, maxRetries: 3, timeoutMs: 1, backoffMs: 1, worker: null });
    expect(() => taskStepper.step('nonsense', ctx, { type: 'START' })).toThrow(RangeError);
  });

  it('property: random event sequences never leave a final state, and table equals machine', () => {
    const event = fc.constantFrom(...EVENTS.filter((e) => !isDelayedEvent(e.type)));
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.integer({ min: 0, max: 3 }), (events, maxRetries) => {
        const actor = createActor(taskLifecycle, { input: { maxRetries }, clock: new Kernel() }).start();
        const ctx: TaskContext = { attempt: 0, maxRetries, timeoutMs: 30_000, backoffMs: 1_000, worker: null };
        let state = taskStepper.initial(ctx);
        let finalSeen: string | null = null;
        for (const e of events) {
          if (actor.getSnapshot().status === 'active') actor.send(e);
          state = taskStepper.step(state, ctx, e) ?? state;
          const snap = actor.getSnapshot();
          expect(state).toBe(snap.value);
          expect(ctx).toEqual(snap.context);
          if (finalSeen) expect(snap.value).toBe(finalSeen);
          if (FINAL_TASK_STATUSES.has(snap.value as TaskStatus)) finalSeen = snap.value as string;
        }
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });
});
