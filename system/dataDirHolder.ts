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
  const dir = resolve(dataDir);
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'grey.lock'), 'utf8').trim());
  } catch {
    return null; // no lock: nobody holds it
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || !isProcessAlive(pid)) return null;
  let args: string[];
  let cwd: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No /proc on this system: the lock's word. A process of another user (EACCES): not ours to stop.
    return code === 'ENOENT' && !procMounted() ? pid : null;
  }
  const at = args.indexOf('--data');
  return at >= 0 && at + 1 < args.length && resolve(cwd, args[at + 1]) === dir ? pid : null;
}

function procMounted(): boolean {
  try {
    readlinkSync('/proc/self/cwd');
    return true;
  } catch {
    return false;
  }
}
