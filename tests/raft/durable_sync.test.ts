/**
 * Durable before promised, with a storage whose sync takes time (a disk in
 * real mode): no vote, append or acknowledgement leaves a node before the
 * sync of the state it promises has resolved, and a leader counts its own
 * log toward a quorum only as far as it is durable. A process kill keeps
 * the page cache, so only a storage that delays (or refuses) its syncs can
 * show a missing one; this one finishes them when the test says so.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessages } from '../../actors/raftTypes.js';
import { MemoryStorage, type Storage } from '../../actors/storage.js';
import { createCluster } from '../../system/cluster.js';
import { PLAIN, World, logOf, termsOf, world, type WorldOptions } from './harness.js';

/** Storage over a MemoryStorage whose syncs finish only when the test calls {@link ManualDisk.finish}, in order. */
class ManualDisk implements Storage {
  private readonly queue: Array<{ mark: number; resolve: () => void; reject: (err: Error) => void }> = [];
  constructor(readonly memory: MemoryStorage) {}
  load() {
    return this.memory.load();
  }
  setHardState(...a: Parameters<Storage['setHardState']>) {
    this.memory.setHardState(...a);
  }
  append(...a: Parameters<Storage['append']>) {
    this.memory.append(...a);
  }
  truncateFrom(...a: Parameters<Storage['truncateFrom']>) {
    this.memory.truncateFrom(...a);
  }
  saveSnapshot(...a: Parameters<Storage['saveSnapshot']>) {
    this.memory.saveSnapshot(...a);
  }
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.queue.push({ mark: this.memory.written, resolve, reject }));
  }
  get inFlight(): number {
    return this.queue.length;
  }
  /** Finishes the oldest `n` syncs (all by default), then lets the node's promise callbacks run. */
  async finish(n = this.queue.length): Promise<void> {
    for (const s of this.queue.splice(0, n)) {
      this.memory.syncTo(s.mark);
      s.resolve();
    }
    await flush();
  }
  async fail(err: Error): Promise<void> {
    for (const s of this.queue.splice(0)) s.reject(err);
    await flush();
  }
}

/** Lets promise callbacks run (the node resumes in one when a sync resolves). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function voteRequest(term: number, candidate: string): RaftMessages['raft.vote'] {
  return { term, candidate, lastIndex: 0, lastTerm: 0, preVote: false, transfer: false };
}

/** A world whose nodes write through manual disks, one per incarnation. */
function slowWorld(n: number, nodes?: string[], specs?: WorldOptions['specs']): { w: World; disk: (id: string) => ManualDisk } {
  const disks = new Map<string, ManualDisk>();
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const w = new World({
    ids,
    nodes,
    options: PLAIN,
    specs,
    storageFor: (id, memory) => {
      const d = new ManualDisk(memory);
      disks.set(id, d);
      return d;
    },
  });
  return { w, disk: (id) => disks.get(id)! };
}

