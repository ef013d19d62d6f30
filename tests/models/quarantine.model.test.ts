import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, type SnapshotFrom } from 'xstate';
import {
  DEFAULT_QUARANTINE_CONFIG,
  PROBATION_SILENCE_REASON,
  quarantine,
  quarantineDurationFor,
  resolveQuarantineConfig,
  type QuarantineEvent,
  type QuarantineInput,
} from '../../machines/quarantine.js';
import { checkModel, type ModelPlan } from '../../system/modelPaths.js';
import { Kernel } from '../../system/kernel.js';
import { EVENTS, quarantineInvariant, SMALL, quarantinePlan as plan } from '../../system/modelPlans/quarantine.plan.js';
import type { Snap } from '../../system/modelPlans/quarantine.plan.js';

function start(input: QuarantineInput) {
  const kernel = new Kernel();
  const actor = createActor(quarantine, { clock: kernel, input }).start();
  const send = (...events: QuarantineEvent[]) => {
    for (const e of events) actor.send(e);
  };
  return { kernel, actor, send, snap: () => actor.getSnapshot() };
}

/** Advances until the actor leaves `state`; returns the virtual ms it took. */
function timeIn(q: ReturnType<typeof start>, state: string): number {
  const from = q.kernel.now();
  while (q.snap().value === state) {
    if (!q.kernel.step()) throw new Error(`no timer left in ${state}`);
  }
  return q.kernel.now() - from;
}

describe('quarantine model', () => {
  it('covers every state and transition on generated paths, actor agreeing with the model', () => {
    const report = checkModel(plan);
    expect(report.machine).toBe('quarantine');
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
    expect(report.states.covered).toBe(5); // root + 4 states
    expect(report.transitions.covered).toBe(report.transitions.total);
    expect(report.paths).toBeGreaterThan(100);
  });

  it('the invariant catches a duration over the maximum', () => {
    const q = start(SMALL);
    q.send({ type: 'ISOLATE', reason: 'x' });
    expect(() => quarantineInvariant(q.snap())).not.toThrow();
    expect(() => quarantineInvariant({ ...q.snap(), context: { ...q.snap().context, quarantineMs: 251 } } as Snap)).toThrow(/exceeds the maximum/);
  });
});

