import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, transition, type SnapshotFrom } from 'xstate';
import {
  breakerAdmits,
  breakerIgnores,
  circuitBreaker,
  DEFAULT_BREAKER_CONFIG,
  failureRateOf,
  pushOutcome,
  resolveBreakerConfig,
  windowTrips,
  type BreakerEvent,
  type BreakerInput,
} from '../../machines/circuitBreaker.js';
import { checkModel, type ModelPlan } from '../../system/modelPaths.js';
import { Kernel } from '../../system/kernel.js';
import { EVENTS, statsClear, breakerInvariant, SMALL, circuitBreakerPlan as plan } from '../../system/modelPlans/circuitBreaker.plan.js';
import type { Snap } from '../../system/modelPlans/circuitBreaker.plan.js';

function start(input: BreakerInput) {
  const kernel = new Kernel();
  const actor = createActor(circuitBreaker, { clock: kernel, input }).start();
  const send = (...types: BreakerEvent['type'][]) => {
    for (const type of types) actor.send({ type } as BreakerEvent);
  };
  return { kernel, actor, send, snap: () => actor.getSnapshot() };
}

describe('circuitBreaker model', () => {
  it('covers every state and transition on generated paths, actor agreeing with the model', () => {
    const report = checkModel(plan);
    expect(report.machine).toBe('circuitBreaker');
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.states.covered).toBe(6); // root + 5 states
    expect(report.transitions.covered).toBe(report.transitions.total);
    expect(report.paths).toBeGreaterThan(50);
  });

  it('the invariant catches a breaker that admits while open', () => {
    const { actor, send } = start(SMALL);
    send('FAILURE', 'FAILURE', 'FAILURE');
    const open = actor.getSnapshot();
    expect(open.value).toBe('open');
    expect(() => breakerInvariant({ ...open, value: 'halfOpen', context: { ...open.context, trialsInFlight: 3 } } as Snap)).toThrow(/trials in flight/);
    expect(() => breakerInvariant({ ...open, value: 'closed', context: { ...open.context, consecutiveFailures: 3 } } as Snap)).toThrow(/in a row/);
  });
});

