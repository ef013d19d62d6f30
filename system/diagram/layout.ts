import elkBundled from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';

// The bundled build runs ELK in this thread (no worker); it is CommonJS and
// sets `default` on its export, which is what TypeScript's NodeNext view sees.
const ELK = elkBundled.default;
import { labelWithActions, type DiagramState, type DiagramTransition, type MachineGraph } from './graph.js';

/** A point in diagram coordinates (pixels, origin top left). */
export interface Point {
  x: number;
  y: number;
}

/** A rectangle in diagram coordinates. */
export interface Box extends Point {
  width: number;
  height: number;
}

/**
 * One routed arrow: the transitions from one state to one target (one
 * arrow, a label line each), or a compound state's initial arrow.
 */
export interface LaidOutEdge {
  /** The transitions drawn, in document order; empty for the arrow from a compound state's initial dot. */
  transitions: string[];
  source: string;
  target: string;
  /** ELK's route: start point, bend points, end point. */
  points: Point[];
  /** The label's box and its lines, one per transition. */
  label: (Box & { lines: string[] }) | null;
}

/** A machine graph with ELK's layout: absolute coordinates for every state, dot, arrow and label. */
export interface DiagramLayout {
  graph: MachineGraph;
  width: number;
  height: number;
  /** Every state's box, by state id. */
  states: Record<string, Box>;
  /** The initial dot of every compound state, by the compound state's id. */
  initials: Record<string, Box>;
  edges: LaidOutEdge[];
  /** The text lines drawn in each state's box (name first, then its targetless transitions). */
  lines: Record<string, string[]>;
}

/** Options of {@link layoutMachineGraph}. */
export interface LayoutOptions {
  /** Append `/ action, …` to transition labels (default false). */
  actions?: boolean;
  /** `RIGHT` (default) or `DOWN`. */
  direction?: 'RIGHT' | 'DOWN';
  /**
   * One arrow per transition, instead of one per source and target with a
   * label line per transition (default false: dense charts stay legible).
   */
  separateArrows?: boolean;
  /** ELK's edge routing (default `ORTHOGONAL`). */
  edgeRouting?: 'ORTHOGONAL' | 'POLYLINE' | 'SPLINES';
}

/**
 * The font the SVG renderer draws with. Text is measured by counting
 * characters, which is exact for a monospaced font: no text overflows the
 * box ELK was told about, and no font metrics or canvas are needed.
 */
export const DIAGRAM_FONT = {
  family: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
  size: 12,
  labelSize: 11,
  /** Advance of one character as a fraction of the font size (0.6 for common monospaced fonts). */
  advance: 0.6,
  lineHeight: 1.35,
} as const;

/** Width and height of lines of text at a font size, by the monospaced advance. */
export function textSize(lines: readonly string[], size: number): { width: number; height: number } {
  const longest = Math.max(0, ...lines.map((l) => [...l].length));
  return { width: Math.ceil(longest * size * DIAGRAM_FONT.advance), height: Math.ceil(lines.length * size * DIAGRAM_FONT.lineHeight) };
}

/** Inner margin of a state's box around its text, in pixels. */
export const BOX_PADDING = { x: 10, y: 6 } as const;
const INITIAL_DOT = 10;

/**
 * The options ELK reads per graph. With hierarchy handling each compound
 * state is a graph of its own, and one without them falls back to ELK's
 * defaults, so every compound state carries them.
 */
function graphOptions(options: LayoutOptions): Record<string, string> {
  return {
    'elk.direction': options.direction ?? 'RIGHT',
    'elk.edgeRouting': options.edgeRouting ?? 'ORTHOGONAL',
    // Depth first from the initial dot: the arrows back towards it are the
    // ones reversed, so states read from the initial one onwards. (elkjs
    // 0.12 crashes on hierarchical graphs with the MODEL_ORDER strategy, or
    // with considerModelOrder set on compound nodes.)
    'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
    'elk.edgeLabels.placement': 'CENTER',
    'elk.layered.spacing.nodeNodeBetweenLayers': '36',
    'elk.spacing.nodeNode': '24',
    'elk.spacing.edgeLabel': '3',
    'elk.spacing.edgeEdge': '10',
  };
}

function stateLines(s: DiagramState, transitions: Map<string, DiagramTransition>, actions: boolean): string[] {
  const name = s.type === 'history' ? (s.history === 'deep' ? 'H*' : 'H') : s.key;
  const head = s.type === 'parallel' ? `${name} (parallel)` : name;
  return [head, ...s.internal.map((id) => labelWithActions(transitions.get(id)!, actions))];
}

// Hundredths of a pixel: plenty for drawing, and the JSON stays short.
const round = (v: number) => Math.round(v * 100) / 100;
const boxOf = (s: { x?: number; y?: number; width?: number; height?: number }): Box => ({
  x: round(s.x ?? 0),
  y: round(s.y ?? 0),
  width: round(s.width ?? 0),
  height: round(s.height ?? 0),
});

/**
 * Lays a machine graph out with ELK's layered algorithm, hierarchy included:
 * compound states contain their children, parallel regions sit side by side
 * in their parallel state, and arrows are routed across levels. ELK is
 * deterministic, so the same machine gives the same layout.
 */
