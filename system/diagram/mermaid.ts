import { labelWithActions, type DiagramState, type MachineGraph } from './graph.js';

/** Options shared by the text renderers. */
export interface TextDiagramOptions {
  /** Append `/ action, …` to transition labels (default false: trigger and guard only). */
  actions?: boolean;
  /** Layout direction hint: left to right (default) or top to bottom. */
  direction?: 'LR' | 'TB';
}

/**
 * Assigns every state an identifier made of word characters only, as
 * Mermaid and Graphviz ids are easiest to write that way; XState ids may
 * hold dots, dashes or anything else, and two may collapse to one, hence
 * the numbered suffix.
 */
export function simpleIds(graph: MachineGraph): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const s of graph.states) {
    const base = s.id.replace(/\W+/g, '_').replace(/^(\d)/, '_$1') || 'state';
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(s.id, id);
  }
  return ids;
}

// Mermaid ends a label at a line break and reads `;` and `"` as syntax.
const text = (s: string) => s.replace(/[\r\n]+/g, ' ').replace(/;/g, ',').replace(/"/g, "'");

/**
 * Renders a machine graph as a Mermaid `stateDiagram-v2`. The machine is
 * the outermost composite state; parallel regions are separated by `--`;
 * `[*] -->` marks each compound state's initial child and `--> [*]` each
 * final state. Targetless transitions are listed in their state: as its
 * description for a simple state, as a note for a composite one (Mermaid
 * allows composite states no description). All arrows come after the
 * states, so that none declares a state in the wrong composite.
 */
export function toMermaid(graph: MachineGraph, options: TextDiagramOptions = {}): string {
  const ids = simpleIds(graph);
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  const transitions = new Map(graph.transitions.map((t) => [t.id, t]));
  const withActions = options.actions === true;
  const lines = ['stateDiagram-v2', `  direction ${options.direction ?? 'LR'}`];
  const emit = (s: DiagramState, depth: number) => {
    const pad = '  '.repeat(depth);
    const id = ids.get(s.id)!;
    const name = s.type === 'history' ? (s.history === 'deep' ? 'H*' : 'H') : s.key;
    const internal = s.internal.map((tid) => text(labelWithActions(transitions.get(tid)!, withActions)));
    if (s.children.length === 0) {
      lines.push(`${pad}state "${text(name)}" as ${id}`);
      for (const line of internal) lines.push(`${pad}${id} : ${line}`);
      return;
    }
    lines.push(`${pad}state "${text(name)}${s.type === 'parallel' ? ' (parallel)' : ''}" as ${id} {`);
    if (s.initial !== null) lines.push(`${pad}  [*] --> ${ids.get(s.initial)}`);
    s.children.forEach((cid, i) => {
      if (s.type === 'parallel' && i > 0) lines.push(`${pad}  --`);
      emit(byId.get(cid)!, depth + 1);
    });
    for (const cid of s.children) if (byId.get(cid)!.type === 'final') lines.push(`${pad}  ${ids.get(cid)} --> [*]`);
    lines.push(`${pad}}`);
    if (internal.length > 0) {
      lines.push(`${pad}note right of ${id}`);
      for (const line of internal) lines.push(`${pad}  ${line}`);
      lines.push(`${pad}end note`);
    }
  };
  emit(byId.get(graph.root)!, 1);
  for (const t of graph.transitions) {
    for (const target of t.targets) {
      lines.push(`  ${ids.get(t.source)} --> ${ids.get(target)} : ${text(labelWithActions(t, withActions))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
