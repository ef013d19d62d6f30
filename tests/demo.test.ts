/**
 * `npm start`: the demo runs to its summary and explains what it shows
 * (what a frame is, which errors it injects, why a task was cancelled,
 * a quarantine's current reason); on a terminal its panel is redrawn in
 * place, elsewhere printed as plain lines.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createCluster } from '../system/cluster.js';
import { DemoPanel } from '../system/demoPanel.js';

const run = promisify(execFile);

describe('the demo (npm start)', () => {
  it('runs to its summary, explaining what it shows, the same for the same seed', async () => {
    const demo = () => run(process.execPath, ['--import', import.meta.resolve('tsx'), 'system/demo.ts'], { env: { ...process.env, GREY_SEED: '7' }, maxBuffer: 16 * 1024 * 1024 });
    const { stdout } = await demo();
    expect(stdout).not.toMatch(/\x1b\[/); // not a terminal: no escape codes
    expect(stdout).toMatch(/each rendering one frame of a video/);
    expect(stdout).toMatch(/task\.retrying \(transient storage error; injected on purpose\)/);
    expect(stdout).toMatch(/task\.cancelled \(operator cancelled\)/);
    expect(stdout).toMatch(/probation → healthy \(probation passed\)/);
    expect(stdout).not.toMatch(/→ (probation|healthy) \(phi/); // a way out of quarantine is never explained by the suspicion
    expect(stdout).toMatch(/\[█{20}\] 9\/9 {2}Summary/);
    expect(stdout).toMatch(/tasks: \d+ completed · 1 cancelled/);
    expect(stdout).toMatch(/no violation/);
    expect((await demo()).stdout).toBe(stdout);
  }, 60_000);

  it('on a terminal, redraws its panel in place under each log line', () => {
    const writes: string[] = [];
    const cluster = createCluster({ nodes: 3, seed: 1 });
    const panel = new DemoPanel(cluster, { write: (t) => writes.push(t), isTTY: true, columns: 60 }, 2, () => 0);
    panel.begin('first');
    panel.log('a line');
    const text = writes.join('');
    // Drawn under each line; before the second line it moved up over its 3 lines and cleared below.
    expect(text.split('\x1b[7m').length - 1).toBe(2);
    expect(text.split('\x1b[3A\x1b[0J').length - 1).toBe(1);
    expect(text).toContain('a line\n');
    for (const line of panel.lines()) expect(line.length).toBeLessThanOrEqual(60);
    expect(panel.lines()[0]).toMatch(/\[█{10}░{10}\] 1\/2 {2}first/);
  });
});