describe('quarantine behaviour', () => {
  it('a suspect is quarantined after suspectTimeout unless a heartbeat clears it first', () => {
    const q = start({ suspectTimeoutMs: 400 });
    q.send({ type: 'SUSPECT', reason: 'phi' });
    q.kernel.advance(399);
    q.send({ type: 'ALIVE' });
    expect(q.snap().value).toBe('healthy');
    expect(q.snap().context.reason).toBeNull();
    q.kernel.advance(1_000);
    expect(q.snap().value).toBe('healthy'); // the suspect timer was cancelled
    q.send({ type: 'SUSPECT', reason: 'heartbeat-timeout' }, { type: 'SUSPECT', reason: 'phi' });
    expect(q.snap().context.reason).toBe('heartbeat-timeout'); // the first verdict stands
    q.kernel.advance(399);
    expect(q.snap().value).toBe('suspect');
    q.kernel.advance(1);
    expect(q.snap().value).toBe('quarantined');
    expect(q.snap().context).toMatchObject({ strikes: 1, quarantineMs: DEFAULT_QUARANTINE_CONFIG.baseQuarantineMs, reason: 'heartbeat-timeout' });
  });

  it('escalates: each strike doubles the quarantine, up to the maximum duration', () => {
    const q = start({ baseQuarantineMs: 1_000, maxQuarantineMs: 5_000, maxStrikes: 10, probationPeriodMs: 500 });
    q.send({ type: 'SUSPECT', reason: 'phi' }, { type: 'CONFIRM' });
    const served: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(q.snap().value).toBe('quarantined');
      served.push(timeIn(q, 'quarantined'));
      expect(q.snap().value).toBe('probation');
      q.send({ type: 'FAILURE', reason: `relapse ${i}` });
    }
    expect(served).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(q.snap().context).toMatchObject({ strikes: 6, quarantineMs: 5_000, reason: 'relapse 4' });
  });

  it('caps the strikes, so escalation stops at maxStrikes', () => {
    const q = start({ baseQuarantineMs: 1_000, maxQuarantineMs: 100_000, maxStrikes: 3 });
    q.send({ type: 'ISOLATE', reason: 'operator' });
    const served: number[] = [];
    for (let i = 0; i < 5; i++) {
      served.push(timeIn(q, 'quarantined'));
      q.send({ type: 'SUSPECT', reason: 'phi' }); // no benefit of the doubt on probation
    }
    expect(served).toEqual([1_000, 2_000, 4_000, 4_000, 4_000]);
    expect(q.snap().context.strikes).toBe(3);
  });

  it('probation ends healthy after probationPeriod with enough heartbeats, suspect when silent', () => {
    const q = start({ baseQuarantineMs: 100, probationPeriodMs: 300, probationHeartbeats: 2, suspectTimeoutMs: 50 });
    q.send({ type: 'ISOLATE', reason: 'operator' }, { type: 'RELEASE' });
    expect(q.snap().value).toBe('probation');
    q.send({ type: 'ALIVE' });
    expect(timeIn(q, 'probation')).toBe(300);
    expect(q.snap().value).toBe('suspect'); // one heartbeat of two
    expect(q.snap().context.reason).toBe(PROBATION_SILENCE_REASON);
    expect(timeIn(q, 'suspect')).toBe(50);
    expect(q.snap().context).toMatchObject({ strikes: 2, quarantineMs: 200 });
    expect(timeIn(q, 'quarantined')).toBe(200);
    q.kernel.advance(100);
    q.send({ type: 'ALIVE' }, { type: 'ALIVE' }, { type: 'ALIVE' });
    expect(q.snap().context.heartbeats).toBe(2); // capped
    expect(timeIn(q, 'probation')).toBe(200); // heartbeats do not re-arm the probation timer
    expect(q.snap().value).toBe('healthy');
    expect(q.snap().context).toMatchObject({ reason: null, strikes: 2 });
  });

  it('a quarantined peer serves its term whatever it sends; RELEASE ends it early', () => {
    const q = start({ baseQuarantineMs: 1_000 });
    q.send({ type: 'FAILURE', reason: 'rpc-error' });
    expect(q.snap().value).toBe('suspect');
    q.send({ type: 'FAILURE', reason: 'breaker-open' });
    expect(q.snap().value).toBe('quarantined');
    q.send({ type: 'ALIVE' }, { type: 'SUSPECT', reason: 'phi' }, { type: 'CONFIRM' }, { type: 'ISOLATE', reason: 'again' });
    expect(q.snap().value).toBe('quarantined');
    expect(q.snap().context).toMatchObject({ strikes: 1, reason: 'breaker-open' });
    q.kernel.advance(10);
    q.send({ type: 'RELEASE' });
    expect(q.snap().value).toBe('probation');
  });

  it('strikes decay one per strikeDecay period spent healthy', () => {
    const q = start({ baseQuarantineMs: 100, probationPeriodMs: 100, probationHeartbeats: 0, strikeDecayMs: 1_000 });
    const release: QuarantineEvent = { type: 'RELEASE' };
    q.send({ type: 'ISOLATE', reason: 'operator' }, release); // strike 1
    q.send({ type: 'FAILURE', reason: 'relapse' }, release); // 2
    q.send({ type: 'SUSPECT', reason: 'phi' }, release); // 3
    q.send({ type: 'ISOLATE', reason: 'operator' }, release); // 4
    q.send({ type: 'FAILURE', reason: 'relapse' }, release); // 5
    expect(q.snap().value).toBe('probation');
    expect(q.snap().context.strikes).toBe(5);
    timeIn(q, 'probation');
    expect(q.snap().value).toBe('healthy');
    q.kernel.advance(999);
    expect(q.snap().context.strikes).toBe(5);
    q.kernel.advance(1);
    expect(q.snap().context.strikes).toBe(4);
    q.kernel.advance(2_000);
    expect(q.snap().context.strikes).toBe(2);
    q.send({ type: 'SUSPECT', reason: 'phi' });
    q.kernel.advance(5_000); // suspect time does not count
    q.send({ type: 'CLEAR' });
    expect(q.snap().context).toMatchObject({ strikes: 0, quarantineMs: 0, reason: null });
    q.kernel.advance(1_000); // the decay timer finds nothing to forgive, and stops
    expect(q.kernel.pending).toBe(0);
  });

  it('a new quarantine after the strikes decayed is shorter again', () => {
    const q = start({ baseQuarantineMs: 100, probationPeriodMs: 10, probationHeartbeats: 0, strikeDecayMs: 1_000 });
    q.send({ type: 'ISOLATE', reason: 'a' });
    timeIn(q, 'quarantined');
    q.send({ type: 'FAILURE', reason: 'b' });
    expect(timeIn(q, 'quarantined')).toBe(200);
    timeIn(q, 'probation');
    q.kernel.advance(2_000);
    expect(q.snap().context.strikes).toBe(0);
    q.send({ type: 'ISOLATE', reason: 'c' });
    expect(timeIn(q, 'quarantined')).toBe(100);
  });

  it('resolves its configuration: defaults, and every field in its valid range', () => {
    expect(resolveQuarantineConfig()).toEqual(DEFAULT_QUARANTINE_CONFIG);
    expect(createActor(quarantine, { input: {} }).getSnapshot().context.config).toEqual(DEFAULT_QUARANTINE_CONFIG);
    const c = resolveQuarantineConfig({ baseQuarantineMs: 2_000, maxQuarantineMs: 500, maxStrikes: 0, probationHeartbeats: -3, suspectTimeoutMs: Number.NaN });
    expect(c).toMatchObject({ baseQuarantineMs: 2_000, maxQuarantineMs: 2_000, maxStrikes: 1, probationHeartbeats: 0, suspectTimeoutMs: DEFAULT_QUARANTINE_CONFIG.suspectTimeoutMs });
    expect(quarantineDurationFor(c, 0)).toBe(0);
    expect(quarantineDurationFor(DEFAULT_QUARANTINE_CONFIG, 1_000)).toBe(DEFAULT_QUARANTINE_CONFIG.maxQuarantineMs);
  });
});

