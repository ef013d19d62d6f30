import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';
import { GENESIS_DIGEST, nextDigest } from '../system/digest.js';
import type { InvariantName } from '../system/invariants.js';
import { checkTrace, InvariantChecker, InvariantViolation } from '../system/invariants.js';
import type { AnyTraceEvent, EndNodeState, RecoverEvent, SnapshotCause, TraceEntry, TraceRole } from '../system/trace.js';
import { readTrace, Trace } from '../system/trace.js';

const SEED = 7;
const NODES = ['n1', 'n2', 'n3'];

/** Digests of the entries the scenarios use, chained as the Raft log would. */
const D1 = nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: 'a' });
const D2 = nextDigest(D1, { index: 2, term: 1, command: 'b' });
const D3x = nextDigest(D2, { index: 3, term: 1, command: 'x' }); // n1's, never committed
const D3 = nextDigest(D2, { index: 3, term: 2, command: 'c' });
const D4 = nextDigest(D3, { index: 4, term: 2, command: 'd' });
const D5 = nextDigest(D4, { index: 5, term: 2, command: 'e' });
const D6 = nextDigest(D5, { index: 6, term: 3, command: 'f' });
const e = (term: number, digest: string): TraceEntry => [term, digest];

/**
 * Builds a trace event by event, as the nodes of a run would emit it. Each
 * event advances virtual time by 1 ms; `inc` follows `restart`.
 */
class Run {
  t = 0;
  readonly events: AnyTraceEvent[] = [];
  private readonly inc = new Map<string, number>();

  private push(ev: Omit<AnyTraceEvent, 't'> & { type: string }): this {
    this.events.push({ t: this.t, ...ev } as AnyTraceEvent);
    this.t += 1;
    return this;
  }

  private n(node: string) {
    return { node, inc: this.inc.get(node) ?? 0 };
  }

  role(node: string, role: TraceRole, term: number, leader: string | null = role === 'leader' ? node : null): this {
    return this.push({ type: 'role', ...this.n(node), role, term, leader });
  }

  vote(node: string, term: number, votedFor: string | null): this {
    return this.push({ type: 'vote', ...this.n(node), term, votedFor });
  }

  append(node: string, from: number, ...entries: TraceEntry[]): this {
    return this.push({ type: 'append', ...this.n(node), from, entries });
  }

  truncate(node: string, from: number): this {
    return this.push({ type: 'truncate', ...this.n(node), from });
  }

  commit(node: string, index: number, [term, digest]: TraceEntry): this {
    return this.push({ type: 'commit', ...this.n(node), index, term, digest });
  }

  apply(node: string, index: number, [term, digest]: TraceEntry): this {
    return this.push({ type: 'apply', ...this.n(node), index, term, digest, kind: 'submit', taskId: `task-${index}` });
  }

  snapshot(node: string, cause: SnapshotCause, index: number, [term, digest]: TraceEntry): this {
    return this.push({ type: 'snapshot', ...this.n(node), index, term, digest, cause });
  }

  fault(kind: string, fields: Record<string, unknown> = {}): this {
    return this.push({ type: 'fault', kind, ...fields });
  }

  /** A crash and restart: the next events of `node` are of a new incarnation. */
  restart(node: string): this {
    this.fault('crash', { node });
    this.inc.set(node, (this.inc.get(node) ?? 0) + 1);
    return this;
  }

  recover(node: string, fields: Omit<RecoverEvent, 't' | 'type' | 'node' | 'inc'>): this {
    return this.push({ type: 'recover', ...this.n(node), ...fields });
  }

  end(nodes: Record<string, EndNodeState>): this {
    return this.push({ type: 'end', nodes });
  }

  /** Starts every node as a follower of term 0. */
  static start(nodes = NODES): Run {
    const run = new Run();
    for (const node of nodes) run.role(node, 'follower', 0);
    return run;
  }

