/**
 * Log replication (Raft paper §5.3), one test per claim, in the manner of
 * etcd's raft_paper_test.go.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry, RaftMessages, WireEntry } from '../../actors/raftTypes.js';
import { MemoryStorage, type Storage } from '../../actors/storage.js';
import { batchValue, EncodeOnce } from '../../system/codec.js';
import { encodeKept, keptEncoding } from '../../system/keptEncodings.js';
import { PLAIN, World, commandAt, entriesOf, entry, logOf, termsOf, world, type Msg, type MsgOf, type NodeSpec } from './harness.js';

/** A world where only `n1` is real; its peers are phantoms. */
function lone(n: number, spec: NodeSpec = {}): World {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  return new World({ ids, nodes: ['n1'], options: PLAIN, specs: { n1: spec } });
}

/** Makes n1 the leader of a lone world, its first entry (the noop) acknowledged by `ackers`. */
function leadLone(w: World, ackers: string[]): void {
  const n1 = w.node('n1');
  w.runUntil(() => n1.currentRole !== 'follower', 1_000, 'a campaign');
  for (const id of w.ids) if (id !== 'n1' && !n1.isLeader) w.send(id, 'n1', 'raft.voteResponse', { term: n1.currentTerm, granted: true, preVote: false });
  w.settle();
  expect(n1.isLeader).toBe(true);
  for (const id of ackers) w.send(id, 'n1', 'raft.appendResponse', ok(n1.currentTerm, n1.log.lastIndex));
  w.settle();
  w.take();
}

function ok(term: number, match: number): RaftMessages['raft.appendResponse'] {
  return { term, success: true, match, conflictIndex: 0, conflictTerm: 0, lastIndex: match, readRound: 0 };
}

function append(term: number, prevIndex: number, prevTerm: number, entries: WireEntry[], commit = 0): RaftMessages['raft.append'] {
  return { term, leader: 'n2', prevIndex, prevTerm, entries, commit, readRound: 0 };
}

