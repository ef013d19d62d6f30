import { describe, expect, it } from 'vitest';
import { ClusterState, type SessionCommand } from '../actors/clusterState.js';
import { HandlerRegistry, NonRetryableError } from '../actors/taskHandlers.js';
import { TaskTable, backoffDelay, type ProofArtifact, type TaskTransition } from '../actors/taskTable.js';
import { resultHash } from '../actors/resultHash.js';
import type { LogEntry } from '../actors/raftTypes.js';
import { randomIds, sequentialIds } from '../system/ids.js';
import { resolveTaskSpec } from '../system/taskSpec.js';
import { CryptoRandom, WallClock } from '../system/wallClock.js';

let index = 0;
const entry = (command: SessionCommand): LogEntry & { payload: { kind: 'command' } } => ({ index: ++index, term: 1, payload: { kind: 'command', command } });

describe('real-mode clock and randomness', () => {
  it('WallClocks made at different times, as in different processes, read one time base (epoch ms), so task times and rate limits compare across them', async () => {
    const early = new WallClock();
    await new Promise<void>((r) => setTimeout(r, 20)); // the second is made later, as a client that connects later
    const late = new WallClock();
    expect(Math.abs(early.now() - late.now())).toBeLessThan(1);
    expect(Math.abs(late.now() - Date.now())).toBeLessThan(1_000);
  });

  it('WallClock measures elapsed time and runs timers; CryptoRandom draws in range', async () => {
    const clock = new WallClock();
    const t0 = clock.now();
    expect(t0).toBeGreaterThanOrEqual(0);
    // A real timer (not a sleep standing in for synchronization: this tests the timer).
    const fired = await new Promise<boolean>((resolve) => {
      const h = clock.setTimeout(() => resolve(true), 1);
      expect(h).toBeDefined();
    });
    expect(fired).toBe(true);
    let cancelled = true;
    const h = clock.setTimeout(() => (cancelled = false), 0);
    clock.clearTimeout(h);
    await new Promise<void>((r) => clock.setTimeout(r, 5));
    expect(cancelled).toBe(true);
    expect(clock.now()).toBeGreaterThan(t0);
    const r = new CryptoRandom();
    for (let i = 0; i < 100; i++) {
      const x = r.int(3, 7);
      expect(x).toBeGreaterThanOrEqual(3);
      expect(x).toBeLessThanOrEqual(7);
      expect(r.float()).toBeLessThan(1);
    }
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    expect(r.bytes(8)).toHaveLength(8);
    expect(() => r.int(2, 1)).toThrow(RangeError);
  });

  it('id sources: sequential and random', () => {
    const s = sequentialIds(5);
    expect([s.next('m'), s.next('m'), s.next()]).toEqual(['m-5', 'm-6', 'id-7']);
    const r = randomIds(10);
    expect(r.next('task')).toMatch(/^task_[A-Za-z0-9_-]{10}$/);
    expect(r.next()).not.toBe(r.next());
  });
});

describe('HandlerRegistry', () => {
  it('registers, replaces and refuses bad handlers; NonRetryableError is not retryable', () => {
    const reg = new HandlerRegistry();
    reg.register('a', () => 1);
    expect(reg.has('a')).toBe(true);
    expect(reg.types()).toEqual(['a']);
    expect(() => reg.register('', () => 1)).toThrow(TypeError);
    expect(() => reg.register('b', 42 as never)).toThrow(TypeError);
    expect(new NonRetryableError('x').retryable).toBe(false);
  });
});

