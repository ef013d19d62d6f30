/**
 * Three Grey nodes as real processes (`grey node`) on loopback, over
 * mutual TLS, each with its log on disk: 1,000 tasks submitted by a TLS
 * client, the leader killed with SIGKILL midway, a new leader elected,
 * every acknowledged task completed once with its result, and the killed
 * node restarted from its data directory until it has caught up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate } from '../system/certificates.js';
import { ClientError } from '../system/clientError.js';
import { connect } from '../system/embeddedNode.js';
import { freePort, until } from './helpers/realTime.js';

const CLI = fileURLToPath(new URL('../system/cli.ts', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./fixtures/processHandlers.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'grey-procs-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});



describe('nodes as processes', () => {
  it('SIGKILL of the leader during 1,000 tasks: a new leader, every acknowledged task completed once, the node restarts and catches up', async () => {
    const ca = await createClusterCa();
    const ids = ['n1', 'n2', 'n3'];
    const app = await issueCertificate(ca, 'client', 'app');
    for (const id of ids) {
      const c = await issueCertificate(ca, 'node', id);
      mkdirSync(join(root, 'tls', id), { recursive: true });
      writeFileSync(join(root, 'tls', id, 'ca.pem'), c.ca);
      writeFileSync(join(root, 'tls', id, 'cert.pem'), c.cert);
      writeFileSync(join(root, 'tls', id, 'key.pem'), c.key);
    }
    const ports = await Promise.all(ids.map(() => freePort()));
    const peers: Record<string, string> = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    const procs = new Map<string, ChildProcess>();
    const start = (id: string): ChildProcess => {
      const args = ['--import', 'tsx', CLI, 'node', '--id', id, '--listen', peers[id], '--peers', Object.entries(peers).map(([k, v]) => `${k}=${v}`).join(','),
        '--data', join(root, 'data', id), '--tls', join(root, 'tls', id), '--handlers', HANDLERS, '--heartbeat', '50', '--election-timeout', '300-600', '--log-level', 'warn'];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      children.add(child);
      procs.set(id, child);
      return child;
    };
    ids.forEach(start);
    const client = connect({ endpoints: peers, tls: app, timeoutMs: 15_000, attemptTimeoutMs: 500 });
    const leaderId = async (): Promise<string | undefined> => {
      for (const id of ids) {
        try {
          const s = await client.nodeStatus(id);
          if (s.role === 'leader') return id;
        } catch {
          // down or starting
        }
      }
      return undefined;
    };
    try {
      const first = await until(leaderId, 'a leader');
      const accepted = new Map<string, number>();
      let killed: string | null = null;
      for (let batch = 0; batch < 50; batch++) {
        const payloads = Array.from({ length: 20 }, (_, i) => batch * 20 + i);
        const handles = client.submitTasks(payloads.map((n) => ({ type: 'double', payload: n })));
        let taskIds: string[];
        try {
          taskIds = await Promise.all(handles.map(async (h) => (await h.accepted).taskId));
        } catch (err) {
          // Unknown outcome (the leader died holding it): retrying under the same request number applies it once.
          if (!(err instanceof ClientError) || err.outcome !== 'unknown' || !err.requestId) throw err;
          taskIds = (await client.retry(err.requestId)).value as string[];
        }
        taskIds.forEach((t, i) => accepted.set(t, payloads[i]));
        if (batch === 24) {
          killed = first;
          procs.get(first)!.kill('SIGKILL');
        }
      }
      expect(accepted.size).toBe(1_000);
      const second = await until(leaderId, 'a new leader');
      expect(second).not.toBe(killed);

      // Every acknowledged task completes, once, with its result.
      const pending = new Set(accepted.keys());
      await until(async () => {
        const batch = [...pending].slice(0, 100);
        const records = await Promise.all(batch.map((t) => client.task(t)));
        records.forEach((r, i) => {
          if (r?.status === 'completed') {
            expect(r.result).toBe(accepted.get(batch[i])! * 2);
            pending.delete(batch[i]);
          } else expect(['pending', 'assigned', 'running', 'retrying'], `${batch[i]}: ${r?.status}`).toContain(r?.status);
        });
        return pending.size === 0 ? true : undefined;
      }, 'every task completed', 60_000);
      const leaderStatus = await client.nodeStatus(second);
      expect(leaderStatus.tasks).toBe(1_000); // none twice: one record per acknowledged task

      // The killed node restarts from its data directory and catches up.
      start(killed!);
      const target = leaderStatus.commitIndex;
      await until(async () => {
        try {
          return (await client.nodeStatus(killed!)).lastApplied >= target ? true : undefined;
        } catch {
          return undefined;
        }
      }, 'the restarted node caught up');
    } finally {
      await client.close();
      await Promise.all([...procs.values()].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      })));
    }
  }, 120_000);
});