  /** Elects `leader` in `term` with the votes of `voters` (the leader included). */
  elect(leader: string, term: number, voters: string[]): this {
    this.role(leader, 'candidate', term).vote(leader, term, leader);
    for (const v of voters) if (v !== leader) this.vote(v, term, leader).role(v, 'follower', term);
    return this.role(leader, 'leader', term);
  }

  jsonl(): string {
    const header = { type: 'header', version: 1, seed: SEED, nodes: NODES, options: {} };
    return [header, ...this.events].map((x) => JSON.stringify(x)).join('\n') + '\n';
  }
}

function check(run: Run, options: { checkEnd?: boolean } = {}): InvariantChecker {
  const checker = new InvariantChecker({ seed: SEED, nodes: NODES, ...options });
  for (const ev of run.events) checker.observe(ev);
  return checker;
}

function violation(run: Run): InvariantViolation {
  try {
    check(run);
  } catch (err) {
    expect(err).toBeInstanceOf(InvariantViolation);
    return err as InvariantViolation;
  }
  throw new Error('the checker accepted a trace that breaks an invariant');
}

/** Expects the last event of `run` to be the first one to break `invariant`. */
function expectViolation(run: Run, invariant: InvariantName, message: RegExp): InvariantViolation {
  const v = violation(run);
  expect(v.invariant, v.message).toBe(invariant);
  expect(v.message).toMatch(message);
  expect(v.eventNumber).toBe(run.events.length);
  expect(v.event).toBe(run.events[run.events.length - 1]);
  return v;
}

/**
 * A valid run of three nodes over three terms: elections, replication, an
 * uncommitted entry truncated on the old leader, commits and applies, two
 * snapshots taken, a restart that recovers its log and then installs a
 * snapshot, a restart that restores one.
 */
function validRun(): Run {
  const run = Run.start();
  run.elect('n1', 1, NODES);
  for (const n of NODES) run.append(n, 1, e(1, D1));
  for (const n of NODES) run.commit(n, 1, e(1, D1)).apply(n, 1, e(1, D1));
  run.append('n1', 2, e(1, D2)).append('n2', 2, e(1, D2)).commit('n1', 2, e(1, D2)).apply('n1', 2, e(1, D2));
  // n1 is cut off with an entry nobody else has.
  run.append('n1', 3, e(1, D3x)).fault('partition', { groups: [['n1'], ['n2', 'n3']] });
  run.role('n2', 'precandidate', 1).elect('n2', 2, ['n2', 'n3']);
  run.append('n2', 3, e(2, D3)).append('n3', 2, e(1, D2), e(2, D3));
  run.commit('n2', 3, e(2, D3)).apply('n2', 2, e(1, D2)).apply('n2', 3, e(2, D3));
  run.commit('n3', 3, e(2, D3)).apply('n3', 2, e(1, D2)).apply('n3', 3, e(2, D3));
  // n1 comes back, learns of term 2 and replaces its uncommitted entry.
  run.fault('heal').role('n1', 'follower', 2, 'n2').truncate('n1', 3).append('n1', 3, e(2, D3));
  run.commit('n1', 3, e(2, D3)).apply('n1', 3, e(2, D3));
  run.append('n2', 4, e(2, D4), e(2, D5)).append('n1', 4, e(2, D4), e(2, D5));
  run.commit('n2', 5, e(2, D5)).apply('n2', 4, e(2, D4)).apply('n2', 5, e(2, D5));
  run.commit('n1', 5, e(2, D5)).apply('n1', 4, e(2, D4)).apply('n1', 5, e(2, D5));
  run.snapshot('n2', 'take', 5, e(2, D5));
  // n3 restarts behind; the leader sends it the snapshot.
  run.restart('n3').recover('n3', { term: 2, votedFor: 'n2', lastIndex: 3, lastDigest: D3, snapshotIndex: 0 });
  // It re-announces the log storage gave back (entries it holds, unchanged).
  run.append('n3', 1, e(1, D1), e(1, D2), e(2, D3)).role('n3', 'follower', 2);
  run.snapshot('n3', 'install', 5, e(2, D5));
  run.elect('n1', 3, ['n1', 'n3']).role('n2', 'follower', 3, 'n1');
  for (const n of NODES) run.append(n, 6, e(3, D6));
  for (const n of NODES) run.commit(n, 6, e(3, D6)).apply(n, 6, e(3, D6));
  run.snapshot('n1', 'take', 6, e(3, D6));
  // n2 restarts from its snapshot and its log after it.
  run.restart('n2').recover('n2', { term: 3, votedFor: null, lastIndex: 6, lastDigest: D6, snapshotIndex: 5 });
  run.snapshot('n2', 'restore', 5, e(2, D5)).append('n2', 6, e(3, D6)).role('n2', 'follower', 3);
  run.commit('n2', 6, e(3, D6)).apply('n2', 6, e(3, D6));
  const at = (role: TraceRole, inc: number): EndNodeState => ({ role, term: 3, commitIndex: 6, lastApplied: 6, inc });
  return run.end({ n1: at('leader', 0), n2: at('follower', 1), n3: at('follower', 1) });
}