describe('ClusterState', () => {
  it('walks a member through every operator command and refuses what the chart does not allow', () => {
    const s = new ClusterState();
    s.apply(entry({ cmd: { op: 'bootstrap', voters: ['n1'] } }));
    expect(s.apply(entry({ cmd: { op: 'approve', node: 'ghost' } }))).toMatchObject({ ok: false, code: 'UnknownMember' });
    expect(s.apply(entry({ cmd: { op: 'block', node: 'n9', reason: 'stolen key' } }))).toEqual({ ok: true, value: 'blocked' });
    expect(s.apply(entry({ cmd: { op: 'join', node: 'n9' } }))).toMatchObject({ ok: false, code: 'InvalidTransition' });
    expect(s.apply(entry({ cmd: { op: 'unblock', node: 'n9' } }))).toEqual({ ok: true, value: 'removed' });
    expect(s.apply(entry({ cmd: { op: 'join', node: 'n9' } }))).toEqual({ ok: true, value: 'pendingApproval' });
    expect(s.apply(entry({ cmd: { op: 'approve', node: 'n9' } }))).toEqual({ ok: true, value: 'learner' });
    expect(s.apply(entry({ cmd: { op: 'promote', node: 'n9' } }))).toEqual({ ok: true, value: 'voter' });
    expect(s.apply(entry({ cmd: { op: 'demote', node: 'n9' } }))).toEqual({ ok: true, value: 'learner' });
    expect(s.apply(entry({ cmd: { op: 'registerTenant', tenant: 'acme', quota: { maxCpuUnits: 4 } } }))).toEqual({ ok: true });
    expect(s.tenant('acme')?.quota.maxCpuUnits).toBe(4);
    expect(s.apply(entry({ cmd: { op: 'nonsense' } as never }))).toMatchObject({ ok: false, code: 'InvalidCommand' });
    expect(s.apply({ index: ++index, term: 1, payload: { kind: 'command', command: null } })).toMatchObject({ ok: false, code: 'InvalidCommand' });
    const changes = s.takeChanges();
    expect(changes.members.map((m) => `${m.node}:${m.status}`)).toContain('n9:blocked');
    expect(s.takeChanges().members).toEqual([]);
    // Snapshot and restore give an equal, independent state.
    const copy = new ClusterState();
    copy.restore(s.snapshot());
    expect(copy.members()).toEqual(s.members());
    expect(copy.snapshot()).toEqual(s.snapshot());
  });

  it('applies a session request once, answers repeats the same way, refuses older ones, and evicts old sessions, which then answer SessionExpired', () => {
    const s = new ClusterState({ maxSessions: 2 });
    s.apply(entry({ cmd: { op: 'bootstrap', voters: ['n1'] } }));
    const put = (client: string, seq: number, value: number, firstUnanswered?: number) =>
      s.apply(entry({ client, seq, firstUnanswered, cmd: { op: 'put', key: client, value } }));
    expect(put('a', 1, 10)).toEqual({ ok: true, value: { revision: 1 }, appliedIndex: index });
    const first = index;
    expect(put('a', 1, 99)).toEqual({ ok: true, value: { revision: 1 }, appliedIndex: first }); // a retry: not applied again, answered with where it took effect
    expect(s.get('a')).toBe(10);
    expect(put('a', 2, 20)).toMatchObject({ ok: true });
    // Several requests in flight: a retry of an older one gets its own answer, applied once.
    expect(put('a', 1, 30)).toMatchObject({ ok: true });
    expect(s.get('a')).toBe(20);
    // Once the client says it has every answer below 3, a late duplicate of 1 is refused.
    expect(put('a', 3, 40, 3)).toMatchObject({ ok: true });
    expect(put('a', 1, 50)).toMatchObject({ ok: false, code: 'StaleRequest' });
    expect(s.get('a')).toBe(40);
    put('b', 1, 1);
    put('c', 1, 1); // evicts the least recently used session, a
    // Forgotten: a retry must not be applied as new (it may have taken effect before).
    expect(put('a', 3, 77)).toMatchObject({ ok: false, code: 'SessionExpired' });
    expect(put('a', 4, 78)).toMatchObject({ ok: false, code: 'SessionExpired' });
    expect(s.get('a')).toBe(40);
    // The expiry survives a snapshot, as all replicated state does.
    const copy = new ClusterState({ maxSessions: 2 });
    copy.restore(s.snapshot());
    expect(copy.apply(entry({ client: 'a', seq: 5, cmd: { op: 'put', key: 'a', value: 79 } }))).toMatchObject({ ok: false, code: 'SessionExpired' });
  });

  it('refuses tasks for unknown tenants and reports single refused task changes with a code', () => {
    const s = new ClusterState();
    s.apply(entry({ cmd: { op: 'bootstrap', voters: ['n1'] } }));
    const spec = resolveTaskSpec({ type: 't', tenant: 'nobody' });
    expect(s.apply(entry({ cmd: { op: 'submitTasks', tasks: [{ id: 'x', spec, submittedAt: 0 }] } }))).toMatchObject({ ok: false, code: 'UnknownTenant' });
    expect(s.apply(entry({ cmd: { op: 'taskChanges', changes: [{ kind: 'retry', taskId: 'x', at: 0 }] } }))).toMatchObject({ ok: false, code: 'TaskNotFound' });
  });
});

/** A proof of `result` for one execution. */
function proofOf(taskId: string, workerId: string, attempt: number, result: unknown): ProofArtifact {
  return { taskId, workerId, attempt, startedAt: 0, completedAt: 1, cpuTimeUs: 1000, resultHash: resultHash(result) };
}

