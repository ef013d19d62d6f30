/** Command-line parsing shared by the `grey` commands. */

/** A command-line mistake: printed with the usage, exit code 2. */
export class UsageError extends Error {
  readonly code = 'Usage';
}

export function parseFlags(args: string[], known: Record<string, 'bool' | 'value'>): Record<string, string | boolean> {
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.slice(2).split('=', 2);
    const kind = known[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'bool') flags[name] = true;
    else {
      const value = inline ?? args[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    }
  }
  return flags;
}

/** `60s`, `1500ms`, `2m` or a bare number of ms → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--${flag}: '${text}' is not a duration (like 60s, 500ms, 2m)`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1_000 : m[2] === 'm' ? n * 60_000 : n;
}

/** `5-15` → [5, 15]; a single number → [n, n]. */
export function parseRange(text: string, flag: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!m) throw new UsageError(`--${flag}: '${text}' is not a range (like 5-15)`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a) throw new UsageError(`--${flag}: ${a}-${b} is backwards`);
  return [a, b];
}

/** A positive integer option. */
export function parsePositiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${text}'`);
  return n;
}
