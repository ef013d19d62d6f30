/**
 * The processes and folders the peers benchmark makes, and their cleanup.
 *
 * Every child is spawned detached, so it leads a process group of its own,
 * and is stopped by signalling that group (whatever it forked goes too).
 * Every temporary folder is made under `os.tmpdir()`. `cleanupAll` stops
 * what is still running and removes the folders; it runs at the end of the
 * benchmark, on an error, on SIGINT/SIGTERM, and (synchronously) at exit.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const groups = new Set<ChildProcess>();
const folders = new Set<string>();

/** A fresh folder under the OS temp folder, removed by {@link cleanupAll}. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.add(dir);
  return dir;
}

/** Spawns `command` as the leader of a new process group, tracked for cleanup. */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore', ...options, detached: true });
  groups.add(child);
  child.once('exit', () => groups.delete(child));
  // A spawn that fails (no such binary) reports through 'error'; the caller sees it as an exit.
  child.once('error', () => groups.delete(child));
  return child;
}

/** Whether `child` has exited. */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` to `child`'s process group (and to `child`, should the group be gone). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // gone already
    }
  }
}

/** Resolves when `child` has exited (at once if it has). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (exited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

/** SIGKILLs `child`'s group and waits for it to exit. */
export async function killGroup(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const done = exitOf(child);
  signalGroup(child, 'SIGKILL');
  await done;
}

/** SIGTERMs `child`'s group, then SIGKILLs it after `graceMs`; resolves at its exit. */
export async function stopGroup(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (exited(child)) return;
  const done = exitOf(child);
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** Stops every process group still running and removes every temp folder (synchronous: safe at exit). */
export function cleanupAllSync(): void {
  for (const child of groups) signalGroup(child, 'SIGKILL');
  groups.clear();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  folders.clear();
}

/** Stops every process group still running (SIGTERM, SIGKILL after a grace), then removes every temp folder. */
export async function cleanupAll(graceMs = 2_000): Promise<void> {
  await Promise.all([...groups].map((c) => stopGroup(c, graceMs)));
  cleanupAllSync();
}

let hooked = false;

/** Cleanup on SIGINT/SIGTERM (then exit 130/143), on an uncaught error, and at exit. */
export function installCleanupHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanupAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process the benchmark started`);
      cleanupAllSync();
      process.exit(code);
    });
  }
}

/** A port free on 127.0.0.1 now (bound, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined/false; throws after `withinMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, withinMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await sleep(everyMs);
  }
}

/** Whether `bin` is on the PATH (and runs). */
export function which(bin: string): Promise<string | null> {
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', `command -v ${bin}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', () => resolve(null));
    c.once('close', (code) => resolve(code === 0 && out.trim() ? out.trim() : null)); // close: after stdout is read
  });
}
