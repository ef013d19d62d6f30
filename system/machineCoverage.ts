import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, InspectionEvent } from 'xstate';

/** Covered / total, with what is missing named. */
export interface CoverageCount {
  covered: number;
  total: number;
  missing: string[];
}

/** The states and transitions of one machine that a run has exercised. */
export interface CoverageReport {
  machine: string;
  states: CoverageCount;
  transitions: CoverageCount;
}

/** Every state node of a machine, depth first in document order. */
export function stateNodesOf(machine: AnyStateMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode) => {
    out.push(node);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  return out;
}

/**
 * A stable name for a transition definition: source state id, event type and
 * its position among that source's candidates for the event (guarded
 * alternatives are distinct transitions).
 */
export function transitionKey(t: AnyTransitionDefinition): string {
  const source = t.source;
  const candidates = t.eventType === '' ? (source.always ?? []) : (source.transitions.get(t.eventType) ?? []);
  const index = candidates.indexOf(t);
  const target = t.target?.map((n: AnyStateNode) => n.id).join(',') ?? '(internal)';
  return `${source.id} --${t.eventType === '' ? '(always)' : t.eventType}${index > 0 ? `#${index}` : ''}--> ${target}`;
}

/** Every transition definition of a machine (event, delayed and eventless). */
export function transitionsOf(machine: AnyStateMachine): AnyTransitionDefinition[] {
  const out: AnyTransitionDefinition[] = [];
  for (const node of stateNodesOf(machine)) {
    for (const list of node.transitions.values()) out.push(...list);
    if (node.always) out.push(...node.always);
  }
  return out;
}

/**
 * Statechart coverage for XState v5, which has no coverage helper of its
 * own: which states were entered and which transitions taken, across any
 * number of actors of one machine.
 *
 * ```ts
 * const coverage = new MachineCoverage(machine);
 * const actor = createActor(machine, { inspect: coverage.inspect }).start();
 * // …drive it…
 * coverage.report(); // { states: { covered, total, missing }, transitions: … }
 * ```
 */
export class MachineCoverage {
  private readonly stateIds: string[];
  private readonly transitionKeys: string[];
  private readonly seenStates = new Set<string>();
  private readonly seenTransitions = new Set<string>();

  constructor(readonly machine: AnyStateMachine) {
    // History pseudo-states are never active: not states to cover.
    this.stateIds = stateNodesOf(machine).filter((n) => n.type !== 'history').map((n) => n.id);
    this.transitionKeys = transitionsOf(machine).map(transitionKey);
  }

  /** Pass as `createActor(machine, { inspect })`. Arrow so it can be handed around unbound. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type === '@xstate.microstep') {
      for (const t of event._transitions) this.seenTransitions.add(transitionKey(t));
      this.markSnapshot(event.snapshot);
    } else if (event.type === '@xstate.snapshot') {
      this.markSnapshot(event.snapshot);
    }
  };

  /** Records the states active in a machine snapshot. */
  markSnapshot(snapshot: unknown): void {
    const nodes = (snapshot as { _nodes?: AnyStateNode[] })._nodes;
    if (!nodes) return;
    for (const n of nodes) this.seenStates.add(n.id);
  }

  /** Adds another tracker's observations of the same machine. */
  merge(other: MachineCoverage): void {
    for (const s of other.seenStates) this.seenStates.add(s);
    for (const t of other.seenTransitions) this.seenTransitions.add(t);
  }

  report(): CoverageReport {
    const count = (all: string[], seen: Set<string>): CoverageCount => {
      const missing = all.filter((x) => !seen.has(x));
      return { covered: all.length - missing.length, total: all.length, missing };
    };
    return {
      machine: this.machine.id,
      states: count(this.stateIds, this.seenStates),
      transitions: count(this.transitionKeys, this.seenTransitions),
    };
  }
}
