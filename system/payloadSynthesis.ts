/**
 * Payloads for a test model's events and invoked actors' outcomes when the
 * user gives no samples: what a machine reads from an event, found by
 * stepping it with a recording stand-in, filled with the literals its
 * guards compare against (as a fuzzer's dictionary does), so that
 * `guard: ({ context }) => context.decision === 'Approved'` is reached
 * without the user typing 'Approved'.
 *
 * Heuristic by nature: a payload checked by a computation rather than a
 * comparison with a literal (a sum, a checksum) is not found. Samples given
 * by the user always replace what is synthesized here.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { stateNodesOf } from './machineCoverage.js';

/** A literal from the machine's guards. */
export type Literal = string | number;

/** At most this many payloads per event type or actor outcome. */
export const MAX_SYNTHESIZED = 24;
/** At most this many literals kept from the guards' sources. */
const MAX_LITERALS = 32;
/** Property paths deeper than this are not followed. */
const MAX_DEPTH = 4;

const STRING_METHODS = new Set(Object.getOwnPropertyNames(String.prototype));
const ARRAY_METHODS = new Set(Object.getOwnPropertyNames(Array.prototype));

/** What the machine did with one part of a payload. */
interface Use {
  children: Map<string, Use>;
  /** Read as a string (a string method called on it). */
  string: boolean;
  /** Converted to a number (compared with <, added to). */
  number: boolean;
}

const newUse = (): Use => ({ children: new Map(), string: false, number: false });

/**
 * A stand-in that records every property read below it. Every node is a
 * callable proxy (a method read on it can be called), converts to '' or 0,
 * is not a thenable, and lists no keys.
 */
function recorder(use: Use, depth: number): unknown {
  const target = () => undefined;
  return new Proxy(target, {
    get(_t, key) {
      if (key === Symbol.toPrimitive) {
        return (hint: string) => {
          if (hint === 'number') use.number = true;
          return hint === 'number' ? 0 : '';
        };
      }
      if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
      if (STRING_METHODS.has(key) && key !== 'length' && key !== 'constructor') use.string = true;
      if (depth >= MAX_DEPTH) return undefined;
      let child = use.children.get(key);
      if (child === undefined) use.children.set(key, (child = newUse()));
      return recorder(child, depth + 1);
    },
    apply() {
      return recorder(newUse(), MAX_DEPTH);
    },
    has: () => false,
    ownKeys: () => [],
    getOwnPropertyDescriptor: () => undefined,
    set: () => true,
  });
}

/**
 * Which parts of a payload the machine reads when `probe` steps it with
 * the stand-in `root` (errors thrown by the step are expected: the stand-in
 * is no real value). Returns null when nothing was read.
 */
export function readsOf(probe: (root: unknown) => void): Use | null {
  const use = newUse();
  try {
    probe(recorder(use, 0));
  } catch {
    // what was read before the throw is still recorded
  }
  return use.children.size > 0 || use.string || use.number ? use : null;
}

/** A leaf of a payload: its path and the values to try there. */
interface Leaf {
  path: string[];
  values: unknown[];
}

function leavesOf(use: Use, path: string[], literals: readonly Literal[], out: Leaf[]): void {
  // Children that are methods or `length` say what kind of value this is, not that it is an object.
  const fields = [...use.children.keys()].filter((k) => !STRING_METHODS.has(k) && !ARRAY_METHODS.has(k) && k !== 'length');
  if (fields.length === 0 || use.string || use.number) {
    out.push({ path, values: valuesFor(use, literals) });
    return;
  }
  for (const k of fields) leavesOf(use.children.get(k)!, [...path, k], literals, out);
}

