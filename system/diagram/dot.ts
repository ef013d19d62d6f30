import { labelWithActions, type DiagramState, type MachineGraph } from './graph.js';
import { simpleIds, type TextDiagramOptions } from './mermaid.js';

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;

/**
 * Renders a machine graph as Graphviz DOT text. A state with children is a
 * cluster (the machine itself is the outermost), a parallel state's regions
 * are dashed clusters, final states have a double border, a compound state's
 * initial child is pointed at from a dot. Graphviz draws edges between nodes
 * only, so an arrow to or from a cluster is attached to an invisible point
 * inside it and clipped at the cluster's border
 * (`compound=true` with `lhead`/`ltail`). Targetless transitions are listed
 * in their state's label.
 */
export function toDot(graph: MachineGraph, options: TextDiagramOptions = {}): string {
  const ids = simpleIds(graph);
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  const transitions = new Map(graph.transitions.map((t) => [t.id, t]));
  const withActions = options.actions === true;
  const font = 'fontname="Helvetica", fontsize=11';
  const lines = [
    `digraph ${quote(graph.machine)} {`,
    `  graph [compound=true, rankdir=${options.direction ?? 'LR'}, ${font}, nodesep=0.4, ranksep=0.6];`,
    `  node [shape=box, style="rounded", ${font}];`,
    `  edge [fontname="Helvetica", fontsize=10];`,
  ];
  // The node an arrow to or from a cluster is attached to.
  const anchor = (s: DiagramState) => (s.children.length === 0 ? ids.get(s.id)! : `${ids.get(s.id)}__anchor`);
  const labelOf = (s: DiagramState) => {
    const name = s.type === 'history' ? (s.history === 'deep' ? 'H*' : 'H') : s.key;
    const head = s.type === 'parallel' ? `${name} (parallel)` : name;
    const internal = s.internal.map((tid) => labelWithActions(transitions.get(tid)!, withActions));
    return internal.length === 0 ? head : `${head}\n${internal.join('\n')}`;
  };
  const emit = (s: DiagramState, depth: number) => {
    const pad = '  '.repeat(depth);
    const id = ids.get(s.id)!;
    if (s.children.length === 0) {
      const attrs = [`label=${quote(labelOf(s))}`];
      if (s.type === 'final') attrs.push('peripheries=2');
      if (s.type === 'history') attrs.push('shape=circle');
      lines.push(`${pad}${id} [${attrs.join(', ')}];`);
      return;
    }
    lines.push(`${pad}subgraph cluster_${id} {`);
    lines.push(`${pad}  label=${quote(labelOf(s))}; labeljust=l; style=${s.region ? '"rounded,dashed"' : 'rounded'};`);
    // Arrows attach to an invisible point, so none is mistaken for the initial arrow.
    lines.push(`${pad}  ${anchor(s)} [shape=point, style=invis, width=0.01, label=""];`);
    if (s.initial !== null) {
      const first = byId.get(s.initial)!;
      const lhead = first.children.length > 0 ? ` [lhead=cluster_${ids.get(first.id)}]` : '';
      lines.push(`${pad}  ${id}__initial [shape=point, width=0.12, label=""];`);
      lines.push(`${pad}  ${id}__initial -> ${anchor(first)}${lhead};`);
    }
    for (const cid of s.children) emit(byId.get(cid)!, depth + 1);
    lines.push(`${pad}}`);
  };
  emit(byId.get(graph.root)!, 1);
  for (const t of graph.transitions) {
    const source = byId.get(t.source)!;
    for (const targetId of t.targets) {
      const target = byId.get(targetId)!;
      const attrs = [`label=${quote(labelWithActions(t, withActions))}`];
      // Graphviz refuses to clip an edge at a cluster that holds its other end.
      const inside = (outer: DiagramState, inner: DiagramState) => {
        for (let p: DiagramState | undefined = inner; p; p = p.parent === null ? undefined : byId.get(p.parent)) if (p === outer) return true;
        return false;
      };
      if (source.children.length > 0 && !inside(source, target)) attrs.push(`ltail=cluster_${ids.get(source.id)}`);
      if (target.children.length > 0 && !inside(target, source)) attrs.push(`lhead=cluster_${ids.get(target.id)}`);
      lines.push(`  ${anchor(source)} -> ${anchor(target)} [${attrs.join(', ')}];`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
