import type { DiagramState } from './graph.js';
import { BOX_PADDING, DIAGRAM_FONT, type Box, type DiagramLayout, type Point } from './layout.js';

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const n = (x: number) => String(Math.round(x * 10) / 10);

const STYLE = `
  .state > rect { fill: #ffffff; stroke: #3b4252; stroke-width: 1.2; }
  .state.compound > rect, .state.parallel > rect { fill: #f4f6f9; }
  .state.root > rect { fill: #fbfcfd; stroke-width: 1.5; }
  .state.region > rect { fill: none; stroke-dasharray: 6 4; stroke: #7b8494; }
  .state.final > rect.inner { fill: none; }
  .state.history > circle { fill: #ffffff; stroke: #3b4252; }
  .state text { fill: #1f2328; font-size: ${DIAGRAM_FONT.size}px; }
  .state text.name { font-weight: 600; }
  .state text.internal { font-size: ${DIAGRAM_FONT.labelSize}px; fill: #4a5160; }
  .state line.divider { stroke: #c5cad3; }
  .initial { fill: #1f2328; }
  .edge path { fill: none; stroke: #5c6370; stroke-width: 1.2; }
  .edge.initial-arrow path { stroke: #1f2328; }
  .edge rect { fill: #ffffff; fill-opacity: 0.85; }
  .edge text { fill: #1f2328; font-size: ${DIAGRAM_FONT.labelSize}px; }
`;

/** Where the baseline of a line of text sits so that the text is centred in its line box. */
const baseline = (lineTop: number, size: number) => lineTop + (size * DIAGRAM_FONT.lineHeight) / 2 + size * 0.35;

function stateSvg(s: DiagramState, box: Box, lines: string[]): string[] {
  const classes = ['state', s.type];
  if (s.parent === null) classes.push('root');
  if (s.region) classes.push('region');
  const out = [`<g class="${classes.join(' ')}" data-state="${xmlEscape(s.id)}">`, `<title>${xmlEscape(s.id)}</title>`];
  const { x, y, width, height } = box;
  if (s.type === 'history') {
    out.push(`<circle cx="${n(x + width / 2)}" cy="${n(y + height / 2)}" r="${n(Math.min(width, height) / 2)}"/>`);
    out.push(`<text class="name" x="${n(x + width / 2)}" y="${n(baseline(y + (height - DIAGRAM_FONT.size * DIAGRAM_FONT.lineHeight) / 2, DIAGRAM_FONT.size))}" text-anchor="middle">${xmlEscape(lines[0])}</text>`);
    out.push('</g>');
    return out;
  }
  out.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(width)}" height="${n(height)}" rx="8" ry="8"/>`);
  if (s.type === 'final') out.push(`<rect class="inner" x="${n(x + 3)}" y="${n(y + 3)}" width="${n(width - 6)}" height="${n(height - 6)}" rx="6" ry="6"/>`);
  const atomic = s.children.length === 0;
  const headHeight = DIAGRAM_FONT.size * DIAGRAM_FONT.lineHeight;
  const restHeight = (lines.length - 1) * DIAGRAM_FONT.labelSize * DIAGRAM_FONT.lineHeight;
  // A simple state centres its text block; a composite one keeps it at the top, above its children.
  const top = atomic ? y + (height - headHeight - restHeight) / 2 : y + BOX_PADDING.y;
  const nameX = atomic ? x + width / 2 : x + BOX_PADDING.x;
  out.push(`<text class="name" x="${n(nameX)}" y="${n(baseline(top, DIAGRAM_FONT.size))}"${atomic ? ' text-anchor="middle"' : ''}>${xmlEscape(lines[0])}</text>`);
  if (lines.length > 1) {
    const dividerY = top + headHeight + 1;
    if (atomic) out.push(`<line class="divider" x1="${n(x + 4)}" y1="${n(dividerY)}" x2="${n(x + width - 4)}" y2="${n(dividerY)}"/>`);
    lines.slice(1).forEach((line, i) => {
      const lineTop = top + headHeight + i * DIAGRAM_FONT.labelSize * DIAGRAM_FONT.lineHeight;
      out.push(`<text class="internal" x="${n(x + BOX_PADDING.x)}" y="${n(baseline(lineTop, DIAGRAM_FONT.labelSize))}">${xmlEscape(line)}</text>`);
    });
  }
  out.push('</g>');
  return out;
}

const pathOf = (points: Point[]) => points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(p.x)},${n(p.y)}`).join(' ');

/**
 * Draws a laid-out machine as a standalone SVG document: states as rounded
 * rectangles (a final state with a double border, a parallel state's regions
 * dashed) drawn parents first so that compound states contain their
 * children, each compound state's initial dot, and every arrow along ELK's
 * route with an arrowhead and its label on a light backing. Targetless
 * transitions are listed inside their state under its name.
 */
export function toSvg(layout: DiagramLayout): string {
  const { graph } = layout;
  const width = Math.ceil(layout.width);
  const height = Math.ceil(layout.height);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${xmlEscape(DIAGRAM_FONT.family)}" data-machine="${xmlEscape(graph.machine)}">`,
    `<title>${xmlEscape(graph.machine)}</title>`,
    '<defs>',
    '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5c6370"/></marker>',
    `<style>${STYLE}</style>`,
    '</defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  for (const s of graph.states) {
    const box = layout.states[s.id];
    if (!box) continue;
    out.push(...stateSvg(s, box, layout.lines[s.id]));
    const dot = layout.initials[s.id];
    if (dot) out.push(`<circle class="initial" cx="${n(dot.x + dot.width / 2)}" cy="${n(dot.y + dot.height / 2)}" r="${n(dot.width / 2)}"/>`);
  }
  for (const e of layout.edges) {
    if (e.points.length < 2) continue;
    const initial = e.transitions.length === 0;
    const data = initial ? `data-initial="${xmlEscape(e.source)}"` : `data-transitions="${xmlEscape(e.transitions.join(' '))}"`;
    out.push(`<g class="${initial ? 'edge initial-arrow' : 'edge'}" ${data}>`);
    out.push(`<path d="${pathOf(e.points)}" marker-end="url(#arrow)"/>`);
    if (e.label) {
      const l = e.label;
      const lineHeight = DIAGRAM_FONT.labelSize * DIAGRAM_FONT.lineHeight;
      out.push(`<rect x="${n(l.x)}" y="${n(l.y)}" width="${n(l.width)}" height="${n(l.height)}" rx="2" ry="2"/>`);
      l.lines.forEach((line, i) => {
        const y = baseline(l.y + 1 + i * lineHeight, DIAGRAM_FONT.labelSize);
        out.push(`<text x="${n(l.x + l.width / 2)}" y="${n(y)}" text-anchor="middle">${xmlEscape(line)}</text>`);
      });
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