describe('quarantine properties', () => {
  type Op = { kind: 'send'; event: QuarantineEvent } | { kind: 'advance'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...EVENTS).map((event): Op => ({ kind: 'send', event })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }).map((ms): Op => ({ kind: 'advance', ms })) },
  );

  it('never exceeds the maximum duration or strikes, and a quarantine lasts exactly its escalated duration', () => {
    const servedByLength = new Map<number, number>();
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60, size: 'max' }), (ops) => {
        const q = start(SMALL);
        let prev = q.snap().value;
        let enteredAt = 0;
        let expected = 0;
        const observe = (byTimer: boolean) => {
          const snap = q.snap();
          quarantineInvariant(snap);
          if (prev !== 'quarantined' && snap.value === 'quarantined') {
            enteredAt = q.kernel.now();
            expected = snap.context.quarantineMs;
          } else if (prev === 'quarantined' && snap.value !== 'quarantined') {
            const served = q.kernel.now() - enteredAt;
            if (byTimer) {
              expect(served).toBe(expected);
              servedByLength.set(served, (servedByLength.get(served) ?? 0) + 1);
            }
            else expect(served).toBeLessThanOrEqual(expected); // RELEASE or CLEAR ended it early
          }
          prev = snap.value;
        };
        for (const o of ops) {
          if (o.kind === 'send') {
            q.send(o.event);
            observe(false);
          } else {
            // Timer by timer, so the exact time a quarantine ends is observed.
            const end = q.kernel.now() + o.ms;
            while (q.kernel.peek() !== undefined && q.kernel.peek()! <= end) {
              q.kernel.step();
              observe(true);
            }
            q.kernel.advance(end - q.kernel.now());
          }
        }
      }),
      { numRuns: 300, seed: 20261126 },
    );
    // Not vacuous: quarantines ran to term at every escalation step, the capped one included.
    expect([...servedByLength.keys()].sort((a, b) => a - b)).toEqual([100, 200, 250]);
  });
});
