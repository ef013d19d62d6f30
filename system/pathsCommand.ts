import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { parseFlags, UsageError } from './cliArgs.js';
import { createTestModel, type TestModelOptions } from './testModel.js';
import type { CliIO } from './cli.js';

function isMachine(x: unknown): x is AnyStateMachine {
  return typeof x === 'object' && x !== null && typeof (x as { transition?: unknown }).transition === 'function' && typeof (x as { root?: unknown }).root === 'object';
}

/**
 * `grey paths <module>[#export] [--options EXPORT] [--limit N] [--json]`:
 * the test paths generated from a user's machine and the coverage they
 * reach. The export defaults to `machine`, then `default`; `--options`
 * names an export of the same module holding {@link TestModelOptions}.
 * Exits 0 when the paths cover every state and transition, 1 otherwise.
 */
export async function pathsCommand(args: string[], io: CliIO): Promise<number> {
  const target = args[0];
  if (target === undefined || target.startsWith('--')) throw new UsageError('paths needs a module, like ./src/door.js#doorMachine');
  const flags = parseFlags(args.slice(1), { options: 'value', limit: 'value', json: 'bool' });
  const [file, exportName] = target.split('#', 2);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const hint = e.code === 'ERR_UNKNOWN_FILE_EXTENSION' ? ' (a TypeScript module needs a loader: run grey with `node --import tsx`, or point it at the compiled .js)' : '';
    throw new UsageError(`cannot import ${file}: ${e.message?.split('\n')[0]}${hint}`);
  }
  const name = exportName ?? ('machine' in mod ? 'machine' : 'default');
  const machine = mod[name];
  if (!isMachine(machine)) {
    const machines = Object.keys(mod).filter((k) => isMachine(mod[k]));
    throw new UsageError(`${file} has no machine export '${name}'${machines.length ? `; machines it exports: ${machines.join(', ')}` : ''}`);
  }
  let options: TestModelOptions<AnyStateMachine> = {};
  if (typeof flags.options === 'string') {
    const o = mod[flags.options];
    if (typeof o !== 'object' || o === null) throw new UsageError(`${file} has no options export '${flags.options}'`);
    options = o as TestModelOptions<AnyStateMachine>;
  }
  if (typeof flags.limit === 'string') {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: '${flags.limit}' is not a positive integer`);
    options = { ...options, limit };
  }
  const model = createTestModel(machine, options);
  const paths = model.getPaths();
  const report = model.coverageOf(paths);
  const complete = report.states.missing.length === 0 && report.transitions.missing.length === 0;
  if (flags.json) {
    io.out(JSON.stringify({ machine: report.machine, paths: paths.map((p) => ({ description: p.description, events: p.steps.map((s) => s.event) })), coverage: report }, null, 2));
    return complete ? 0 : 1;
  }
  for (const [i, p] of paths.entries()) io.out(`${String(i + 1).padStart(3)}. ${p.description}`);
  io.out(`${paths.length} paths; states ${report.states.covered}/${report.states.total}, transitions ${report.transitions.covered}/${report.transitions.total}; ${report.exploration.states} abstract states explored`);
  if (report.exploration.message) io.out(`note: ${report.exploration.message}`);
  if (report.exploration.skipped.count > 0) io.out(`note: ${report.exploration.skipped.count} events threw and were left out (give samples in options.events or options.actors), e.g. ${report.exploration.skipped.examples[0]}`);
  for (const m of report.states.missing) io.out(`  not reached: state ${m}`);
  for (const m of report.transitions.missing) io.out(`  not taken: ${m}`);
  return complete ? 0 : 1;
}
