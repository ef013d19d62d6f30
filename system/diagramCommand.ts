import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { parseFlags, UsageError } from './cliArgs.js';
import type { CliIO } from './cli.js';
import { DIAGRAM_EXTENSIONS, DIAGRAM_FORMATS, diagramOf, greyStatecharts, isStateMachine, type DiagramFormat } from './diagram/index.js';

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** A path or a module specifier rather than a machine name: `./door.js#door`, `src/door.ts`. */
const looksLikeModule = (target: string) => /[/\\]|\.[cm]?[jt]s(#|$)/.test(target);

async function machineFromModule(target: string): Promise<AnyStateMachine> {
  const [file, exportName] = target.split('#', 2);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot import ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const name = exportName ?? ('machine' in mod ? 'machine' : 'default');
  const machine = mod[name];
  if (!isStateMachine(machine)) {
    const machines = Object.keys(mod).filter((k) => isStateMachine(mod[k]));
    throw new UsageError(`${file} has no machine export '${name}'${machines.length ? `; machines it exports: ${machines.join(', ')}` : ''}`);
  }
  return machine;
}

/**
 * `grey diagram <machine|all|module[#export]> [--format mermaid|svg|dot|json]
 * [--out FILE|DIR] [--actions] [--direction LR|TB]`: draws Grey's
 * statecharts (or one from your own module). Without `--out` the diagram
 * goes to stdout; `all` with `--out DIR` writes one file per machine.
 */
export async function diagramCommand(args: string[], io: CliIO): Promise<number> {
  const target = args[0];
  const known = greyStatecharts();
  const knownList = `known: ${[...known.keys()].join(', ')}, all (or a module path like ./door.js#door)`;
  if (target === undefined || target.startsWith('--')) throw new UsageError(`diagram needs a machine; ${knownList}`);
  const flags = parseFlags(args.slice(1), { format: 'value', out: 'value', actions: 'bool', direction: 'value' });
  const format = (flags.format ?? 'mermaid') as DiagramFormat;
  if (!DIAGRAM_FORMATS.includes(format)) throw new UsageError(`unknown format '${format}'; known: ${DIAGRAM_FORMATS.join(', ')}`);
  const direction = flags.direction ?? 'LR';
  if (direction !== 'LR' && direction !== 'TB') throw new UsageError(`--direction must be LR or TB, got '${direction}'`);
  const options = { actions: flags.actions === true, direction: direction as 'LR' | 'TB' };
  const out = typeof flags.out === 'string' ? flags.out : undefined;

  let machines: AnyStateMachine[];
  if (target === 'all') machines = [...known.values()];
  else if (known.has(target)) machines = [known.get(target)!];
  else if (looksLikeModule(target)) machines = [await machineFromModule(target)];
  else throw new UsageError(`unknown machine '${target}'; ${knownList}`);

  const many = target === 'all';
  if (out === undefined) {
    if (many && format === 'svg') throw new UsageError('diagram all --format svg needs --out DIR (one file per machine)');
    const texts = await Promise.all(machines.map((m) => diagramOf(m, format, options)));
    // Several JSON documents are printed as one array, so the output stays one document.
    if (many && format === 'json') io.out(`[${texts.map((t) => t.trimEnd()).join(',\n')}]`);
    else for (const t of texts) io.out(t.trimEnd());
    return 0;
  }
  const intoDir = many || isDirectory(out) || /[/\\]$/.test(out);
  if (many) {
    try {
      mkdirSync(out, { recursive: true });
    } catch (err) {
      throw new UsageError(`--out ${out}: ${(err as Error).message}`);
    }
  }
  for (const m of machines) {
    const file = intoDir ? join(out, `${m.id}${DIAGRAM_EXTENSIONS[format]}`) : out;
    const text = await diagramOf(m, format, options);
    try {
      mkdirSync(dirname(file), { recursive: true }); // a file's folder is made as for --out DIR
      writeFileSync(file, text);
    } catch (err) {
      throw new UsageError(`cannot write ${file}: ${(err as Error).message}`);
    }
    io.out(`${file}: ${m.id} (${format})`);
  }
  return 0;
}
