/**
 * The operator's command line: `grey cluster up` starts a local cluster of
 * processes with fresh certificates, `grey status` shows it, `grey cluster
 * down` drains and stops it; usage errors are one line and a hint.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';
import { freePorts } from './helpers/realTime.js';
import { isProcessAlive } from '../system/processAlive.js';
import { isNodeOf } from '../system/dataDirHolder.js';

const dir = join(mkdtempSync(join(tmpdir(), 'grey-cli-')), '.grey');
afterAll(async () => {
  await main(['cluster', 'down', '--dir', dir], { out: () => {}, err: () => {} }).catch(() => 0);
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}


describe('grey cluster up, status, down', () => {
  it('starts three node processes with fresh certificates, shows a leader, and stops them all', async () => {
    const base = await freePorts(6); // n1–n3, then their HTTP APIs
    const apiBase = base + 3; // the nodes' HTTP APIs
    const up = await run(['cluster', 'up', '--nodes', '3', '--dir', dir, '--base-port', String(base), '--api-port', String(apiBase)]);
    expect(up.code, up.err.join('\n')).toBe(0);
    expect(up.out.join('\n')).toMatch(/leader/);
    const cluster = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: Record<string, { pid: number }> };
    const pids = Object.values(cluster.nodes).map((n) => n.pid);
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow();

    const again = await run(['cluster', 'up', '--dir', dir]);
    expect(again.code).toBe(1); // not a usage mistake: the cluster runs
    expect(again.err[0]).toMatch(/a cluster runs from .* already/);

    const status = await run(['status', '--dir', dir, '--json']);
    expect(status.code).toBe(0);
    const rows = JSON.parse(status.out.join('\n')) as Array<{ node: string; role: string; term: number }>;
    expect(rows.filter((r) => r.role === 'leader')).toHaveLength(1);
    // Endpoints of its own, with the directory's operator certificate (no --tls).
    const one = await run(['status', '--endpoints', `n1=127.0.0.1:${base}`, '--dir', dir, '--json']);
    expect(one.code, one.err.join('\n')).toBe(0);
    expect((JSON.parse(one.out.join('\n')) as Array<{ node: string }>).map((r) => r.node)).toEqual(['n1']);

    // Each node's HTTPS API, as curl would use it: the server's certificate checked for 127.0.0.1, the operator's presented.
    const tls = (f: string) => readFileSync(join(dir, 'tls', 'admin', f), 'utf8');
    const api = (port: number, method: string, path: string, body?: unknown) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, ca: tls('ca.pem'), cert: tls('cert.pem'), key: tls('key.pem'), headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    const followerPort = apiBase + rows.findIndex((r) => r.role !== 'leader');
    expect(await api(followerPort, 'PUT', '/v1/kv/greeting', { value: 'hello' })).toMatchObject({ status: 200, body: { revision: expect.any(Number) } });
    expect(await api(apiBase, 'GET', '/v1/kv/greeting')).toMatchObject({ status: 200, body: { value: 'hello' } });
    const submitted = await api(followerPort, 'POST', '/v1/tasks', { type: 'nobodyRunsThis' });
    expect(submitted).toMatchObject({ status: 201, body: { taskId: expect.any(String) } });
    expect(await api(apiBase + 2, 'GET', `/v1/tasks/${submitted.body.taskId as string}`)).toMatchObject({ status: 200, body: { id: submitted.body.taskId, status: expect.any(String) } });

    // n3 dies: cluster up starts it again as it was (same address, API port), and leaves the others be.
    process.kill(pids[2], 'SIGKILL');
    while (isProcessAlive(pids[2])) await new Promise((r) => setTimeout(r, 20));
    const partial = await run(['cluster', 'up', '--dir', dir, '--nodes', '3']);
    expect(partial.code).toBe(2);
    expect(partial.err[0]).toMatch(/runs in part \(n1, n2\): 'grey cluster up --dir .*' starts the others as they were, without --nodes/);
    const restarted = await run(['cluster', 'up', '--dir', dir]);
    expect(restarted.code, restarted.err.join('\n')).toBe(0);
    expect(restarted.out[0]).toMatch(/^started n3 again from .* \(n1, n2 ran already/);
    const after = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: Record<string, { pid: number; address: string }> };
    const n3 = after.nodes.n3.pid;
    expect(n3).not.toBe(pids[2]);
    expect(isProcessAlive(n3)).toBe(true);
    expect([after.nodes.n1.pid, after.nodes.n2.pid]).toEqual(pids.slice(0, 2));
    expect(after.nodes.n3.address).toBe(`127.0.0.1:${base + 2}`);
    expect(await api(apiBase + 2, 'GET', '/v1/kv/greeting')).toMatchObject({ status: 200, body: { value: 'hello' } });

    // n1 dies and an operator starts it again by hand, with the same command: a pid cluster.json never saw.
    const argv = readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
    process.kill(pids[0], 'SIGKILL');
    while (isProcessAlive(pids[0])) await new Promise((r) => setTimeout(r, 20));
    const byHand = spawn(argv[0], argv.slice(1), { detached: true, stdio: 'ignore', cwd: process.cwd() });
    byHand.unref();
    const lock = join(dir, 'data', 'n1', 'grey.lock');
    const holds = () => existsSync(lock) && Number(readFileSync(lock, 'utf8').trim()) === byHand.pid;
    for (const t0 = Date.now(); !holds() && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 50));
    expect(holds()).toBe(true);

    const down = await run(['cluster', 'down', '--dir', dir]);
    expect(down.code).toBe(0);
    expect(down.out[0]).toMatch(/stopped 3 nodes/);
    for (const pid of [...pids, n3, byHand.pid!]) expect(isProcessAlive(pid)).toBe(false);
    const log = readFileSync(join(dir, 'logs', 'n2.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['started', 'draining', 'drained', 'stopped']));
  }, 60_000);

  it('cluster down lets the tasks the nodes run finish first, while every node is up to commit what they report', async () => {
    const other = join(dir, '..', 'draining');
    const handlers = join(dir, '..', 'slow.mjs');
    writeFileSync(handlers, 'export async function slow() { await new Promise((r) => setTimeout(r, 1500)); return "done"; }\n');
    const base = await freePorts(6);
    const up = ['cluster', 'up', '--nodes', '3', '--dir', other, '--base-port', String(base), '--api-port', String(base + 3), '--handlers', handlers];
    try {
      expect((await run(up)).code).toBe(0);
      const admin = (f: string) => readFileSync(join(other, 'tls', 'admin', f), 'utf8');
      const api = (method: string, path: string, body?: unknown) =>
        new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: base + 3, method, path, ca: admin('ca.pem'), cert: admin('cert.pem'), key: admin('key.pem'), headers: { 'content-type': 'application/json' } }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
          });
          req.on('error', reject);
          req.end(body === undefined ? undefined : JSON.stringify(body));
        });
      const { body } = await api('POST', '/v1/tasks', { type: 'slow' });
      const taskId = body.taskId as string;
      for (const t0 = Date.now(); (await api('GET', `/v1/tasks/${taskId}`)).body.status !== 'running' && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 50));
      expect((await api('GET', `/v1/tasks/${taskId}`)).body.status).toBe('running');
      const down = await run(['cluster', 'down', '--dir', other]);
      expect(down.err).toEqual([]); // every worker marked draining (an operator may)
      expect(down.out[0]).toBe('waiting for 1 task the nodes hold to finish (up to 10 s)');
      expect(down.out[1]).toMatch(/^stopped 3 nodes; data/);
      // Started again, the cluster has it completed, on its first attempt: it was not handed back and run again.
      expect((await run(up)).code).toBe(0);
      expect((await api('GET', `/v1/tasks/${taskId}`)).body).toMatchObject({ status: 'completed', attempt: 1, result: 'done' });
    } finally {
      await run(['cluster', 'down', '--dir', other]);
    }
  }, 90_000);

  it('fails when a node exits while the cluster comes up, names it with the line it logged, and cluster down stops the rest', async () => {
    const base = await freePorts(3);
    const other = join(dir, '..', 'busy');
    // Something else holds n2's port.
    const squatter = createServer((socket) => socket.destroy()); // (n1 and n3 dial it: hang up, or close() would wait on them)
    await new Promise<void>((r) => squatter.listen(base + 1, '127.0.0.1', r));
    try {
      const up = await run(['cluster', 'up', '--nodes', '3', '--dir', other, '--base-port', String(base), '--api-port', String(base + 3)]);
      expect(up.code).toBe(1);
      expect(up.out.join('\n')).not.toMatch(/^started/m);
      expect(up.err[0]).toMatch(/^grey: n2 exited at start \(code 1\): .*in use/);
      expect(up.err.at(-1)).toMatch(/grey cluster down --dir/);
      const down = await run(['cluster', 'down', '--dir', other]);
      expect(down.out[0]).toMatch(/stopped 2 nodes/);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  }, 60_000);

  it('takes a pid for a node of a data directory only if that process runs with --data on it (a stale pid may be another program)', async () => {
    const spawnWith = (...args: string[]) => spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', ...args], { stdio: 'ignore' });
    const spaced = spawnWith('node', '--data', 'somewhere/n1');
    const joined = spawnWith('node', '--data=/elsewhere/n2');
    const other = spawnWith('unrelated');
    const shows = (pid: number, arg: string) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(arg);
      } catch {
        return false;
      }
    };
    try {
      // /proc shows a child's arguments once it has exec'd node: wait for that.
      const ready = () => shows(spaced.pid!, 'somewhere/n1') && shows(joined.pid!, '--data=/elsewhere/n2') && shows(other.pid!, 'unrelated');
      for (const t0 = Date.now(); !ready() && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 10));
      expect(ready()).toBe(true);
      expect(isNodeOf(spaced.pid!, join(process.cwd(), 'somewhere', 'n1'))).toBe(true); // relative to the process's folder
      expect(isNodeOf(spaced.pid!, '/somewhere/n1')).toBe(false);
      expect(isNodeOf(joined.pid!, '/elsewhere/n2')).toBe(true);
      expect(isNodeOf(other.pid!, '/elsewhere/n2')).toBe(false);
      expect(isNodeOf(process.pid, '/anything')).toBe(false);
    } finally {
      for (const p of [spaced, joined, other]) p.kill();
    }
  });

  it('grey certs refuses to make a new CA beside a CA certificate whose key is gone (the cluster would trust nothing it issued), and reuses a CA that is whole', async () => {
    const tls = join(dir, '..', 'tls-ca');
    expect((await run(['certs', '--dir', tls, '--nodes', 'n1'])).code).toBe(0);
    const caPem = readFileSync(join(tls, 'ca.pem'), 'utf8');
    const again = await run(['certs', '--dir', tls, '--nodes', 'n2']);
    expect(again.code).toBe(0);
    expect(again.out.join('\n')).not.toMatch(/^CA/m);
    expect(readFileSync(join(tls, 'n2', 'ca.pem'), 'utf8')).toBe(caPem);
    rmSync(join(tls, 'ca.key'));
    const keyless = await run(['certs', '--dir', tls, '--nodes', 'n3']);
    expect(keyless.code).toBe(1);
    expect(keyless.err[0]).toMatch(/ca\.pem is there but .*ca\.key is not: certificates issued now would come from a new CA that the cluster does not trust/);
    expect(readFileSync(join(tls, 'ca.pem'), 'utf8')).toBe(caPem);
    expect(existsSync(join(tls, 'n3'))).toBe(false);

    // A TLS folder whose files do not fit together is named, file and fault, before anything connects.
    writeFileSync(join(tls, 'n2', 'key.pem'), readFileSync(join(tls, 'n1', 'key.pem')));
    const mismatched = await run(['status', '--endpoints', 'n2=127.0.0.1:1', '--tls', join(tls, 'n2')]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.err[0]).toMatch(/^grey: --tls: .*n2\/key\.pem is not the key of the certificate beside it/);
    writeFileSync(join(tls, 'n2', 'cert.pem'), 'garbage');
    const garbage = await run(['status', '--endpoints', 'n2=127.0.0.1:1', '--tls', join(tls, 'n2')]);
    expect(garbage.err[0]).toMatch(/^grey: --tls: .*n2\/cert\.pem is not a PEM certificate/);
  });

  it('refuses bad input with one line and a hint', async () => {
    for (const argv of [
      ['node', '--id', 'n1'],
      ['node', '--id', 'n1', '--listen', 'nowhere', '--data', 'd', '--tls', 't'],
      ['status'],
      ['certs', '--dir', join(dir, 'x')],
      ['certs', '--dir', join(dir, 'x'), '--nodes', 'bad name'],
      ['certs', '--dir', join(dir, 'x'), '--nodes', '../outside'],
      ['certs', '--dir', join(dir, 'x'), '--nodes', 'n1,n1'],
      ['certs', '--dir', join(dir, 'x'), '--nodes', 'n1', '--clients', 'n1'],
      ['cluster', 'sideways'],
      ['node', '--id', 'n1', '--listen', '127.0.0.1:1', '--data', 'd', '--tls', join(dir, 'missing')],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toHaveLength(2);
      expect(r.err[1]).toMatch(/grey help/);
    }
  });
});
