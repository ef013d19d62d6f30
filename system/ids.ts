import { customRandom, nanoid, urlAlphabet } from 'nanoid';
import type { RandomSource } from './random.js';

/** Produces unique ids; seeded in simulation, so ids repeat run to run. */
export interface IdSource {
  /** A fresh id, optionally prefixed (`task_…`). */
  next(prefix?: string): string;
}

/** Seeded nanoid-style ids drawn from a random stream (simulation mode). */
export function seededIds(random: RandomSource, size = 16): IdSource {
  const make = customRandom(urlAlphabet, size, (bytes) => random.bytes(bytes));
  return { next: (prefix) => (prefix ? `${prefix}_${make()}` : make()) };
}

/** Short sequential ids (`msg-1`, `msg-2`, …): cheapest, for hot paths. */
export function sequentialIds(start = 1): IdSource {
  let n = start;
  return { next: (prefix = 'id') => `${prefix}-${n++}` };
}

/** Cryptographically random ids (real mode). */
export function randomIds(size = 21): IdSource {
  return { next: (prefix) => (prefix ? `${prefix}_${nanoid(size)}` : nanoid(size)) };
}
