/**
 * The command line of a real cluster's users and operators, against node
 * processes over mutual TLS: `grey submit --wait` runs a task through a
 * handler module and prints its result and proof, `grey watch` follows it
 * and the key-value store, `grey member add` lets a fourth `grey node
 * --join` process into the running cluster, which is then a voter in
 * `grey status`, and a client certificate is refused membership changes
 * with `Unauthorized`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';
import { connect } from '../system/embeddedNode.js';
import { readTlsDir } from '../system/nodeCommand.js';
import { freePort, freePorts, until } from './helpers/realTime.js';

const CLI = fileURLToPath(new URL('../system/cli.ts', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./fixtures/processHandlers.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'grey-client-cli-'));
const dir = join(root, '.grey');
const children = new Set<ChildProcess>();

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** The JSON objects a command printed, one a line. */
const objects = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

/** The running cluster's nodes as `--endpoints` takes them. */
function endpointsFlag(): string {
  const cluster = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: Record<string, { address: string }> };
  return Object.entries(cluster.nodes).map(([id, n]) => `${id}=${n.address}`).join(',');
}

beforeAll(async () => {
  const base = await freePorts(6); // the nodes, then their HTTP APIs
  const up = await run(['cluster', 'up', '--nodes', '3', '--dir', dir, '--base-port', String(base), '--api-port', String(base + 3), '--handlers', HANDLERS]);
  expect(up.code, up.err.join('\n')).toBe(0);
}, 30_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await main(['cluster', 'down', '--dir', dir], { out: () => {}, err: () => {} }).catch(() => 0);
  rmSync(root, { recursive: true, force: true });
});

