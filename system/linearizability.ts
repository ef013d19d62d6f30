/**
 * A linearizability checker for Grey's key-value store: the Wing–Gong
 * search with Lowe's memoization (as Porcupine and Knossos run it), on each
 * key's history apart (linearizability is local: a history is linearizable
 * iff each object's is).
 *
 * Operations are intervals of virtual time from invoke to return. One whose
 * outcome is unknown (a timeout) may take effect at any point after its
 * invoke, or never: its return is at +∞ and the search may leave it out.
 * A failed one (refused, so never applied) is not recorded.
 *
 * The model is a register with revisions: the store's revision is global,
 * so per key the checker knows revisions only as far as answers show them
 * (an unknown put's revision is "some revision above the last"), and checks
 * that they rise with each change and match what reads and compare-and-sets
 * report. The global order of revisions across keys is not checked here.
 *
 * The search has a budget; past it the answer is `unknown`, which a sweep
 * counts as a failure, never as a pass.
 */
import { sameValue, type KvExpectation } from '../actors/kvStore.js';

/** An operation on one key and what it answered. */
export type KvOperation =
  | { f: 'put'; key: string; value: unknown; output?: { revision: number } }
  | { f: 'read'; key: string; output?: { found: false } | { found: true; value: unknown; revision: number } }
  | { f: 'delete'; key: string; output?: { deleted: boolean; revision: number } }
  | { f: 'cas'; key: string; expect: KvExpectation; value: unknown; output?: { applied: boolean; revision: number } };

/** One operation of a history: who, what, when (virtual ms); `ret` is +∞ and `output` absent when the outcome is unknown. */
export interface HistoryOperation {
  id: number;
  client: string;
  op: KvOperation;
  call: number;
  ret: number;
}

/**
 * Records client operations as they are invoked and as they return, on the
 * clock it is given (virtual time in a simulation).
 */
export class HistoryRecorder {
  private readonly ops = new Map<number, HistoryOperation>();
  private nextId = 0;

  constructor(private readonly now: () => number) {}

  /** An operation starts; returns its id. */
  invoke(client: string, op: KvOperation): number {
    const id = ++this.nextId;
    this.ops.set(id, { id, client, op: { ...op, output: undefined } as KvOperation, call: this.now(), ret: Number.POSITIVE_INFINITY });
    return id;
  }

  /** It returned `output`. */
  ok(id: number, output: NonNullable<KvOperation['output']>): void {
    const o = this.ops.get(id);
    if (!o) throw new RangeError(`history: no operation ${id}`);
    o.ret = this.now();
    (o.op as { output?: unknown }).output = output;
  }

  /** It failed and took no effect (refused): dropped from the history. */
  fail(id: number): void {
    this.ops.delete(id);
  }

  /** Its outcome is unknown (a timeout): it may take effect at any time after its invoke, or never. Nothing to do but leave it open. */
  unknown(id: number): void {
    if (!this.ops.has(id)) throw new RangeError(`history: no operation ${id}`);
  }

  /** The history so far, in invoke order. */
  operations(): HistoryOperation[] {
    return [...this.ops.values()];
  }
}

/** The result of a check. */
export type CheckResult =
  | { ok: true; keys: number; operations: number; steps: number }
  | { ok: false; kind: 'violation'; key: string; witness: string; steps: number }
  | { ok: false; kind: 'budget'; key: string; message: string; steps: number };

/** Register state of one key: `rev` is exact, or (`atLeast`) a lower bound when an unknown change set it. */
interface KeyState {
  exists: boolean;
  value: unknown;
  rev: number;
  atLeast: boolean;
}

const INITIAL: KeyState = { exists: false, value: undefined, rev: 0, atLeast: false };

