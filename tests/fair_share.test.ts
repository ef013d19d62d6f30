import { describe, expect, it } from 'vitest';
import { dominantShare, drfAllocate } from '../actors/drf.js';
import { Scheduler, type TaskSpec } from '../actors/scheduler.js';
import { fullBucket, take, tokensAt } from '../actors/tokenBucket.js';
import { quotaProblem } from '../actors/tenantQuota.js';

const GB = 2 ** 30;

describe('drfAllocate (weighted Dominant Resource Fairness, progressive filling)', () => {
  it("the DRF paper's example: 9 CPUs and 18 GB, tasks ⟨1 CPU, 4 GB⟩ and ⟨3 CPU, 1 GB⟩ → 3 and 2 tasks", () => {
    const got = drfAllocate({ cpu: 9, memoryBytes: 18 * GB }, [
      { id: 'A', weight: 1, demand: { cpu: 1, memoryBytes: 4 * GB } },
      { id: 'B', weight: 1, demand: { cpu: 3, memoryBytes: 1 * GB } },
    ]);
    expect(Object.fromEntries(got)).toEqual({ A: 3, B: 2 });
    // Both end at a dominant share of 2/3 (A's memory, B's CPU).
    expect(dominantShare(3, 12 * GB, 9, 18 * GB, 1)).toBeCloseTo(2 / 3, 12);
    expect(dominantShare(6, 2 * GB, 9, 18 * GB, 1)).toBeCloseTo(2 / 3, 12);
  });

  it('equal weights and equal demands split equally', () => {
    const got = drfAllocate({ cpu: 12, memoryBytes: 12 * GB }, [
      { id: 'a', weight: 1, demand: { cpu: 1, memoryBytes: GB } },
      { id: 'b', weight: 1, demand: { cpu: 1, memoryBytes: GB } },
      { id: 'c', weight: 1, demand: { cpu: 1, memoryBytes: GB } },
    ]);
    expect(Object.fromEntries(got)).toEqual({ a: 4, b: 4, c: 4 });
  });

  it('weights 1 and 2 give about 1/3 and 2/3 of the CPU', () => {
    const got = drfAllocate({ cpu: 30, memoryBytes: 100 * GB }, [
      { id: 'a', weight: 1, demand: { cpu: 1, memoryBytes: GB } },
      { id: 'b', weight: 2, demand: { cpu: 1, memoryBytes: GB } },
    ]);
    expect(Object.fromEntries(got)).toEqual({ a: 10, b: 20 });
  });

  it('is work-conserving: what a tenant does not want goes to the others', () => {
    const got = drfAllocate({ cpu: 10, memoryBytes: 10 * GB }, [
      { id: 'small', weight: 1, demand: { cpu: 1, memoryBytes: GB }, tasks: 2 },
      { id: 'big', weight: 1, demand: { cpu: 1, memoryBytes: GB } },
      { id: 'idle', weight: 5, demand: { cpu: 1, memoryBytes: GB }, tasks: 0 },
    ]);
    expect(Object.fromEntries(got)).toEqual({ small: 2, big: 8, idle: 0 });
  });

  it('the dominant resource decides: a memory-heavy tenant is held back by memory, not CPU', () => {
    const got = drfAllocate({ cpu: 100, memoryBytes: 10 * GB }, [
      { id: 'mem', weight: 1, demand: { cpu: 1, memoryBytes: 2 * GB } },
      { id: 'cpu', weight: 1, demand: { cpu: 10, memoryBytes: 0 } },
    ]);
    // mem: 2 tasks = 40 % of memory; cpu: 5 tasks… until memory runs out for mem and cpu runs out for cpu.
    expect(Object.fromEntries(got)).toEqual({ mem: 5, cpu: 9 });
  });

  it('refuses what would never end or has no meaning', () => {
    expect(() => drfAllocate({ cpu: 1, memoryBytes: 1 }, [{ id: 'z', weight: 1, demand: { cpu: 0, memoryBytes: 0 } }])).toThrow(/must need some CPU or memory/);
    expect(() => drfAllocate({ cpu: 1, memoryBytes: 1 }, [{ id: 'w', weight: 0, demand: { cpu: 1, memoryBytes: 0 } }])).toThrow(/weight/);
  });
});

