import { describe, expect, it, vi } from 'vitest';
import type { LogEntry } from '../actors/raftTypes.js';
import { Bus, type DropSignal } from '../system/bus.js';
import { createCluster } from '../system/cluster.js';
import { EncodeOnce, msgpackCodec, type Codec } from '../system/codec.js';
import type { Envelope } from '../system/envelope.js';
import { Kernel } from '../system/kernel.js';

function inboxOf<P = unknown>(bus: Bus, id: string): Envelope<P>[] {
  const seen: Envelope<P>[] = [];
  bus.inbox<P>(id).subscribe((env) => seen.push(env));
  return seen;
}

/** msgpackCodec, counting its calls. */
function countingCodec(): Codec & { encodes: number; decodes: number } {
  return {
    encodes: 0,
    decodes: 0,
    encode(value) {
      this.encodes++;
      return msgpackCodec.encode(value);
    },
    decode(bytes) {
      this.decodes++;
      return msgpackCodec.decode(bytes);
    },
  };
}

describe('Bus: payloads travel as bytes', () => {
  it('a payload changed by the sender after send is delivered as it was sent', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'] });
    const seen = inboxOf<{ n: number; list: number[] }>(bus, 'b');
    const payload = { n: 1, list: [1, 2] };
    bus.send('a', 'b', 'x', payload);
    payload.n = 2;
    payload.list.push(3);
    kernel.advance(5);
    expect(seen.map((e) => e.payload)).toEqual([{ n: 1, list: [1, 2] }]);
  });

  it('no receiver shares an object with the sender or with another receiver', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'] });
    const atB = inboxOf<{ inner: { k: string } }>(bus, 'b');
    const atC = inboxOf<{ inner: { k: string } }>(bus, 'c');
    const payload = { inner: { k: 'v' } };
    const sent = bus.send('a', 'b', 'x', payload);
    bus.send('a', 'c', 'x', payload);
    kernel.advance(5);
    expect(sent.envelope.payload).toBe(payload); // the sender's result carries its own envelope
    expect(atB[0].payload).toEqual(payload);
    expect(atC[0].payload).toEqual(payload);
    expect(atB[0].payload).not.toBe(payload);
    expect(atB[0].payload.inner).not.toBe(atC[0].payload.inner);
    atB[0].payload.inner.k = 'changed by b';
    expect(atC[0].payload.inner.k).toBe('v');
    expect(payload.inner.k).toBe('v');
  });

  it('the two deliveries of a duplicated message are distinct objects, decoded from one encoding', () => {
    const kernel = new Kernel({ seed: 3 });
    const codec = countingCodec();
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { duplicate: 1 }, codec });
    const seen = inboxOf<{ items: number[] }>(bus, 'b');
    bus.send('a', 'b', 'x', { items: [1, 2, 3] });
    kernel.advance(5);
    expect(bus.stats().duplicated).toBe(1);
    expect(seen).toHaveLength(2);
    const [one, two] = seen;
    expect(one.id).toBe(two.id);
    expect(two).toEqual(one);
    expect(two).not.toBe(one);
    expect(two.payload).not.toBe(one.payload);
    expect(two.payload.items).not.toBe(one.payload.items);
    expect(codec.encodes).toBe(1);
    expect(codec.decodes).toBe(2);
  });

  it('a payload the codec cannot encode is a TypeError naming the type and the link, and nothing is counted', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'] });
    const send = () => bus.send('a', 'b', 'raft.append', { entries: [{ apply: () => 1 }] });
    expect(send).toThrow(TypeError);
    expect(send).toThrow("send(a → b, 'raft.append'): payload cannot be encoded: cannot encode a function at $.entries[0].apply");
    // Thrown whatever the network would have done with the message.
    bus.setDown('b', true);
    expect(send).toThrow(TypeError);
    expect(bus.stats()).toMatchObject({ sent: 0, inFlight: 0, bytes: 0 });
  });

  it('counts the encoded bytes of accepted sends, per link and in total', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b', 'c'] });
    const size = (v: unknown) => msgpackCodec.encode(v).byteLength;
    bus.send('a', 'b', 'x', { n: 1 });
    bus.send('a', 'b', 'x', 'hello');
    bus.send('a', 'c', 'x', [1, 2, 3]);
    bus.setDown('c', true);
    bus.send('a', 'c', 'x', 'refused: not counted');
    expect(bus.linkStats('a', 'b').bytes).toBe(size({ n: 1 }) + size('hello'));
    expect(bus.linkStats('a', 'c').bytes).toBe(size([1, 2, 3]));
    expect(bus.stats().bytes).toBe(size({ n: 1 }) + size('hello') + size([1, 2, 3]));
  });

  it('a drop in flight is decoded for drops$ observers only', () => {
    const kernel = new Kernel({ seed: 1 });
    const codec = countingCodec();
    const bus = new Bus(kernel, { nodes: ['a', 'b'], link: { latency: { base: 10 } }, codec });
    bus.send('a', 'b', 'x', { n: 1 });
    bus.setDown('b', true);
    kernel.advance(20);
    expect(bus.stats().dropped.down).toBe(1);
    expect(codec.decodes).toBe(0); // nobody observes drops$

    const drops: DropSignal[] = [];
    bus.drops$.subscribe((d) => drops.push(d));
    bus.setDown('b', false);
    const payload = { n: 2 };
    const sent = bus.send('a', 'b', 'x', payload);
    bus.setDown('b', true);
    kernel.advance(20);
    expect(codec.decodes).toBe(1);
    expect(drops).toEqual([{ envelope: sent.envelope, reason: 'down', stage: 'delivery', at: 30 }]);
    expect(drops[0].envelope.payload).not.toBe(payload);
  });

  it('without a codec (codec: null) receivers get the sender payload object itself', () => {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['a', 'b'], codec: null });
    const seen = inboxOf(bus, 'b');
    const payload = { f: () => 1 }; // not checked either
    const sent = bus.send('a', 'b', 'x', payload);
    kernel.advance(5);
    expect(seen[0].payload).toBe(payload);
    expect(seen[0]).toEqual(sent.envelope);
    expect(bus.stats().bytes).toBe(0);
  });

  it('encoding does not change the network draws: same seed, same delivery log with and without a codec', async () => {
    const run = async (codec: Codec | null) => {
      const kernel = new Kernel({ seed: 11 });
      const ids = ['a', 'b', 'c'];
      const bus = new Bus(kernel, { nodes: ids, deliveryLog: true, codec, link: { latency: { base: 3, jitter: 2 }, loss: 0.1, duplicate: 0.1, reorder: 0.2 } });
      ids.forEach((id, i) =>
        bus.inbox<{ hop: number }>(id).subscribe((env) => {
          if (env.payload.hop < 30) bus.send(id, ids[(i + 1 + (env.payload.hop % 2)) % 3], 'hop', { hop: env.payload.hop + 1 });
        }),
      );
      for (let i = 0; i < 20; i++) bus.send(ids[i % 3], ids[(i + 1) % 3], 'hop', { hop: 0 });
      await kernel.run(1000);
      return bus.deliveryLog;
    };
    const encoded = await run(msgpackCodec);
    expect(encoded.length).toBeGreaterThan(50);
    expect(await run(null)).toEqual(encoded);
  });
});

