import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler, type Decision, type SchedulerOptions, type TaskSpec } from '../actors/scheduler.js';

const GiB = 1024 ** 3;

/** A task spec with defaults: 1 cpu, no memory, enqueued at 0, tenant "t". */
function spec(id: string, priority = 0, cpu = 1, enqueuedAt = 0, memoryBytes = 0, tenant = 't'): TaskSpec {
  return { id, priority, tenant, resources: { cpu, memoryBytes }, enqueuedAt };
}

/** A scheduler with `n` workers w1..wn of `cpu` CPUs and 8 GiB each. */
function withWorkers(n: number, cpu = 8, options: SchedulerOptions = {}): Scheduler {
  const s = new Scheduler(options);
  for (let i = 1; i <= n; i++) s.addWorker(`w${i}`, { cpu, memoryBytes: 8 * GiB });
  return s;
}

/** Places and starts `id` on `worker` (so it no longer counts against the queue limit). */
function run(s: Scheduler, task: TaskSpec, worker: string): void {
  s.enqueue(task);
  s.place(task.id, worker);
  s.start(task.id);
}

/** Applies `next` until it returns null; the decisions in order. */
function drain(s: Scheduler, now: number): Decision[] {
  const out: Decision[] = [];
  for (let d = s.next(now); d !== null; d = s.next(now)) {
    s.place(d.taskId, d.worker);
    s.start(d.taskId);
    out.push(d);
  }
  return out;
}

describe('Scheduler: determinism', () => {
  /** A fixed pseudo-random workload (an LCG: the test owns its randomness) and everything the scheduler answered. */
  function script(seed: number): unknown[] {
    let x = seed >>> 0;
    const rand = (n: number) => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return (x >>> 8) % n; // the low bits of an LCG cycle quickly
    };
    const s = new Scheduler({ agingMs: 50, reserveAfterMs: 200 });
    const answers: unknown[] = [];
    const placed: string[] = [];
    for (let i = 1; i <= 6; i++) s.addWorker(`w${i}`, { cpu: 2 + rand(6), memoryBytes: (1 + rand(4)) * GiB });
    for (let step = 0; step < 2_000; step++) {
      const now = step * 3;
      const r = rand(10);
      if (r < 2) {
        s.enqueue(spec(`t${step}`, rand(7) - 3, (1 + rand(20)) / 4, now - rand(100), rand(3) * GiB, `tenant${rand(3)}`));
      } else if (r < 5) {
        const d = s.next(now);
        answers.push(d);
        if (d) {
          s.place(d.taskId, d.worker);
          placed.push(d.taskId);
        }
      } else if (r < 6) {
        const ds = s.plan(now, 3);
        answers.push(ds);
        for (const d of ds) s.place(d.taskId, d.worker);
        placed.push(...ds.map((d) => d.taskId));
      } else if (r < 8 && placed.length > 0) {
        const at = rand(placed.length);
        const id = placed[at];
        if (s.task(id)?.status === 'placed') s.start(id);
        else {
          s.release(id);
          placed.splice(at, 1);
        }
      } else if (r < 9) {
        const moves = s.steal();
        answers.push(moves);
        for (const m of moves) s.move(m.taskId, m.to);
      } else {
        s.setWorkerAvailable(`w${1 + rand(6)}`, rand(4) !== 0);
      }
    }
    answers.push(s.stats());
    return answers;
  }

  it('gives the same decisions for the same calls, on two instances', () => {
    const a = script(7);
    const b = script(7);
    expect(a).toEqual(b);
    // The script exercised real decisions, not a stream of nulls.
    expect(a.filter((d) => d !== null && !Array.isArray(d)).length).toBeGreaterThan(100);
    expect(a.some((d) => Array.isArray(d) && d.length > 1 && 'worker' in d[0])).toBe(true);
    expect(a.some((d) => Array.isArray(d) && d.length > 0 && 'from' in d[0])).toBe(true);
    // And the workload matters: another seed decides differently.
    expect(script(8)).not.toEqual(a);
  });
});