describe('durable before promised: a storage whose sync takes time', () => {
  it('a vote leaves only once the vote is durable; a crash before that loses a vote nobody heard', async () => {
    const { w, disk } = slowWorld(3, ['n1']);
    w.send('n2', 'n1', 'raft.vote', voteRequest(1, 'n2'));
    w.settle();
    expect(w.take({ type: 'raft.voteResponse' })).toEqual([]); // the vote is not on disk yet
    expect(disk('n1').inFlight).toBeGreaterThan(0);
    await disk('n1').finish();
    w.settle();
    const [vote] = w.take({ type: 'raft.voteResponse' });
    expect(vote.payload).toMatchObject({ term: 1, granted: true });

    // Again in term 2, crashing before the sync: the vote was never sent, and it is gone.
    w.send('n3', 'n1', 'raft.vote', voteRequest(2, 'n3'));
    w.settle();
    expect(w.take({ type: 'raft.voteResponse' })).toEqual([]);
    w.crash('n1', 'unsynced');
    const n1 = w.restart('n1');
    expect(n1.status()).toMatchObject({ term: 1, votedFor: 'n2' });
  });

  it('a candidate asks for votes only once its own vote is durable', async () => {
    const { w, disk } = slowWorld(3, ['n1']);
    w.runUntil(() => w.node('n1').currentRole === 'candidate', 1_000);
    expect(w.take({ type: 'raft.vote' })).toEqual([]);
    await disk('n1').finish();
    w.settle();
    expect(w.take({ type: 'raft.vote' }).map((m) => m.to).sort()).toEqual(['n2', 'n3']);
  });

  it('an append is acknowledged only once its entries are durable, and acknowledged entries survive a crash', async () => {
    const { w, disk } = slowWorld(3, ['n1']);
    w.send('n2', 'n1', 'raft.append', { term: 2, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: logOf([1, 2, 2]), commit: 0, readRound: 0 });
    w.settle();
    expect(w.take({ type: 'raft.appendResponse' })).toEqual([]);
    await disk('n1').finish();
    w.settle();
    const [ack] = w.take({ type: 'raft.appendResponse' });
    expect(ack.payload).toMatchObject({ success: true, match: 3 });
    w.crash('n1', 'unsynced');
    expect(termsOf(w.restart('n1'))).toEqual([1, 2, 2]);
  });

  it('a leader counts its own log toward a quorum only once it is durable (one voter: nothing commits before the sync)', async () => {
    const { w, disk } = slowWorld(1);
    for (let i = 0; i < 20 && !w.node('n1').isLeader; i++) {
      w.run(100);
      await disk('n1').finish();
    }
    expect(w.node('n1').isLeader).toBe(true);
    await disk('n1').finish();
    w.settle();
    const n1 = w.node('n1');
    const commitBefore = n1.status().commitIndex;
    const at = w.propose('n1', 'x');
    w.run(10);
    expect(n1.status().commitIndex).toBe(commitBefore); // written, not durable: not committed
    await disk('n1').finish();
    w.settle();
    expect(n1.status().commitIndex).toBeGreaterThanOrEqual(at.index);
    expect(w.sm('n1').applied.map((e) => e.command)).toContain('x');
  });

  it("a leader sends its appends before its own sync (thesis §10.2.1): an entry commits on two durable followers while the leader's disk lags", async () => {
    const { w, disk } = slowWorld(3);
    w.campaign('n1');
    for (let i = 0; i < 4; i++) {
      for (const id of ['n1', 'n2', 'n3']) await disk(id).finish();
      w.settle();
    }
    const n1 = w.node('n1');
    expect(n1.isLeader).toBe(true);
    const at = w.propose('n1', 'y');
    // The leader's write of y is not durable, yet both followers have y.
    expect(disk('n1').inFlight).toBeGreaterThan(0);
    for (const id of ['n2', 'n3']) expect(w.node(id).log.entry(at.index)?.payload).toMatchObject({ command: 'y' });
    expect(n1.status().commitIndex).toBeLessThan(at.index);
    await disk('n2').finish();
    w.settle(); // n2's copy is durable; n1 counts its own only once durable: one of three
    expect(n1.status().commitIndex).toBeLessThan(at.index);
    await disk('n3').finish();
    w.settle();
    expect(disk('n1').inFlight).toBeGreaterThan(0);
    expect(n1.status().commitIndex).toBeGreaterThanOrEqual(at.index);
  });

  it('a new leader sends no append before its term is durable (one voter and a learner: no vote proves the term)', async () => {
    const config = { voters: ['n1'], learners: ['n2'] };
    const { w, disk } = slowWorld(2, undefined, { n1: { bootstrap: config }, n2: { bootstrap: config } });
    await disk('n1').finish();
    await disk('n2').finish();
    const sentBefore = w.sent.length;
    w.campaign('n1');
    const n1 = w.node('n1');
    expect(n1.isLeader).toBe(true);
    const appendsTo = (from: number) => w.sent.slice(from).filter((m) => m.type === 'raft.append' && m.to === 'n2' && (m.payload as RaftMessages['raft.append']).term === n1.currentTerm);
    expect(appendsTo(sentBefore)).toEqual([]);
    // Its first append leaves once the term is on disk, not before (nor does it wait for the log).
    expect(disk('n1').memory.load().hardState.term).toBeLessThan(n1.currentTerm);
    for (let i = 0; i < 10 && appendsTo(sentBefore).length === 0; i++) {
      await disk('n1').finish(1);
      w.settle();
    }
    expect(appendsTo(sentBefore).length).toBeGreaterThan(0);
    expect(disk('n1').memory.load().hardState.term).toBe(n1.currentTerm);
    expect(disk('n1').inFlight).toBeGreaterThan(0); // the log's write, not waited for
  });

  it('syncs finish in the order they started, whatever order the disk resolves them in', async () => {
    const { w, disk } = slowWorld(3, ['n1']);
    w.send('n2', 'n1', 'raft.append', { term: 1, leader: 'n2', prevIndex: 0, prevTerm: 0, entries: logOf([1]), commit: 0, readRound: 0 });
    w.send('n2', 'n1', 'raft.append', { term: 1, leader: 'n2', prevIndex: 1, prevTerm: 1, entries: logOf([1, 1]).slice(1), commit: 0, readRound: 0 });
    w.settle();
    expect(disk('n1').inFlight).toBe(3); // the term learned, the first entry, the second
    await disk('n1').finish(2);
    w.settle();
    expect(w.take({ type: 'raft.appendResponse' }).map((m) => m.payload.match)).toEqual([1]); // only what the first sync covered
    await disk('n1').finish();
    w.settle();
    expect(w.take({ type: 'raft.appendResponse' }).map((m) => m.payload.match)).toEqual([2]);
  });

  it('a sync that fails stops the node: it keeps none of the promises it cannot make durable', async () => {
    const { w, disk } = slowWorld(3, ['n1']);
    w.send('n2', 'n1', 'raft.vote', voteRequest(1, 'n2'));
    w.settle();
    await disk('n1').fail(new Error('EIO: i/o error'));
    w.settle();
    expect(w.take({ type: 'raft.voteResponse' })).toEqual([]);
    expect(w.storageFailures.map((f) => [f.node, (f.err as Error).message])).toEqual([['n1', 'EIO: i/o error']]);
    // Stopped: it answers nothing more, and writes nothing more.
    w.send('n3', 'n1', 'raft.vote', voteRequest(2, 'n3'));
    w.settle();
    expect(w.take({ type: 'raft.voteResponse' })).toEqual([]);
    expect(disk('n1').inFlight).toBe(0);
  });
});