describe('token bucket on proposer time', () => {
  it('holds a burst of one second, refills at the rate, and says when to retry', () => {
    const b = fullBucket(10, 1_000);
    expect(take(b, 10, 10, 1_000)).toEqual({ ok: true });
    expect(take(b, 10, 1, 1_000)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(b.tokens).toBe(0); // a refusal changes nothing
    expect(take(b, 10, 1, 1_100)).toEqual({ ok: true });
    expect(take(b, 10, 3, 1_200)).toEqual({ ok: false, retryAfterMs: 200 });
    expect(take(b, 10, 11, 9_000)).toEqual({ ok: false, retryAfterMs: null }); // more than a burst: never
    expect(tokensAt(b, 10, 60_000)).toBe(10); // capped at the burst
  });

  it('never refills for a time before its own: a lagging clock mints nothing', () => {
    const b = fullBucket(10, 5_000);
    take(b, 10, 10, 5_000);
    expect(take(b, 10, 1, 4_000)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(b.at).toBe(5_000);
  });
});

describe('quotaProblem', () => {
  it('accepts partial quotas and refuses bad fields with the field named', () => {
    expect(quotaProblem(undefined)).toBeNull();
    expect(quotaProblem({ maxCpuUnits: 2.5, priorityWeight: 3 })).toBeNull();
    expect(quotaProblem({ maxCpu: 1 })).toMatch(/quota.maxCpu is not a quota field/);
    expect(quotaProblem({ priorityWeight: 0 })).toMatch(/priorityWeight must be > 0/);
    expect(quotaProblem({ maxMemoryBytes: 1.5 })).toMatch(/must be an integer/);
    expect(quotaProblem({ maxStorageBytes: -1 })).toMatch(/≥ 0/);
    expect(quotaProblem({ maxTasksPerSecond: Infinity })).toMatch(/finite/);
  });
});

describe('Scheduler: tenants', () => {
  const task = (id: string, tenant: string, priority = 0, cpu = 1, memoryBytes = 0, enqueuedAt = 0): TaskSpec => ({ id, tenant, priority, resources: { cpu, memoryBytes }, enqueuedAt });

  /** Places every decision of `plan` and counts them per tenant. */
  function fill(s: Scheduler): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of s.plan(0, 10_000)) {
      s.place(d.taskId, d.worker);
      const tenant = s.task(d.taskId)!.tenant;
      out[tenant] = (out[tenant] ?? 0) + 1;
    }
    s.assertInvariants();
    return out;
  }

  it("places as drfAllocate fills: the DRF paper's example", () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w', { cpu: 9, memoryBytes: 18 * GB });
    for (let i = 0; i < 10; i++) s.enqueue(task(`a${i}`, 'A', 0, 1, 4 * GB));
    for (let i = 0; i < 10; i++) s.enqueue(task(`b${i}`, 'B', 0, 3, 1 * GB));
    expect(fill(s)).toEqual({ A: 3, B: 2 });
  });

  it('gives weights 1 and 2 a third and two thirds', () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w1', { cpu: 15, memoryBytes: GB });
    s.addWorker('w2', { cpu: 15, memoryBytes: GB });
    s.setTenant('b', { weight: 2, maxCpu: Infinity, maxMemoryBytes: Infinity, maxConcurrent: Infinity });
    for (let i = 0; i < 40; i++) s.enqueue(task(`a${i}`, 'a'));
    for (let i = 0; i < 40; i++) s.enqueue(task(`b${i}`, 'b'));
    expect(fill(s)).toEqual({ a: 10, b: 20 });
    expect(s.tenant('a')!.dominantShare).toBeCloseTo(1 / 3, 12);
    expect(s.tenant('b')!.dominantShare).toBeCloseTo(1 / 3, 12); // 2/3 of the CPU at weight 2
  });

  it('orders by priority within a tenant, never across tenants', () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w', { cpu: 4, memoryBytes: GB });
    for (let i = 0; i < 4; i++) s.enqueue(task(`greedy${i}`, 'greedy', 100));
    s.enqueue(task('low', 'modest', -5));
    s.enqueue(task('high', 'modest', 5));
    const order = s.plan(0, 10).map((d) => d.taskId);
    // The tenants alternate by share; within 'modest', priority 5 before −5.
    expect(order).toEqual(['greedy0', 'high', 'greedy1', 'low']);
  });

  it('is work-conserving: an idle tenant leaves its share to the others', () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w', { cpu: 8, memoryBytes: GB });
    s.setTenant('idle', { weight: 10, maxCpu: Infinity, maxMemoryBytes: Infinity, maxConcurrent: Infinity });
    for (let i = 0; i < 20; i++) s.enqueue(task(`b${i}`, 'busy'));
    expect(fill(s)).toEqual({ busy: 8 });
  });

  it("holds a tenant to its caps (CPU, memory, concurrent tasks); the others take what it cannot", () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w', { cpu: 16, memoryBytes: 16 * GB });
    s.setTenant('capped', { weight: 1, maxCpu: 3, maxMemoryBytes: Infinity, maxConcurrent: Infinity });
    s.setTenant('few', { weight: 1, maxCpu: Infinity, maxMemoryBytes: Infinity, maxConcurrent: 2 });
    s.setTenant('mem', { weight: 1, maxCpu: Infinity, maxMemoryBytes: 2 * GB, maxConcurrent: Infinity });
    for (let i = 0; i < 10; i++) {
      s.enqueue(task(`c${i}`, 'capped'));
      s.enqueue(task(`f${i}`, 'few'));
      s.enqueue(task(`m${i}`, 'mem', 0, 1, GB));
      s.enqueue(task(`o${i}`, 'other'));
    }
    expect(fill(s)).toEqual({ capped: 3, few: 2, mem: 2, other: 9 });
    expect(s.tenant('capped')!.held).toEqual({ cpu: 3, memoryBytes: 0 });
  });

  it('backfills within a tenant past a task its quota cannot take yet', () => {
    const s = new Scheduler({ maxQueuedPerWorker: 100 });
    s.addWorker('w', { cpu: 16, memoryBytes: GB });
    s.setTenant('t', { weight: 1, maxCpu: 3, maxMemoryBytes: Infinity, maxConcurrent: Infinity });
    s.enqueue(task('two', 't', 5, 2));
    s.enqueue(task('big', 't', 4, 2));
    s.enqueue(task('one', 't', 0, 1));
    expect(s.plan(0, 10).map((d) => d.taskId)).toEqual(['two', 'one']);
  });

  it('keeps tenant accounts through place, move, release, steal and removing a worker', () => {
    const s = new Scheduler({ maxQueuedPerWorker: 4 });
    s.addWorker('w1', { cpu: 4, memoryBytes: GB });
    s.addWorker('w2', { cpu: 4, memoryBytes: GB });
    for (let i = 0; i < 6; i++) s.enqueue(task(`x${i}`, i % 2 ? 'odd' : 'even'));
    for (const d of s.plan(0, 6)) s.place(d.taskId, d.worker);
    s.start('x0');
    s.move('x1', 'w2');
    s.release('x0');
    s.assertInvariants();
    s.removeWorker('w1');
    s.assertInvariants();
    expect(s.tenant('even')!.holding + s.tenant('odd')!.holding).toBe(s.stats().placed + s.stats().running);
  });
});

