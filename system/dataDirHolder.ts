import { readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isProcessAlive } from './processAlive.js';

/**
 * The live process that holds the data directory `dataDir` (its
 * `grey.lock` names it), or null. A lock left by a process that died may
 * name a pid the system has since given to another program, so where the
 * system shows a process's arguments (Linux's `/proc`), the holder counts
 * only if it is a `grey node` started with `--data` on this directory;
 * elsewhere the lock is taken at its word, as `grey cluster down` takes
 * the pids it recorded.
 */
export function dataDirHolder(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(resolve(dataDir), 'grey.lock'), 'utf8').trim());
  } catch {
    return null; // no lock: nobody holds it
  }
  return isNodeOf(pid, dataDir) ? pid : null;
}

/**
 * Whether `pid` is a live process running a node on `dataDir`: where the
 * system shows a process's arguments (Linux's `/proc`), a `grey node` with
 * `--data` on that directory; elsewhere, any live process (the caller's
 * record taken at its word).
 */
export function isNodeOf(pid: number, dataDir: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || !isProcessAlive(pid)) return false;
  let args: string[];
  let cwd: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No /proc on this system: the record's word. A process of another user (EACCES): not ours to stop.
    return code === 'ENOENT' && !procMounted();
  }
  const dir = resolve(dataDir);
  for (let i = 0; i < args.length; i++) {
    const given = args[i] === '--data' ? args[i + 1] : args[i].startsWith('--data=') ? args[i].slice('--data='.length) : undefined;
    if (given !== undefined && resolve(cwd, given) === dir) return true;
  }
  return false;
}

function procMounted(): boolean {
  try {
    readlinkSync('/proc/self/cwd');
    return true;
  } catch {
    return false;
  }
}