describe('TaskTable', () => {
  const spec = resolveTaskSpec({ type: 't', maxRetries: 0 });
  it('prunes finished tasks older than the window, keeps dead letters, refuses stale executions', () => {
    const t = new TaskTable({ retentionMs: 100, maxDeadLetters: 1, maxIdempotencyKeys: 1 });
    const out: TaskTransition[] = [];
    t.submit([{ id: 'a', spec, submittedAt: 0 }, { id: 'b', spec, submittedAt: 0 }, { id: 'c', spec, submittedAt: 0 }], 1, out);
    t.change([{ kind: 'assign', taskId: 'a', worker: 'w', at: 1 }, { kind: 'start', taskId: 'a', worker: 'w', attempt: 1, at: 2 }], 2, out);
    t.change([{ kind: 'complete', taskId: 'a', worker: 'x', attempt: 1, result: 1, proof: {} as never, at: 3 }], 3, out);
    expect(out.at(-1)).toMatchObject({ rejected: true, reason: 'from x, but the task is with w' });
    t.change([{ kind: 'complete', taskId: 'a', worker: 'w', attempt: 2, result: 1, proof: {} as never, at: 3 }], 4, out);
    expect(out.at(-1)).toMatchObject({ rejected: true, reason: 'for attempt 2, but the task is on attempt 1' });
    // A proof that does not describe the result is refused too; the real one is accepted.
    t.change([{ kind: 'complete', taskId: 'a', worker: 'w', attempt: 1, result: 1, proof: proofOf('a', 'w', 1, 2), at: 5 }], 5, out);
    expect(out.at(-1)).toMatchObject({ rejected: true, reason: expect.stringMatching(/^proof refused: resultHash/) });
    t.change([{ kind: 'complete', taskId: 'a', worker: 'w', attempt: 1, result: 1, proof: proofOf('a', 'x', 1, 1), at: 5 }], 5, out);
    expect(out.at(-1)).toMatchObject({ rejected: true, reason: 'proof refused: by x, but reported by w' });
    t.change([{ kind: 'complete', taskId: 'a', worker: 'w', attempt: 1, result: 1, proof: proofOf('a', 'w', 1, 1), at: 5 }], 5, out);
    expect(t.get('a')?.status).toBe('completed');
    for (const id of ['b', 'c']) {
      t.change([{ kind: 'assign', taskId: id, worker: 'w', at: 6 }, { kind: 'start', taskId: id, worker: 'w', attempt: 1, at: 6 }], 6, out);
      t.change([{ kind: 'fail', taskId: id, worker: 'w', attempt: 1, error: 'x', retryable: true, retryAt: 7, at: 7 }], 7, out);
    }
    expect(t.deadLetters().map((d) => d.id)).toEqual(['c']); // bounded: the oldest went
    expect(t.prune(5)).toBe(0); // finished at 5: not before 5
    expect(t.prune(500)).toBe(1);
    expect(t.get('a')).toBeUndefined();
    expect(t.pruned).toBe(1);
    expect(t.size).toBe(0);
  });

  it('backoff grows exponentially, is capped, and jitters within its fraction', () => {
    const p = { initialMs: 100, factor: 2, maxMs: 1_000, jitter: 0.5 };
    expect(backoffDelay(p, 1, 0.5)).toBe(100);
    expect(backoffDelay(p, 3, 0.5)).toBe(400);
    expect(backoffDelay(p, 10, 0.5)).toBe(1_000);
    expect(backoffDelay(p, 1, 0)).toBe(50);
    expect(backoffDelay(p, 1, 0.999)).toBeLessThanOrEqual(150);
  });
});

describe('ClusterState session answers', () => {
  it('keeps at most maxAnswersPerSession answers, dropping the lowest request numbers, even when a low one arrives after high ones', () => {
    const st = new ClusterState({ maxAnswersPerSession: 3 });
    const put = (seq: number) => st.apply(entry({ client: 'c', seq, cmd: { op: 'put', key: `k${seq}`, value: seq } }));
    for (const seq of [100, 101, 102]) expect(put(seq)).toMatchObject({ ok: true });
    expect(put(1)).toMatchObject({ ok: true }); // four answers: the lowest (1) goes
    const session = (st as unknown as { s: { sessions: Map<string, { answers: { entries(): Array<[number, unknown]> }; forgottenBelow: number }> } }).s.sessions.get('c')!;
    expect(session.answers.entries().map(([seq]) => seq)).toEqual([100, 101, 102]);
    expect(session.forgottenBelow).toBe(2);
    expect(put(1)).toMatchObject({ ok: false, code: 'StaleRequest' }); // its answer is gone: a retry is refused, not applied again
    expect(put(101)).toMatchObject({ ok: true, appliedIndex: expect.any(Number) }); // a kept answer is returned as the first time
    expect(st.get('k101')).toBe(101);
  });
});
