/**
 * The audit log: append-only and hash-chained. Each problem verification
 * names is produced on purpose (a field changed, a record deleted, two
 * swapped, the tail cut off, a record rewritten and rehashed), bad input
 * gets the typed error, and memory stays within its bound.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_GENESIS,
  AuditInputError,
  AuditLog,
  auditRecordHash,
  AuditStoreError,
  MemoryAuditStore,
  verifyAuditChain,
  type AuditEvent,
  type AuditRecord,
} from '../actors/auditLog.js';

/** A clock that moves 10 ms a reading, so every record has its own time. */
function stepClock(start = 1_000) {
  let t = start;
  return { now: () => (t += 10) };
}

const refusal = (i: number): AuditEvent => ({ kind: 'join', subject: `n${i}`, outcome: 'rejected', reason: 'not in the cluster CA', detail: { attempt: i } });

/** A log of n records, and a plain (unfrozen) copy of them to tamper with. */
function logOf(n: number, limits?: { maxRecordsInMemory: number }) {
  const log = new AuditLog({ node: 'n1', clock: stepClock(), ...(limits ? { limits } : {}) });
  for (let i = 1; i <= n; i++) log.append(refusal(i));
  const copy = () => log.records().map((r) => structuredClone(r) as AuditRecord & Record<string, unknown>);
  return { log, copy };
}

/** A record changed and given a hash that matches its new contents. */
function rehashed(r: AuditRecord, change: Partial<AuditRecord>): AuditRecord {
  const next = { ...r, ...change };
  return { ...next, hash: auditRecordHash(next) };
}

