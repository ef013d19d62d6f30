/**
 * Helpers for the real-mode tests, which run on the wall clock: a free
 * loopback port, and waiting for a condition the system reaches on its
 * own (polled, with a deadline that fails the test).
 */
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 now (bound and released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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
