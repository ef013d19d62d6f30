import type { AnyStateMachine } from 'xstate';

/**
 * Refuses an argument that is not an XState v5 machine with a TypeError
 * naming the function (`where`), before it fails deep inside XState as
 * "cannot read properties of null".
 */
export function checkMachineArgument(where: string, machine: unknown): asserts machine is AnyStateMachine {
  if (typeof (machine as { transition?: unknown } | null)?.transition !== 'function' || typeof (machine as { root?: unknown }).root !== 'object') {
    throw new TypeError(`${where} needs an XState v5 machine (from createMachine or setup().createMachine), got ${machine === null ? 'null' : typeof machine}`);
  }
}

/** Refuses an options object with a key not in `known` (a misspelt option would be ignored), naming it. */
export function checkOptionKeys(where: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${where}: options must be an object`);
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new TypeError(`${where}: unknown option '${key}'; known: ${known.join(', ')}`);
}
