import type { SchedulerAction, SchedulerLike } from 'rxjs';
import { Subscription } from 'rxjs';
import type { Clock, TimerHandle } from './clock.js';
import { Random } from './random.js';

/**
 * A scheduled event. The object itself is the timer handle: cancelling
 * clears `fn`, and the queue drops it lazily when it comes up, so a cancel
 * is O(1) and needs no side table.
 */
interface KernelEvent {
  time: number;
  fn: ((arg: unknown) => void) | null;
  arg: unknown;
}

/**
 * Events due at one virtual instant, in scheduling order. Simulated timers
 * cluster on few instants (integer delays, shared heartbeats), so the queue
 * is a min-heap of buckets ordered by (time, seq), and all events of an
 * integer instant share one FIFO bucket: the heap stays small. A fractional
 * instant gets a bucket per event (a hash lookup on a non-integer key costs
 * more than it saves); equal times then fall back to the bucket sequence.
 */
interface Bucket {
  time: number;
  seq: number;
  events: KernelEvent[];
  head: number;
}

/** Options of {@link Kernel.runUntil}. */
export interface RunUntilOptions {
  /** Virtual milliseconds the predicate may take to become true. */
  within: number;
  /** Names the awaited condition in the error, for a person reading it. */
  description?: string;
}

/** Options of a {@link Kernel}. */
export interface KernelOptions {
  /** Seed of every random stream of this kernel. */
  seed?: number;
  /**
   * Upper bound on events fired at one virtual instant. More means a
   * livelock (a zero-delay loop), which is reported instead of hanging.
   */
  maxEventsPerInstant?: number;
}

/** Thrown by {@link Kernel.runUntil} when the condition is not met in time. */
export class SimulationTimeoutError extends Error {
  readonly code = 'SimulationTimeout';
  constructor(
    readonly description: string,
    readonly within: number,
    readonly at: number,
    readonly seed: number,
  ) {
    super(`${description} did not happen within ${within} virtual ms (now t=${at}, seed ${seed})`);
    this.name = 'SimulationTimeoutError';
  }
}

/** Thrown when more than `maxEventsPerInstant` events fire at one virtual time. */
export class LivelockError extends Error {
  readonly code = 'Livelock';
  constructor(
    readonly at: number,
    readonly events: number,
    readonly seed: number,
  ) {
    super(`livelock: ${events} events at virtual t=${at} without time advancing (seed ${seed})`);
    this.name = 'LivelockError';
  }
}

// Captured at load, so a test that fakes timers afterwards cannot stall the kernel.
const setImmediateFn = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
const setTimeoutFn = globalThis.setTimeout;

/** Lets the event loop turn once (timers, I/O), after every microtask queued so far. */
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (setImmediateFn !== undefined ? setImmediateFn(resolve) : setTimeoutFn(resolve, 0)));

/**
 * Resolves once every microtask queued so far has run, and those they
 * queue, without turning the event loop: Node runs its `nextTick` queue
 * only once V8's microtask queue is empty, and the tick is queued from a
 * microtask, so this holds whatever context the caller is in. Code that
 * defers through `process.nextTick` itself (streams, some emitters) may
 * finish after the next event; simulated handlers should use promises and
 * `ctx.sleep`, as real I/O is not simulated anyway. Outside Node the event
 * loop turns instead.
 */
const nodeProcess = (globalThis as { process?: { versions?: { node?: string }; nextTick?: (fn: () => void) => void } }).process;
const nextTick = nodeProcess?.versions?.node !== undefined ? nodeProcess.nextTick : undefined;
const drainMicrotasks: () => Promise<void> =
  nextTick !== undefined ? () => new Promise((resolve) => queueMicrotask(() => nextTick(resolve))) : yieldToEventLoop;

/** Drains between which the event loop turns once, so real I/O (trace files, test runners) is never starved by a long run. */
const DRAINS_PER_TURN = 64;

