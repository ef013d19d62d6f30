import { describe, expect, it } from 'vitest';
import { Bus, type BusStats, type DropSignal, type FaultEvent, type LinkStats, type PressureSignal } from '../system/bus.js';
import type { Envelope } from '../system/envelope.js';
import { Kernel } from '../system/kernel.js';
import { DEFAULT_LINK_CONFIG, type LinkConfigPatch } from '../system/network.js';

/** Records every delivery of the given nodes as [node, envelope, virtual time]. */
function record(bus: Bus, kernel: Kernel, ids: readonly string[]): Array<{ node: string; env: Envelope; at: number }> {
  const seen: Array<{ node: string; env: Envelope; at: number }> = [];
  for (const node of ids) bus.inbox(node).subscribe((env) => seen.push({ node, env, at: kernel.now() }));
  return seen;
}

function totalDropped(s: LinkStats): number {
  return s.dropped.loss + s.dropped.partition + s.dropped.cut + s.dropped.down + s.dropped.backpressure;
}

/** Every message sent is delivered, dropped, or still in flight (duplicates count as extra sends). */
function expectConservation(s: BusStats): void {
  expect(s.sent + s.duplicated).toBe(s.delivered + totalDropped(s) + s.inFlight);
  for (const link of s.links) expect(link.sent + link.duplicated).toBe(link.delivered + totalDropped(link) + link.inFlight);
}

describe('Bus: envelopes and delivery times', () => {
  it('wraps each send in an envelope with a sequential id and delivers it after the link latency', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10, jitter: 0 } } });
    const seen = record(bus, kernel, ['a', 'b']);
    const r1 = bus.send('a', 'b', 'Ping', { n: 1 });
    kernel.advance(3);
    const r2 = bus.send('b', 'a', 'Pong', 'two');
    expect(r1).toEqual({ ok: true, status: 'scheduled', envelope: { id: 'm1', from: 'a', to: 'b', type: 'Ping', payload: { n: 1 }, sentAt: 0 } });
    expect(r2.ok && r2.envelope).toEqual({ id: 'm2', from: 'b', to: 'a', type: 'Pong', payload: 'two', sentAt: 3 });

    kernel.advance(6); // t = 9
    expect(seen).toEqual([]);
    expect(bus.depth('a', 'b')).toBe(1);
    kernel.advance(1); // t = 10
    expect(seen.map((s) => [s.node, s.env.id, s.at])).toEqual([['b', 'm1', 10]]);
    // The receiver gets an equal envelope decoded from the wire, not the sender's objects.
    expect(seen[0].env).toEqual(r1.envelope);
    expect(seen[0].env).not.toBe(r1.envelope);
    expect(seen[0].env.payload).not.toBe(r1.envelope.payload);
    kernel.advance(3);
    expect(seen.map((s) => [s.node, s.env.id, s.at])).toEqual([
      ['b', 'm1', 10],
      ['a', 'm2', 13],
    ]);
    expect(bus.depth('a', 'b')).toBe(0);
  });

  it('draws uniform jitter within [base - jitter, base + jitter] and covers the range', async () => {
    const kernel = new Kernel({ seed: 2 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10, jitter: 3, distribution: 'uniform' } } });
    const delays: number[] = [];
    bus.inbox('b').subscribe((env) => delays.push(kernel.now() - env.sentAt));
    // One message every 20 ms: never two in flight, so FIFO never delays one.
    for (let i = 0; i < 2000; i++) {
      bus.send('a', 'b', 'x', i);
      await kernel.run(20);
    }
    expect(delays).toHaveLength(2000);
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    expect(min).toBeGreaterThanOrEqual(7 - 1e-9);
    expect(max).toBeLessThanOrEqual(13 + 1e-9);
    expect(min).toBeLessThan(7.1);
    expect(max).toBeGreaterThan(12.9);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - 10)).toBeLessThan(0.2); // sd of the mean ≈ 1.73 / √2000 ≈ 0.04
  });

  it('draws normal and exponential jitter with the configured moments, never below 0 or base', () => {
    const kernel = new Kernel({ seed: 3 });
    const bus = new Bus(kernel, { nodes: ['a', 'n', 'e'] });
    bus.configureLink('a', 'n', { latency: { base: 20, jitter: 4, distribution: 'normal' } });
    bus.configureLink('a', 'e', { latency: { base: 5, jitter: 10, distribution: 'exponential' } });
    const normal: number[] = [];
    const expo: number[] = [];
    bus.inbox('n').subscribe((env) => normal.push(kernel.now() - env.sentAt));
    bus.inbox('e').subscribe((env) => expo.push(kernel.now() - env.sentAt));
    for (let i = 0; i < 4000; i++) {
      bus.send('a', 'n', 'x', i);
      bus.send('a', 'e', 'x', i);
      kernel.advance(500); // longer than any plausible delay: no FIFO interplay
    }
    const stats = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return { mean, sd: Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length) };
    };
    expect(Math.min(...normal)).toBeGreaterThanOrEqual(0);
    expect(stats(normal).mean).toBeCloseTo(20, 0);
    expect(stats(normal).sd).toBeCloseTo(4, 0);
    expect(Math.min(...expo)).toBeGreaterThanOrEqual(5 - 1e-9);
    expect(Math.abs(stats(expo).mean - 15)).toBeLessThan(0.8); // base + mean 10; sd of the mean ≈ 0.16
  });
});