describe('Scheduler: order', () => {
  it('takes the highest priority first, FIFO within a priority', () => {
    const s = withWorkers(1, 100, { maxQueuedPerWorker: 100 });
    s.enqueue(spec('a', 1));
    s.enqueue(spec('b', 5));
    s.enqueue(spec('c', 1));
    s.enqueue(spec('d', 5));
    s.enqueue(spec('e', 3));
    s.enqueue(spec('f', -100));
    s.enqueue(spec('g', 100));
    expect(drain(s, 0).map((d) => d.taskId)).toEqual(['g', 'b', 'd', 'e', 'a', 'c', 'f']);
  });

  it('orders a task requeued with an older enqueuedAt ahead of later ones of its priority', () => {
    const s = withWorkers(1, 100, { maxQueuedPerWorker: 100, agingMs: Infinity });
    s.enqueue(spec('late1', 0, 1, 500));
    s.enqueue(spec('late2', 0, 1, 600));
    s.enqueue(spec('requeued', 0, 1, 100));
    s.enqueue(spec('tie', 0, 1, 500)); // same enqueuedAt as late1: enqueue order decides
    expect(drain(s, 1_000).map((d) => d.taskId)).toEqual(['requeued', 'late1', 'tie', 'late2']);
    s.assertInvariants();
  });

  it('does not change anything when deciding', () => {
    const s = withWorkers(2);
    s.enqueue(spec('a', 1));
    s.enqueue(spec('b', 2));
    const first = s.next(0);
    expect(s.next(0)).toEqual(first);
    expect(s.stats()).toEqual({ pending: 2, parked: 0, placed: 0, running: 0, workers: 2 });
    expect(s.worker('w1')!.reserved.cpu).toBe(0);
  });
});

describe('Scheduler: aging', () => {
  it('lets a low priority task overtake once it has waited, and not before', () => {
    const s = withWorkers(1, 8, { agingMs: 1_000 });
    s.enqueue(spec('low', 0, 1, 0));
    s.enqueue(spec('high', 3, 1, 2_500));
    // At 2,999: low has aged to 0 + 2 = 2, high to 3 + 0 = 3.
    expect(s.next(2_999)?.taskId).toBe('high');
    // At 3,000: low reaches 3 and ties with high; it waited longer, so it goes first.
    expect(s.next(3_000)?.taskId).toBe('low');
  });

  it('ages by +1 per 10 s by default', () => {
    const s = withWorkers(1);
    s.enqueue(spec('low', 0, 1, 0));
    s.enqueue(spec('high', 1, 1, 10_000));
    expect(s.next(9_999)?.taskId).toBe('high'); // low still 0; high (not yet "waiting") is 1
    expect(s.next(10_000)?.taskId).toBe('low'); // low 1 = high 1, older wins
  });

  it('does not age with agingMs Infinity', () => {
    const s = withWorkers(1, 8, { agingMs: Infinity });
    s.enqueue(spec('low', 0, 1, 0));
    s.enqueue(spec('high', 1, 1, 1e9));
    expect(s.next(1e12)?.taskId).toBe('high');
  });
});

describe('Scheduler: placement', () => {
  /** w1 with 6 of 8 CPUs running, w2 with 2, w3 empty. */
  function loaded(placement: 'binpack' | 'spread'): Scheduler {
    const s = withWorkers(3, 8, { placement });
    run(s, spec('f1', 0, 6), 'w1');
    run(s, spec('f2', 0, 2), 'w2');
    return s;
  }

  it('binpack puts a task on the fullest worker it fits', () => {
    const s = loaded('binpack');
    s.enqueue(spec('t', 0, 2));
    expect(s.next(0)).toEqual({ taskId: 't', worker: 'w1' });
    s.remove('t');
    s.enqueue(spec('t3', 0, 3)); // does not fit w1's 2 free CPUs
    expect(s.next(0)).toEqual({ taskId: 't3', worker: 'w2' });
  });

  it('spread puts a task on the emptiest worker', () => {
    const s = loaded('spread');
    s.enqueue(spec('t', 0, 2));
    expect(s.next(0)).toEqual({ taskId: 't', worker: 'w3' });
  });

  it('weighs memory as well as cpu', () => {
    const s = withWorkers(2, 8, { placement: 'binpack' });
    run(s, spec('m', 0, 0, 0, 7 * GiB), 'w2'); // w2: all CPUs free, memory almost full
    s.enqueue(spec('t', 0, 1, 0, GiB / 2));
    expect(s.next(0)?.worker).toBe('w2');
  });

  it('breaks ties by the order workers were added', () => {
    const s = new Scheduler({ placement: 'spread' });
    for (const id of ['zeta', 'alpha', 'mid']) s.addWorker(id, { cpu: 4, memoryBytes: GiB });
    s.enqueue(spec('t'));
    expect(s.next(0)?.worker).toBe('zeta');
  });

  it('does not place a task that fits no worker now, but places smaller ones behind it', () => {
    const s = withWorkers(2, 8);
    run(s, spec('f1', 0, 6), 'w1');
    run(s, spec('f2', 0, 6), 'w2');
    s.enqueue(spec('big', 9, 4));
    expect(s.next(0)).toBeNull();
    s.enqueue(spec('small', 0, 1));
    expect(s.next(0)).toEqual({ taskId: 'small', worker: 'w1' });
    s.release('f2');
    expect(s.next(0)).toEqual({ taskId: 'big', worker: 'w2' });
  });

  it('counts cpu in thousandths, so fractions never over-commit', () => {
    const s = withWorkers(1, 0.3, { maxQueuedPerWorker: 10 });
    s.enqueue(spec('a', 0, 0.1));
    s.enqueue(spec('b', 0, 0.2));
    s.enqueue(spec('c', 0, 0.001));
    expect(drain(s, 0).map((d) => d.taskId)).toEqual(['a', 'b']);
    expect(s.worker('w1')!.reserved.cpu).toBe(0.3);
  });

  it('holds no more than maxQueuedPerWorker not-started tasks on a worker', () => {
    const s = withWorkers(1, 100, { maxQueuedPerWorker: 2 });
    for (const id of ['a', 'b', 'c']) s.enqueue(spec(id));
    s.place('a', 'w1');
    s.place('b', 'w1');
    expect(s.next(0)).toBeNull();
    s.start('a');
    expect(s.next(0)).toEqual({ taskId: 'c', worker: 'w1' });
  });
});

