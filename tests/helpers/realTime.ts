/**
 * Helpers for the real-mode tests, which run on the wall clock: a free
 * loopback port, and waiting for a condition the system reaches on its
 * own (polled, with a deadline that fails the test).
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * The first of `count` consecutive ports free on 127.0.0.1 now (each bound
 * and released). Taken below the kernel's ephemeral range: a port in it,
 * even free when checked, can be handed to some other test's outgoing
 * connection before the node that was to listen on it starts (seen as
 * EADDRINUSE on the port after a cluster's base port).
 */
export async function freePorts(count: number): Promise<number> {
  const [low, high] = portRange(count);
  // A random start: parallel test files share a process id, and each would walk from the same place.
  let next = randomInt(low, high);
  for (let attempt = 0; attempt < 200; attempt++, next = next + count + 1 >= high ? low : next + count + 1) {
    if (await allFree(next, count)) return next;
  }
  throw new Error(`no ${count} consecutive free ports found in ${low}–${high + count - 1}`);
}

/** A port free on 127.0.0.1 now, outside the ephemeral range (see {@link freePorts}). */
export function freePort(): Promise<number> {
  return freePorts(1);
}

/** Where runs of `count` ports may start, [low, high): below the kernel's ephemeral range, or above it when it starts too low. */
function portRange(count: number): [number, number] {
  let first = 32_768;
  let last = 60_999; // Linux's default range, when it cannot be read
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(a) && Number.isInteger(b) && a <= b) [first, last] = [a, b];
  } catch {
    // not Linux: keep the default
  }
  if (first > 12_000) return [10_000, first - count];
  if (last < 60_000) return [last + 1, 65_536 - count];
  return [10_000, 32_768 - count]; // no room outside it: take the chance
}

/** Whether `count` ports from `first` can all be bound now (all are released again before it returns). */
async function allFree(first: number, count: number): Promise<boolean> {
  const servers: Server[] = [];
  try {
    for (let p = first; p < first + count; p++) {
      const s = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => resolve(true));
      });
      if (!ok) return false;
      servers.push(s);
    }
    return true;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Resolves with `check`'s first value that is neither undefined nor false, polling every 20 ms; throws after `within` ms. */
export async function until<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, within = 15_000): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${within} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