describe('Bus: loss, duplication, reordering', () => {
  it('loses messages at the configured rate (within 4 sigma over 10,000)', () => {
    const kernel = new Kernel({ seed: 4 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { loss: 0.1, capacity: 20_000 } });
    const seen = record(bus, kernel, ['b']);
    const n = 10_000;
    let lost = 0;
    for (let i = 0; i < n; i++) {
      const r = bus.send('a', 'b', 'x', i);
      if (!r.ok) {
        expect(r.reason).toBe('loss');
        lost++;
      }
    }
    kernel.advance(100);
    const sigma = Math.sqrt(n * 0.1 * 0.9); // 30
    expect(Math.abs(lost - n * 0.1)).toBeLessThanOrEqual(4 * sigma);
    expect(lost).toBeGreaterThan(0);
    expect(seen).toHaveLength(n - lost);
    const s = bus.stats();
    expect(s.dropped.loss).toBe(lost);
    expect(s.delivered).toBe(n - lost);
    expectConservation(s);
  });

  it('duplicates at the configured rate; a duplicate carries an equal envelope, decoded anew', () => {
    const kernel = new Kernel({ seed: 5 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { duplicate: 0.2, capacity: 30_000 } });
    const seen = record(bus, kernel, ['b']);
    const n = 10_000;
    for (let i = 0; i < n; i++) bus.send('a', 'b', 'x', i);
    kernel.advance(100);
    const s = bus.stats();
    const sigma = Math.sqrt(n * 0.2 * 0.8); // 40
    expect(Math.abs(s.duplicated - n * 0.2)).toBeLessThanOrEqual(4 * sigma);
    expect(seen).toHaveLength(n + s.duplicated);

    const byId = new Map<string, Envelope[]>();
    for (const { env } of seen) byId.set(env.id, [...(byId.get(env.id) ?? []), env]);
    expect(byId.size).toBe(n);
    const twice = [...byId.values()].filter((copies) => copies.length === 2);
    expect(twice).toHaveLength(s.duplicated);
    expect([...byId.values()].every((copies) => copies.length <= 2)).toBe(true);
    for (const [a, b] of twice) {
      expect(b).toEqual(a);
      expect(b).not.toBe(a);
    }
    expectConservation(s);
  });

  it('keeps a link FIFO when reorder is 0, even with jitter larger than the gap between sends', () => {
    const kernel = new Kernel({ seed: 6 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10, jitter: 9 }, reorder: 0 } });
    const seen = record(bus, kernel, ['b']);
    for (let i = 0; i < 1000; i++) {
      bus.send('a', 'b', 'x', i);
      kernel.advance(0.1);
    }
    kernel.advance(100);
    expect(seen.map((s) => s.env.payload)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (let i = 1; i < seen.length; i++) expect(seen[i].at).toBeGreaterThanOrEqual(seen[i - 1].at);
  });

  it('lets some messages overtake when reorder > 0, delivering all of them', () => {
    const kernel = new Kernel({ seed: 7 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10, jitter: 2 }, reorder: 0.1 } });
    const seen = record(bus, kernel, ['b']);
    for (let i = 0; i < 1000; i++) {
      bus.send('a', 'b', 'x', i);
      kernel.advance(0.5);
    }
    kernel.advance(100);
    const order = seen.map((s) => s.env.payload as number);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < order.length; i++) if (order[i] < order[i - 1]) inversions++;
    expect(inversions).toBeGreaterThan(10);
    expect(inversions).toBeLessThan(300);
  });
});

