import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

/** What kind of state a diagram node is, as XState types it. */
export type DiagramStateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

/** One state node of a machine, as the diagrams draw it. */
export interface DiagramState {
  /** The XState state node id (`raftRole.leader.heartbeat`); the root's is the machine id. */
  id: string;
  /** Its name within its parent (the machine id for the root). */
  key: string;
  type: DiagramStateType;
  /** The parent state's id; null for the root. */
  parent: string | null;
  /** Child state ids in document order. */
  children: string[];
  /** The id of the child entered first (compound states). */
  initial: string | null;
  /** A region: a child of a parallel state, active together with its siblings. */
  region: boolean;
  /** `shallow` or `deep` for a history pseudo-state. */
  history: 'shallow' | 'deep' | null;
  /**
   * The ids of this state's targetless transitions: they run actions or
   * just consume the event without leaving the state, so they are listed
   * inside the state rather than drawn as arrows.
   */
  internal: string[];
  tags: string[];
  description: string | null;
}

/** How a transition is triggered. */
export type DiagramTransitionKind = 'event' | 'after' | 'always' | 'done' | 'error' | 'snapshot';

/** One transition definition (a guarded alternative is a transition of its own). */
export interface DiagramTransition {
  /** `<source id>:<n>`, n counting the source's transitions in document order. */
  id: string;
  source: string;
  /** Target state ids; empty for a targetless (internal) transition. */
  targets: string[];
  kind: DiagramTransitionKind;
  /**
   * What triggers it, readably: the event type, the delay's name for
   * `after`, the invoked actor's id for done/error/snapshot, null for
   * `always` and a state's own `onDone`.
   */
  trigger: string | null;
  /** The delay of an `after` transition: its name in `setup({ delays })`, or milliseconds. */
  delay: string | number | null;
  /** The guard, by name (`not(x)` reads `!x`); null when unguarded. */
  guard: string | null;
  /** Action names, in order. */
  actions: string[];
  /** Exits and re-enters its target even when it is the source or inside it. */
  reenter: boolean;
  /** What a diagram writes on the arrow: `after electionTimeout [heardFromLeader]`. */
  label: string;
}

/** A machine's states and transitions, ready to be drawn. */
export interface MachineGraph {
  machine: string;
  /** The root state's id (the machine id). */
  root: string;
  /** Every state node, depth first in document order, the root first. */
  states: DiagramState[];
  /** Every transition, by source in the order of `states`. */
  transitions: DiagramTransition[];
}

const AFTER = 'xstate.after.';
const DONE_STATE = 'xstate.done.state.';
const DONE_ACTOR = 'xstate.done.actor.';
const ERROR_ACTOR = 'xstate.error.actor.';
const SNAPSHOT = 'xstate.snapshot.';

type Named = { type?: unknown; name?: unknown; guards?: unknown[]; stateValue?: unknown };

/** A guard as written: a name, `{ type, params }`, a function, or `not`/`and`/`or`/`stateIn` of those. */
export function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (guard === null || guard === undefined) return '';
  const g = guard as Named;
  if (typeof guard === 'object' && typeof g.type === 'string') return g.type;
  if (typeof guard === 'function') {
    // XState's higher-order guards are functions named after the combinator, holding their operands.
    const inner = Array.isArray(g.guards) ? g.guards.map(guardName) : null;
    if (inner && g.name === 'not') return `!${wrap(inner[0])}`;
    if (inner && g.name === 'and') return inner.map(wrap).join(' && ');
    if (inner && g.name === 'or') return inner.map(wrap).join(' || ');
    if (g.name === 'stateIn' && g.stateValue !== undefined) {
      return `in(${typeof g.stateValue === 'string' ? g.stateValue : JSON.stringify(g.stateValue)})`;
    }
    if (typeof g.name === 'string' && g.name !== '' && g.name !== 'guard') return g.name;
  }
  return 'inline guard';
}

const wrap = (s: string) => (/[ &|]/.test(s) ? `(${s})` : s);

/** An action as written: a name, `{ type }`, a built-in (`assign`, `raise`, …) or a function. */
export function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  const a = action as Named;
  if (typeof a?.type === 'string') return a.type.startsWith('xstate.') ? a.type.slice('xstate.'.length) : a.type;
  if (typeof action === 'function' && typeof a.name === 'string' && a.name !== '') return a.name;
  return 'inline action';
}