function valuesFor(use: Use, literals: readonly Literal[]): unknown[] {
  const strings = literals.filter((l): l is string => typeof l === 'string');
  // Each number with its neighbours, as boundary-value testing picks them: a
  // guard `x < n - 1` or `x > n` is passed by neither n nor the literal alone.
  const widened = literals.flatMap((l): Literal[] => (typeof l === 'number' ? [l, l + 1, l - 1] : [l]));
  const numbers = unique(widened.filter((l): l is number => typeof l === 'number'));
  // An array method called on it (`output.map(...)`), none a string has too: a list, empty or of one item.
  const list = [...use.children.keys()].some((k) => ARRAY_METHODS.has(k) && !STRING_METHODS.has(k));
  if (list) return [[], [literals[0] ?? 'a']];
  if (use.string) return unique([...strings, 'a', '']);
  if (use.number) return unique([...numbers, 0, 1]);
  return unique([...widened, 'a', 1]);
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/**
 * Payloads that vary one read part at a time over its candidate values,
 * the others at their first (a root read as a whole gives bare values, not
 * objects). At most {@link MAX_SYNTHESIZED}.
 */
export function payloadsFor(use: Use, literals: readonly Literal[]): unknown[] {
  const leaves: Leaf[] = [];
  leavesOf(use, [], literals, leaves);
  const build = (choice: Map<Leaf, unknown>): unknown => {
    if (leaves.length === 1 && leaves[0].path.length === 0) return choice.get(leaves[0]);
    const root: Record<string, unknown> = {};
    for (const leaf of leaves) {
      let at = root;
      for (let i = 0; i < leaf.path.length - 1; i++) at = (at[leaf.path[i]] ??= {}) as Record<string, unknown>;
      at[leaf.path[leaf.path.length - 1]] = choice.get(leaf);
    }
    return root;
  };
  const base = new Map(leaves.map((l) => [l, l.values[0]]));
  const out = new Map<string, unknown>();
  for (const leaf of leaves) {
    for (const value of leaf.values) {
      const payload = build(new Map(base).set(leaf, value));
      out.set(JSON.stringify(payload) ?? 'undefined', payload);
      if (out.size >= MAX_SYNTHESIZED) return [...out.values()];
    }
  }
  return [...out.values()];
}

/**
 * The strings the fields of a machine's initial context hold (top-level
 * fields only, at most {@link MAX_LITERALS}): values of the machine's own
 * domain, such as an enumeration's first member (`dir: 'Right'`,
 * `filter: 'all'`), that an event may carry though no guard compares
 * against them. Strings inside lists and nested records are left out: they
 * are data (file names, records), and each would be one more sample.
 */
export function contextLiterals(context: unknown): Literal[] {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) return [];
  const out = new Set<string>();
  for (const v of Object.values(context)) {
    if (typeof v === 'string' && v.length > 0 && v.length <= 64 && out.size < MAX_LITERALS) out.add(v);
  }
  return [...out];
}

/**
 * String and number literals in the source of every guard the machine
 * uses (inline, named in `setup`, and inside `not`/`and`/`or`), in order
 * of appearance, at most {@link MAX_LITERALS}.
 */
export function guardLiterals(machine: AnyStateMachine): Literal[] {
  const sources = new Set<string>();
  const named = (machine.implementations?.guards ?? {}) as Record<string, unknown>;
  const visit = (guard: unknown, depth: number): void => {
    if (guard == null || depth > 8) return;
    if (typeof guard === 'string') return visit(named[guard], depth + 1);
    if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return visit(named[(guard as { type: string }).type], depth + 1);
    if (typeof guard !== 'function') return;
    sources.add(Function.prototype.toString.call(guard));
    // XState's not/and/or keep the guards they combine.
    for (const inner of ((guard as { guards?: unknown[] }).guards ?? [])) visit(inner, depth + 1);
  };
  for (const node of stateNodesOf(machine) as AnyStateNode[]) {
    for (const list of node.transitions.values()) for (const t of list) visit(t.guard, 0);
    for (const t of node.always ?? []) visit(t.guard, 0);
  }
  for (const g of Object.values(named)) visit(g, 0);
  const out: Literal[] = [];
  const seen = new Set<string>();
  const add = (l: Literal) => {
    const key = `${typeof l}:${l}`;
    if (!seen.has(key) && out.length < MAX_LITERALS) {
      seen.add(key);
      out.push(l);
    }
  };
  const pattern = /'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|(?<![\w$.])(-?\d+(?:\.\d+)?)(?![\w$])/g;
  for (const src of sources) {
    for (const m of src.matchAll(pattern)) {
      if (m[3] !== undefined) add(Number(m[3]));
      else add((m[1] ?? m[2]).replace(/\\(.)/g, '$1'));
    }
  }
  return out;
}
