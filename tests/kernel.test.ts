import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { delay, interval, take, timer, toArray, debounceTime, Subject, firstValueFrom } from 'rxjs';
import { Kernel, LivelockError, SimulationTimeoutError } from '../system/kernel.js';
import { Random } from '../system/random.js';
import { seededIds } from '../system/ids.js';

describe('Kernel', () => {
  it('fires events in (time, sequence) order and advances virtual time only to deadlines', () => {
    const k = new Kernel({ seed: 1 });
    const log: string[] = [];
    k.schedule(10, () => log.push(`a@${k.now()}`));
    k.schedule(5, () => log.push(`b@${k.now()}`));
    k.schedule(10, () => log.push(`c@${k.now()}`));
    k.schedule(0, () => log.push(`d@${k.now()}`));
    k.advance(7);
    expect(log).toEqual(['d@0', 'b@5']);
    expect(k.now()).toBe(7);
    k.advance(100);
    expect(log).toEqual(['d@0', 'b@5', 'a@10', 'c@10']);
    expect(k.now()).toBe(107);
  });

  it('starts a timer set by a firing timer at the firing time', () => {
    const k = new Kernel();
    const times: number[] = [];
    k.schedule(30, () => k.schedule(20, () => times.push(k.now())));
    k.advance(1000);
    expect(times).toEqual([50]);
  });

  it('cancels timers, idempotently', () => {
    const k = new Kernel();
    let fired = 0;
    const h = k.schedule(10, () => fired++);
    expect(k.pending).toBe(1);
    expect(k.cancel(h)).toBe(true);
    expect(k.cancel(h)).toBe(false);
    expect(k.pending).toBe(0);
    k.advance(20);
    expect(fired).toBe(0);
    expect(k.step()).toBe(false);
  });

  it('rejects negative delays and durations with a RangeError', () => {
    const k = new Kernel();
    expect(() => k.schedule(-1, () => {})).toThrow(RangeError);
    expect(() => k.advance(Number.NaN)).toThrow(RangeError);
    expect(() => new Kernel({ seed: 1.5 })).toThrow(TypeError);
  });

  it('is the clock of XState actors: `after` runs on virtual time', () => {
    const k = new Kernel();
    const m = setup({ delays: { wait: 250 } }).createMachine({
      initial: 'a',
      states: { a: { after: { wait: 'b' } }, b: {} },
    });
    const actor = createActor(m, { clock: k }).start();
    k.advance(249);
    expect(actor.getSnapshot().value).toBe('a');
    k.advance(1);
    expect(actor.getSnapshot().value).toBe('b');
  });

  it('drains promise continuations at the same virtual time, before the next event', async () => {
    const k = new Kernel();
    const log: string[] = [];
    const worker = async (name: string, ms: number) => {
      await k.sleep(ms);
      log.push(`${name} woke@${k.now()}`);
      await Promise.resolve();
      log.push(`${name} continued@${k.now()}`);
    };
    void worker('x', 10);
    void worker('y', 10);
    k.schedule(10, () => log.push(`event@${k.now()}`));
    await k.run(50);
    expect(log).toEqual(['x woke@10', 'x continued@10', 'y woke@10', 'y continued@10', 'event@10']);
  });

  it('drains deep continuation chains before the next event, whatever context run() is called from', async () => {
    // A chain of awaits several microtasks deep, woken by one event; a second event at the same instant.
    const scenario = async (): Promise<string[]> => {
      const k = new Kernel();
      const log: string[] = [];
      const deep = async (n: number): Promise<void> => {
        if (n > 0) await deep(n - 1);
        await null;
        log.push(`step ${n}`);
      };
      // Async work already under way when run() starts, so its first drain happens in the caller's context.
      void (async () => {
        await deep(2);
        log.push('early chain done');
      })();
      k.wake();
      k.schedule(0, () => log.push('first event'));
      void (async () => {
        await k.sleep(5);
        await deep(4);
        log.push('chain done');
      })();
      k.schedule(5, () => log.push('next event'));
      k.schedule(6, () => log.push('later event'));
      await k.run(10);
      return log;
    };
    const expected = ['step 0', 'step 1', 'step 2', 'early chain done', 'first event', 'step 0', 'step 1', 'step 2', 'step 3', 'step 4', 'chain done', 'next event', 'later event'];
    expect(await scenario()).toEqual(expected);
    // Started from a nextTick callback and from a macrotask, where Node runs ticks before microtasks.
    expect(await new Promise<string[]>((resolve) => process.nextTick(() => void scenario().then(resolve)))).toEqual(expected);
    expect(await new Promise<string[]>((resolve) => setImmediate(() => void scenario().then(resolve)))).toEqual(expected);
  });

  it('a long run lets the event loop turn (real I/O and timers are not starved)', async () => {
    const k = new Kernel();
    // One callback per turn of the event loop (its check phase, where I/O
    // callbacks' continuations run): counted, not timed, so the test does
    // not depend on how fast the machine is.
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    // Thousands of events that each resume async code, so each needs a drain.
    for (let i = 1; i <= 5_000; i++) k.schedule(i, () => k.wake());
    await k.run(5_001);
    running = false;
    // The loop turned all through the run (every 64th drain), not once at its end.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(5_000 / 64));
  });

  it('runUntil returns the elapsed virtual time, or throws a typed timeout', async () => {
    const k = new Kernel({ seed: 9 });
    let done = false;
    k.schedule(120, () => (done = true));
    expect(await k.runUntil(() => done, { within: 500 })).toBe(120);
    await expect(k.runUntil(() => false, { within: 100, description: 'never' })).rejects.toBeInstanceOf(SimulationTimeoutError);
    expect(k.now()).toBe(220);
  });

  it('reports a zero-delay loop as a livelock instead of hanging', () => {
    const k = new Kernel({ maxEventsPerInstant: 100 });
    const loop = () => k.schedule(0, loop);
    loop();
    expect(() => k.advance(1)).toThrow(LivelockError);
  });

  it('backs RxJS time-based operators with virtual time', async () => {
    const k = new Kernel();
    const seen: Array<[number, number]> = [];
    interval(100, k.scheduler).pipe(take(3)).subscribe((v) => seen.push([v, k.now()]));
    timer(50, k.scheduler).pipe(delay(25, k.scheduler)).subscribe(() => seen.push([-1, k.now()]));
    const input = new Subject<number>();
    const debounced = firstValueFrom(input.pipe(debounceTime(40, k.scheduler), toArray()));
    input.next(1);
    k.schedule(10, () => input.next(2));
    k.schedule(80, () => input.complete());
    k.advance(1000);
    expect(seen).toEqual([[-1, 75], [0, 100], [1, 200], [2, 300]]);
    expect(await debounced).toEqual([2]);
  });
});