/**
 * The deterministic discrete-event scheduler every simulated actor, timer
 * and message runs on.
 *
 * Events are ordered by (time, sequence); virtual time moves only when the
 * next event is later than now. The kernel is also an XState clock and an
 * RxJS scheduler ({@link Kernel.scheduler}), so statechart delays and
 * time-based operators share the one queue.
 *
 * Async code: the async runners ({@link Kernel.run}, {@link Kernel.runUntil})
 * let the microtask queue drain after each event that may have resumed async
 * code (anything that called {@link Kernel.wake}, such as {@link Kernel.sleep}),
 * so promise continuations run at the same virtual time, in order, before the
 * next event. The sync runners ({@link Kernel.step}, {@link Kernel.advance})
 * are for fully synchronous worlds and benchmarks.
 */
export class Kernel implements Clock {
  readonly seed: number;
  /** The root random source; use {@link Kernel.random} for a named stream. */
  readonly rng: Random;
  /** An RxJS scheduler on virtual time, for `delay`, `timer`, `debounceTime`, …. */
  readonly scheduler: SchedulerLike;

  /** Min-heap of buckets on (time, seq). */
  private heap: Bucket[] = [];
  /** The open bucket of each integer instant. */
  private readonly buckets = new Map<number, Bucket>();
  private bucketSeq = 0;
  private live = 0;
  private time = 0;
  private fired = 0;
  private asyncPending = false;
  private readonly maxEventsPerInstant: number;
  private instantTime = -1;
  private instantEvents = 0;
  /** Microtask drains so far (every {@link DRAINS_PER_TURN}th turns the event loop). */
  private drains = 0;
  private readonly streams = new Map<string, Random>();

  constructor(options: KernelOptions = {}) {
    this.seed = options.seed ?? 1;
    if (!Number.isSafeInteger(this.seed)) throw new TypeError(`kernel seed must be an integer, got ${this.seed}`);
    this.maxEventsPerInstant = options.maxEventsPerInstant ?? 1_000_000;
    this.rng = new Random(this.seed);
    this.scheduler = new KernelScheduler(this);
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.time;
  }

  /** Number of events fired so far. */
  get eventsFired(): number {
    return this.fired;
  }

  /** Number of live (scheduled, not cancelled, not fired) events. */
  get pending(): number {
    return this.live;
  }

  /**
   * An independent random stream for one component, derived from the seed
   * and the name: adding a component never shifts another's draws.
   */
  random(stream: string): Random {
    let r = this.streams.get(stream);
    if (!r) {
      r = this.rng.derive(stream);
      this.streams.set(stream, r);
    }
    return r;
  }

  /**
   * Schedules `fn(arg)` `delay` virtual ms from now (0 = later at this
   * instant, after everything already scheduled for it). Passing `arg`
   * instead of a closure keeps the hot path allocation-light.
   */
  schedule<A>(delay: number, fn: (arg: A) => void, arg?: A): TimerHandle {
    if (!(delay >= 0)) throw new RangeError(`delay must be a non-negative number, got ${delay}`);
    const ev: KernelEvent = { time: this.time + delay, fn: fn as (arg: unknown) => void, arg };
    this.push(ev);
    this.live++;
    return ev;
  }

  /** Cancels a scheduled event. Returns whether it was still pending. */
  cancel(handle: TimerHandle): boolean {
    const ev = handle as KernelEvent | undefined;
    if (!ev || ev.fn === null) return false;
    ev.fn = null;
    ev.arg = undefined;
    this.live--;
    // Cancelled events stay in the heap until their time; when they are most of it, drop them.
    if (this.heap.length > COMPACT_MIN_BUCKETS && this.heap.length > 4 * this.live) this.compact();
    return true;
  }