describe('Bus: partitions, cuts, isolation, down nodes', () => {
  const ids = ['a', 'b', 'c', 'd'];

  function allToAll(bus: Bus, rounds: number): { scheduled: number; partition: number } {
    let scheduled = 0;
    let partition = 0;
    for (let r = 0; r < rounds; r++) {
      for (const from of ids) {
        for (const to of ids) {
          if (from === to) continue;
          const res = bus.send(from, to, 'x', r);
          if (res.ok) scheduled++;
          else if (res.reason === 'partition') partition++;
        }
      }
    }
    return { scheduled, partition };
  }

  it('drops exactly the cross-group messages of a partition, and delivers again after heal', () => {
    const kernel = new Kernel({ seed: 8 });
    const bus = new Bus(kernel, { nodes: ids });
    const seen = record(bus, kernel, ids);
    // d is in no group: it forms a third group on its own.
    bus.partition([['a', 'b'], ['c']]);
    expect(bus.isPartitioned('a', 'b')).toBe(false);
    expect(bus.isPartitioned('a', 'c')).toBe(true);
    expect(bus.isPartitioned('c', 'd')).toBe(true);
    const during = allToAll(bus, 10);
    kernel.advance(10);
    // 12 directed pairs, only a→b and b→a stay within a group.
    expect(during).toEqual({ scheduled: 20, partition: 100 });
    expect(bus.stats().dropped.partition).toBe(100);
    expect(seen.every((s) => (s.env.from === 'a' && s.node === 'b') || (s.env.from === 'b' && s.node === 'a'))).toBe(true);
    expect(seen).toHaveLength(20);

    bus.heal();
    const after = allToAll(bus, 10);
    kernel.advance(10);
    expect(after).toEqual({ scheduled: 120, partition: 0 });
    expect(seen).toHaveLength(140);
    expectConservation(bus.stats());
  });

  it('drops messages in flight across a partition that starts before they arrive', () => {
    const kernel = new Kernel({ seed: 9 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'], link: { latency: { base: 10 } } });
    const seen = record(bus, kernel, ['b', 'c']);
    const drops: DropSignal[] = [];
    bus.drops$.subscribe((d) => drops.push(d));
    const crossing = bus.send('a', 'b', 'x', 1);
    bus.send('a', 'c', 'x', 2);
    expect(crossing.ok).toBe(true);
    kernel.advance(5);
    bus.partition([['a', 'c'], ['b']]);
    kernel.advance(10);
    expect(seen.map((s) => s.node)).toEqual(['c']);
    expect(drops).toEqual([{ envelope: crossing.envelope, reason: 'partition', stage: 'delivery', at: 10 }]);
    expect(bus.linkStats('a', 'b').dropped.partition).toBe(1);
    expect(bus.depth('a', 'b')).toBe(0);
  });

  it('cuts a link one way or both ways, drops its messages in flight, and restores it', () => {
    const kernel = new Kernel({ seed: 10 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10 } } });
    const seen = record(bus, kernel, ['a', 'b']);
    const inFlight = bus.send('a', 'b', 'x', 0);
    kernel.advance(1);
    bus.cut('a', 'b');
    expect(bus.isCut('a', 'b')).toBe(true);
    expect(bus.isCut('b', 'a')).toBe(false);
    const r1 = bus.send('a', 'b', 'x', 1);
    const r2 = bus.send('b', 'a', 'x', 2);
    expect(!r1.ok && r1.reason).toBe('cut');
    expect(r2.ok).toBe(true);
    kernel.advance(20);
    expect(seen.map((s) => s.env.payload)).toEqual([2]);
    expect(bus.linkStats('a', 'b').dropped.cut).toBe(2); // r1 at send, the in-flight one at delivery
    expect(inFlight.ok).toBe(true);

    bus.cut('a', 'b', { bothWays: true });
    const r3 = bus.send('b', 'a', 'x', 3);
    expect(!r3.ok && r3.reason).toBe('cut');
    bus.restore('a', 'b');
    expect(bus.send('a', 'b', 'x', 4).ok).toBe(true);
    expect(bus.send('b', 'a', 'x', 5).ok).toBe(false);
    bus.restore('a', 'b', { bothWays: true });
    expect(bus.send('b', 'a', 'x', 6).ok).toBe(true);
    kernel.advance(20);
    expect(seen.map((s) => s.env.payload)).toEqual([2, 4, 6]);
  });

  it('isolates a node from every other, including nodes registered later, until healed', () => {
    const kernel = new Kernel({ seed: 11 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'] });
    const seen = record(bus, kernel, ['a', 'b', 'c']);
    bus.isolate('a');
    bus.addNode('e');
    const reasons = (from: string, to: string) => {
      const r = bus.send(from, to, 'x', `${from}${to}`);
      return r.ok ? 'ok' : r.reason;
    };
    expect([reasons('a', 'b'), reasons('b', 'a'), reasons('c', 'a'), reasons('a', 'e'), reasons('e', 'a')]).toEqual([
      'cut',
      'cut',
      'cut',
      'cut',
      'cut',
    ]);
    expect(reasons('b', 'c')).toBe('ok');
    expect(reasons('a', 'a')).toBe('ok'); // a node still reaches itself
    kernel.advance(5);
    expect(seen.map((s) => s.env.payload)).toEqual(['bc', 'aa']);
    bus.heal();
    expect(reasons('a', 'b')).toBe('ok');
    expect(reasons('e', 'a')).toBe('ok');
  });

  it('drops messages to and from a down node, including those in flight, until it is up', () => {
    const kernel = new Kernel({ seed: 12 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10 } } });
    const seen = record(bus, kernel, ['a', 'b']);
    bus.send('a', 'b', 'x', 'in flight');
    kernel.advance(5);
    bus.setDown('b', true);
    expect(bus.isDown('b')).toBe(true);
    const toDown = bus.send('a', 'b', 'x', 'to down');
    const fromDown = bus.send('b', 'a', 'x', 'from down');
    expect([!toDown.ok && toDown.reason, !fromDown.ok && fromDown.reason]).toEqual(['down', 'down']);
    kernel.advance(20);
    expect(seen).toEqual([]);
    expect(bus.stats().dropped.down).toBe(3);
    bus.setDown('b', false);
    bus.send('a', 'b', 'x', 'after');
    kernel.advance(10);
    expect(seen.map((s) => s.env.payload)).toEqual(['after']);
  });

  it('announces every injected fault on faults$ with its parameters', () => {
    const kernel = new Kernel({ seed: 13 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'] });
    const faults: FaultEvent[] = [];
    bus.faults$.subscribe((f) => faults.push(f));
    bus.partition([['a'], ['b', 'c']]);
    kernel.advance(1);
    bus.heal();
    bus.cut('a', 'b', { bothWays: true });
    bus.restore('a', 'b');
    bus.isolate('c');
    bus.setDown('b', true);
    bus.setDown('b', false);
    bus.configureLink('a', 'b', { loss: 0.5 });
    bus.configureDefaults({ latency: { base: 3 } });
    expect(faults).toEqual([
      { kind: 'partition', at: 0, groups: [['a'], ['b', 'c']] },
      { kind: 'heal', at: 1 },
      { kind: 'cut', at: 1, from: 'a', to: 'b', bothWays: true },
      { kind: 'restore', at: 1, from: 'a', to: 'b', bothWays: false },
      { kind: 'isolate', at: 1, node: 'c' },
      { kind: 'down', at: 1, node: 'b' },
      { kind: 'up', at: 1, node: 'b' },
      { kind: 'link', at: 1, from: 'a', to: 'b', params: { loss: 0.5 } },
      { kind: 'defaults', at: 1, params: { latency: { base: 3 } } },
    ]);
  });
});

describe('Bus: bounded queues and backpressure', () => {
  it('refuses sends on a full link, signals backpressure and pressure edges with hysteresis, and recovers', () => {
    const kernel = new Kernel({ seed: 14 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10 }, capacity: 4 } });
    const seen = record(bus, kernel, ['b']);
    const depths: number[] = [];
    const pressure: PressureSignal[] = [];
    const refusals: unknown[] = [];
    bus.depth$('a', 'b').subscribe((d) => depths.push(d));
    bus.pressure$.subscribe((p) => pressure.push(p));
    bus.backpressure$.subscribe((b) => refusals.push(b));

    // Sends at t = 0, 1, 2, 3 are due at 10, 11, 12, 13.
    for (let i = 0; i < 4; i++) {
      expect(bus.send('a', 'b', 'x', i).ok).toBe(true);
      kernel.advance(1);
    }
    expect(bus.depth('a', 'b')).toBe(4);
    const refused = bus.send('a', 'b', 'x', 'refused');
    expect(refused).toMatchObject({ ok: false, status: 'dropped', reason: 'backpressure' });
    expect(refusals).toEqual([{ from: 'a', to: 'b', depth: 4, capacity: 4, at: 4 }]);
    expect(pressure).toEqual([{ from: 'a', to: 'b', pressured: true, depth: 4, capacity: 4, at: 3 }]);

    kernel.advance(6.5); // t = 10.5: one delivered, depth 3 (> half): still pressured
    expect(bus.depth('a', 'b')).toBe(3);
    expect(pressure).toHaveLength(1);
    expect(bus.send('a', 'b', 'x', 4).ok).toBe(true); // back to 4: no second `true` edge
    expect(pressure).toHaveLength(1);
    expect(bus.send('a', 'b', 'x', 'refused again').ok).toBe(false);
    expect(refusals).toHaveLength(2);

    kernel.advance(1.5); // t = 12: deliveries at 11 and 12 → depth 2 = half: pressure released
    expect(pressure).toEqual([
      { from: 'a', to: 'b', pressured: true, depth: 4, capacity: 4, at: 3 },
      { from: 'a', to: 'b', pressured: false, depth: 2, capacity: 4, at: 12 },
    ]);
    kernel.advance(20);
    expect(depths).toEqual([0, 1, 2, 3, 4, 3, 4, 3, 2, 1, 0]);
    expect(seen.map((s) => s.env.payload)).toEqual([0, 1, 2, 3, 4]);
    expect(bus.linkStats('a', 'b').dropped.backpressure).toBe(2);
    expect(bus.send('a', 'b', 'x', 'recovered').ok).toBe(true);
    expectConservation(bus.stats());
  });

  it('keeps queues per directed link', () => {
    const kernel = new Kernel({ seed: 15 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'], link: { capacity: 1 } });
    expect(bus.send('a', 'b', 'x', 1).ok).toBe(true);
    expect(bus.send('a', 'b', 'x', 2).ok).toBe(false);
    expect(bus.send('b', 'a', 'x', 3).ok).toBe(true);
    expect(bus.send('a', 'c', 'x', 4).ok).toBe(true);
    expect([bus.depth('a', 'b'), bus.depth('b', 'a'), bus.depth('a', 'c'), bus.depth('c', 'a')]).toEqual([1, 1, 1, 0]);
    expect(bus.inFlight).toBe(3);
  });
});

describe('Bus: configuration', () => {
  it('overrides one directed link, merging partial latency with the defaults', () => {
    const kernel = new Kernel({ seed: 16 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 2, jitter: 1, distribution: 'normal' } } });
    bus.configureLink('a', 'b', { latency: { base: 50 } });
    bus.configureLink('a', 'b', { loss: 0.25 });
    expect(bus.linkConfig('a', 'b')).toEqual({
      latency: { base: 50, jitter: 1, distribution: 'normal' },
      loss: 0.25,
      duplicate: 0,
      reorder: 0,
      capacity: DEFAULT_LINK_CONFIG.capacity,
    });
    expect(bus.linkConfig('b', 'a').latency.base).toBe(2);
    bus.configureDefaults({ latency: { base: 7, jitter: 0 }, loss: 0.5 });
    // Overridden fields stay, the rest follow the new defaults.
    expect(bus.linkConfig('a', 'b')).toMatchObject({ latency: { base: 50, jitter: 0, distribution: 'normal' }, loss: 0.25 });
    expect(bus.linkConfig('b', 'a')).toMatchObject({ latency: { base: 7, jitter: 0 }, loss: 0.5 });
  });

  it.each<[string, LinkConfigPatch, RegExp]>([
    ['loss above 1', { loss: 1.5 }, /loss/],
    ['negative loss', { loss: -0.1 }, /loss/],
    ['NaN duplicate', { duplicate: Number.NaN }, /duplicate/],
    ['reorder above 1', { reorder: 2 }, /reorder/],
    ['negative base latency', { latency: { base: -1 } }, /latency\.base/],
    ['infinite jitter', { latency: { jitter: Number.POSITIVE_INFINITY } }, /latency\.jitter/],
    ['unknown distribution', { latency: { distribution: 'pareto' as 'normal' } }, /latency\.distribution/],
    ['zero capacity', { capacity: 0 }, /capacity/],
    ['fractional capacity', { capacity: 1.5 }, /capacity/],
  ])('rejects %s with a RangeError naming the field', (_name, patch, field) => {
    const kernel = new Kernel();
    expect(() => new Bus(kernel, { nodes: ['a', 'b'], link: patch })).toThrow(RangeError);
    expect(() => new Bus(kernel, { nodes: ['a', 'b'], link: patch })).toThrow(field);
    const bus = new Bus(kernel, { nodes: ['a', 'b'] });
    expect(() => bus.configureLink('a', 'b', patch)).toThrow(RangeError);
    expect(() => bus.configureDefaults(patch)).toThrow(RangeError);
    expect(bus.linkConfig('a', 'b')).toEqual(DEFAULT_LINK_CONFIG); // a refused change changes nothing
  });

  it('rejects unknown config fields and bad input with a TypeError', () => {
    const kernel = new Kernel();
    const bus = new Bus(kernel, { nodes: ['a', 'b'] });
    expect(() => bus.configureLink('a', 'b', { lose: 0.1 } as LinkConfigPatch)).toThrow(TypeError);
    expect(() => bus.configureLink('a', 'b', { latency: { mean: 3 } } as LinkConfigPatch)).toThrow(/latency\.mean/);
    expect(() => bus.send('a', 'zz', 'x', 1)).toThrow(/unknown node 'zz'/);
    expect(() => bus.send('a', 'b', '', 1)).toThrow(TypeError);
    expect(() => bus.inbox('zz')).toThrow(TypeError);
    expect(() => bus.addNode('a')).toThrow(TypeError);
    expect(() => bus.addNode('')).toThrow(TypeError);
    expect(() => bus.partition([['a'], ['a', 'b']])).toThrow(RangeError);
    expect(() => bus.partition([['a'], ['nobody']])).toThrow(TypeError);
    expect(bus.stats().sent).toBe(0);
  });
});

