import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { main } from '../system/cli.js';
import { nodeCommand } from '../system/nodeCommand.js';
import { freePorts, until } from './helpers/realTime.js';

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
      ['simulate', '--trace', tmpdir()],
      ['simulate', '--trace', '/no/such/folder/'],
      ['simulate', '--seeds', '1-2', '--trace-dir', fileURLToPath(import.meta.url)],
      ['simulate', '--nodes', '0'],
      ['simulate', '--nodes', '100000', '--duration', '1s'],
      ['simulate', '--rate', '1e9', '--duration', '1s'],
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

  it('cluster up keeps a directory\'s founding nodes: another --nodes is refused before anything starts (it would change the voters outside the log)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-cli-'));
    try {
      const nodes = Object.fromEntries(['n1', 'n2', 'n3'].map((id, i) => [id, { address: `127.0.0.1:${17001 + i}`, log: join(dir, 'logs', `${id}.log`) }]));
      writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ nodes: { ...nodes, n9: { address: '127.0.0.1:17009' } }, tls: join(dir, 'tls'), client: 'admin' }));
      const c = capture();
      expect(await main(['cluster', 'up', '--nodes', '5', '--dir', dir], c.io)).toBe(2);
      expect(c.err[0]).toMatch(/was made with 3 nodes; start it again with --nodes 3, and add a node through 'grey member add'/);
      expect(existsSync(join(dir, 'tls'))).toBe(false); // refused before certificates or processes
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a node that cannot start (its port is taken) says why in one line and exits 1, without a stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-cli-'));
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    try {
      expect(await main(['certs', '--dir', join(dir, 'tls'), '--nodes', 'n1'], capture().io)).toBe(0);
      const c = capture();
      const code = await main(['node', '--id', 'n1', '--listen', `127.0.0.1:${port}`, '--peers', `n1=127.0.0.1:${port}`, '--data', join(dir, 'data'), '--tls', join(dir, 'tls', 'n1'), '--log-level', 'error'], c.io);
      expect(code).toBe(1);
      expect(c.err).toHaveLength(2);
      expect(c.err[0]).toMatch(/^grey: .*EADDRINUSE/);
      expect(c.err.join('\n')).not.toMatch(/\n\s+at /);
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a handlers module that does not load is named with the line at fault, and nothing starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-cli-'));
    try {
      expect(await main(['certs', '--dir', join(dir, 'tls'), '--nodes', 'n1'], capture().io)).toBe(0);
      const handlers = join(dir, 'handlers.mjs');
      writeFileSync(handlers, 'export function ok() { return 1; }\nexport function bad( { ;\n');
      const c = capture();
      const code = await main(['node', '--id', 'n1', '--listen', '127.0.0.1:1', '--data', join(dir, 'data'), '--tls', join(dir, 'tls', 'n1'), '--handlers', handlers], c.io);
      expect(code).toBe(1);
      expect(c.err[0]).toBe(`grey: --handlers: ${handlers}:2: Unexpected token ';'`);
      expect(existsSync(join(dir, 'data'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a node started twice under one id: the peer keeps the later-started one, and the first logs (an error) that another process runs as it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-cli-'));
    const base = await freePorts(3);
    const [p1, p2, p3] = [base, base + 1, base + 2];
    const signals = new EventEmitter();
    const runs: Promise<number>[] = [];
    const logs: Record<string, Array<{ level: string; msg: string; peer?: string; reason?: string }>> = { first: [], n2: [], second: [] };
    const start = (name: string, args: string[]) => {
      const io = { out: (l: string) => logs[name].push(JSON.parse(l)), err: (l: string) => logs[name].push({ level: 'stderr', msg: l }) };
      runs.push(nodeCommand([...args, '--heartbeat', '20', '--election-timeout', '150-300', '--log-level', 'info'], io, signals));
    };
    try {
      expect(await main(['certs', '--dir', join(dir, 'tls'), '--nodes', 'n1,n2'], capture().io)).toBe(0);
      const a1 = `127.0.0.1:${p1}`;
      const a2 = `127.0.0.1:${p2}`;
      start('n2', ['--id', 'n2', '--listen', a2, '--peers', `n1=${a1}`, '--data', join(dir, 'n2'), '--tls', join(dir, 'tls', 'n2')]);
      start('first', ['--id', 'n1', '--listen', a1, '--peers', `n2=${a2}`, '--data', join(dir, 'n1'), '--tls', join(dir, 'tls', 'n1')]);
      await until(() => logs.n2.some((l) => l.msg === 'role' && (l as { leader?: string }).leader !== null), 'n1 and n2 elect a leader');
      // The same id and certificate, started again elsewhere (another port, another data directory).
      start('second', ['--id', 'n1', '--listen', `127.0.0.1:${p3}`, '--peers', `n2=${a2}`, '--data', join(dir, 'n1-copy'), '--tls', join(dir, 'tls', 'n1')]);
      const refused = await until(() => logs.first.find((l) => l.msg === 'connection refused'), 'the first n1 is refused', 15_000);
      expect(refused).toMatchObject({ level: 'error', peer: 'n2', code: 'superseded', byPeer: true });
      expect(refused.reason).toMatch(/^handshake refused by n2: another process runs as n1, started later \(incarnation [\w-]+, connected here; this one is [\w-]+\)/);
      // Said once, however often the dial is retried.
      expect(logs.first.filter((l) => l.msg === 'connection refused' && l.reason === refused.reason)).toHaveLength(1);
    } finally {
      signals.emit('SIGTERM');
      await Promise.all(runs);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('help prints usage', async () => {
    const c = capture();
    expect(await main(['help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('grey models');
  });
});