describe('InvariantChecker on a valid run', () => {
  it('accepts it and counts what it checked', () => {
    const run = validRun();
    const summary = check(run).summary();
    expect(summary).toEqual({
      events: run.events.length,
      nodes: NODES,
      maxTerm: 3,
      terms: 4,
      leaders: [
        { term: 1, node: 'n1' },
        { term: 2, node: 'n2' },
        { term: 3, node: 'n1' },
      ],
      maxCommit: 6,
      commits: 13,
      applies: 17,
      entriesAppended: 17,
      truncates: 1,
      snapshots: 4,
      restarts: 2,
    });
  });

  it('accepts a restart that lost unsynced writes, a truncate included', () => {
    const D2y = nextDigest(D1, { index: 2, term: 2, command: 'y' });
    const run = Run.start();
    run.elect('n1', 1, NODES);
    run.append('n1', 1, e(1, D1), e(1, D2)).append('n2', 1, e(1, D1), e(1, D2));
    run.elect('n3', 2, ['n3', 'n2']).append('n3', 1, e(1, D1), e(2, D2y));
    run.truncate('n2', 2).append('n2', 2, e(2, D2y));
    // The truncate and the new entry were not synced: storage has the old log.
    run.restart('n2').role('n2', 'follower', 2).recover('n2', { term: 2, votedFor: 'n3', lastIndex: 2, lastDigest: D2, snapshotIndex: 0 });
    run.truncate('n2', 2).append('n2', 2, e(2, D2y)).commit('n2', 2, e(2, D2y));
    expect(check(run).summary().truncates).toBe(2);
  });

  it('takes a restarted node without a recover event to have empty storage', () => {
    const D1y = nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: 'y' });
    const run = Run.start().append('n3', 1, e(1, D1)).restart('n3').role('n3', 'follower', 0).append('n3', 1, e(2, D1y));
    expect(check(run).summary().restarts).toBe(1);
  });

  it('keeps the log after an installed snapshot that matches it, drops it otherwise', () => {
    const keep = Run.start().append('n2', 1, e(1, D1), e(1, D2), e(2, D3)).snapshot('n2', 'install', 2, e(1, D2));
    keep.append('n2', 4, e(2, D4)).commit('n2', 4, e(2, D4));
    expect(check(keep).summary().maxCommit).toBe(4);

    const D2y = nextDigest(D1, { index: 2, term: 3, command: 'y' });
    const drop = Run.start().append('n2', 1, e(1, D1), e(3, D2y), e(3, nextDigest(D2y, { index: 3, term: 3, command: 'z' })));
    drop.snapshot('n2', 'install', 2, e(1, D2)).append('n2', 3, e(2, D3)).commit('n2', 3, e(2, D3));
    expect(check(drop).summary().maxCommit).toBe(3);
  });

  it('works online as a Trace listener, after the line is written', () => {
    const trace = new Trace({ seed: SEED, nodes: NODES, keep: true });
    const checker = new InvariantChecker(trace.header);
    checker.attach(trace);
    for (const ev of validRun().events) trace.emitCustom(ev);
    expect(checker.summary().events).toBe(validRun().events.length);

    const bad = new Trace({ seed: SEED, nodes: NODES, keep: true });
    new InvariantChecker(bad.header).attach(bad);
    bad.emit({ type: 'role', node: 'n1', inc: 0, role: 'leader', term: 1, leader: 'n1', t: 10 });
    expect(() => bad.emit({ type: 'role', node: 'n2', inc: 0, role: 'leader', term: 1, leader: 'n2', t: 12 })).toThrow(
      /^Election Safety: n1 and n2 both leader in term 1 \(n1 since t=10ms\) \(t=12ms, seed 7\)$/,
    );
    expect(bad.lines).toHaveLength(2);
  });

  it('checkTrace runs a parsed file with the header seed', () => {
    expect(checkTrace(readTrace(validRun().jsonl())).maxCommit).toBe(6);
  });
});