  /**
   * Drops the buckets whose events were all cancelled and rebuilds the heap
   * of the rest. Firing order is unchanged: it is the heap's order on
   * (time, seq), which no bucket's removal changes. Timeouts that are
   * cancelled long before they are due (a client's per-request timer, say)
   * otherwise fill the heap: 96 % of its buckets in the 256-client
   * benchmark, every push and pop sifting through them.
   */
  private compact(): void {
    const kept: Bucket[] = [];
    for (const b of this.heap) {
      const events = b.events;
      let live = false;
      for (let i = b.head; i < events.length; i++) {
        if (events[i].fn !== null) {
          live = true;
          break;
        }
      }
      if (live) kept.push(b);
      else if (this.buckets.get(b.time) === b) this.buckets.delete(b.time); // a later event at that instant opens a new bucket
    }
    this.heap = kept;
    for (let i = (kept.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** XState / DOM-style timer: see {@link Clock.setTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.schedule(Math.max(0, ms || 0), fn);
  }

  /** See {@link Clock.clearTimeout}. */
  clearTimeout(handle: TimerHandle): void {
    this.cancel(handle);
  }

  /** A promise resolved `ms` virtual ms from now (`ctx.sleep` of handlers). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.schedule(ms, () => {
        this.wake();
        resolve();
      });
    });
  }

  /**
   * Tells the kernel that async code may have been resumed (a promise
   * resolved), so the async runners drain microtasks before the next event.
   */
  wake(): void {
    this.asyncPending = true;
  }

  /** Virtual time of the next live event, or undefined when idle. */
  peek(): number | undefined {
    const b = this.nextBucket();
    return b === undefined ? undefined : b.time;
  }

  /** Fires the next event (advancing time to it). Returns false when idle. */
  step(): boolean {
    const b = this.nextBucket();
    if (b === undefined) return false;
    this.fire(b.events[b.head++]);
    return true;
  }

  /**
   * Synchronously fires every event up to `now + ms`, then sets the clock to
   * exactly that time. Does not drain microtasks: use {@link Kernel.run}
   * when async handlers are involved.
   */
  advance(ms: number): void {
    const end = this.checkedEnd(ms);
    for (;;) {
      const b = this.nextBucket();
      if (b === undefined || b.time > end) break;
      this.fire(b.events[b.head++]);
    }
    this.time = end;
  }

  /**
   * Runs events up to `now + ms`. After an event that resumed async code
   * (anything that called {@link Kernel.wake}: a settled sleep, a client
   * answer, a task handler's promise), its continuations run to completion
   * before the next event, at the same virtual instant.
   */
  async run(ms: number): Promise<void> {
    const end = this.checkedEnd(ms);
    await this.drain();
    for (;;) {
      const b = this.nextBucket();
      if (b === undefined || b.time > end) break;
      this.fire(b.events[b.head++]);
      // drain(), written out: an await per event costs a promise even when nothing waits, and a call to drain() another.
      while (this.asyncPending) {
        this.asyncPending = false;
        await (++this.drains % DRAINS_PER_TURN === 0 ? yieldToEventLoop() : drainMicrotasks());
      }
    }
    // Another run may have gone past `end` while this one awaited (a test that
    // drives a promise and runs the kernel at once): time never goes back.
    if (end > this.time) this.time = end;
  }

  /**
   * Runs events until `predicate()` holds (checked before the first event
   * and after each). Throws {@link SimulationTimeoutError} if it does not
   * hold within `within` virtual ms; returns the virtual time it took.
   */
  async runUntil(predicate: () => boolean, options: RunUntilOptions): Promise<number> {
    const start = this.time;
    const end = this.checkedEnd(options.within);
    await this.drain();
    if (predicate()) return 0;
    for (;;) {
      const b = this.nextBucket();
      if (b === undefined || b.time > end) break;
      this.fire(b.events[b.head++]);
      await this.drain();
      if (predicate()) return this.time - start;
    }
    if (end > this.time) this.time = end; // (see run)
    throw new SimulationTimeoutError(options.description ?? 'condition', options.within, this.time, this.seed);
  }

  private checkedEnd(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`duration must be a finite non-negative number, got ${ms}`);
    return this.time + ms;
  }

  private async drain(): Promise<void> {
    while (this.asyncPending) {
      this.asyncPending = false;
      await (++this.drains % DRAINS_PER_TURN === 0 ? yieldToEventLoop() : drainMicrotasks());
    }
  }

  private fire(ev: KernelEvent): void {
    const fn = ev.fn!;
    ev.fn = null;
    this.live--;
    if (ev.time !== this.instantTime) {
      this.instantTime = ev.time;
      this.instantEvents = 0;
    } else if (++this.instantEvents > this.maxEventsPerInstant) {
      throw new LivelockError(ev.time, this.instantEvents, this.seed);
    }
    this.time = ev.time;
    this.fired++;
    fn(ev.arg);
  }

  /**
   * The bucket holding the next live event (at its head), discarding
   * cancelled events and exhausted buckets on the way; undefined when idle.
   */
  private nextBucket(): Bucket | undefined {
    const heap = this.heap;
    while (heap.length > 0) {
      const b = heap[0];
      const events = b.events;
      while (b.head < events.length && events[b.head].fn === null) b.head++;
      if (b.head < events.length) return b;
      if (this.buckets.get(b.time) === b) this.buckets.delete(b.time);
      this.popBucket();
    }
    return undefined;
  }

  private push(ev: KernelEvent): void {
    const t = ev.time;
    if (Number.isInteger(t)) {
      const open = this.buckets.get(t);
      if (open !== undefined) {
        open.events.push(ev);
        return;
      }
      const b: Bucket = { time: t, seq: this.bucketSeq++, events: [ev], head: 0 };
      this.buckets.set(t, b);
      this.pushBucket(b);
    } else {
      this.pushBucket({ time: t, seq: this.bucketSeq++, events: [ev], head: 0 });
    }
  }

  // Binary min-heap on (time, seq), written out for the hot path.
  private pushBucket(b: Bucket): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(b);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p];
      if (parent.time < b.time || (parent.time === b.time && parent.seq < b.seq)) break;
      heap[i] = parent;
      i = p;
    }
    heap[i] = b;
  }

  private popBucket(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.siftDown(0);
  }

  /** Moves the bucket at `i` down to its place. */
  private siftDown(i: number): void {
    const heap = this.heap;
    const size = heap.length;
    const last = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      let c = l;
      let child = heap[l];
      if (r < size) {
        const right = heap[r];
        if (right.time < child.time || (right.time === child.time && right.seq < child.seq)) {
          c = r;
          child = right;
        }
      }
      if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = last;
  }
}

/** Below this many buckets the heap is never compacted (see `Kernel.compact`). */
const COMPACT_MIN_BUCKETS = 4096;

/** An RxJS action whose timers live on the kernel. */
class KernelAction<T> extends Subscription implements SchedulerAction<T> {
  private handle: TimerHandle | undefined;
  private state: T | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => {
      if (this.handle !== undefined) kernel.cancel(this.handle);
      this.handle = undefined;
    });
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    if (this.handle !== undefined) this.kernel.cancel(this.handle);
    this.handle = this.kernel.schedule(delay, KernelAction.execute, this as KernelAction<unknown>);
    return this;
  }

  private static execute(action: KernelAction<unknown>): void {
    action.handle = undefined;
    // An RxJS timer may settle a promise (`firstValueFrom(timer(…))`): its continuation runs at this instant.
    action.kernel.wake();
    try {
      action.work.call(action, action.state);
    } catch (err) {
      action.unsubscribe();
      throw err;
    }
  }
}

class KernelScheduler implements SchedulerLike {
  constructor(private readonly kernel: Kernel) {}
  now(): number {
    return this.kernel.now();
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new KernelAction<T>(this.kernel, work).schedule(state, delay);
  }
}