describe('§5.3 log replication', () => {
  it('the leader appends a proposal to its log, persists it, and sends it to every follower with the preceding index and term', () => {
    const w = lone(3);
    leadLone(w, ['n2', 'n3']);
    const n1 = w.node('n1');
    expect(n1.commitIndex).toBe(1); // the new term's noop
    const at = n1.propose('x');
    expect(at).toEqual({ index: 2, term: 1 });
    expect(n1.log.entry(2)).toEqual(entry(2, 1, 'x'));
    w.settle();
    expect(w.storage('n1').load().entries.map((e) => e.index)).toEqual([1, 2]);
    const msgs = w.take({ type: 'raft.append' });
    expect(msgs.map((m) => m.to)).toEqual(['n2', 'n3']);
    for (const m of msgs) expect(m.payload).toEqual({ term: 1, leader: 'n1', prevIndex: 1, prevTerm: 1, entries: [entry(2, 1, 'x')], commit: 1, readRound: 0 });
    expect(n1.commitIndex).toBe(1); // not before a majority has it
  });

  // etcd's TestLeaderAcknowledgeCommit.
  const acks: Array<{ size: number; ackers: string[]; committed: boolean }> = [
    { size: 1, ackers: [], committed: true },
    { size: 3, ackers: [], committed: false },
    { size: 3, ackers: ['n2'], committed: true },
    { size: 3, ackers: ['n2', 'n3'], committed: true },
    { size: 5, ackers: [], committed: false },
    { size: 5, ackers: ['n2'], committed: false },
    { size: 5, ackers: ['n2', 'n3'], committed: true },
    { size: 5, ackers: ['n2', 'n3', 'n4', 'n5'], committed: true },
  ];
  it.each(acks)('the leader commits an entry once a majority stored it: size $size, acks from $ackers → $committed', ({ size, ackers, committed }) => {
    const w = lone(size);
    leadLone(w, w.ids.slice(1));
    const n1 = w.node('n1');
    const { index } = w.propose('n1', 'x');
    for (const id of ackers) w.send(id, 'n1', 'raft.appendResponse', ok(1, index));
    expect(n1.commitIndex).toBe(committed ? index : index - 1);
    expect(w.sm('n1').commands).toEqual(committed ? ['x'] : []);
  });

  it('the leader tells followers the commit index, and they apply committed entries in log order', () => {
    const w = world(3, { options: PLAIN });
    w.campaign('n1');
    const commitsSeen: number[] = [];
    w.drop((m) => {
      if (m.type === 'raft.append' && m.to === 'n2') commitsSeen.push(m.payload.commit);
      return false;
    });
    for (const c of ['x', 'y', 'z']) w.node('n1').propose(c);
    w.settle();
    expect(w.node('n1').commitIndex).toBe(4);
    // Followers find out with the next AppendEntries (at the latest the next heartbeat).
    w.run(w.node('n1').options.heartbeatMs);
    expect(commitsSeen).toContain(4);
    for (const id of w.ids) {
      expect(w.node(id).commitIndex).toBe(4);
      expect(w.sm(id).applied.map((a) => [a.index, a.command])).toEqual([
        [2, 'x'],
        [3, 'y'],
        [4, 'z'],
      ]);
    }
  });

  it('a follower commits up to the leader commit index, but never beyond what it knows matches the leader', () => {
    const w = lone(3);
    const n1 = w.node('n1');
    w.send('n2', 'n1', 'raft.append', append(1, 0, 0, logOf([1, 1, 1]), 2));
    expect(n1.commitIndex).toBe(2);
    expect(w.sm('n1').commands).toEqual([commandAt(1, 1), commandAt(2, 1)]);
    w.send('n2', 'n1', 'raft.append', append(1, 3, 1, [], 3));
    expect(n1.commitIndex).toBe(3);
    // A heartbeat that only vouches for index 1 with commit 9 cannot commit past 3 (nor move it back).
    w.send('n2', 'n1', 'raft.append', append(1, 1, 1, [], 9));
    expect(n1.commitIndex).toBe(3);
    expect(w.sm('n1').commands).toHaveLength(3);
  });

  it('a follower takes entries still wrapped to be encoded once, as a transport without a codec hands them over', () => {
    const w = lone(3);
    const n1 = w.node('n1');
    w.send('n2', 'n1', 'raft.append', { ...append(1, 0, 0, [], 2), entries: new EncodeOnce(logOf([1, 1, 1])) });
    expect(termsOf(n1)).toEqual([1, 1, 1]);
    expect(n1.commitIndex).toBe(2);
  });

  it('committing an entry commits every entry before it, including those of earlier leaders', () => {
    for (const prior of [[], [2], [1, 2], [1, 1, 2, 2]]) {
      const w = world(3, { options: PLAIN, specs: { n1: { log: prior }, n2: { log: prior }, n3: { log: prior } } });
      w.campaign('n1');
      const n1 = w.node('n1');
      w.run(n1.options.heartbeatMs); // followers learn the commit index at the latest with a heartbeat
      const noop = prior.length + 1;
      expect(n1.log.term(noop)).toBe(n1.currentTerm);
      for (const id of w.ids) {
        expect(w.node(id).commitIndex).toBe(noop);
        expect(w.sm(id).applied.map((a) => a.index)).toEqual(prior.map((_, i) => i + 1));
      }
    }
  });

  // etcd's TestFollowerCheckMsgApp: follower log [1@1, 2@2].
  const checks: Array<{ prevIndex: number; prevTerm: number; success: boolean; conflictIndex?: number; conflictTerm?: number }> = [
    { prevIndex: 0, prevTerm: 0, success: true },
    { prevIndex: 1, prevTerm: 1, success: true },
    { prevIndex: 2, prevTerm: 2, success: true },
    // A different term at prevIndex: rejected, with the first index of the follower's term there.
    { prevIndex: 2, prevTerm: 1, success: false, conflictIndex: 2, conflictTerm: 2 },
    { prevIndex: 1, prevTerm: 2, success: false, conflictIndex: 1, conflictTerm: 1 },
    // No entry at prevIndex: rejected, pointing after the follower's last entry.
    { prevIndex: 3, prevTerm: 3, success: false, conflictIndex: 3, conflictTerm: 0 },
  ];
  it.each(checks)('a follower rejects AppendEntries whose previous entry it does not hold: prev ($prevIndex, $prevTerm) → $success', ({ prevIndex, prevTerm, success, conflictIndex, conflictTerm }) => {
    const w = lone(3, { log: [1, 2] });
    w.send('n2', 'n1', 'raft.append', append(2, prevIndex, prevTerm, [], 0));
    const [reply] = w.take({ to: 'n2', type: 'raft.appendResponse' });
    expect(reply.payload).toMatchObject({ term: 2, success });
    if (success) expect(reply.payload.match).toBe(prevIndex);
    else expect(reply.payload).toMatchObject({ conflictIndex, conflictTerm });
    expect(termsOf(w.node('n1'))).toEqual([1, 2]);
  });

  // etcd's TestFollowerAppendEntries: follower log [1@1, 2@2].
  const appends: Array<{ prevIndex: number; prevTerm: number; entries: number[]; want: number[] }> = [
    { prevIndex: 2, prevTerm: 2, entries: [3], want: [1, 2, 3] },
    { prevIndex: 1, prevTerm: 1, entries: [3, 4], want: [1, 3, 4] }, // conflict at 2: truncated
    { prevIndex: 0, prevTerm: 0, entries: [1], want: [1, 2] }, // already held: nothing truncated
    { prevIndex: 0, prevTerm: 0, entries: [3], want: [3] },
    { prevIndex: 0, prevTerm: 0, entries: [1, 2], want: [1, 2] },
    { prevIndex: 1, prevTerm: 1, entries: [2, 2, 4], want: [1, 2, 2, 4] },
  ];
  it.each(appends)('a follower deletes conflicting entries and appends new ones: prev ($prevIndex, $prevTerm) + $entries → $want', ({ prevIndex, prevTerm, entries, want }) => {
    const w = lone(3, { log: [1, 2] });
    const n1 = w.node('n1');
    const sent = entries.map((t, i) => entry(prevIndex + 1 + i, t));
    w.send('n2', 'n1', 'raft.append', append(4, prevIndex, prevTerm, sent, 0));
    expect(termsOf(n1)).toEqual(want);
    // Each entry is the one held before or the one sent.
    const expected = want.map((t, i) => (sent.find((e) => e.index === i + 1) ?? entry(i + 1, t)));
    expect(entriesOf(n1)).toEqual(expected);
    // Stable before it answers.
    expect(w.storage('n1').unsynced).toBe(0);
    expect(w.storage('n1').load().entries).toEqual(expected);
    expect(w.take({ to: 'n2' })[0].payload).toMatchObject({ success: true, match: prevIndex + entries.length });
  });

  // Figure 7: the leader's log, and six possible follower logs (a)–(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  it.each(Object.entries(followers))('a leader brings the Figure 7 follower (%s) to its own log, and then commits with it', (_, log) => {
    // n3 (empty log) gives n1 its vote, then is kept out, so commit needs the follower.
    const w = world(3, { options: PLAIN, specs: { n1: { log: leaderLog, term: 7 }, n2: { log } } });
    w.hold({ to: 'n3', type: 'raft.append' });
    w.campaign('n1');
    const n1 = w.node('n1');
    const n2 = w.node('n2');
    expect(n1.status()).toMatchObject({ role: 'leader', term: 8, lastIndex: 11 });
    expect(entriesOf(n2)).toEqual(entriesOf(n1));
    expect(termsOf(n2)).toEqual([...leaderLog, 8]);
    expect(n1.commitIndex).toBe(11);
    expect(n2.commitIndex).toBe(11);
    expect(w.sm('n2').commands).toEqual(leaderLog.map((t, i) => commandAt(i + 1, t)));
    expect(w.storage('n2').load().entries).toEqual(entriesOf(n1));
  });

  it('the leader retries AppendEntries until every follower stores every entry, even when messages are lost', () => {
    const w = world(3);
    const leader = w.electLeader();
    const [f1, f2] = w.ids.filter((id) => id !== leader.id);
    // The follower's copies of the next proposals are lost on the way.
    const loss = w.drop((m) => m.type === 'raft.append' && m.to === f2 && m.payload.entries.length > 0);
    const { index } = w.propose(leader.id, 'x');
    w.propose(leader.id, 'y');
    expect(leader.commitIndex).toBe(index + 1); // committed with f1
    loss.remove();
    w.run(1_000); // an idle cluster: heartbeats only
    expect(entriesOf(w.node(f2))).toEqual(entriesOf(leader));
    expect(w.node(f2).commitIndex).toBe(index + 1);
    expect(w.sm(f2).commands).toEqual(['x', 'y']);
    expect(w.node(f1).commitIndex).toBe(index + 1);
  });
});