describe('circuitBreaker behaviour', () => {
  it('trips on consecutive failures (count-based); a success resets the count', () => {
    const b = start({ failureThreshold: 3, windowSize: 10, minimumVolume: 10 });
    b.send('FAILURE', 'FAILURE', 'SUCCESS', 'FAILURE', 'FAILURE');
    expect(b.snap().value).toBe('closed');
    expect(b.snap().context.consecutiveFailures).toBe(2);
    expect(breakerAdmits(b.snap())).toBe(true);
    b.send('FAILURE');
    expect(b.snap().value).toBe('open');
    expect(breakerAdmits(b.snap())).toBe(false);
    expect(b.snap().context.window).toEqual([]); // a new state starts clean
  });

  it('trips on the failure rate of the sliding window, only with the minimum volume', () => {
    const b = start({ failureThreshold: 100, failureRateThreshold: 0.5, windowSize: 4, minimumVolume: 4 });
    b.send('FAILURE', 'FAILURE', 'FAILURE');
    expect(b.snap().value).toBe('closed'); // a rate of 1, but a volume of 3 < 4
    b.send('SUCCESS');
    expect(b.snap().value).toBe('open'); // the success brings the volume to 4, at a rate of 3/4

    const c = start({ failureThreshold: 100, failureRateThreshold: 0.5, windowSize: 4, minimumVolume: 4 });
    c.send('FAILURE', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS');
    expect(c.snap().context.window).toEqual(['success', 'success', 'success', 'success']); // the failure slid out
    c.send('FAILURE');
    expect(c.snap().value).toBe('closed'); // 1 of 4
    expect(failureRateOf(c.snap().context.window)).toBe(0.25);
    c.send('SUCCESS', 'FAILURE');
    expect(c.snap().value).toBe('open'); // success, failure, success, failure: 2 of 4 = 0.5
  });

  it('turns half-open exactly resetTimeoutMs virtual ms after opening', () => {
    const b = start({ ...SMALL, resetTimeoutMs: 700 });
    b.kernel.advance(123);
    b.send('FAILURE', 'FAILURE', 'FAILURE');
    const openedAt = b.kernel.now();
    expect(b.snap().value).toBe('open');
    b.kernel.advance(699);
    expect(b.snap().value).toBe('open');
    b.kernel.advance(1);
    expect(b.snap().value).toBe('halfOpen');
    expect(b.kernel.now() - openedAt).toBe(700);
  });

  it('admits at most halfOpenMaxCalls trials and closes after successThreshold successes', () => {
    const b = start({ ...SMALL, halfOpenMaxCalls: 2, successThreshold: 3 });
    b.send('FAILURE', 'FAILURE', 'FAILURE');
    b.kernel.advance(100);
    expect(b.snap().value).toBe('halfOpen');
    b.send('SUCCESS', 'FAILURE'); // late outcomes with no trial in flight: ignored
    expect(b.snap().value).toBe('halfOpen');
    expect(b.snap().context.trialSuccesses).toBe(0);
    b.send('CALL', 'CALL');
    expect(b.snap().context.trialsInFlight).toBe(2);
    expect(breakerAdmits(b.snap())).toBe(false);
    b.send('CALL'); // no slot: ignored
    expect(b.snap().context.trialsInFlight).toBe(2);
    b.send('SUCCESS');
    expect(b.snap().context).toMatchObject({ trialsInFlight: 1, trialSuccesses: 1 });
    expect(breakerAdmits(b.snap())).toBe(true);
    b.send('SUCCESS', 'CALL');
    expect(b.snap().value).toBe('halfOpen');
    b.send('SUCCESS');
    expect(b.snap().value).toBe('closed');
    expect(b.snap().context).toMatchObject({ window: [], consecutiveFailures: 0, trialsInFlight: 0, trialSuccesses: 0 });
  });

  it('reopens on a failed trial and waits a full reset timeout again', () => {
    const b = start({ ...SMALL, resetTimeoutMs: 500 });
    b.send('FAILURE', 'FAILURE', 'FAILURE');
    b.kernel.advance(500);
    b.send('CALL', 'CALL', 'SUCCESS', 'FAILURE');
    expect(b.snap().value).toBe('open');
    b.kernel.advance(499);
    expect(b.snap().value).toBe('open');
    b.kernel.advance(1);
    expect(b.snap().value).toBe('halfOpen');
    expect(b.snap().context.trialSuccesses).toBe(0);
  });

  it('forcedOpen ignores the reset timeout and outcomes; only RESET (or DISABLE) leaves it', () => {
    const b = start(SMALL);
    b.send('FAILURE', 'FAILURE', 'FAILURE', 'FORCE_OPEN');
    expect(b.snap().value).toBe('forcedOpen');
    b.kernel.advance(10_000);
    b.send('CALL', 'SUCCESS', 'SUCCESS', 'ENABLE');
    expect(b.snap().value).toBe('forcedOpen');
    expect(breakerAdmits(b.snap())).toBe(false);
    expect(b.kernel.pending).toBe(0); // the reset timer was cancelled on leaving open
    b.send('RESET');
    expect(b.snap().value).toBe('closed');
  });

  it('a disabled breaker admits everything and records nothing until ENABLE', () => {
    const b = start(SMALL);
    b.send('FAILURE', 'FAILURE', 'DISABLE');
    for (let i = 0; i < 20; i++) b.send('CALL', 'FAILURE');
    expect(b.snap().value).toBe('disabled');
    expect(breakerAdmits(b.snap())).toBe(true);
    expect(b.snap().context.window).toEqual([]);
    b.send('RESET');
    expect(b.snap().value).toBe('disabled');
    b.send('ENABLE', 'FAILURE', 'FAILURE');
    expect(b.snap().value).toBe('closed'); // the failures before DISABLE were forgotten
    b.send('FAILURE');
    expect(b.snap().value).toBe('open');
  });

  it('RESET closes an open or half-open breaker and clears a closed one', () => {
    const b = start(SMALL);
    b.send('FAILURE', 'FAILURE', 'RESET', 'FAILURE', 'FAILURE');
    expect(b.snap().value).toBe('closed');
    b.send('FAILURE', 'RESET');
    expect(b.snap().value).toBe('closed');
    b.send('FAILURE', 'FAILURE', 'FAILURE');
    b.kernel.advance(100);
    b.send('CALL', 'RESET');
    expect(b.snap().value).toBe('closed');
    expect(b.snap().context.trialsInFlight).toBe(0);
  });

  it('resolves its configuration: defaults, and every field in its valid range', () => {
    expect(resolveBreakerConfig()).toEqual(DEFAULT_BREAKER_CONFIG);
    expect(createActor(circuitBreaker, { input: {} }).getSnapshot().context.config).toEqual(DEFAULT_BREAKER_CONFIG);
    expect(resolveBreakerConfig({ windowSize: 4 }).minimumVolume).toBe(4);
    expect(
      resolveBreakerConfig({
        failureThreshold: 0,
        failureRateThreshold: 7,
        windowSize: 2.7,
        minimumVolume: 9,
        resetTimeoutMs: -5,
        halfOpenMaxCalls: Number.NaN,
        successThreshold: -1,
      }),
    ).toEqual({
      failureThreshold: 1,
      failureRateThreshold: 1,
      windowSize: 2,
      minimumVolume: 2,
      resetTimeoutMs: 0,
      halfOpenMaxCalls: DEFAULT_BREAKER_CONFIG.halfOpenMaxCalls,
      successThreshold: 1,
    });
    expect(resolveBreakerConfig({ failureRateThreshold: 0 }).failureRateThreshold).toBe(DEFAULT_BREAKER_CONFIG.failureRateThreshold);
    expect(pushOutcome(['failure', 'success'], 'failure', 2)).toEqual(['success', 'failure']);
  });
});

describe('circuitBreaker properties', () => {
  type Op = { kind: 'send'; event: BreakerEvent } | { kind: 'advance'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Op>({ kind: 'send', event: { type: 'CALL' } }) },
    { weight: 3, arbitrary: fc.constant<Op>({ kind: 'send', event: { type: 'SUCCESS' } }) },
    { weight: 4, arbitrary: fc.constant<Op>({ kind: 'send', event: { type: 'FAILURE' } }) },
    { weight: 1, arbitrary: fc.constantFrom<BreakerEvent>({ type: 'FORCE_OPEN' }, { type: 'RESET' }, { type: 'DISABLE' }, { type: 'ENABLE' }).map((event): Op => ({ kind: 'send', event })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 150 }).map((ms): Op => ({ kind: 'advance', ms })) },
  );
  const config = fc.record({
    failureThreshold: fc.integer({ min: 1, max: 5 }),
    failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
    windowSize: fc.integer({ min: 1, max: 6 }),
    minimumVolume: fc.integer({ min: 1, max: 6 }),
    resetTimeoutMs: fc.integer({ min: 0, max: 120 }),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
    successThreshold: fc.integer({ min: 1, max: 4 }),
  });

  it('a half-open breaker never has more than halfOpenMaxCalls trials, and a refused CALL changes nothing', () => {
    let halfOpenAdmissions = 0;
    let refusedCalls = 0;
    fc.assert(
      fc.property(config, fc.array(op, { maxLength: 80, size: 'max' }), (input, ops) => {
        const kernel = new Kernel();
        const actor = createActor(circuitBreaker, { clock: kernel, input }).start();
        const max = actor.getSnapshot().context.config.halfOpenMaxCalls;
        let oracle = 0; // trials admitted in this half-open spell and not yet finished, counted by the test
        for (const o of ops) {
          const before = actor.getSnapshot();
          if (o.kind === 'advance') kernel.advance(o.ms);
          else actor.send(o.event);
          const after = actor.getSnapshot();
          if (after.value === 'halfOpen' && before.value !== 'halfOpen') oracle = 0;
          if (o.kind === 'send' && before.value === 'halfOpen' && after.value === 'halfOpen') {
            if (o.event.type === 'CALL' && breakerAdmits(before)) {
              oracle++;
              halfOpenAdmissions++;
            }
            if ((o.event.type === 'SUCCESS' || o.event.type === 'FAILURE') && oracle > 0) oracle--;
          }
          if (o.kind === 'send' && o.event.type === 'CALL' && !breakerAdmits(before)) {
            refusedCalls++;
            expect(after.value).toBe(before.value);
            expect(after.context).toEqual(before.context);
          }
          if (after.value === 'halfOpen') {
            expect(after.context.trialsInFlight).toBeLessThanOrEqual(max);
            expect(after.context.trialsInFlight).toBe(oracle);
          } else {
            expect(after.context.trialsInFlight).toBe(0);
          }
          breakerInvariant(after);
        }
      }),
      { numRuns: 400, seed: 20261125 },
    );
    // The property is not vacuous: runs reached halfOpen, filled it and were refused.
    expect(halfOpenAdmissions).toBeGreaterThan(100);
    expect(refusedCalls).toBeGreaterThan(100);
  });

  it('breakerIgnores is exact: an event it says may be skipped changes neither state nor context of the running chart', () => {
    let skipped = 0;
    fc.assert(
      fc.property(config, fc.array(op, { maxLength: 80, size: 'max' }), (input, ops) => {
        const kernel = new Kernel();
        const actor = createActor(circuitBreaker, { clock: kernel, input }).start();
        for (const o of ops) {
          if (o.kind === 'advance') {
            kernel.advance(o.ms);
            continue;
          }
          const before = actor.getSnapshot();
          const ignored = breakerIgnores(before, o.event);
          actor.send(o.event);
          if (!ignored) continue;
          skipped++;
          const after = actor.getSnapshot();
          expect(after.value).toBe(before.value);
          expect(after.context).toEqual(before.context);
        }
      }),
      { numRuns: 300, seed: 20261126 },
    );
    expect(skipped).toBeGreaterThan(500); // not vacuous: full windows of successes happen
  });
});
