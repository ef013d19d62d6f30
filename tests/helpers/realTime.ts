/**
 * Helpers for the real-mode tests, which run on the wall clock: a free
 * loopback port, and waiting for a condition the system reaches on its
 * own (polled, with a deadline that fails the test).
 */
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
  const low = 10_000;
  const high = ephemeralLow() - count;
  // Spread parallel test files apart: each starts at its own place and walks on.
  let next = low + ((process.pid * 7_919 + ++calls * 1_009) % (high - low));
  for (let attempt = 0; attempt < 200; attempt++, next = next + count + 1 >= high ? low : next + count + 1) {
    if (await allFree(next, count)) return next;
  }
  throw new Error(`no ${count} consecutive free ports found below ${high + count}`);
}

/** A port free on 127.0.0.1 now, below the ephemeral range (see {@link freePorts}). */
export function freePort(): Promise<number> {
  return freePorts(1);
}

let calls = 0;

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
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