describe('Scheduler: headroom for an active tenant under its share (noisy neighbours in lock step)', () => {
  const task = (id: string, tenant: string, enqueuedAt: number, cpu = 1): TaskSpec => ({ id, tenant, priority: 0, resources: { cpu, memoryBytes: 0 }, enqueuedAt });
  const NONE = { weight: 1, maxCpu: Infinity, maxMemoryBytes: Infinity, maxConcurrent: Infinity };

  /** 3 workers × 4 one-CPU slots, as bench/tenants.ts. */
  function cluster(options: ConstructorParameters<typeof Scheduler>[0] = {}): Scheduler {
    const s = new Scheduler({ maxQueuedPerWorker: 100, ...options });
    for (let i = 1; i <= 3; i++) s.addWorker(`w${i}`, { cpu: 4, memoryBytes: GB });
    return s;
  }

  /** Places (and starts) every decision of `plan(now)`; the tenants placed, in order. */
  function decide(s: Scheduler, now: number): string[] {
    const out: string[] = [];
    for (const d of s.plan(now, 1_000)) {
      s.place(d.taskId, d.worker);
      s.start(d.taskId);
      out.push(s.task(d.taskId)!.tenant);
    }
    s.assertInvariants();
    return out;
  }

  /** Tenant b ran one task at 0 (and finished it); at 10, tenant a floods with `n` tasks. */
  function flooded(s: Scheduler, n = 40): string[] {
    s.enqueue(task('b0', 'b', 0));
    expect(decide(s, 0)).toEqual(['b']);
    s.release('b0');
    for (let i = 0; i < n; i++) s.enqueue(task(`a${i}`, 'a', 10));
    return decide(s, 10);
  }

  it("keeps one slot from the flood while b is active below its share, so b's next task starts without waiting for a busy slot", () => {
    const s = cluster();
    // a borrows 11 of 12 slots; the 12th is b's headroom, though b has nothing waiting.
    expect(flooded(s)).toEqual(Array(11).fill('a'));
    expect(s.headroomHeldUntil()).toBe(1_000); // b's submission at 0 + the active window
    expect(s.stats()).toMatchObject({ running: 11, pending: 29 });
    // b submits again: placed at once, no task of a released.
    s.enqueue(task('b1', 'b', 15));
    expect(decide(s, 15)).toEqual(['b']);
    // The cluster is full now; when a slot frees, b (active, 1 of 12 < ½) gets it kept again.
    s.release('a0');
    expect(decide(s, 30)).toEqual([]);
    expect(s.headroomHeldUntil()).toBe(1_015);
    s.enqueue(task('b2', 'b', 35));
    expect(decide(s, 35)).toEqual(['b']);
  });

  it('negative control: with headroom off (plain work-conserving DRF) the flood takes every slot and b waits for one to free', () => {
    const s = cluster({ headroomTasks: 0 });
    expect(flooded(s)).toEqual(Array(12).fill('a'));
    expect(s.headroomHeldUntil()).toBeNull();
    s.enqueue(task('b1', 'b', 15));
    expect(decide(s, 15)).toEqual([]);
    s.release('a0');
    expect(decide(s, 40)).toEqual(['b']); // one run time later
  });

  it('a lone tenant still takes every slot: alone, beside a tenant that never submitted, or once the other is idle past the window', () => {
    const alone = cluster();
    for (let i = 0; i < 20; i++) alone.enqueue(task(`a${i}`, 'a', 0));
    expect(decide(alone, 0)).toHaveLength(12);

    const registered = cluster();
    registered.setTenant('b', { ...NONE, weight: 10 });
    for (let i = 0; i < 20; i++) registered.enqueue(task(`a${i}`, 'a', 0));
    expect(decide(registered, 0)).toHaveLength(12);
    expect(registered.headroomHeldUntil()).toBeNull();

    // b last submitted at 0; its headroom lapses at 1,000 (the window), and then a takes the last slot.
    const lapsed = cluster();
    expect(flooded(lapsed)).toHaveLength(11);
    expect(decide(lapsed, 999)).toEqual([]);
    expect(lapsed.headroomHeldUntil()).toBe(1_000);
    expect(decide(lapsed, 1_000)).toEqual(['a']);
    expect(lapsed.headroomHeldUntil()).toBeNull();
  });

  it('the window is an option: activeWindowMs 0 keeps headroom only for a tenant with tasks waiting', () => {
    const s = cluster({ activeWindowMs: 0 });
    expect(flooded(s)).toHaveLength(12);
  });

  it('holds back only a borrower: tenants within their shares share the cluster as before', () => {
    const s = cluster();
    for (let i = 0; i < 20; i++) {
      s.enqueue(task(`a${i}`, 'a', 0));
      s.enqueue(task(`b${i}`, 'b', 0));
    }
    const placed = decide(s, 0);
    expect(placed.filter((t) => t === 'a')).toHaveLength(6);
    expect(placed.filter((t) => t === 'b')).toHaveLength(6);

    // c arrives within its share (a third now): it may take the slot kept for b.
    const third = cluster();
    expect(flooded(third)).toHaveLength(11);
    third.enqueue(task('c0', 'c', 20));
    third.enqueue(task('c1', 'c', 20));
    expect(decide(third, 20)).toEqual(['c']);
  });

  it("a borrowing task held back reserves no workers, however long it waited: a's smaller task within its share goes ahead", () => {
    const s = cluster({ reserveAfterMs: 0 });
    for (let i = 0; i < 4; i++) {
      s.enqueue(task(`a${i}`, 'a', 0));
      s.enqueue(task(`b${i}`, 'b', 0));
    }
    expect(decide(s, 0)).toHaveLength(8); // w1 and w2 full, w3 free
    s.enqueue(task('big', 'a', 5, 4)); // 4 + 4 of 12 CPUs: past a's half, and only b's headroom on w3 would fit it
    s.enqueue(task('small', 'a', 6, 1)); // 4 + 1: within a's half
    expect(s.plan(10, 10)).toEqual([{ taskId: 'small', worker: 'w3' }]);
  });

  it('keeps no headroom for a tenant at its own quota, or one whose next task would lift it past its share', () => {
    const capped = cluster();
    capped.setTenant('b', { ...NONE, maxConcurrent: 1 });
    capped.enqueue(task('b0', 'b', 0));
    expect(decide(capped, 0)).toEqual(['b']);
    for (let i = 0; i < 20; i++) capped.enqueue(task(`a${i}`, 'a', 1));
    expect(decide(capped, 1)).toHaveLength(11); // b holds 1, may hold no more: nothing kept for it

    const atShare = cluster();
    for (let i = 0; i < 6; i++) atShare.enqueue(task(`b${i}`, 'b', 0));
    expect(decide(atShare, 0)).toHaveLength(6);
    for (let i = 0; i < 20; i++) atShare.enqueue(task(`a${i}`, 'a', 1));
    expect(decide(atShare, 1)).toHaveLength(6); // b holds its half: a borrows nothing it needs
  });

  it('sizes the headroom by the task the tenant last submitted, on one worker', () => {
    const s = cluster();
    s.enqueue(task('b0', 'b', 0, 2));
    expect(decide(s, 0)).toEqual(['b']);
    s.release('b0');
    for (let i = 0; i < 20; i++) s.enqueue(task(`a${i}`, 'a', 10));
    expect(decide(s, 10)).toHaveLength(10); // two CPUs kept together on one worker
    s.enqueue(task('b1', 'b', 15, 2));
    expect(decide(s, 15)).toEqual(['b']);
  });

  it('keeps at most maxHeadroomShare of the cluster for many quiet tenants (one task always)', () => {
    const s = cluster();
    for (let k = 0; k < 8; k++) {
      s.enqueue(task(`q${k}`, `quiet${k}`, 0));
      decide(s, 0);
      s.release(`q${k}`);
    }
    for (let i = 0; i < 20; i++) s.enqueue(task(`a${i}`, 'a', 10));
    expect(decide(s, 10)).toHaveLength(9); // 8 quiet tenants, but only ¼ of 12 slots kept

    const tight = cluster({ maxHeadroomShare: 0 });
    for (let k = 0; k < 3; k++) {
      tight.enqueue(task(`q${k}`, `quiet${k}`, 0));
      decide(tight, 0);
      tight.release(`q${k}`);
    }
    for (let i = 0; i < 20; i++) tight.enqueue(task(`a${i}`, 'a', 10));
    expect(decide(tight, 10)).toHaveLength(11);
  });

  it("recordSubmission makes a tenant active as its own task would (a new leader's picture of finished tasks)", () => {
    const s = cluster();
    s.recordSubmission('b', 5, { cpu: 1, memoryBytes: 0 });
    s.recordSubmission('b', 2, { cpu: 3, memoryBytes: 0 }); // older: changes nothing
    for (let i = 0; i < 20; i++) s.enqueue(task(`a${i}`, 'a', 10));
    expect(decide(s, 10)).toHaveLength(11);
    expect(s.headroomHeldUntil()).toBe(1_005);
    expect(() => s.recordSubmission('b', Number.NaN, { cpu: 1, memoryBytes: 0 })).toThrow(RangeError);
    expect(() => new Scheduler({ headroomTasks: 0.5 })).toThrow(/headroomTasks/);
    expect(() => new Scheduler({ maxHeadroomShare: 2 })).toThrow(/maxHeadroomShare/);
    expect(() => new Scheduler({ activeWindowMs: -1 })).toThrow(/activeWindowMs/);
  });
});

