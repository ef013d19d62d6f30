import type { AnyStateMachine } from 'xstate';
import * as greyMachines from '../../machines/index.js';
import { machineGraph, type DiagramState, type DiagramTransition } from './graph.js';
import { layoutMachineGraph, type Box, type DiagramLayout, type LaidOutEdge, type LayoutOptions } from './layout.js';
import { toMermaid } from './mermaid.js';
import { toDot } from './dot.js';
import { toSvg } from './svg.js';
import { checkMachineArgument } from '../machineArgument.js';

export * from './graph.js';
export * from './layout.js';
export { toMermaid, simpleIds, type TextDiagramOptions } from './mermaid.js';
export { toDot } from './dot.js';
export { toSvg, xmlEscape } from './svg.js';

/** The formats {@link diagramOf} writes. */
export const DIAGRAM_FORMATS = ['mermaid', 'svg', 'dot', 'json'] as const;
export type DiagramFormat = (typeof DIAGRAM_FORMATS)[number];

/** The usual file extension of each format. */
export const DIAGRAM_EXTENSIONS: Record<DiagramFormat, string> = { mermaid: '.mmd', svg: '.svg', dot: '.dot', json: '.json' };

/** Options of {@link diagramOf}. */
export interface DiagramOptions {
  /** Append `/ action, …` to every transition label (default false: trigger and guard). */
  actions?: boolean;
  /** Left to right (default) or top to bottom. */
  direction?: 'LR' | 'TB';
  /** svg and json: one arrow per transition instead of one per source and target (default false). */
  separateArrows?: boolean;
}

/** A state of the `json` format: the graph's state with its box in the layout. */
export interface DiagramJsonState extends DiagramState {
  box: Box;
  /** The initial dot of a compound state. */
  initialDot: Box | null;
  /** The text lines drawn in its box. */
  lines: string[];
}

/** What the `json` format holds: the machine graph with ELK's layout coordinates. */
export interface DiagramJson {
  machine: string;
  root: string;
  width: number;
  height: number;
  states: DiagramJsonState[];
  transitions: DiagramTransition[];
  /** The routed arrows; each carries the ids of the transitions it draws. */
  edges: LaidOutEdge[];
}

/** The `json` format of a layout. */
export function diagramJson(layout: DiagramLayout): DiagramJson {
  const { graph } = layout;
  return {
    machine: graph.machine,
    root: graph.root,
    width: layout.width,
    height: layout.height,
    states: graph.states.map((s) => ({ ...s, box: layout.states[s.id], initialDot: layout.initials[s.id] ?? null, lines: layout.lines[s.id] })),
    transitions: graph.transitions,
    edges: layout.edges,
  };
}

/**
 * Draws a statechart from its definition.
 *
 * ```ts
 * import { diagramOf, raftRole } from 'grey-distributed';
 * await diagramOf(raftRole, 'mermaid'); // stateDiagram-v2 text
 * await diagramOf(raftRole, 'svg');     // an SVG document laid out by ELK
 * ```
 *
 * - `mermaid`: a Mermaid `stateDiagram-v2` (paste it into Markdown).
 * - `dot`: Graphviz DOT text (`dot -Tpng`).
 * - `svg`: a standalone SVG drawn from ELK's layout.
 * - `json`: the graph (states, transitions) with ELK's coordinates ({@link DiagramJson}).
 *
 * Compound states contain their children, parallel regions are drawn as
 * dashed regions of their parallel state, initial states are pointed at
 * from a dot and final states have a double border. Every transition is
 * labelled with its event, its guard in brackets and, for a delayed one,
 * the delay's name (`after electionTimeout [heardFromLeader]`).
 * Targetless transitions are listed inside their state. The output depends
 * only on the machine and the options: the same machine gives the same
 * bytes.
 */
export async function diagramOf(machine: AnyStateMachine, format: DiagramFormat, options: DiagramOptions = {}): Promise<string> {
  checkMachineArgument('diagramOf', machine);
  const graph = machineGraph(machine);
  switch (format) {
    case 'mermaid':
      return toMermaid(graph, options);
    case 'dot':
      return toDot(graph, options);
    case 'svg':
    case 'json': {
      const layout = await layoutMachineGraph(graph, layoutOptionsOf(options));
      return format === 'svg' ? toSvg(layout) : `${JSON.stringify(diagramJson(layout), null, 2)}\n`;
    }
    default:
      throw new RangeError(`unknown diagram format '${String(format)}'; known: ${DIAGRAM_FORMATS.join(', ')}`);
  }
}

function layoutOptionsOf(options: DiagramOptions): LayoutOptions {
  return { actions: options.actions, direction: options.direction === 'TB' ? 'DOWN' : 'RIGHT', separateArrows: options.separateArrows };
}

/** Whether a value is an XState machine (what `createMachine` or `setup().createMachine` returns). */
export function isStateMachine(x: unknown): x is AnyStateMachine {
  return typeof x === 'object' && x !== null && typeof (x as { transition?: unknown }).transition === 'function' && typeof (x as { root?: unknown }).root === 'object';
}

/** Grey's own statecharts (every machine `machines/index.ts` exports), by machine id. */
export function greyStatecharts(): Map<string, AnyStateMachine> {
  const out = new Map<string, AnyStateMachine>();
  for (const value of Object.values(greyMachines)) if (isStateMachine(value)) out.set(value.id, value);
  return out;
}