describe('Scheduler: head-of-line policy', () => {
  it('lets a task that does not fit reserve the workers that could host it after reserveAfterMs', () => {
    const s = new Scheduler({ reserveAfterMs: 1_000, agingMs: Infinity });
    s.addWorker('large', { cpu: 8, memoryBytes: GiB });
    s.addWorker('small', { cpu: 2, memoryBytes: GiB });
    run(s, spec('busy', 0, 6), 'large');
    s.enqueue(spec('big', 5, 4, 0));
    s.enqueue(spec('s1', 0, 1, 0));
    // Before the wait is over, s1 backfills the large worker (binpack: the fuller one).
    expect(s.next(999)).toEqual({ taskId: 's1', worker: 'large' });
    // After it, the large worker is held for big; s1 goes where big could never run.
    expect(s.next(1_000)).toEqual({ taskId: 's1', worker: 'small' });
    s.place('s1', 'small');
    s.start('s1');
    s.enqueue(spec('s2', 0, 1, 0));
    s.place('s2', 'small');
    s.start('s2');
    s.enqueue(spec('s3', 0, 1, 0));
    expect(s.next(1_000)).toBeNull(); // large is held, small is full
    s.release('busy');
    expect(s.next(1_000)).toEqual({ taskId: 'big', worker: 'large' });
  });

  it('looks at most lookahead tasks per decision', () => {
    const build = (lookahead: number) => {
      const s = withWorkers(1, 8, { lookahead });
      run(s, spec('busy', 0, 7), 'w1');
      s.enqueue(spec('x1', 5, 2));
      s.enqueue(spec('x2', 4, 2));
      s.enqueue(spec('fits', 3, 1));
      return s;
    };
    expect(build(2).next(0)).toBeNull();
    expect(build(3).next(0)).toEqual({ taskId: 'fits', worker: 'w1' });
  });

  it('parks a task larger than every worker, so it cannot clog the lookahead, and unparks it when one is large enough', () => {
    const s = withWorkers(1, 8, { lookahead: 1 });
    s.enqueue(spec('huge', 100, 64));
    s.enqueue(spec('ok', 0, 1));
    expect(s.stats()).toMatchObject({ pending: 2, parked: 1 });
    expect(s.task('huge')!.status).toBe('parked');
    expect(s.next(0)).toEqual({ taskId: 'ok', worker: 'w1' });
    s.addWorker('big', { cpu: 64, memoryBytes: GiB });
    expect(s.stats().parked).toBe(0);
    expect(s.next(0)).toEqual({ taskId: 'huge', worker: 'big' });
    s.removeWorker('big');
    expect(s.task('huge')!.status).toBe('parked');
    s.addWorker('w1', { cpu: 64, memoryBytes: 8 * GiB }); // growing a worker unparks too
    expect(s.task('huge')!.status).toBe('pending');
    s.addWorker('w1', { cpu: 8, memoryBytes: 8 * GiB }); // and shrinking it parks again
    expect(s.task('huge')!.status).toBe('parked');
    s.assertInvariants();
  });
});