describe('Scheduler: tenants under a random workload', () => {
  it('keeps every tenant account exact and every cap, through plan, place, start, release, steal, move and worker changes', () => {
    let x = 12345;
    const rand = (n: number) => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return (x >>> 8) % n;
    };
    const s = new Scheduler({ agingMs: 50, reserveAfterMs: 200, maxQueuedPerWorker: 3 });
    s.setTenant('t0', { weight: 1, maxCpu: 3, maxMemoryBytes: Infinity, maxConcurrent: 4 });
    s.setTenant('t1', { weight: 2, maxCpu: 5, maxMemoryBytes: 3 * GB, maxConcurrent: Infinity });
    s.setTenant('t2', { weight: 0.5, maxCpu: Infinity, maxMemoryBytes: Infinity, maxConcurrent: Infinity });
    for (let i = 1; i <= 4; i++) s.addWorker(`w${i}`, { cpu: 2 + rand(4), memoryBytes: (1 + rand(3)) * GB });
    const placed: string[] = [];
    for (let step = 0; step < 3_000; step++) {
      const now = step * 2;
      const r = rand(12);
      if (r < 3) {
        s.enqueue({ id: `k${step}`, tenant: `t${rand(3)}`, priority: rand(5) - 2, resources: { cpu: (1 + rand(8)) / 4, memoryBytes: rand(2) * GB }, enqueuedAt: now - rand(50) });
      } else if (r < 6) {
        for (const d of s.plan(now, 1 + rand(4))) {
          s.place(d.taskId, d.worker);
          placed.push(d.taskId);
        }
      } else if (r < 9 && placed.length > 0) {
        const at = rand(placed.length);
        const id = placed[at];
        if (s.task(id)?.status === 'placed' && rand(2) === 0) s.start(id);
        else if (s.task(id)) {
          s.release(id);
          placed.splice(at, 1);
        } else placed.splice(at, 1);
      } else if (r < 10) {
        for (const m of s.steal()) s.move(m.taskId, m.to);
      } else if (r < 11) {
        s.setWorkerAvailable(`w${1 + rand(4)}`, rand(3) !== 0);
      } else if (rand(20) === 0) {
        const id = `w${1 + rand(4)}`;
        if (s.hasWorker(id)) for (const lost of s.removeWorker(id)) s.enqueue({ id: `${lost}'`, tenant: 't2', priority: 0, resources: { cpu: 0.25, memoryBytes: 0 }, enqueuedAt: now });
        s.addWorker(id, { cpu: 2 + rand(4), memoryBytes: (1 + rand(3)) * GB });
      }
      s.assertInvariants();
      // Only decisions place here, so the caps hold at every step.
      expect(s.tenant('t0')!.holding).toBeLessThanOrEqual(4);
      expect(s.tenant('t0')!.held.cpu).toBeLessThanOrEqual(3);
      expect(s.tenant('t1')!.held.cpu).toBeLessThanOrEqual(5);
      expect(s.tenant('t1')!.held.memoryBytes).toBeLessThanOrEqual(3 * GB);
    }
    expect(placed.length).toBeGreaterThan(0);
  });
});