function triggerOf(t: AnyTransitionDefinition, source: AnyStateNode): Pick<DiagramTransition, 'kind' | 'trigger' | 'delay'> {
  const type = t.eventType;
  const delay = (t as { delay?: string | number }).delay;
  if (type === '') return { kind: 'always', trigger: null, delay: null };
  if (type.startsWith(AFTER) && delay !== undefined) return { kind: 'after', trigger: String(delay), delay };
  if (type === `${DONE_STATE}${source.id}`) return { kind: 'done', trigger: null, delay: null };
  if (type.startsWith(DONE_ACTOR)) return { kind: 'done', trigger: type.slice(DONE_ACTOR.length), delay: null };
  if (type.startsWith(ERROR_ACTOR)) return { kind: 'error', trigger: type.slice(ERROR_ACTOR.length), delay: null };
  if (type.startsWith(SNAPSHOT)) return { kind: 'snapshot', trigger: type.slice(SNAPSHOT.length), delay: null };
  return { kind: 'event', trigger: type, delay: null };
}

/** The text on a transition's arrow: trigger, then the guard in brackets. */
export function transitionLabel(t: Pick<DiagramTransition, 'kind' | 'trigger' | 'delay' | 'guard'>): string {
  let head: string;
  switch (t.kind) {
    case 'after':
      head = `after ${typeof t.delay === 'number' ? `${t.delay}ms` : t.delay}`;
      break;
    case 'always':
      head = 'always';
      break;
    case 'done':
      head = t.trigger === null ? 'onDone' : `done(${t.trigger})`;
      break;
    case 'error':
      head = `error(${t.trigger})`;
      break;
    case 'snapshot':
      head = `snapshot(${t.trigger})`;
      break;
    default:
      head = t.trigger ?? '';
  }
  return t.guard === null ? head : `${head} [${t.guard}]`;
}

/** A transition's label, with `/ action, …` appended when `actions` is set and it has any. */
export function labelWithActions(t: DiagramTransition, actions: boolean): string {
  return actions && t.actions.length > 0 ? `${t.label} / ${t.actions.join(', ')}` : t.label;
}

function typeOf(node: AnyStateNode): DiagramStateType {
  return node.type as DiagramStateType;
}

/**
 * Extracts the states and transitions of a machine from its state nodes
 * (what `machine.definition` serializes, plus the eventless `always`
 * transitions it leaves out). Delayed transitions carry the delay's name,
 * never XState's internal `xstate.after.*` event type.
 */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: DiagramState[] = [];
  const transitions: DiagramTransition[] = [];
  const visit = (node: AnyStateNode, parent: AnyStateNode | null) => {
    const children = Object.values(node.states) as AnyStateNode[];
    const initial = node.type === 'compound' ? ((node.initial?.target ?? []) as AnyStateNode[])[0]?.id ?? null : null;
    const state: DiagramState = {
      id: node.id,
      key: parent === null ? machine.id : node.key,
      type: typeOf(node),
      parent: parent?.id ?? null,
      children: children.map((c) => c.id),
      initial,
      region: parent?.type === 'parallel',
      history: node.type === 'history' ? ((node as { history?: 'shallow' | 'deep' }).history ?? 'shallow') : null,
      internal: [],
      tags: [...(node.tags ?? [])],
      description: node.description ?? null,
    };
    states.push(state);
    const defs: AnyTransitionDefinition[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    defs.forEach((t, n) => {
      const guard = t.guard === undefined ? null : guardName(t.guard);
      const trigger = triggerOf(t, node);
      const dt: DiagramTransition = {
        id: `${node.id}:${n}`,
        source: node.id,
        targets: ((t.target ?? []) as AnyStateNode[]).map((x) => x.id),
        ...trigger,
        guard,
        actions: (t.actions as unknown[]).map(actionName),
        reenter: t.reenter === true,
        label: transitionLabel({ ...trigger, guard }),
      };
      transitions.push(dt);
      if (dt.targets.length === 0) state.internal.push(dt.id);
    });
    for (const child of children) visit(child, node);
  };
  visit(machine.root, null);
  return { machine: machine.id, root: machine.root.id, states, transitions };
}