describe('Bus: clients beside the network', () => {
  function setup() {
    const kernel = new Kernel({ seed: 1 });
    const bus = new Bus(kernel, { nodes: ['n1', 'n2', 'n3'] });
    bus.addNode('cli', { kind: 'client' });
    return { kernel, bus };
  }

  it('registers clients and nodes by kind', () => {
    const { bus } = setup();
    expect(bus.kindOf('cli')).toBe('client');
    expect(bus.kindOf('n1')).toBe('node');
    expect(bus.nodes).toEqual(['n1', 'n2', 'n3', 'cli']);
    expect(() => bus.addNode('x', { kind: 'server' as never })).toThrow(TypeError);
  });

  it('a client named in no group reaches every group and is reached from every group', () => {
    const { kernel, bus } = setup();
    const atCli = inboxOf(bus, 'cli');
    const atN1 = inboxOf(bus, 'n1');
    const atN3 = inboxOf(bus, 'n3');
    bus.partition([['n1'], ['n2']]); // n3 is in no group: the group of the unnamed
    for (const n of ['n1', 'n2', 'n3']) {
      expect(bus.isPartitioned('cli', n)).toBe(false);
      expect(bus.isPartitioned(n, 'cli')).toBe(false);
    }
    expect(bus.isPartitioned('n1', 'n3')).toBe(true);
    for (const n of ['n1', 'n2', 'n3']) {
      expect(bus.send('cli', n, 'req', n).ok).toBe(true);
      expect(bus.send(n, 'cli', 'resp', n).ok).toBe(true);
    }
    expect(bus.send('n1', 'n3', 'x', 0)).toMatchObject({ ok: false, reason: 'partition' });
    kernel.advance(5);
    expect(atCli.map((e) => e.from)).toEqual(['n1', 'n2', 'n3']);
    expect(atN1.map((e) => e.payload)).toEqual(['n1']);
    expect(atN3.map((e) => e.payload)).toEqual(['n3']);
  });

  it('a client named in a group is confined to it like a node', () => {
    const { bus } = setup();
    bus.partition([['n1', 'cli'], ['n2', 'n3']]);
    expect(bus.send('cli', 'n1', 'x', 0).ok).toBe(true);
    expect(bus.send('cli', 'n2', 'x', 0)).toMatchObject({ ok: false, reason: 'partition' });
    expect(bus.send('n3', 'cli', 'x', 0)).toMatchObject({ ok: false, reason: 'partition' });
    // A later partition that leaves it out frees it again; so does heal.
    bus.partition([['n1'], ['n2', 'n3']]);
    expect(bus.send('cli', 'n2', 'x', 0).ok).toBe(true);
    bus.partition([['n1', 'cli'], ['n2', 'n3']]);
    bus.heal();
    expect(bus.send('cli', 'n2', 'x', 0).ok).toBe(true);
  });

  it('a client added during a partition is free; a node added then joins the unnamed group', () => {
    const { bus } = setup();
    bus.partition([['n1'], ['n2']]);
    bus.addNode('late-client', { kind: 'client' });
    bus.addNode('late-node');
    expect(bus.isPartitioned('late-client', 'n1')).toBe(false);
    expect(bus.isPartitioned('late-client', 'n2')).toBe(false);
    expect(bus.isPartitioned('late-node', 'n3')).toBe(false);
    expect(bus.isPartitioned('late-node', 'n1')).toBe(true);
  });

  it('in-flight messages between a free client and a group survive the partition', () => {
    const { kernel, bus } = setup();
    bus.configureLink('cli', 'n2', { latency: { base: 10 } });
    const atN2 = inboxOf(bus, 'n2');
    bus.send('cli', 'n2', 'req', 1);
    bus.partition([['n1'], ['n2']]);
    kernel.advance(20);
    expect(atN2).toHaveLength(1);
  });

  it('isolate, cut, setDown and link configs apply to clients as to nodes', () => {
    const { kernel, bus } = setup();
    bus.isolate('cli');
    expect(bus.send('cli', 'n1', 'x', 0)).toMatchObject({ ok: false, reason: 'cut' });
    expect(bus.send('n1', 'cli', 'x', 0)).toMatchObject({ ok: false, reason: 'cut' });
    bus.heal();
    bus.cut('cli', 'n2');
    expect(bus.send('cli', 'n2', 'x', 0)).toMatchObject({ ok: false, reason: 'cut' });
    expect(bus.send('n2', 'cli', 'x', 0).ok).toBe(true);
    bus.restore('cli', 'n2');
    bus.setDown('cli', true);
    expect(bus.send('cli', 'n3', 'x', 0)).toMatchObject({ ok: false, reason: 'down' });
    bus.setDown('cli', false);
    bus.configureLink('cli', 'n3', { latency: { base: 40 } });
    const atN3 = inboxOf(bus, 'n3');
    bus.send('cli', 'n3', 'x', 0);
    kernel.advance(39);
    expect(atN3).toHaveLength(0);
    kernel.advance(1);
    expect(atN3).toHaveLength(1);
  });
});