describe('Scheduler: workers', () => {
  it('removeWorker returns the tasks placed or running on it, which leave the scheduler', () => {
    const s = withWorkers(2, 8, { maxQueuedPerWorker: 5 });
    for (const id of ['a', 'b', 'c', 'd']) s.enqueue(spec(id));
    s.place('a', 'w1');
    s.place('b', 'w2');
    s.place('c', 'w1');
    s.start('a');
    expect(s.removeWorker('w1')).toEqual(['c', 'a']);
    expect(s.task('a')).toBeUndefined();
    expect(s.task('c')).toBeUndefined();
    expect(s.stats()).toEqual({ pending: 1, parked: 0, placed: 1, running: 0, workers: 1 });
    s.enqueue(spec('a')); // the caller requeues
    expect(s.task('a')!.status).toBe('pending');
    expect(s.removeWorker('w2')).toEqual(['b']);
    s.assertInvariants();
  });

  it('gives nothing to an unavailable worker', () => {
    const s = withWorkers(2, 8, { placement: 'spread' });
    s.enqueue(spec('a'));
    s.setWorkerAvailable('w1', false);
    expect(s.next(0)?.worker).toBe('w2');
    s.setWorkerAvailable('w2', false);
    expect(s.next(0)).toBeNull();
    expect(s.plan(0, 5)).toEqual([]);
    s.setWorkerAvailable('w1', true);
    expect(s.next(0)?.worker).toBe('w1');
  });

  it('updates capacity when a worker is added again, keeping its place in the scan order', () => {
    const s = withWorkers(2, 4, { placement: 'spread' });
    s.addWorker('w1', { cpu: 16, memoryBytes: 8 * GiB });
    expect(s.worker('w1')!.capacity.cpu).toBe(16);
    expect(s.workerIds()).toEqual(['w1', 'w2']);
    s.enqueue(spec('t'));
    expect(s.next(0)?.worker).toBe('w1');
  });
});

describe('Scheduler: stealing', () => {
  /** w1 runs r and holds q1, q2 not started; w2 and w3 are idle. */
  function backlogged(): Scheduler {
    const s = withWorkers(3, 8);
    run(s, spec('r'), 'w1');
    for (const id of ['q1', 'q2']) {
      s.enqueue(spec(id));
      s.place(id, 'w1');
    }
    return s;
  }

  it('moves not-started tasks from a busy worker to idle ones, newest first, deterministically', () => {
    const s = backlogged();
    const moves = s.steal();
    expect(moves).toEqual([
      { taskId: 'q2', from: 'w1', to: 'w2' },
      { taskId: 'q1', from: 'w1', to: 'w3' },
    ]);
    expect(s.steal()).toEqual(moves); // nothing changed
    expect(backlogged().steal()).toEqual(moves); // another instance agrees
    expect(s.worker('w1')).toMatchObject({ queued: 2, reserved: { cpu: 3 } });
    for (const m of moves) s.move(m.taskId, m.to);
    expect(s.task('q2')!.worker).toBe('w2');
    expect(s.worker('w1')).toMatchObject({ queued: 0, reserved: { cpu: 1 } });
    expect(s.steal()).toEqual([]);
    s.assertInvariants();
  });

  it('takes from the worker with the most queued tasks', () => {
    const s = withWorkers(3, 8, { maxQueuedPerWorker: 5 });
    run(s, spec('r1'), 'w1');
    run(s, spec('r2'), 'w2');
    s.enqueue(spec('a'));
    s.place('a', 'w1');
    for (const id of ['b', 'c']) {
      s.enqueue(spec(id));
      s.place(id, 'w2');
    }
    expect(s.steal()).toEqual([{ taskId: 'c', from: 'w2', to: 'w3' }]);
  });

  it('does not steal from a worker that is about to start its tasks, but does from an unavailable one', () => {
    const s = withWorkers(2, 8);
    s.enqueue(spec('q'));
    s.place('q', 'w1'); // w1 runs nothing: q is simply not started yet
    expect(s.steal()).toEqual([]);
    s.setWorkerAvailable('w1', false);
    expect(s.steal()).toEqual([{ taskId: 'q', from: 'w1', to: 'w2' }]);
  });

  it('steals only what fits the thief, and only for available idle thieves', () => {
    const s = new Scheduler();
    s.addWorker('busy', { cpu: 8, memoryBytes: GiB });
    s.addWorker('tiny', { cpu: 1, memoryBytes: GiB });
    run(s, spec('r'), 'busy');
    s.enqueue(spec('big', 0, 4));
    s.place('big', 'busy');
    expect(s.steal()).toEqual([]);
    s.enqueue(spec('small', 0, 1));
    s.place('small', 'busy');
    s.setWorkerAvailable('tiny', false);
    expect(s.steal()).toEqual([]);
    s.setWorkerAvailable('tiny', true);
    expect(s.steal()).toEqual([{ taskId: 'small', from: 'busy', to: 'tiny' }]);
  });
});