describe('large entries travel as the encoding the disk kept', () => {
  /** An entry of more than RECORDS_MIN_OBJECTS objects, as a batch of a hundred task changes is. */
  const large = (index: number, term: number): LogEntry => entry(index, term, Array.from({ length: 200 }, (_, i) => ({ change: i, at: index })));

  /** n1's storage keeps each entry's encoding as it is appended, as LmdbStorage does when it writes one. */
  const keepingDisk = (id: string, memory: MemoryStorage): Storage =>
    id !== 'n1'
      ? memory
      : {
          load: () => memory.load(),
          setHardState: (s) => memory.setHardState(s),
          append: (entries) => {
            for (const e of entries) encodeKept(e);
            memory.append(entries);
          },
          truncateFrom: (i) => memory.truncateFrom(i),
          saveSnapshot: (s) => memory.saveSnapshot(s),
          sync: () => memory.sync(),
        };

  it('a leader whose disk kept a large entry’s encoding sends those bytes, and the follower applies the same entry and keeps the bytes for its own disk', () => {
    const w = world(3, { options: PLAIN, storageFor: keepingDisk });
    w.campaign('n1');
    const n1 = w.node('n1');
    const command = large(0, 0).payload;
    const { index } = n1.propose((command as { command: unknown }).command);
    const appends: Msg[] = [];
    w.hold((m) => m.type === 'raft.append' && m.to === 'n2' && appends.push(m) > 0 && false);
    w.settle();
    const kept = keptEncoding(n1.log.entry(index)!);
    expect(kept).toBeInstanceOf(Uint8Array);
    const carried = appends.flatMap((m) => batchValue((m as MsgOf<'raft.append'>).payload.entries as WireEntry[] | EncodeOnce<WireEntry[]>)).filter((e) => e instanceof Uint8Array);
    // The disk's bytes (through the world's codec: a copy of them), not the entry encoded again inside the batch.
    expect(carried.map((b) => Buffer.from(b as Uint8Array).toString('hex'))).toContain(Buffer.from(kept!).toString('hex'));
    const n2Entry = w.node('n2').log.entry(index)!;
    expect(n2Entry).toEqual(n1.log.entry(index));
    expect(n2Entry).not.toBe(n1.log.entry(index));
    expect(keptEncoding(n2Entry)).toBeInstanceOf(Uint8Array);
    expect(w.node('n2').commitIndex).toBeGreaterThanOrEqual(index - 1);
  });

  it('a small entry is never kept and travels as itself', () => {
    const w = world(3, { options: PLAIN, storageFor: keepingDisk });
    w.campaign('n1');
    const n1 = w.node('n1');
    const { index } = n1.propose('small');
    w.settle();
    expect(keptEncoding(n1.log.entry(index)!)).toBeUndefined();
    expect(w.node('n2').log.entry(index)).toEqual(n1.log.entry(index));
  });

  it('a follower decodes an entry sent as bytes and keeps them; bytes that do not decode are dropped as if lost, and reported', () => {
    const w = lone(3);
    const n1 = w.node('n1');
    const sent = large(1, 1);
    const bytes = encodeKept(sent);
    w.send('n2', 'n1', 'raft.append', append(1, 0, 0, [bytes], 0));
    expect(n1.log.entry(1)).toEqual(sent);
    expect(keptEncoding(n1.log.entry(1)!)).toBe(bytes);
    w.take();
    w.send('n2', 'n1', 'raft.append', append(1, 1, 1, [new Uint8Array([0xc1])], 0));
    expect(n1.log.lastIndex).toBe(1);
    expect(w.take({ type: 'raft.appendResponse' })).toHaveLength(0);
    expect(w.malformed).toEqual([{ node: 'n1', from: 'n2', type: 'raft.append' }]);
  });
});
