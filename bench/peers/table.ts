/** The peers benchmark's one table: fixed-width columns, wrapped notes. */

export interface Row {
  workload: string;
  system: string;
  value: string;
  ratio: string;
  target: string;
  includes: string;
}

const HEAD: Row = { workload: 'workload', system: 'system', value: 'result', ratio: 'Grey ÷ peer', target: 'target', includes: 'what the number includes' };

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || out.length === 0) out.push(line);
  return out;
}

/** Renders rows as a table; the last column wraps at `notesWidth`. */
export function renderTable(rows: readonly Row[], notesWidth = 64): string {
  const cols: Array<keyof Row> = ['workload', 'system', 'value', 'ratio', 'target'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[HEAD, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
  const lines: string[] = [];
  const emit = (r: Row) => {
    const notes = wrap(r.includes, notesWidth);
    notes.forEach((n, i) => {
      const cells = cols.map((c) => (i === 0 ? r[c] : '').padEnd(width[c]));
      lines.push(`${cells.join(' │ ')} │ ${n}`.trimEnd());
    });
  };
  emit(HEAD);
  lines.push(cols.map((c) => '─'.repeat(width[c])).join('─┼─') + '─┼─' + '─'.repeat(notesWidth));
  let last = '';
  for (const r of rows) {
    if (last && r.workload && r.workload !== last) lines.push(cols.map((c) => '─'.repeat(width[c])).join('─┼─') + '─┼─' + '─'.repeat(notesWidth));
    if (r.workload) last = r.workload;
    emit(r);
  }
  return lines.join('\n');
}

/** 12,345 */
export const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
/** 1.23× */
export const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');