describe('Scheduler: plan', () => {
  function setup(): Scheduler {
    const s = withWorkers(3, 4);
    for (let i = 0; i < 5; i++) s.enqueue(spec(`t${i}`, i % 2, 3));
    return s;
  }

  it('returns consistent decisions that never over-commit a worker, and changes nothing', () => {
    const s = setup();
    const before = s.stats();
    const decisions = s.plan(0, 10);
    expect(decisions).toHaveLength(3);
    expect(new Set(decisions.map((d) => d.worker)).size).toBe(3);
    expect(s.stats()).toEqual(before);
    expect(s.next(0)).toEqual(decisions[0]);
    s.assertInvariants();
    // The same as deciding and placing one at a time.
    const t = setup();
    const sequential: Decision[] = [];
    for (let d = t.next(0); d !== null; d = t.next(0)) {
      t.place(d.taskId, d.worker);
      sequential.push(d);
    }
    expect(decisions).toEqual(sequential);
    for (const d of decisions) s.place(d.taskId, d.worker);
    s.assertInvariants();
  });

  it('respects max and the queue limit, and restores the queue order', () => {
    const s = withWorkers(1, 100, { maxQueuedPerWorker: 2 });
    for (const id of ['a', 'b', 'c', 'd']) s.enqueue(spec(id));
    expect(s.plan(0, 1).map((d) => d.taskId)).toEqual(['a']);
    expect(s.plan(0, 10).map((d) => d.taskId)).toEqual(['a', 'b']);
    expect(s.plan(0, 0)).toEqual([]);
    s.addWorker('w2', { cpu: 1, memoryBytes: GiB });
    expect(s.plan(0, 10).map((d) => d.taskId)).toEqual(['a', 'b', 'c']);
    s.assertInvariants();
    expect(drain(s, 0).map((d) => d.taskId)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('Scheduler: invariant assertions', () => {
  it('throws on calls that break the protocol, and changes nothing', () => {
    const s = withWorkers(1, 4);
    s.enqueue(spec('a', 0, 3));
    s.enqueue(spec('b', 0, 3));
    expect(() => s.place('nope', 'w1')).toThrow('place(nope): unknown task');
    expect(() => s.place('a', 'nope')).toThrow('unknown worker nope');
    expect(() => s.start('a')).toThrow('start(a): task is pending, not placed');
    expect(() => s.release('a')).toThrow(/release\(a\): task is pending/);
    expect(() => s.enqueue(spec('a'))).toThrow('task a is already pending');
    s.place('a', 'w1');
    expect(() => s.place('b', 'w1')).toThrow(/would over-commit worker w1/);
    expect(s.task('b')!.status).toBe('pending');
    expect(() => s.place('a', 'w1')).toThrow(/task is placed on w1, not pending/);
    expect(() => s.remove('a')).toThrow(/not pending; release it instead/);
    expect(() => s.addWorker('w1', { cpu: 2, memoryBytes: 8 * GiB })).toThrow(/below what its tasks reserve/);
    s.start('a');
    expect(() => s.move('a', 'w1')).toThrow(/only a placed, not started task can move/);
    expect(() => s.removeWorker('nope')).toThrow('unknown worker nope');
    expect(() => s.setWorkerAvailable('nope', true)).toThrow('unknown worker nope');
    expect(s.worker('w1')!.reserved.cpu).toBe(3);
    s.assertInvariants();
  });

  it('assertInvariants detects a corrupted structure', () => {
    const s = withWorkers(1, 4);
    run(s, spec('a', 0, 3), 'w1');
    s.assertInvariants();
    // Reach inside, as a bug would: the reservation no longer matches the tasks.
    const w = (s as unknown as { workers: Array<{ usedMilliCpu: number }> }).workers[0];
    w.usedMilliCpu = 5_000;
    expect(() => s.assertInvariants()).toThrow(/scheduler invariant violated: worker w1 reserves cpu 5/);
    w.usedMilliCpu = 3_000;
    (s as unknown as { runningCount: number }).runningCount = 2;
    expect(() => s.assertInvariants()).toThrow(/counts placed 0\/running 2/);
  });
});

describe('Scheduler: validation', () => {
  it('rejects bad task fields with a RangeError naming the field', () => {
    const s = withWorkers(1);
    for (const priority of [101, -101, 1.5, Number.NaN]) expect(() => s.enqueue(spec('x', priority))).toThrow(RangeError);
    expect(() => s.enqueue(spec('x', 101))).toThrow('enqueue(x): priority must be an integer in [-100, 100], got 101');
    expect(() => s.enqueue(spec('x', 0, -1))).toThrow(/resources.cpu/);
    expect(() => s.enqueue(spec('x', 0, Number.POSITIVE_INFINITY))).toThrow(/resources.cpu/);
    expect(() => s.enqueue(spec('x', 0, 1, 0, 1.5))).toThrow(/resources.memoryBytes/);
    expect(() => s.enqueue(spec('x', 0, 1, Number.NaN))).toThrow(/enqueuedAt/);
    expect(() => s.enqueue(spec('', 0))).toThrow(/id must be a non-empty string/);
    expect(() => s.enqueue({ ...spec('x'), tenant: 3 as unknown as string })).toThrow(/tenant/);
    expect(s.stats().pending).toBe(0);
    expect(() => s.addWorker('w9', { cpu: -1, memoryBytes: 0 })).toThrow(/addWorker\(w9\): resources.cpu/);
    expect(() => s.next(Number.NaN)).toThrow(/now must be a finite number/);
    expect(() => s.plan(0, -1)).toThrow(/max must be an integer/);
  });

  it('rejects bad options with a RangeError naming the option', () => {
    expect(() => new Scheduler({ agingMs: 0 })).toThrow(/agingMs/);
    expect(() => new Scheduler({ maxQueuedPerWorker: 0 })).toThrow(/maxQueuedPerWorker/);
    expect(() => new Scheduler({ lookahead: 0 })).toThrow(/lookahead/);
    expect(() => new Scheduler({ reserveAfterMs: -1 })).toThrow(/reserveAfterMs/);
    expect(() => new Scheduler({ placement: 'random' as 'spread' })).toThrow(/placement/);
    expect(() => new Scheduler({ agingMs: 1 })).not.toThrow();
  });
});

describe('Scheduler: property', () => {
  type Op =
    | { op: 'addWorker'; w: number; cpu: number; mem: number }
    | { op: 'removeWorker'; w: number }
    | { op: 'available'; w: number; on: boolean }
    | { op: 'enqueue'; t: number; priority: number; cpu: number; mem: number; at: number }
    | { op: 'remove'; t: number }
    | { op: 'place'; t: number; w: number }
    | { op: 'next'; now: number }
    | { op: 'plan'; now: number; max: number }
    | { op: 'steal' }
    | { op: 'start'; t: number }
    | { op: 'release'; t: number };

  const w = fc.integer({ min: 0, max: 4 });
  const t = fc.integer({ min: 0, max: 24 });
  const now = fc.integer({ min: 0, max: 200 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('addWorker' as const), w, cpu: fc.integer({ min: 0, max: 80 }), mem: fc.integer({ min: 0, max: 8 }) }),
    fc.record({ op: fc.constant('removeWorker' as const), w }),
    fc.record({ op: fc.constant('available' as const), w, on: fc.boolean() }),
    fc.record({ op: fc.constant('enqueue' as const), t, priority: fc.integer({ min: -3, max: 3 }), cpu: fc.integer({ min: 0, max: 40 }), mem: fc.integer({ min: 0, max: 4 }), at: now }),
    fc.record({ op: fc.constant('enqueue' as const), t, priority: fc.integer({ min: -3, max: 3 }), cpu: fc.integer({ min: 0, max: 40 }), mem: fc.integer({ min: 0, max: 4 }), at: now }),
    fc.record({ op: fc.constant('remove' as const), t }),
    fc.record({ op: fc.constant('place' as const), t, w }),
    fc.record({ op: fc.constant('next' as const), now }),
    fc.record({ op: fc.constant('plan' as const), now, max: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ op: fc.constant('steal' as const) }),
    fc.record({ op: fc.constant('start' as const), t }),
    fc.record({ op: fc.constant('release' as const), t }),
  );

  /** The model: what each live task is, in tenths of a CPU (exact), and each worker's capacity. */
  interface ModelTask {
    status: 'pending' | 'placed' | 'running';
    worker: string | null;
    cpu: number;
    mem: number;
    priority: number;
    at: number;
    seq: number;
  }
  interface ModelWorker {
    cpu: number;
    mem: number;
    available: boolean;
  }
  const OPTIONS = { agingMs: 20, reserveAfterMs: 50, lookahead: 4, maxQueuedPerWorker: 2 };

  /**
   * The decision rule as the module comment states it, by brute force: sort
   * every pending task, walk the first `lookahead`, hold back workers for
   * tasks that waited `reserveAfterMs`. What `next` must return.
   */
  function reference(now: number, placement: 'binpack' | 'spread', tasks: Map<string, ModelTask>, workers: Map<string, ModelWorker>): Decision | null {
    const used = (wid: string) => {
      let cpu = 0;
      let mem = 0;
      let queued = 0;
      for (const m of tasks.values()) if (m.worker === wid) (cpu += m.cpu), (mem += m.mem), (queued += m.status === 'placed' ? 1 : 0);
      return { cpu, mem, queued };
    };
    const everFits = (m: ModelTask) => [...workers.values()].some((w) => w.cpu >= m.cpu && w.mem >= m.mem);
    const eff = (m: ModelTask) => (now - m.at > 0 ? m.priority + Math.floor((now - m.at) / OPTIONS.agingMs) : m.priority);
    const order = [...tasks]
      .filter(([, m]) => m.status === 'pending' && everFits(m))
      .sort(([, a], [, b]) => eff(b) - eff(a) || a.at - b.at || a.seq - b.seq);
    const held = new Set<string>();
    for (const [tid, m] of order.slice(0, OPTIONS.lookahead)) {
      let best: string | null = null;
      let bestScore = 0;
      for (const [wid, w] of workers) {
        const u = used(wid);
        if (!w.available || u.queued >= OPTIONS.maxQueuedPerWorker || held.has(wid)) continue;
        const freeCpu = w.cpu - u.cpu - m.cpu;
        const freeMem = w.mem - u.mem - m.mem;
        if (freeCpu < 0 || freeMem < 0) continue;
        const score = (w.cpu > 0 ? freeCpu / w.cpu : 0) + (w.mem > 0 ? freeMem / w.mem : 0);
        if (best === null || (placement === 'binpack' ? score < bestScore : score > bestScore)) (best = wid), (bestScore = score);
      }
      if (best !== null) return { taskId: tid, worker: best };
      if (now - m.at >= OPTIONS.reserveAfterMs) for (const [wid, w] of workers) if (w.available && w.cpu >= m.cpu && w.mem >= m.mem) held.add(wid);
    }
    return null;
  }

  it('never over-commits a worker, never loses or duplicates a task, and decides as the stated rule does', () => {
    let decided = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 40, maxLength: 150, size: 'max' }), (ops) => {
        const placement = ops.length % 2 === 0 ? 'binpack' : 'spread';
        const s = new Scheduler({ ...OPTIONS, placement });
        const tasks = new Map<string, ModelTask>();
        const workers = new Map<string, ModelWorker>();
        let seq = 0;
        const reserved = (wid: string) => {
          let cpu = 0;
          let mem = 0;
          for (const m of tasks.values()) if (m.worker === wid) (cpu += m.cpu), (mem += m.mem);
          return { cpu, mem };
        };
        const fits = (wid: string, m: ModelTask) => {
          const cap = workers.get(wid)!;
          const r = reserved(wid);
          return r.cpu + m.cpu <= cap.cpu && r.mem + m.mem <= cap.mem;
        };
        /** Runs `f`; it must throw exactly when `ok` is false. */
        const expectOutcome = (ok: boolean, f: () => void) => {
          let threw = false;
          try {
            f();
          } catch {
            threw = true;
          }
          expect(threw, JSON.stringify({ ok })).toBe(!ok);
        };
        const place = (tid: string, wid: string) => {
          const m = tasks.get(tid);
          const ok = m !== undefined && m.status === 'pending' && workers.has(wid) && fits(wid, m);
          expectOutcome(ok, () => s.place(tid, wid));
          if (ok) Object.assign(m!, { status: 'placed', worker: wid });
        };
        for (const o of ops) {
          switch (o.op) {
            case 'addWorker': {
              const id = `w${o.w}`;
              const r = reserved(id);
              const ok = !workers.has(id) || (o.cpu >= r.cpu && o.mem >= r.mem);
              expectOutcome(ok, () => s.addWorker(id, { cpu: o.cpu / 10, memoryBytes: o.mem }));
              if (ok) workers.set(id, { cpu: o.cpu, mem: o.mem, available: workers.get(id)?.available ?? true });
              break;
            }
            case 'removeWorker': {
              const id = `w${o.w}`;
              const ok = workers.has(id);
              let lost: string[] = [];
              expectOutcome(ok, () => (lost = s.removeWorker(id)));
              if (!ok) break;
              const onIt = [...tasks].filter(([, m]) => m.worker === id).map(([tid]) => tid);
              expect([...lost].sort()).toEqual(onIt.sort());
              for (const tid of onIt) tasks.delete(tid);
              workers.delete(id);
              break;
            }
            case 'available':
              expectOutcome(workers.has(`w${o.w}`), () => s.setWorkerAvailable(`w${o.w}`, o.on));
              if (workers.has(`w${o.w}`)) workers.get(`w${o.w}`)!.available = o.on;
              break;
            case 'enqueue': {
              const id = `t${o.t}`;
              const ok = !tasks.has(id);
              expectOutcome(ok, () => s.enqueue({ id, priority: o.priority, tenant: 'x', resources: { cpu: o.cpu / 10, memoryBytes: o.mem }, enqueuedAt: o.at }));
              if (ok) tasks.set(id, { status: 'pending', worker: null, cpu: o.cpu, mem: o.mem, priority: o.priority, at: o.at, seq: seq++ });
              break;
            }
            case 'remove': {
              const id = `t${o.t}`;
              const ok = tasks.get(id)?.status === 'pending';
              expectOutcome(ok, () => s.remove(id));
              if (ok) tasks.delete(id);
              break;
            }
            case 'place':
              place(`t${o.t}`, `w${o.w}`);
              break;
            case 'next': {
              const d = s.next(o.now);
              expect(d).toEqual(reference(o.now, placement, tasks, workers));
              if (d) {
                decided++;
                expect(tasks.get(d.taskId)?.status).toBe('pending');
                place(d.taskId, d.worker); // a decision is always valid
              }
              break;
            }
            case 'plan': {
              const ds = s.plan(o.now, o.max);
              for (const d of ds) {
                // Each decision is what the rule gives once the ones before it are placed.
                expect(d).toEqual(reference(o.now, placement, tasks, workers));
                decided++;
                place(d.taskId, d.worker);
              }
              if (ds.length < o.max) expect(reference(o.now, placement, tasks, workers)).toBeNull();
              break;
            }
            case 'steal':
              for (const m of s.steal()) {
                const mt = tasks.get(m.taskId)!;
                expect(mt).toMatchObject({ status: 'placed', worker: m.from });
                expect(fits(m.to, mt)).toBe(true);
                s.move(m.taskId, m.to);
                mt.worker = m.to;
              }
              break;
            case 'start': {
              const id = `t${o.t}`;
              const m = tasks.get(id);
              const ok = m?.status === 'placed';
              expectOutcome(ok, () => s.start(id));
              if (ok) m!.status = 'running';
              break;
            }
            case 'release': {
              const id = `t${o.t}`;
              const ok = tasks.get(id)?.status === 'placed' || tasks.get(id)?.status === 'running';
              expectOutcome(ok, () => s.release(id));
              if (ok) tasks.delete(id);
              break;
            }
          }
          s.assertInvariants();
          // Same tasks as the model, each once, in the same place (one comparison: expect() per item is slow).
          const seen: Record<string, string> = {};
          const want: Record<string, string> = {};
          for (const [tid, m] of tasks) {
            const v = s.task(tid);
            seen[tid] = v === undefined ? 'missing' : `${v.status === 'parked' ? 'pending' : v.status}@${v.worker}`;
            want[tid] = `${m.status}@${m.worker}`;
          }
          expect(seen).toEqual(want);
          const st = s.stats();
          expect(st.pending + st.placed + st.running).toBe(tasks.size);
          // No worker over-committed, and each reserves exactly what its tasks need.
          for (const [wid, cap] of workers) {
            const v = s.worker(wid)!;
            const r = reserved(wid);
            const ok = Math.round(v.reserved.cpu * 10) === r.cpu && v.reserved.memoryBytes === r.mem && r.cpu <= cap.cpu && r.mem <= cap.mem;
            if (!ok) expect({ wid, reserved: v.reserved, model: r, cap }).toBeUndefined();
          }
        }
      }),
      { seed: 20240601, numRuns: 200 },
    );
    // The runs reached real decisions, not only nulls.
    expect(decided).toBeGreaterThan(1_000);
  });
});
