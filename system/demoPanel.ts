import { TASK_STATUSES } from '../machines/taskLifecycle.js';
import type { Cluster } from './cluster.js';

/** Where the panel writes: a terminal (redrawn in place) or anything else (plain lines). */
export interface PanelOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * The demo's live view: a log that scrolls, and under it a panel that
 * shows the cluster now: each node's role, term and commit index, the
 * replicated tasks by state, and a progress bar over the demo's sections.
 * On a terminal the panel is redrawn in place after every line (and the
 * run is paced so a person can follow it); elsewhere (a pipe, CI) it is
 * printed as plain lines at the end of each section.
 */
export class DemoPanel {
  private drawn = 0;
  private section = 0;
  private title = '';
  readonly live: boolean;

  constructor(
    private readonly cluster: Cluster,
    private readonly out: PanelOutput,
    private readonly sections: number,
    private readonly now: () => number,
  ) {
    this.live = out.isTTY === true;
  }

  /** A log line, above the panel. */
  log(line: string): void {
    this.erase();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Starts the next section: its heading, and one more step on the progress bar. */
  begin(title: string): void {
    if (this.section > 0 && !this.live) this.printPanel();
    this.section++;
    this.title = title;
    this.log(`\n── ${title}`);
  }

  /** Ends the demo: the panel's last state stays on screen, as plain lines. */
  finish(): void {
    this.erase();
    this.section = this.sections;
    this.printPanel();
  }

  /** The panel's lines, as they would be drawn now. */
  lines(): string[] {
    const c = this.cluster;
    // A terminal's width; a pipe has none, and nothing is cut.
    const width = this.out.columns ? Math.max(40, this.out.columns) : Number.POSITIVE_INFINITY;
    const done = Math.min(this.section, this.sections);
    const barWidth = 20;
    const filled = Math.round((done / this.sections) * barWidth);
    const bar = `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${done}/${this.sections}`;
    const head = `t=${String(Math.round(this.now())).padStart(6)}ms  ${bar}  ${this.title}`;
    const nodes = c.ids
      .map((id) => {
        if (!c.isUp(id)) return `${id} down`;
        const r = c.node(id).raft;
        return `${id} ${r.currentRole} t${r.currentTerm} c${r.commitIndex}`;
      })
      .join(' │ ');
    const leader = c.leader();
    const counts = new Map<string, number>(TASK_STATUSES.map((s) => [s, 0]));
    if (leader) for (const t of leader.state.tasks()) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
    const held = [...counts].filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`);
    const tasks = leader ? `tasks: ${held.length > 0 ? held.join(' · ') : 'none yet'} (the leader's replicated table)` : 'tasks: no leader to ask';
    return [head, nodes, tasks].map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
  }

  private printPanel(): void {
    const rule = '·'.repeat(Math.min(60, this.out.columns ?? 60));
    this.out.write(`${rule}\n${this.lines().map((l) => `  ${l}`).join('\n')}\n${rule}\n`);
  }

  private draw(): void {
    if (!this.live) return;
    const lines = this.lines();
    this.out.write(`\x1b[7m${lines[0]}\x1b[0m\n${lines.slice(1).join('\n')}\n`);
    this.drawn = lines.length;
  }

  private erase(): void {
    if (!this.live || this.drawn === 0) return;
    // Up over the panel, then clear to the end of the screen.
    this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }
}