describe('a cluster on disks that take time to sync (syncLatency)', () => {
  it('elects, commits and runs tasks, loses nothing acknowledged across crashes, and is deterministic', async () => {
    async function run(seed: number): Promise<string> {
      const c = createCluster({ nodes: 3, seed, syncLatency: { min: 0.2, max: 4 } });
      c.registerHandler('echo', (p) => p);
      await c.waitForLeader(10_000);
      const client = c.client({ id: 'app' });
      const acked: number[] = [];
      for (let i = 0; i < 30; i++) {
        const h = client.submitTask({ type: 'echo', payload: i });
        await c.drive(h.accepted, 10_000);
        acked.push(i);
        if (i === 10) c.crash(c.leader()!.id, 'unsynced');
        if (i === 20) for (const id of c.ids) if (!c.isUp(id)) c.restart(id);
      }
      await c.settle(5_000);
      const tasks = c.leader()!.state.tasks().filter((t) => t.spec.type === 'echo');
      expect(tasks.map((t) => t.spec.payload).sort((a, b) => (a as number) - (b as number))).toEqual(acked);
      const s = c.status();
      const indexes = c.ids.map((id) => (s[id].up ? (s[id] as { commitIndex: number }).commitIndex : -1));
      expect(new Set(indexes).size).toBe(1);
      return JSON.stringify(s);
    }
    expect(await run(5)).toBe(await run(5));
  });

  it('refuses a malformed syncLatency', () => {
    expect(() => createCluster({ nodes: 3, syncLatency: { min: 5, max: 1 } })).toThrow(/syncLatency/);
  });
});