/** The states `op` may lead to from `s` given what it answered (none: it cannot be linearized here). */
export function stepKey(s: KeyState, op: KvOperation): KeyState[] {
  // A change to this key must come at a revision above its last (exact, or a lower bound after an unknown change).
  const above = (r: number) => r > s.rev;
  // A revision reported as the key's current one must be its last.
  const revIs = (r: number) => (s.atLeast ? r >= s.rev : r === s.rev);
  const bumped = (): number => s.rev + 1;
  switch (op.f) {
    case 'put': {
      const out = op.output;
      if (out === undefined) return [s, { exists: true, value: op.value, rev: bumped(), atLeast: true }];
      return above(out.revision) ? [{ exists: true, value: op.value, rev: out.revision, atLeast: false }] : [];
    }
    case 'read': {
      const out = op.output;
      if (out === undefined) return [s];
      if (!out.found) return s.exists ? [] : [s];
      return s.exists && sameValue(s.value, out.value) && revIs(out.revision) ? [{ ...s, rev: out.revision, atLeast: false }] : [];
    }
    case 'delete': {
      const out = op.output;
      if (out === undefined) return s.exists ? [s, { exists: false, value: undefined, rev: bumped(), atLeast: true }] : [s];
      if (!out.deleted) return s.exists ? [] : [s];
      return s.exists && above(out.revision) ? [{ exists: false, value: undefined, rev: out.revision, atLeast: false }] : [];
    }
    case 'cas': {
      const out = op.output;
      const e = op.expect;
      if (out === undefined) {
        const may = 'revision' in e ? (e.revision === 0 ? !s.exists : s.exists && revIs(e.revision)) : s.exists && sameValue(s.value, e.value);
        if (!may) return [s];
        const base = 'revision' in e && e.revision > 0 ? e.revision : s.rev;
        return [s, { exists: true, value: op.value, rev: base + 1, atLeast: true }];
      }
      if (out.applied) {
        if ('revision' in e) {
          if (e.revision === 0 ? s.exists : !(s.exists && revIs(e.revision))) return [];
          const prior = e.revision === 0 ? s.rev : e.revision;
          return out.revision > prior && (e.revision !== 0 || above(out.revision)) ? [{ exists: true, value: op.value, rev: out.revision, atLeast: false }] : [];
        }
        if (!(s.exists && sameValue(s.value, e.value)) || !above(out.revision)) return [];
        return [{ exists: true, value: op.value, rev: out.revision, atLeast: false }];
      }
      // Not applied: the condition failed, and the answer is the key's revision now (0: absent).
      if (!s.exists) {
        if (out.revision !== 0) return [];
        return 'revision' in e && e.revision === 0 ? [] : [s];
      }
      if (!revIs(out.revision)) return [];
      if ('revision' in e ? out.revision === e.revision : sameValue(s.value, e.value)) return [];
      return [{ ...s, rev: out.revision, atLeast: false }];
    }
  }
}