/**
 * Fair share measured in a saturated simulation, in the style of
 * Kubernetes' API Priority and Fairness tests: three tenants of different
 * weights and task shapes flood 3 workers (task sizes divide a worker's
 * capacity); the resources each holds, averaged over the saturated time,
 * must match a weighted DRF oracle over the pooled capacity within ±3 %,
 * and must not once fair share is switched off (the negative control).
 */
describe('fair share in a saturated simulation, against a weighted DRF oracle', () => {
  const WORKER = { cpu: 4, memoryBytes: 8 * GB };
  const POOL = { cpu: 3 * WORKER.cpu, memoryBytes: 3 * WORKER.memoryBytes };
  const TENANTS = [
    { id: 'a', weight: 1, demand: { cpu: 1, memoryBytes: 1 * GB } },
    { id: 'b', weight: 2, demand: { cpu: 1, memoryBytes: 1 * GB } },
    { id: 'c', weight: 1, demand: { cpu: 1, memoryBytes: 4 * GB } }, // memory is its dominant resource
  ];
  /** A tenant's (unweighted) dominant share of the pool when it holds `n` tasks. */
  const shareOf = (t: (typeof TENANTS)[number], n: number) => dominantShare(n * t.demand.cpu, n * t.demand.memoryBytes, POOL.cpu, POOL.memoryBytes, 1);

  async function measuredShares(fairShare: boolean): Promise<Record<string, number>> {
    const { createTestCluster } = await import('../system/cluster.js');
    const c = createTestCluster(3, { seed: 409, network: { latency: { base: 2, jitter: 1, distribution: 'uniform' } }, workerCapacity: WORKER, tasks: { fairShare } });
    c.registerHandler('job', (_p, ctx) => ctx.sleep(50));
    await c.waitForLeader();
    const operator = c.client({ id: 'operator' });
    for (const t of TENANTS) await c.drive(operator.submit({ op: 'registerTenant', tenant: t.id, quota: { priorityWeight: t.weight } }));
    // All three flood at once, each with more than it could ever run in the window.
    for (const t of TENANTS) c.tenant(t.id).submitTasks(Array.from({ length: 400 }, () => ({ type: 'job', resources: t.demand })));
    await c.run(200);
    const sums: Record<string, number> = Object.fromEntries(TENANTS.map((t) => [t.id, 0]));
    const samples = 100;
    for (let i = 0; i < samples; i++) {
      await c.run(10);
      const view = c.leader()!.tasks.schedulerView!;
      for (const t of TENANTS) sums[t.id] += shareOf(t, view.tenant(t.id)?.holding ?? 0) / samples;
    }
    return sums;
  }

  const oracle = drfAllocate(POOL, TENANTS);
  const expected = Object.fromEntries(TENANTS.map((t) => [t.id, shareOf(t, oracle.get(t.id)!)]));

  it('the oracle: weights 1, 2, 1 on 12 CPUs and 24 GB; c, memory-heavy, gets fewer tasks', () => {
    // Weighted dominant shares a 4/12, b (6/12)/2, c (8/24): progressive filling stops when no task fits the CPU left.
    expect(Object.fromEntries(oracle)).toEqual({ a: 4, b: 6, c: 2 });
  });

  it('measured shares match the weighted DRF oracle over pooled capacity within ±3 %', async () => {
    const got = await measuredShares(true);
    for (const t of TENANTS) expect(Math.abs(got[t.id] - expected[t.id]), `${t.id}: ${got[t.id]} vs ${expected[t.id]}`).toBeLessThanOrEqual(0.03);
  });

  it('negative control: with fair share off (one queue), the shares deviate from the oracle by more than 20 %', async () => {
    const got = await measuredShares(false);
    const worst = Math.max(...TENANTS.map((t) => Math.abs(got[t.id] - expected[t.id])));
    expect(worst).toBeGreaterThan(0.2);
    expect(() => new Scheduler({ fairShare: 'no' as never })).toThrow(/fairShare must be a boolean/);
  });
});