export async function layoutMachineGraph(graph: MachineGraph, options: LayoutOptions = {}): Promise<DiagramLayout> {
  const actions = options.actions === true;
  const transitions = new Map(graph.transitions.map((t) => [t.id, t]));
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  // ELK ids are positional, so nothing a state id contains can clash with them.
  const elkId = new Map(graph.states.map((s, i) => [s.id, `n${i}`]));
  const stateOf = new Map(graph.states.map((s, i) => [`n${i}`, s.id]));
  const lines: Record<string, string[]> = {};
  const nodes = new Map<string, ElkNode>();
  const perGraph = graphOptions(options);

  const build = (s: DiagramState): ElkNode => {
    const text = stateLines(s, transitions, actions);
    lines[s.id] = text;
    const head = textSize([text[0]], DIAGRAM_FONT.size);
    const rest = textSize(text.slice(1), DIAGRAM_FONT.labelSize);
    const width = Math.max(head.width, rest.width) + 2 * BOX_PADDING.x;
    const height = head.height + rest.height + 2 * BOX_PADDING.y;
    const node: ElkNode = { id: elkId.get(s.id)! };
    nodes.set(s.id, node);
    if (s.children.length === 0) {
      node.width = s.type === 'history' ? Math.max(width, height) : Math.max(width, 60);
      node.height = s.type === 'history' ? Math.max(width, height) : Math.max(height, 32);
      return node;
    }
    node.children = s.children.map((c) => build(byId.get(c)!));
    if (s.initial !== null) {
      node.children.unshift({ id: `${node.id}.initial`, width: INITIAL_DOT, height: INITIAL_DOT });
    }
    node.layoutOptions = {
      'elk.padding': `[top=${height + 4},left=12,bottom=12,right=12]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${width}, ${height + 16})`,
      ...perGraph,
    };
    return node;
  };
  const rootNode = build(byId.get(graph.root)!);

  // An edge belongs to the lowest node holding both ends, as ELK's own convention has it.
  const ancestors = (id: string): string[] => {
    const out: string[] = [];
    for (let s = byId.get(id); s; s = s.parent === null ? undefined : byId.get(s.parent)) out.push(s.id);
    return out;
  };
  const containerOf = (source: string, target: string): string | null => {
    if (source === target) return byId.get(source)!.parent;
    const up = new Set(ancestors(source));
    return ancestors(target).find((a) => up.has(a)) ?? null;
  };
  const top: ElkNode = {
    id: 'diagram',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      ...perGraph,
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
    },
    children: [rootNode],
    edges: [],
  };
  const edgeInfo = new Map<string, { transitions: string[]; source: string; target: string; lines: string[] }>();
  const addEdge = (container: string | null, edge: ElkExtendedEdge) => {
    const holder = container === null ? top : nodes.get(container)!;
    (holder.edges ??= []).push(edge);
  };
  for (const s of graph.states) {
    if (s.initial === null) continue;
    const id = `i${edgeInfo.size}`;
    edgeInfo.set(id, { transitions: [], source: s.id, target: s.initial, lines: [] });
    addEdge(s.id, { id, sources: [`${elkId.get(s.id)}.initial`], targets: [elkId.get(s.initial)!] });
  }
  const arrows = new Map<string, { transitions: string[]; source: string; target: string; lines: string[] }>();
  for (const t of graph.transitions) {
    for (const target of t.targets) {
      const key = options.separateArrows ? `${t.id}\u0000${target}` : `${t.source}\u0000${target}`;
      const arrow = arrows.get(key) ?? { transitions: [], source: t.source, target, lines: [] };
      arrows.set(key, arrow);
      arrow.transitions.push(t.id);
      arrow.lines.push(labelWithActions(t, actions));
    }
  }
  for (const arrow of arrows.values()) {
    const id = `e${edgeInfo.size}`;
    edgeInfo.set(id, arrow);
    const size = textSize(arrow.lines, DIAGRAM_FONT.labelSize);
    addEdge(containerOf(arrow.source, arrow.target), {
      id,
      sources: [elkId.get(arrow.source)!],
      targets: [elkId.get(arrow.target)!],
      labels: [{ text: arrow.lines.join('\n'), width: size.width + 6, height: size.height + 2 }],
    });
  }

  const laid = await new ELK().layout(top);

  const states: Record<string, Box> = {};
  const initials: Record<string, Box> = {};
  const walk = (n: ElkNode) => {
    const box = boxOf(n);
    if (n.id.endsWith('.initial')) initials[stateOf.get(n.id.slice(0, -'.initial'.length))!] = box;
    else if (stateOf.has(n.id)) states[stateOf.get(n.id)!] = box;
    for (const c of n.children ?? []) walk(c);
  };
  walk(laid);
  const routed = new Map<string, LaidOutEdge>();
  const collect = (n: ElkNode) => {
    for (const e of n.edges ?? []) {
      const { lines, ...ends } = edgeInfo.get(e.id)!;
      const points: Point[] = [];
      for (const section of e.sections ?? []) {
        for (const q of [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]) {
          const p = { x: round(q.x), y: round(q.y) };
          const last = points.at(-1);
          if (!last || last.x !== p.x || last.y !== p.y) points.push(p);
        }
      }
      const l = e.labels?.[0];
      routed.set(e.id, {
        ...ends,
        points,
        label: lines.length === 0 || !l ? null : { lines, ...boxOf(l) },
      });
    }
    for (const c of n.children ?? []) collect(c);
  };
  collect(laid);
  // Initial arrows first, then transitions in the graph's order, whichever node ELK filed them under.
  const edges = [...edgeInfo.keys()].map((id) => routed.get(id)!);
  return { graph, width: round(laid.width ?? 0), height: round(laid.height ?? 0), states, initials, edges, lines };
}