interface Entry {
  op: HistoryOperation;
  call: boolean;
  time: number;
  /** The call entry's matching return (for a call). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

function describeOp(o: HistoryOperation): string {
  const op = o.op;
  const args = op.f === 'put' ? JSON.stringify(op.value) : op.f === 'cas' ? `${JSON.stringify(op.expect)} → ${JSON.stringify(op.value)}` : '';
  const out = op.output === undefined ? 'unknown' : JSON.stringify(op.output);
  const ms = (t: number) => (Number.isInteger(t) ? `${t}` : t.toFixed(1));
  const ret = Number.isFinite(o.ret) ? ms(o.ret) : '∞';
  return `  [${ms(o.call)}–${ret} ms] ${o.client} ${op.f}(${op.key}${args ? `, ${args}` : ''}) → ${out}`;
}

function describeState(s: KeyState): string {
  if (!s.exists) return s.rev === 0 ? 'absent' : `absent (last change at revision ${s.atLeast ? '≥ ' : ''}${s.rev})`;
  return `${JSON.stringify(s.value)} at revision ${s.atLeast ? '≥ ' : ''}${s.rev}`;
}

/** Checks one key's operations. `budget` bounds the search steps. */
export function checkKey(key: string, ops: readonly HistoryOperation[], budget: number): CheckResult {
  // Entries in time order; at equal times calls first, so touching intervals count as concurrent.
  const entries: Entry[] = [];
  for (const op of ops) {
    const call: Entry = { op, call: true, time: op.call, match: null, prev: null, next: null };
    const ret: Entry = { op, call: false, time: op.ret, match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  }
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op.id - b.op.id : a.call ? -1 : 1));
  const head: Entry = { op: null as never, call: false, time: -1, match: null, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  const index = new Map(ops.map((o, i) => [o.id, i]));
  const bits = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const r = e.match!;
    r.prev!.next = r.next;
    if (r.next) r.next.prev = r.prev;
  };
  const unlift = (e: Entry) => {
    const r = e.match!;
    r.prev!.next = r;
    if (r.next) r.next.prev = r;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const flip = (op: HistoryOperation) => {
    const i = index.get(op.id)!;
    bits[i >>> 5] ^= 1 << (i & 31);
  };
  const cache = new Set<string>();
  const cacheKey = (s: KeyState) => `${s.exists ? 1 : 0}|${s.atLeast ? 1 : 0}|${s.rev}|${JSON.stringify(s.value) ?? ''}|${bits.join(',')}`;
  interface Frame {
    entry: Entry;
    before: KeyState;
    options: KeyState[];
    at: number;
  }
  const stack: Frame[] = [];
  let state = INITIAL;
  let entry = head.next;
  let steps = 0;
  let best = { depth: -1, state: INITIAL, stuck: null as HistoryOperation | null };
  // Tries the options of `f` from `from`; true when one was taken (the op linearized).
  const tryFrom = (f: Frame, from: number): boolean => {
    for (let i = from; i < f.options.length; i++) {
      flip(f.entry.op);
      const k = cacheKey(f.options[i]);
      if (!cache.has(k)) {
        cache.add(k);
        f.at = i;
        state = f.options[i];
        lift(f.entry);
        return true;
      }
      flip(f.entry.op);
    }
    return false;
  };
  while (head.next !== null && entry !== null) {
    if (++steps > budget) {
      return { ok: false, kind: 'budget', key, steps, message: `the search for key '${key}' (${ops.length} operations) ran past its budget of ${budget} steps: neither linearizable nor not was shown` };
    }
    if (entry.call) {
      const f: Frame = { entry, before: state, options: stepKey(state, entry.op.op), at: -1 };
      if (tryFrom(f, 0)) {
        stack.push(f);
        entry = head.next;
      } else {
        entry = entry.next;
      }
      continue;
    }
    // A return whose call is not linearized yet.
    if (!Number.isFinite(entry.time)) break; // only unknown operations are left: they may never have taken effect
    if (stack.length > best.depth) best = { depth: stack.length, state, stuck: entry.op };
    const f = stack.pop();
    if (f === undefined) {
      const stuck = best.stuck!;
      // The stuck operation, those concurrent with it, and the last few that returned before it began.
      const before = ops.filter((o) => o.ret < stuck.call).sort((a, b) => b.ret - a.ret).slice(0, 3);
      // Operations with no answer overlap everything after them: only the recent ones are shown.
      const since = Math.min(stuck.call, ...before.map((o) => o.call));
      const concurrent = ops.filter((o) => o !== stuck && o.call <= stuck.ret && o.ret >= stuck.call && (Number.isFinite(o.ret) || o.call >= since)).sort((a, b) => a.call - b.call);
      const shown = [...new Set([...before, ...concurrent.slice(0, 5), stuck])].sort((a, b) => a.call - b.call || a.id - b.id);
      const witness =
        `key '${key}': no order of these operations explains what they answered, from the state ${describeState(best.state)}` +
        ` (reached after ordering ${best.depth} operations):\n${shown.map(describeOp).join('\n')}`;
      return { ok: false, kind: 'violation', key, witness, steps };
    }
    // Undo the last choice: its next option, or skip that operation for now.
    unlift(f.entry);
    flip(f.entry.op);
    state = f.before;
    if (tryFrom(f, f.at + 1)) {
      stack.push(f);
      entry = head.next;
    } else {
      entry = f.entry.next;
    }
  }
  return { ok: true, keys: 1, operations: ops.length, steps };
}

/** Checks a whole history, key by key. */
export function checkHistory(ops: readonly HistoryOperation[], options: { budget?: number } = {}): CheckResult {
  const budget = options.budget ?? 2_000_000;
  const byKey = new Map<string, HistoryOperation[]>();
  for (const o of ops) {
    let list = byKey.get(o.op.key);
    if (!list) byKey.set(o.op.key, (list = []));
    list.push(o);
  }
  let steps = 0;
  for (const key of [...byKey.keys()].sort()) {
    const r = checkKey(key, byKey.get(key)!, budget);
    steps += r.steps;
    if (!r.ok) return { ...r, steps };
  }
  return { ok: true, keys: byKey.size, operations: ops.length, steps };
}