describe('AuditLog', () => {
  it('appends records with seq, time, node and a chain from the genesis', () => {
    const log = new AuditLog({ node: 'n1', clock: stepClock() });
    const seen: AuditRecord[] = [];
    log.records$.subscribe((r) => seen.push(r));
    const a = log.append({ kind: 'join', subject: 'n4', outcome: 'accepted', reason: 'certificate of the cluster CA' });
    const b = log.append({ kind: 'unauthorized', subject: 'app', outcome: 'denied', reason: 'member add needs an operator', detail: { op: 'member.add', bytes: new Uint8Array([1, 2]) } });
    expect(a).toMatchObject({ seq: 1, at: 1_010, node: 'n1', kind: 'join', subject: 'n4', outcome: 'accepted', prev: AUDIT_GENESIS });
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toHaveProperty('detail');
    expect(b).toMatchObject({ seq: 2, at: 1_020, prev: a.hash, detail: { op: 'member.add' } });
    expect(b.hash).toBe(auditRecordHash(b));
    expect(log.head).toEqual({ seq: 2, hash: b.hash });
    expect(seen).toEqual([a, b]);
    expect(Object.isFrozen(b) && Object.isFrozen(b.detail)).toBe(true);
    expect(log.verify()).toEqual({ ok: true, count: 2, head: { seq: 2, hash: b.hash } });
  });

  it('keeps a private copy of the detail', () => {
    const log = new AuditLog({ node: 'n1', clock: stepClock() });
    const detail = { tenant: 'a', items: [1, 2] };
    const r = log.append({ kind: 'quota', subject: 'app', outcome: 'denied', reason: 'over quota', detail });
    detail.items.push(3);
    expect(r.detail).toEqual({ tenant: 'a', items: [1, 2] });
    expect(log.verify().ok).toBe(true);
  });

  it('hashes the same record the same way in any process: a fixed vector', () => {
    const r = { seq: 1, at: 0, node: 'n1', kind: 'block' as const, subject: 'n9', outcome: 'applied' as const, reason: 'operator', prev: AUDIT_GENESIS };
    // Key order does not matter (canonical JSON), and the value is pinned so a change of encoding is noticed.
    const shuffled = { prev: r.prev, reason: r.reason, outcome: r.outcome, subject: r.subject, kind: r.kind, node: r.node, at: r.at, seq: r.seq };
    expect(auditRecordHash(shuffled)).toBe(auditRecordHash(r));
    const body = `{"at":0,"kind":"block","node":"n1","outcome":"applied","prev":"${AUDIT_GENESIS}","reason":"operator","seq":1,"subject":"n9"}`;
    expect(auditRecordHash(r)).toBe(createHash('sha256').update(`grey-audit/1\n${body}`).digest('hex'));
  });

  it('filters records by seq, kind and subject, with a limit', () => {
    const log = new AuditLog({ node: 'n1', clock: stepClock() });
    for (let i = 1; i <= 10; i++) log.append({ kind: i % 2 ? 'join' : 'block', subject: i % 3 ? 'n4' : 'n5', outcome: 'applied', reason: `r${i}` });
    expect(log.records({ fromSeq: 8 }).map((r) => r.seq)).toEqual([8, 9, 10]);
    expect(log.records({ kind: 'block' }).map((r) => r.seq)).toEqual([2, 4, 6, 8, 10]);
    expect(log.records({ subject: 'n5', kind: 'join' }).map((r) => r.seq)).toEqual([3, 9]);
    expect(log.records({ kind: 'join', limit: 2 }).map((r) => r.seq)).toEqual([1, 3]);
    expect(log.records({ fromSeq: 99 })).toEqual([]);
  });

  it('refuses bad input with a typed error naming the field', () => {
    const log = new AuditLog({ node: 'n1', clock: stepClock() });
    const bad: Array<[unknown, string]> = [
      [{ kind: 'gossip', subject: 'x', outcome: 'denied', reason: '' }, 'kind'],
      [{ kind: 'join', subject: 'x', outcome: 'maybe', reason: '' }, 'outcome'],
      [{ kind: 'join', subject: 42, outcome: 'denied', reason: '' }, 'subject'],
      [{ kind: 'join', subject: 'x', outcome: 'denied' }, 'reason'],
      [{ kind: 'join', subject: 'x', outcome: 'denied', reason: '', detail: { when: new Map() } }, 'detail.when'],
      [{ kind: 'join', subject: 'x', outcome: 'denied', reason: '', detail: { n: 10n } }, 'detail.n'],
      [null, 'event'],
    ];
    for (const [event, field] of bad) {
      let thrown: unknown;
      try {
        log.append(event as AuditEvent);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, field).toBeInstanceOf(AuditInputError);
      expect((thrown as AuditInputError).code).toBe('InvalidAuditRecord');
      expect((thrown as AuditInputError).field).toBe(field);
      expect((thrown as Error).message).toMatch(new RegExp(`^audit log: ${field.replace('.', '\\.')}: `));
    }
    expect(log.head.seq).toBe(0);
    expect(() => new AuditLog({ node: '', clock: stepClock() })).toThrow(AuditInputError);
    expect(() => new AuditLog({ node: 'n1', clock: stepClock(), limits: { maxRecordsInMemory: 0 } })).toThrow(/limits\.maxRecordsInMemory: must be an integer ≥ 1/);
    expect(() => new AuditLog({ node: 'n1', clock: stepClock(), limits: { maxRecords: 5 } as never })).toThrow(/limits\.maxRecords: unknown limit/);
    expect(() => log.records({ kind: 'nope' as never })).toThrow(AuditInputError);
  });

  it('cuts over-long text and replaces an over-large detail, so a refusal is always loggable', () => {
    const log = new AuditLog({ node: 'n1', clock: stepClock(), limits: { maxSubjectLength: 8, maxReasonLength: 10, maxDetailBytes: 32 } });
    const r = log.append({ kind: 'unauthorized', subject: 'x'.repeat(1_000), outcome: 'denied', reason: `bad \ud800 ${'y'.repeat(50)}`, detail: { blob: 'z'.repeat(100) } });
    expect(r.subject).toBe('xxxxxxx…');
    expect(r.reason).toBe('bad \ufffd yyy…'); // 10 code units, the cut mark included
    expect(r.detail).toEqual({ omittedBytes: expect.any(Number) });
    // An emoji is never split into half a surrogate pair.
    expect(log.append({ kind: 'join', subject: 'abcdef😀😀', outcome: 'rejected', reason: '' }).subject).toBe('abcdef…');
    expect(log.verify().ok).toBe(true);
  });

  it('keeps at most maxRecordsInMemory records, and verifies from the first one kept', () => {
    const store = new MemoryAuditStore();
    const log = new AuditLog({ node: 'n1', clock: stepClock(), store, limits: { maxRecordsInMemory: 5 } });
    for (let i = 1; i <= 12; i++) log.append(refusal(i));
    expect(log.size).toBe(5);
    expect(log.records().map((r) => r.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(log.records({ fromSeq: 3, limit: 2 }).map((r) => r.seq)).toEqual([8, 9]);
    expect(log.verify()).toMatchObject({ ok: true, count: 5, head: log.head });
    expect(store.records).toHaveLength(12); // the store keeps what memory dropped
    expect(verifyAuditChain(store.records)).toMatchObject({ ok: true, count: 12, head: log.head });
  });

  it('continues the chain of its store after a restart', () => {
    const store = new MemoryAuditStore();
    const first = new AuditLog({ node: 'n1', clock: stepClock(), store });
    for (let i = 1; i <= 3; i++) first.append(refusal(i));
    const second = new AuditLog({ node: 'n1', clock: stepClock(5_000), store, limits: { maxRecordsInMemory: 2 } });
    expect(second.head).toEqual(first.head);
    const r = second.append(refusal(4));
    expect(r).toMatchObject({ seq: 4, prev: first.head.hash });
    expect(verifyAuditChain(store.records)).toMatchObject({ ok: true, count: 4 });
    expect(second.verify()).toMatchObject({ ok: true, count: 2 });
  });

  it('refuses a store whose records go back, with a typed error', () => {
    const { copy } = logOf(3);
    const records = copy();
    const store = { load: () => [records[0], records[2], records[1]], append: () => {} };
    expect(() => new AuditLog({ node: 'n1', clock: stepClock(), store })).toThrow(AuditStoreError);
  });
});

describe('verifyAuditChain', () => {
  it('an intact chain, and an empty one', () => {
    const { log, copy } = logOf(6);
    expect(verifyAuditChain(copy())).toEqual({ ok: true, count: 6, head: log.head });
    expect(verifyAuditChain([])).toEqual({ ok: true, count: 0, head: { seq: 0, hash: AUDIT_GENESIS } });
    expect(verifyAuditChain(copy(), { expectedHead: log.head }).ok).toBe(true);
    expect(verifyAuditChain(copy(), { expectedHead: { seq: 3, hash: copy()[2].hash } }).ok).toBe(true);
  });

  it('a changed field: modified, naming the record', () => {
    for (const [field, value] of [['reason', 'joined fine'], ['outcome', 'accepted'], ['at', 0], ['subject', 'n99'], ['detail', { attempt: 0 }], ['seq', 5]] as const) {
      const { copy } = logOf(6);
      const records = copy();
      (records[3] as Record<string, unknown>)[field] = value;
      expect(verifyAuditChain(records), field).toEqual({ ok: false, seq: field === 'seq' ? 5 : 4, problem: 'modified', message: expect.stringMatching(/^record #\d modified \(its hash does not match its contents\)$/) });
    }
  });

  it('a record rewritten with a fresh hash: modified, found by the next link', () => {
    const { copy } = logOf(6);
    const records = copy();
    records[2] = rehashed(records[2], { outcome: 'accepted' }) as (typeof records)[number];
    expect(verifyAuditChain(records)).toMatchObject({ ok: false, seq: 3, problem: 'modified', message: 'record #3 modified (#4 chains to another hash: #3 was rewritten and rehashed)' });
  });

  it('a malformed record: modified', () => {
    const { copy } = logOf(4);
    const records = copy();
    delete (records[1] as Record<string, unknown>).hash;
    expect(verifyAuditChain(records)).toMatchObject({ ok: false, seq: 2, problem: 'modified', message: expect.stringContaining('malformed') });
  });

  it('a record deleted in the middle, or at the start: deleted', () => {
    const { copy } = logOf(6);
    const records = copy();
    expect(verifyAuditChain([...records.slice(0, 2), ...records.slice(3)])).toEqual({
      ok: false,
      seq: 3,
      problem: 'deleted',
      message: 'record #3 deleted (the log goes from #2 to #4, and #4 does not chain to #2)',
    });
    expect(verifyAuditChain([...records.slice(0, 1), ...records.slice(4)])).toMatchObject({ seq: 2, problem: 'deleted', message: expect.stringMatching(/^records #2…#4 deleted/) });
    expect(verifyAuditChain(records.slice(2))).toMatchObject({ seq: 1, problem: 'deleted', message: expect.stringMatching(/^records #1…#2 deleted \(the log goes from its start to #3/) });
  });

  it('two records swapped: reordered', () => {
    const { copy } = logOf(6);
    const records = copy();
    [records[2], records[3]] = [records[3], records[2]];
    expect(verifyAuditChain(records)).toEqual({ ok: false, seq: 3, problem: 'reordered', message: 'record #3 reordered (found after #4)' });
    const dup = copy();
    expect(verifyAuditChain([...dup.slice(0, 4), dup[1], ...dup.slice(4)])).toMatchObject({ seq: 2, problem: 'reordered' });
  });

  it('a first record that does not start from the genesis: badGenesis', () => {
    const { copy } = logOf(3);
    const records = copy();
    records[0] = rehashed(records[0], { prev: 'f'.repeat(64) }) as (typeof records)[number];
    expect(verifyAuditChain(records)).toMatchObject({ ok: false, seq: 1, problem: 'badGenesis' });
  });

  it('a truncated tail: invisible to the chain alone, caught with the head recorded elsewhere', () => {
    const { log, copy } = logOf(6);
    const cut = copy().slice(0, 4);
    expect(verifyAuditChain(cut)).toMatchObject({ ok: true, count: 4 }); // what a hash chain alone cannot see
    expect(verifyAuditChain(cut, { expectedHead: log.head })).toEqual({
      ok: false,
      seq: 5,
      problem: 'truncated',
      message: 'records #5…#6 truncated (the log ends at #4 but its head was #6)',
    });
    expect(verifyAuditChain([], { expectedHead: log.head })).toMatchObject({ seq: 1, problem: 'truncated' });
    // The tail cut off and a different record written in its place: the head recorded for #6 is not it.
    const rewritten = copy();
    rewritten[5] = rehashed(rewritten[5], { reason: 'nothing to see' }) as (typeof rewritten)[number];
    expect(verifyAuditChain(rewritten, { expectedHead: log.head })).toMatchObject({ seq: 6, problem: 'modified' });
  });

  it('AuditLog.verify sees changes made to the records in memory', () => {
    const { log } = logOf(4);
    expect(log.verify({ expectedHead: log.head }).ok).toBe(true);
    expect(log.verify({ expectedHead: { seq: 9, hash: log.head.hash } })).toMatchObject({ ok: false, problem: 'truncated', seq: 5 });
  });
});