describe('AppendEntries batches are encoded once for all followers', () => {
  it('a leader broadcasting one batch to four followers encodes its entries once', async () => {
    const c = createCluster({ nodes: 5, seed: 3, check: false, network: { latency: { base: 2, jitter: 0 } } });
    const leader = (await c.waitForLeader(10_000)).raft;
    await c.run(200); // settle: every follower in step, heartbeats only
    const encode = vi.spyOn(msgpackCodec, 'encode');
    try {
      const before = leader.log.lastIndex;
      const encodingsBefore = EncodeOnce.encodings;
      for (let i = 0; i < 10; i++) leader.propose({ op: 'noop', i });
      await c.run(50);
      expect(leader.commitIndex).toBeGreaterThanOrEqual(before + 10);
      // The appends that carried entries: one per follower, all with the same batch.
      const appends = encode.mock.calls
        .map(([value]) => value as { entries?: unknown })
        .filter((v) => v !== null && typeof v === 'object' && v.entries instanceof EncodeOnce && v.entries.value.length > 0);
      expect(appends).toHaveLength(4);
      expect(new Set(appends.map((a) => a.entries)).size).toBe(1);
      expect((appends[0].entries as EncodeOnce<LogEntry[]>).value.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => before + 1 + i));
      // Encoded once, not once per follower.
      expect(EncodeOnce.encodings - encodingsBefore).toBe(1);
      // The followers got the entries themselves, as plain data.
      for (const id of c.ids) expect(c.node(id).raft.log.lastIndex).toBe(leader.log.lastIndex);
    } finally {
      encode.mockRestore();
    }
  });
});