describe('InvariantChecker finds each broken invariant', () => {
  it('Election Safety: two leaders in a term', () => {
    const run = Run.start().elect('n1', 4, ['n1', 'n2']);
    run.role('n3', 'candidate', 4).role('n3', 'leader', 4);
    const v = expectViolation(run, 'Election Safety', /n1 and n3 both leader in term 4/);
    expect([v.code, v.seed, v.t, v.node]).toEqual(['InvariantViolation', SEED, run.events.length - 1, 'n3']);
    expect(v.message).toMatch(/\(t=\d+ms, seed 7\)$/);
  });

  it('Election Safety: one node winning a term twice, across a restart', () => {
    const run = Run.start().elect('n1', 1, NODES).restart('n1');
    run.role('n1', 'follower', 1).role('n1', 'leader', 1);
    expectViolation(run, 'Election Safety', /n1 leader in term 1 in incarnation 0 and again in incarnation 1/);
  });

  it('Election Safety: two votes in a term', () => {
    const run = Run.start().vote('n2', 3, 'n1').vote('n2', 3, 'n3');
    expectViolation(run, 'Election Safety', /n2 voted for n1 and then for n3 in term 3/);
  });

  it('Leader Append-Only: a leader truncates', () => {
    const run = Run.start().elect('n1', 1, NODES).append('n1', 1, e(1, D1), e(1, D2)).truncate('n1', 2);
    expectViolation(run, 'Leader Append-Only', /n1 truncates its log from index 2 while leader of term 1/);
  });

  it('Leader Append-Only: a leader overwrites without a truncate', () => {
    const other = nextDigest(D1, { index: 2, term: 2, command: 'other' });
    const run = Run.start().elect('n1', 2, NODES).append('n1', 1, e(1, D1), e(1, D2)).append('n1', 2, e(2, other));
    expectViolation(run, 'Leader Append-Only', /n1, leader of term 2, appends term 2 digest \w+ at index 2 over its entry of term 1 digest \w+; an overwrite needs a truncate first/);
  });

  it('Log Continuity: a follower overwrites without a truncate', () => {
    const other = nextDigest(D1, { index: 2, term: 2, command: 'other' });
    const run = Run.start().append('n2', 1, e(1, D1), e(1, D2)).append('n2', 1, e(1, D1), e(2, other));
    expectViolation(run, 'Log Continuity', /n2 appends term 2 digest \w+ at index 2 over its entry of term 1/);
  });

  it('Log Continuity: a gap in a follower log', () => {
    const run = Run.start().append('n2', 1, e(1, D1)).append('n2', 3, e(2, D3));
    expectViolation(run, 'Log Continuity', /n2 appends at index 3 but its log ends at 1: a gap/);
  });

  it('Log Matching: different digests at an index with equal terms', () => {
    const other = nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: 'other' });
    const run = Run.start().append('n1', 1, e(1, D1)).append('n3', 1, e(1, other));
    expectViolation(run, 'Log Matching', /index 1, term 1: n3 wrote digest \w+ but n1 wrote \w+/);
  });

  it('Log Matching: a digest that does not chain', () => {
    const z = nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: 'z' });
    // n2 claims n1's digest at index 2 after a different entry 1.
    const run = Run.start().append('n1', 1, e(1, D1), e(1, D2)).append('n2', 1, e(2, z), e(1, D2));
    expectViolation(run, 'Log Matching', /the digest chain is broken/);
  });

  it('Leader Completeness: a new leader missing a committed entry', () => {
    const run = Run.start().elect('n1', 1, NODES).append('n1', 1, e(1, D1)).append('n2', 1, e(1, D1)).commit('n1', 1, e(1, D1));
    run.elect('n3', 2, ['n3', 'n2']);
    expectViolation(run, 'Leader Completeness', /n3 became leader of term 2 with a log ending at index 0, but index 1 \(term 1\) was committed by n1/);
  });

  it('Leader Completeness: a new leader holding another entry at the committed index', () => {
    const mine = nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: 'mine' });
    const theirs = nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: 'theirs' });
    const run = Run.start().elect('n3', 1, ['n3', 'n2']).append('n3', 1, e(1, mine));
    run.elect('n1', 2, ['n1', 'n2']).append('n1', 1, e(2, theirs)).append('n2', 1, e(2, theirs)).commit('n1', 1, e(2, theirs));
    run.elect('n3', 3, ['n3', 'n2']);
    expectViolation(run, 'Leader Completeness', /n3 became leader of term 3 holding term 1 digest \w+ at index 1, but n1 committed term 2/);
  });

  it('State Machine Safety: two nodes commit different entries at an index', () => {
    const other = nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: 'other' });
    const run = Run.start().append('n1', 1, e(1, D1)).commit('n1', 1, e(1, D1)).append('n2', 1, e(2, other)).commit('n2', 1, e(2, other));
    expectViolation(run, 'State Machine Safety', /n2 commits term 2 digest \w+ at index 1, but n1 had term 1 digest/);
  });

  it('State Machine Safety: two nodes apply different entries at an index', () => {
    const other = nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: 'other' });
    const run = Run.start().append('n1', 1, e(1, D1)).commit('n1', 1, e(1, D1)).apply('n1', 1, e(1, D1));
    // n2's commit index comes back from storage, without a commit event.
    run.append('n2', 1, e(2, other)).restart('n2').recover('n2', { term: 2, votedFor: null, lastIndex: 1, lastDigest: other, snapshotIndex: 0, commitIndex: 1 });
    run.apply('n2', 1, e(2, other));
    expectViolation(run, 'State Machine Safety', /n2 applies term 2 digest \w+ at index 1, but n1 had term 1 digest/);
  });

  it('State Machine Safety: a node applies what its log does not hold', () => {
    const run = Run.start().append('n1', 1, e(1, D1)).commit('n1', 1, e(1, D1)).apply('n1', 1, e(1, D2));
    expectViolation(run, 'State Machine Safety', /n1 applies index 1 as term 1 digest \w+, but its log holds term 1 digest/);
  });

  it('State Machine Safety: applies out of order', () => {
    const run = Run.start().append('n1', 1, e(1, D1), e(1, D2), e(2, D3)).commit('n1', 3, e(2, D3)).apply('n1', 1, e(1, D1)).apply('n1', 3, e(2, D3));
    expectViolation(run, 'State Machine Safety', /n1 applies index 3 after index 1/);
  });

  it('State Machine Safety: an installed snapshot taking the state back', () => {
    const run = Run.start().append('n1', 1, e(1, D1), e(1, D2)).commit('n1', 2, e(1, D2)).apply('n1', 1, e(1, D1)).apply('n1', 2, e(1, D2));
    run.snapshot('n1', 'install', 1, e(1, D1));
    expectViolation(run, 'State Machine Safety', /n1 installs a snapshot at index 1 after applying up to 2/);
  });

  it('State Machine Safety: a committed entry truncated after a restart', () => {
    const run = Run.start().append('n1', 1, e(1, D1)).append('n2', 1, e(1, D1)).commit('n1', 1, e(1, D1));
    run.restart('n2').recover('n2', { term: 1, votedFor: null, lastIndex: 1, lastDigest: D1, snapshotIndex: 0 }).truncate('n2', 1);
    expectViolation(run, 'State Machine Safety', /n2 truncates from index 1, removing the entry n1 committed there/);
  });

  it('Term Monotonicity: the term going down across a restart', () => {
    const run = Run.start().role('n1', 'candidate', 3).restart('n1');
    run.recover('n1', { term: 2, votedFor: null, lastIndex: 0, lastDigest: GENESIS_DIGEST, snapshotIndex: 0 });
    expectViolation(run, 'Term Monotonicity', /n1 restarted \(incarnation 1\) with term 2 from storage, but it had reached term 3/);
  });

  it('Term Monotonicity: a role event with a lower term', () => {
    const run = Run.start().role('n2', 'follower', 5).role('n2', 'candidate', 4);
    expectViolation(run, 'Term Monotonicity', /n2 reports term 4 \(candidate\) after reaching term 5/);
  });

  it('Commit Monotonicity: the commit index going down', () => {
    const run = Run.start().append('n1', 1, e(1, D1), e(1, D2)).commit('n1', 2, e(1, D2)).commit('n1', 1, e(1, D1));
    expectViolation(run, 'Commit Monotonicity', /n1 commit index went from 2 down to 1 \(incarnation 0\)/);
  });

  it('Commit Bounds: commit past the log, apply past the commit, truncate below the commit', () => {
    expectViolation(Run.start().append('n1', 1, e(1, D1)).commit('n1', 2, e(1, D2)), 'Commit Bounds', /n1 commits index 2 but its log ends at 1/);
    expectViolation(Run.start().append('n1', 1, e(1, D1)).apply('n1', 1, e(1, D1)), 'Commit Bounds', /n1 applies index 1 beyond its commit index 0/);
    expectViolation(
      Run.start().append('n2', 1, e(1, D1), e(1, D2)).commit('n2', 2, e(1, D2)).truncate('n2', 2),
      'Commit Bounds',
      /n2 truncates from index 2, removing committed entries \(its commit index is 2\)/,
    );
  });

  it('Durability: storage giving back what nobody wrote, or a lost vote', () => {
    const lost = Run.start().append('n1', 1, e(1, D1)).restart('n1');
    lost.recover('n1', { term: 1, votedFor: null, lastIndex: 2, lastDigest: D2, snapshotIndex: 0 });
    expectViolation(lost, 'Durability', /n1 recovered a log whose entry 2 \(digest \w+\) no node ever wrote/);
    const vote = Run.start().vote('n1', 2, 'n3').restart('n1');
    vote.recover('n1', { term: 2, votedFor: 'n2', lastIndex: 0, lastDigest: GENESIS_DIGEST, snapshotIndex: 0 });
    expectViolation(vote, 'Durability', /n1 voted for n3 in term 2, but storage gave back a vote for n2/);
  });

  it('Incarnation Order: a crashed incarnation still emitting', () => {
    const run = Run.start().restart('n1').role('n1', 'follower', 0);
    run.events.push({ t: run.t, type: 'vote', node: 'n1', inc: 0, term: 1, votedFor: 'n1' });
    expectViolation(run, 'Incarnation Order', /n1 emits an event of incarnation 0 after incarnation 1 started/);
  });

  it('Trace Consistency: an end event that disagrees with the events', () => {
    const run = Run.start().append('n1', 1, e(1, D1)).commit('n1', 1, e(1, D1));
    run.end({ n1: { role: 'follower', term: 0, commitIndex: 2, lastApplied: 0, inc: 0 } });
    expectViolation(run, 'Trace Consistency', /the end event reports n1 commitIndex 2, but its events show 1/);
    expect(check(run, { checkEnd: false }).summary().maxCommit).toBe(1);
  });

  it('keeps throwing the first violation', () => {
    const run = Run.start().elect('n1', 1, NODES).role('n2', 'leader', 1);
    const checker = new InvariantChecker({ seed: SEED });
    expect(() => run.events.forEach((ev) => checker.observe(ev))).toThrow(InvariantViolation);
    const first = checker.violation;
    expect(first?.invariant).toBe('Election Safety');
    expect(() => checker.observe({ t: 99, type: 'fault', kind: 'heal' })).toThrow(first!);
  });
});