describe('Bus: determinism', () => {
  async function run(seed: number) {
    const kernel = new Kernel({ seed });
    const ids = ['a', 'b', 'c'];
    const bus = new Bus(kernel, {
      nodes: ids,
      deliveryLog: true,
      link: { latency: { base: 3, jitter: 2, distribution: 'normal' }, loss: 0.05, duplicate: 0.05, reorder: 0.1 },
    });
    // Every delivery is answered, to a peer chosen by the payload: traffic depends on the network's draws.
    ids.forEach((id) =>
      bus.inbox<number>(id).subscribe((env) => {
        if (env.payload < 40) bus.send(id, ids[(env.payload + ids.indexOf(id) + 1) % 3], 'echo', env.payload + 1);
      }),
    );
    for (let i = 0; i < 30; i++) bus.send(ids[i % 3], ids[(i + 1) % 3], 'start', i % 5);
    await kernel.run(1000);
    return bus;
  }

  it('gives the same delivery log for the same seed and a different one for another seed', async () => {
    const one = await run(21);
    const two = await run(21);
    const other = await run(22);
    expect(one.deliveryLog.length).toBeGreaterThan(100);
    expect(two.deliveryLog).toEqual(one.deliveryLog);
    expect(two.stats()).toEqual(one.stats());
    expect(other.deliveryLog).not.toEqual(one.deliveryLog);
    for (let i = 1; i < one.deliveryLog.length; i++) {
      expect(one.deliveryLog[i].deliveredAt).toBeGreaterThanOrEqual(one.deliveryLog[i - 1].deliveredAt);
    }
    expectConservation(one.stats());
  });

  it('records nothing in the delivery log unless asked', () => {
    const kernel = new Kernel();
    const bus = new Bus(kernel, { nodes: ['a', 'b'] });
    bus.send('a', 'b', 'x', 1);
    kernel.advance(5);
    expect(bus.stats().delivered).toBe(1);
    expect(bus.deliveryLog).toEqual([]);
  });
});
