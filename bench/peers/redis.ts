/**
 * A Redis server for BullMQ (Debian's `redis-server`), on a free loopback
 * port, with its append-only file in a fresh folder: `appendfsync always`
 * (Redis fsyncs the AOF before it answers the writes of an event-loop turn,
 * as Grey syncs its log before acknowledging) or `everysec` (fsync once a
 * second, answers before the data is on disk). No RDB snapshots, so the
 * only disk work is the AOF.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnGroup, stopGroup, waitFor } from './procs.js';

export type AppendFsync = 'always' | 'everysec';

export interface RedisServer {
  port: number;
  appendfsync: AppendFsync;
  version: string;
  stop(): Promise<void>;
}

export async function startRedis(dir: string, appendfsync: AppendFsync, bin = 'redis-server'): Promise<RedisServer> {
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', appendfsync, '--save', '', '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'), '--maxmemory-policy', 'noeviction',
  ];
  const child: ChildProcess = spawnGroup(bin, args);
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  let version = '?';
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}; see ${join(dir, 'redis.log')}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    }, 'redis-server to answer PING', 15_000, 50);
    const setting = ((await probe.config('GET', 'appendfsync')) as string[])[1];
    if (setting !== appendfsync) throw new Error(`redis-server runs with appendfsync ${setting}, not ${appendfsync}`);
    version = /redis_version:(\S+)/.exec(await probe.info('server'))?.[1] ?? '?';
  } catch (err) {
    probe.disconnect();
    await stopGroup(child, 1_000);
    throw err;
  }
  probe.disconnect();
  return { port, appendfsync, version, stop: () => stopGroup(child, 3_000) };
}