describe('grey submit, watch and member against node processes', () => {
  it('submit --wait prints the task id, then its result and proof; watch follows it; a failing task exits 1', async () => {
    const submitted = await run(['submit', '--dir', dir, '--type', 'double', '--payload', '21', '--priority', '5', '--timeout', '5s', '--wait']);
    expect(submitted.code, submitted.err.join('\n')).toBe(0);
    const [accepted, outcome] = objects(submitted.out);
    expect(accepted).toEqual({ taskId: expect.stringMatching(/^task_/), index: expect.any(Number) });
    expect(outcome).toMatchObject({ taskId: accepted.taskId, status: 'completed', result: 42, proof: { taskId: accepted.taskId, attempt: 1, resultHash: expect.stringMatching(/^[0-9a-f]{64}$/) } });

    // Its events until the final one: a finished task shows its final state at once.
    const watched = await run(['watch', '--dir', dir, String(accepted.taskId)]);
    expect(watched.code, watched.err.join('\n')).toBe(0);
    expect(objects(watched.out).at(-1)).toMatchObject({ type: 'task.completed', taskId: accepted.taskId, result: 42 });

    // Without --wait: the id only. Then a watch from while it may still run, to its end.
    const later = await run(['submit', '--dir', dir, '--type', 'double', '--payload', '5']);
    expect(later.code).toBe(0);
    expect(later.out).toHaveLength(1);
    const { taskId } = JSON.parse(later.out[0]) as { taskId: string };
    const followed = await run(['watch', '--dir', dir, taskId]);
    expect(followed.code).toBe(0);
    expect(objects(followed.out).at(-1)).toMatchObject({ type: 'task.completed', taskId, result: 10 });

    // A type no worker has a handler for fails its attempt: printed, exit 1.
    const failing = await run(['submit', '--dir', dir, '--type', 'noSuchHandler', '--retries', '0', '--wait']);
    expect(failing.code).toBe(1);
    expect(objects(failing.out)[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/no handler/) });
    expect(failing.err[0]).toMatch(/failed/);
    const unknown = await run(['watch', '--dir', dir, 'task_nothing']);
    expect(unknown.code).toBe(1);
    expect(unknown.err[0]).toMatch(/TaskNotFound/);
  }, 25_000);

  it('watch --kv follows the changes under a prefix while another process with the same certificate writes', async () => {
    const endpoints = Object.fromEntries(endpointsFlag().split(',').map((p) => p.split('=') as [string, string]));
    const writer = connect({ endpoints, tls: readTlsDir(join(dir, 'tls', 'admin')), timeoutMs: 10_000 });
    try {
      const { revision } = await writer.put('cfg/colour', 'grey');
      await writer.put('other/key', 1);
      // From the first put: replayed, then followed as the writer goes on.
      const watching = run(['watch', '--dir', dir, '--kv', 'cfg/', '--prefix', '--from', String(revision), '--limit', '3', '--poll', '20ms']);
      await writer.put('cfg/size', { w: 800 });
      await writer.delete('cfg/colour');
      const watched = await watching;
      expect(watched.code, watched.err.join('\n')).toBe(0);
      expect(objects(watched.out)).toEqual([
        { revision, key: 'cfg/colour', type: 'put', value: 'grey' },
        { revision: expect.any(Number), key: 'cfg/size', type: 'put', value: { w: 800 } },
        { revision: expect.any(Number), key: 'cfg/colour', type: 'delete' },
      ]);
    } finally {
      await writer.close();
    }
  }, 20_000);

  it('member add lets a fourth grey node --join process into the cluster; promoted, it is a voter in grey status; a client certificate is Unauthorized', async () => {
    const certs = await run(['certs', '--dir', join(dir, 'tls'), '--nodes', 'n4', '--clients', 'app']);
    expect(certs.code, certs.err.join('\n')).toBe(0);
    const peers = endpointsFlag();
    const address = `127.0.0.1:${await freePort()}`;
    const n4 = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'node', '--id', 'n4', '--listen', address, '--join', '--peers', peers, '--data', join(dir, 'data', 'n4'), '--tls', join(dir, 'tls', 'n4'), '--handlers', HANDLERS, '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.add(n4);

    // n4 asks to join itself, through the join handshake (its certificate, a challenge, software attestation): pending approval.
    const pending = await until(async () => {
      const listed = await run(['member', 'list', '--json', '--endpoints', peers, '--tls', join(dir, 'tls', 'app')]);
      const n = listed.code === 0 ? (JSON.parse(listed.out[0]) as Array<{ node: string; status: string; identity?: { trust: string } }>).find((m) => m.node === 'n4') : undefined;
      return n?.status === 'pendingApproval' ? n : undefined;
    }, 'n4 pending approval', 20_000);
    expect(pending.identity?.trust).toBe('software');
    // A client certificate may read the members, not approve them.
    const refused = await run(['member', 'add', 'n4', '--address', address, '--endpoints', peers, '--tls', join(dir, 'tls', 'app')]);
    expect(refused.code).toBe(1);
    expect(refused.err[0]).toMatch(/^grey: Unauthorized: 'approve' needs an operator certificate/);

    // The operator (the local cluster's admin) adds it: approved, a learner that catches up.
    const added = await run(['member', 'add', 'n4', '--address', address, '--dir', dir]);
    expect(added.code, added.err.join('\n')).toBe(0);
    expect(JSON.parse(added.out[0])).toMatchObject({ node: 'n4', status: expect.stringMatching(/^(learner|voter)$/), address });
    const promoted = await run(['member', 'promote', 'n4', '--wait', '--dir', dir]);
    expect(promoted.code, promoted.err.join('\n')).toBe(0);
    expect(objects(promoted.out).at(-1)).toMatchObject({ node: 'n4', status: 'voter', configuration: 'voter' });

    // grey status reaches it (the local cluster's address book learnt it) and every node counts it a voter.
    const status = await until(async () => {
      const r = await run(['status', '--dir', dir, '--json']);
      const rows = JSON.parse(r.out.join('\n')) as Array<{ node: string; up: boolean; member: string; role: string; config: { voters: string[] }; lastApplied: number }>;
      return rows.length === 4 && rows.every((x) => x.up && x.config.voters.includes('n4')) && rows;
    }, 'n4 a voter in every node', 15_000);
    expect(status.find((r) => r.node === 'n4')).toMatchObject({ member: 'voter', role: expect.stringMatching(/^(follower|leader)$/) });
    const text = await run(['status', '--dir', dir]);
    expect(text.out.find((l) => l.startsWith('n4 '))).toMatch(/^n4\s+(follower|leader)\s+voter\s/);

    // The four voters serve tasks; the members watch shows n4.
    const task = await run(['submit', '--dir', dir, '--type', 'double', '--payload', '4', '--wait']);
    expect(objects(task.out)[1]).toMatchObject({ status: 'completed', result: 8 });
    const members = await run(['watch', '--members', '--limit', '4', '--dir', dir]);
    expect(objects(members.out).map((m) => `${m.node}:${m.status}`)).toEqual(['n1:voter', 'n2:voter', 'n3:voter', 'n4:voter']);
    n4.kill('SIGTERM');
  }, 28_000);

  it('tenant set registers a tenant and sets its quota through the log; tenant list shows it; a client certificate is Unauthorized', async () => {
    const set = await run(['tenant', 'set', 'acme', '--weight', '2', '--rate', '500', '--max-memory', '4GiB', '--dir', dir]);
    expect(set.code, set.err.join('\n')).toBe(0);
    expect(objects(set.out)[0]).toMatchObject({ tenant: 'acme', quota: { priorityWeight: 2, maxTasksPerSecond: 500, maxMemoryBytes: 4 * 2 ** 30 } });
    // Fields left out keep their value.
    const again = await run(['tenant', 'set', 'acme', '--max-concurrent', '3', '--dir', dir]);
    expect(objects(again.out)[0]).toMatchObject({ quota: { priorityWeight: 2, maxTasksPerSecond: 500, maxConcurrentTasks: 3 } });
    const listed = await run(['tenant', 'list', '--dir', dir]);
    expect(listed.out[0].split(/\s+/)).toEqual(['tenant', 'weight', 'cpu', 'memory', 'storage', 'rate', 'concurrent', 'since']);
    expect(listed.out.find((l) => l.startsWith('acme'))!.split(/\s+/).slice(0, 7)).toEqual(['acme', '2', '-', String(4 * 2 ** 30), '-', '500', '3']);
    const json = await run(['tenant', 'list', '--json', '--dir', dir]);
    expect((JSON.parse(json.out[0]) as Array<{ tenant: string }>).map((t) => t.tenant)).toEqual(expect.arrayContaining(['system', 'default', 'acme']));
    const refused = await run(['tenant', 'set', 'other', '--weight', '1', '--endpoints', endpointsFlag(), '--tls', join(dir, 'tls', 'app')]);
    expect(refused.code).toBe(1);
    expect(refused.err[0]).toMatch(/Unauthorized/);
  }, 20_000);

  it('refuses bad input with one line and a hint (exit 2)', async () => {
    for (const argv of [
      ['submit', '--dir', dir],
      ['submit', '--dir', dir, '--type', 'double', '--payload', '{bad'],
      ['submit', '--dir', dir, '--type', 'double', '--priority', 'high'],
      ['submit', '--dir', dir, '--type', 'double', '--priority', '500'],
      ['submit', '--dir', dir, '--type', 'double', '--timeout', 'soon'],
      ['submit', '--type', 'double', '--dir', join(root, 'nowhere')],
      ['submit', '--type', 'double', '--endpoints', 'n1=127.0.0.1:1'],
      ['watch', '--dir', dir],
      ['watch', '--dir', dir, 'task_a', 'task_b'],
      ['watch', '--dir', dir, 'task_a', '--kv', 'x'],
      ['watch', '--dir', dir, '--prefix'],
      ['watch', '--dir', dir, '--kv', 'x', '--from', '0'],
      ['member', '--dir', dir],
      ['member', 'frob', '--dir', dir],
      ['member', 'add', '--dir', dir],
      ['member', 'add', 'n5', '--dir', dir],
      ['member', 'add', 'n5', '--address', 'nowhere', '--dir', dir],
      ['member', 'add', 'n5', '--address', '0.0.0.0:7005', '--dir', dir],
      ['member', 'list', 'n1', '--dir', dir],
      ['member', 'promote', 'n1', '--address', '127.0.0.1:1', '--dir', dir],
      ['tenant', '--dir', dir],
      ['tenant', 'set', '--dir', dir],
      ['tenant', 'set', 'a', '--weight', '0', '--dir', dir],
      ['tenant', 'set', 'a', '--max-concurrent', '0', '--dir', dir],
      ['watch', '--kv', '', '--dir', dir],
      ['tenant', 'set', '', '--weight', '1', '--dir', dir],
      ['tenant', 'set', 'a', '--max-memory', 'lots', '--dir', dir],
      ['tenant', 'set', 'a', '--rate', 'fast', '--dir', dir],
      ['tenant', 'list', '--weight', '2', '--dir', dir],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toHaveLength(2);
      expect(r.err[1]).toMatch(/grey help/);
    }
  });
});
