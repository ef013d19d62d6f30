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

  it('rejects unknown commands, options and machines with usage and exit code 2', async () => {
    for (const argv of [['frobnicate'], ['models', '--nope'], ['models', '--machine'], ['models', '--machine', 'ghost'], ['models', 'stray']]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(2);
      expect(c.err.join('\n')).toMatch(/^grey: /);
      expect(c.err.join('\n')).toContain('usage:');
    }
  });

  it('help prints usage', async () => {
    const c = capture();
    expect(await main(['help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('grey models');
  });
});
