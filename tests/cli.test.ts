import { describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('grey CLI', () => {
  it('models prints machine, states, transitions and paths, 100% for every machine', async () => {
    const c = capture();
    const code = await main(['models', '--machine', 'taskLifecycle'], c.io);
    expect(code).toBe(0);
    expect(c.out[0]).toMatch(/^machine\s+states\s+transitions\s+paths\s+steps$/);
    expect(c.out[1]).toMatch(/^taskLifecycle\s+(\d+)\/\1 \(100%\)\s+(\d+)\/\2 \(100%\)\s+\d+\s+\d+$/);
  });

  it('models --json reports coverage as data', async () => {
    const c = capture();
    expect(await main(['models', '--machine=taskLifecycle', '--json'], c.io)).toBe(0);
    const [report] = JSON.parse(c.out.join('\n'));
    expect(report.machine).toBe('taskLifecycle');
    expect(report.transitions.missing).toEqual([]);
    expect(report.paths).toBeGreaterThan(0);
  });

  it('rejects unknown commands, options and machines with one line, a hint and exit code 2', async () => {
    const bad = [
      ['frobnicate'],
      ['models', '--nope'],
      ['models', '--machine'],
      ['models', '--machine', 'ghost'],
      ['models', 'stray'],
      ['simulate', '--election-timeout', '10-20'],
      ['simulate', '--trace', '/no/such/folder/out.jsonl'],
      ['simulate', '--nodes', '0'],
      ['check'],
    ];
    for (const argv of bad) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err).toHaveLength(2);
      expect(c.err[0]).toMatch(/^grey: \S/);
      expect(c.err[1]).toBe("(run 'grey help' for usage)");
    }
  });

  it('help prints usage', async () => {
    const c = capture();
    expect(await main(['help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('grey models');
  });
});