describe('Random', () => {
  it('gives the same sequence for the same seed and independent named streams', () => {
    const a = new Random(42);
    const b = new Random(42);
    const xs = Array.from({ length: 50 }, () => a.float());
    expect(Array.from({ length: 50 }, () => b.float())).toEqual(xs);
    const k1 = new Kernel({ seed: 7 });
    const k2 = new Kernel({ seed: 7 });
    k2.random('other').float(); // a draw on another stream shifts nothing
    expect(k1.random('net').int(0, 1e6)).toBe(k2.random('net').int(0, 1e6));
    expect(new Kernel({ seed: 8 }).random('net').int(0, 1e9)).not.toBe(new Kernel({ seed: 7 }).random('net').int(0, 1e9));
  });

  it('draws within bounds with plausible moments', () => {
    const r = new Random(3);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = r.int(1, 6);
      expect(x).toBeGreaterThanOrEqual(1);
      expect(x).toBeLessThanOrEqual(6);
      const z = r.normal(10, 2);
      sum += z;
      sq += z * z;
    }
    const mean = sum / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(sq / n - mean * mean)).toBeCloseTo(2, 1);
    expect(() => r.int(3, 1)).toThrow(RangeError);
    expect(() => r.pick([])).toThrow(RangeError);
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('seeded ids repeat run to run', () => {
    const a = seededIds(new Random(5));
    const b = seededIds(new Random(5));
    const ids = [a.next('task'), a.next()];
    expect([b.next('task'), b.next()]).toEqual(ids);
    expect(ids[0]).toMatch(/^task_[A-Za-z0-9_-]{16}$/);
  });
});

describe('Random streams', () => {
  it('derived streams of neighbouring names are uncorrelated from the first draw', () => {
    const k = new Kernel({ seed: 3 });
    const firsts = Array.from({ length: 64 }, (_, i) => k.random(`node:${i}`).int(150, 300));
    // 64 uniform draws over 151 values: a correlated start would bunch them.
    expect(new Set(firsts).size).toBeGreaterThan(40);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(120);
  });
});

describe('async continuations on virtual time', () => {
  it('a promise settled by an RxJS timer on the kernel resumes at that instant, before later events', async () => {
    const k = new Kernel({ seed: 1 });
    const seen: [string, number][] = [];
    (async () => {
      await firstValueFrom(timer(30, k.scheduler));
      await Promise.resolve(); // a chain of continuations, all at t=30
      seen.push(['resumed', k.now()]);
    })();
    k.schedule(31, () => seen.push(['later event', k.now()]));
    await k.run(100);
    expect(seen).toEqual([['resumed', 30], ['later event', 31]]);
  });
});