describe('grey check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'grey-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('prints a summary and exits 0 for a valid trace', async () => {
    const path = write('valid.jsonl', validRun().jsonl());
    const r = await run(['check', path]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${path}: ok, ${validRun().events.length} events checked (seed 7)`);
    expect(r.out).toMatch(/nodes\s+n1, n2, n3 \(2 restarts\)/);
    expect(r.out).toMatch(/terms\s+max 3; leaders by term 1:n1 2:n2 3:n1/);
    expect(r.out).toMatch(/commits\s+13 commit events, highest index 6/);
    expect(r.out).toMatch(/applies\s+17 checked/);
  });

  it('prints the violation with its line, virtual time and seed, and exits 1', async () => {
    const bad = Run.start().elect('n1', 4, ['n1', 'n2']).role('n3', 'leader', 4);
    const path = write('violation.jsonl', bad.jsonl());
    const r = await run(['check', path]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${path}:${bad.events.length + 1}: invariant violated`);
    expect(r.err).toMatch(/Election Safety: n1 and n3 both leader in term 4 .*\(t=\d+ms, seed 7\)/);
  });

  it('fails a trace cut short (no end event) unless --partial says to accept it', async () => {
    const lines = validRun().jsonl().trimEnd().split('\n');
    expect(JSON.parse(lines.at(-1)!).type).toBe('end');
    const path = write('cut.jsonl', `${lines.slice(0, -1).join('\n')}\n`);
    const cut = await run(['check', path]);
    expect(cut.code).toBe(1);
    expect(cut.err).toMatch(/ends without its end event .*--partial/);
    const partial = await run(['check', path, '--partial']);
    expect(partial.code).toBe(0);
    expect(partial.out).toContain(`${path}: ok`);
  });

  it('exits 2 on a malformed file, a missing file or a missing argument', async () => {
    const malformed = await run(['check', write('bad.jsonl', `${validRun().jsonl()}{"t":1,"type":"commit"`)]);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(new RegExp(`bad\\.jsonl:${validRun().events.length + 2}: malformed trace: not JSON`));

    const header = await run(['check', write('v2.jsonl', '{"type":"header","version":2,"seed":1,"nodes":[],"options":{}}\n')]);
    expect(header.code).toBe(2);
    expect(header.err).toMatch(/v2\.jsonl:1: malformed trace: unsupported trace version 2/);

    const missing = await run(['check', join(dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read trace .*nope\.jsonl/);

    const noArg = await run(['check']);
    expect(noArg.code).toBe(2);
    expect(noArg.err).toMatch(/check needs a trace file/);
    expect(noArg.err).toContain("run 'grey help' for usage");
  });
});
