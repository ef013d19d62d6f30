import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

/** One candidate transition of a table row, in the chart's document order. */
export interface TableTransition {
  /** Named guard, or null when unguarded. */
  guard: string | null;
  /** Target state name, or null for a transition that stays (internal). */
  target: string | null;
  /** Named actions, in order. */
  actions: string[];
}

/** A flat chart as data: per state, per event type, the candidates to try. */
export interface TransitionTable {
  machine: string;
  initial: string;
  states: string[];
  finals: string[];
  on: Record<string, Record<string, TableTransition[]>>;
  always: Record<string, TableTransition[]>;
}

/** The chart uses a feature a table cannot express. */
export class TableDerivationError extends Error {
  constructor(machine: string, detail: string) {
    super(`cannot derive a transition table from '${machine}': ${detail}`);
    this.name = 'TableDerivationError';
  }
}

function nameOf(machine: string, kind: string, item: unknown): string {
  if (typeof item === 'string') return item;
  if (item && typeof item === 'object' && typeof (item as { type?: unknown }).type === 'string') {
    if ((item as { params?: unknown }).params !== undefined) throw new TableDerivationError(machine, `${kind} '${(item as { type: string }).type}' has params`);
    return (item as { type: string }).type;
  }
  throw new TableDerivationError(machine, `an inline ${kind} (name every ${kind} in setup())`);
}

/** `after` compiles to a delayed raise on entry and a cancel on exit; those are timers, not updates. */
function isTimerAction(action: unknown): boolean {
  const type = (action as { type?: unknown }).type;
  return type === 'xstate.raise' || type === 'xstate.cancel';
}

function rowOf(machine: string, t: AnyTransitionDefinition): TableTransition {
  const targets = t.target as readonly AnyStateNode[] | undefined;
  if (targets && targets.length > 1) throw new TableDerivationError(machine, `multiple targets from ${t.source.key}`);
  return {
    guard: t.guard === undefined ? null : nameOf(machine, 'guard', t.guard),
    target: targets && targets.length === 1 ? targets[0].key : null,
    actions: t.actions.map((a) => nameOf(machine, 'action', a)),
  };
}

/**
 * Derives the transition table of a flat machine (atomic states under the
 * root) from its definition, once, at load. Guards and actions must be
 * named; the table refers to them by name and a {@link TableStepper} binds
 * them to plain functions. The model-based tests prove that stepping the
 * table equals running the machine on every generated path.
 */
export function deriveTransitionTable(machine: AnyStateMachine): TransitionTable {
  const id = machine.id;
  const root = machine.root;
  const children = Object.values(root.states) as AnyStateNode[];
  const table: TransitionTable = {
    machine: id,
    initial: '',
    states: children.map((c) => c.key),
    finals: children.filter((c) => c.type === 'final').map((c) => c.key),
    on: {},
    always: {},
  };
  const initial = root.initial.target as readonly AnyStateNode[];
  table.initial = initial[0].key;
  if (root.transitions.size > 0 || root.always) throw new TableDerivationError(id, 'transitions on the root node');
  for (const node of children) {
    if (node.type !== 'atomic' && node.type !== 'final') throw new TableDerivationError(id, `state '${node.key}' is ${node.type}; only flat charts are supported`);
    if ([...node.entry, ...node.exit].some((a) => !isTimerAction(a))) throw new TableDerivationError(id, `state '${node.key}' has entry/exit actions`);
    const row: Record<string, TableTransition[]> = {};
    for (const [event, list] of node.transitions) row[event] = list.map((t) => rowOf(id, t));
    table.on[node.key] = row;
    table.always[node.key] = (node.always ?? []).map((t) => rowOf(id, t));
  }
  return table;
}

/** Plain-function implementations of a table's named guards and actions. */
export interface TableImplementations<C, E> {
  guards: Record<string, (context: C, event: E) => boolean>;
  /** Each action returns the context fields it changes. */
  updates: Record<string, (context: C, event: E) => Partial<C>>;
}

interface Compiled<C, E> {
  guard: ((context: C, event: E) => boolean) | null;
  target: string | null;
  updates: Array<(context: C, event: E) => Partial<C>>;
}

/** Bound on eventless transitions followed after one event (a cycle is a chart bug). */
const MAX_ALWAYS_STEPS = 16;

/**
 * Steps a derived table on plain records: the hot-path form of a chart.
 * `step` returns the next state, or null when the chart does not allow the
 * event (the record is then left untouched).
 */
export class TableStepper<C extends object, E extends { type: string }> {
  private readonly on: Record<string, Record<string, Compiled<C, E>[]>> = {};
  private readonly always: Record<string, Compiled<C, E>[]> = {};
  readonly finals: ReadonlySet<string>;

  constructor(readonly table: TransitionTable, impl: TableImplementations<C, E>) {
    const compile = (t: TableTransition): Compiled<C, E> => {
      const guard = t.guard === null ? null : impl.guards[t.guard];
      if (t.guard !== null && !guard) throw new TableDerivationError(table.machine, `no implementation for guard '${t.guard}'`);
      return {
        guard,
        target: t.target,
        updates: t.actions.map((a) => {
          const u = impl.updates[a];
          if (!u) throw new TableDerivationError(table.machine, `no implementation for action '${a}'`);
          return u;
        }),
      };
    };
    for (const state of table.states) {
      const row: Record<string, Compiled<C, E>[]> = Object.create(null);
      for (const [event, list] of Object.entries(table.on[state])) row[event] = list.map(compile);
      this.on[state] = row;
      this.always[state] = table.always[state].map(compile);
    }
    this.finals = new Set(table.finals);
  }

  /** The state a new record starts in, after any eventless transitions. */
  initial(context: C): string {
    return this.settle(this.table.initial, context, { type: '' } as E);
  }

  step(state: string, context: C, event: E): string | null {
    const row = this.on[state];
    if (row === undefined) throw new RangeError(`'${state}' is not a state of ${this.table.machine}`);
    const candidates = row[event.type];
    if (candidates === undefined) return null;
    const chosen = this.choose(candidates, context, event);
    if (chosen === null) return null;
    this.apply(chosen, context, event);
    return chosen.target === null ? state : this.settle(chosen.target, context, event);
  }

  private choose(candidates: Compiled<C, E>[], context: C, event: E): Compiled<C, E> | null {
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      if (c.guard === null || c.guard(context, event)) return c;
    }
    return null;
  }

  private apply(t: Compiled<C, E>, context: C, event: E): void {
    for (let i = 0; i < t.updates.length; i++) Object.assign(context, t.updates[i](context, event));
  }

  private settle(state: string, context: C, event: E): string {
    for (let n = 0; n < MAX_ALWAYS_STEPS; n++) {
      const candidates = this.always[state];
      if (candidates.length === 0) return state;
      const chosen = this.choose(candidates, context, event);
      if (chosen === null || chosen.target === null) return state;
      this.apply(chosen, context, event);
      state = chosen.target;
    }
    throw new TableDerivationError(this.table.machine, `eventless transitions cycle at '${state}'`);
  }
}
