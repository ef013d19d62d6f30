import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIO } from './cli.js';
import { parseFlags, UsageError } from './cliArgs.js';
import { checkTrace, InvariantViolation } from './invariants.js';
import { readTrace, TraceFormatError } from './trace.js';

/** `grey check`: the invariant checks, offline, on a trace or a folder of traces. */
export function checkCommand(args: string[], io: CliIO): number {
  const paths = args.filter((a) => !a.startsWith('--'));
  const flags = parseFlags(args.filter((a) => a.startsWith('--')), { partial: 'bool' });
  const partial = flags.partial === true;
  if (paths.length === 0) throw new UsageError('check needs a trace file or a folder of traces');
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // Reported as unreadable below.
    }
    if (isDir) {
      const inside = readdirSync(p).filter((f) => f.endsWith('.jsonl')).sort();
      if (inside.length === 0) throw new UsageError(`no .jsonl traces in ${p}`);
      files.push(...inside.map((f) => join(p, f)));
    } else {
      files.push(p);
    }
  }
  let worst = 0;
  for (const file of files) worst = Math.max(worst, checkOne(file, io, files.length > 1, partial));
  if (files.length > 1) io.out(`${files.length} traces checked, ${worst === 0 ? 'all ok' : 'some failed'}`);
  return worst;
}

function checkOne(path: string, io: CliIO, brief: boolean, partial: boolean): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.err(`grey: cannot read trace ${path}: ${(err as Error).message}`);
    return 2;
  }
  let trace;
  try {
    trace = readTrace(text);
  } catch (err) {
    if (!(err instanceof TraceFormatError)) throw err;
    io.err(`grey: ${path}:${err.line}: malformed trace: ${err.detail}`);
    return 2;
  }
  try {
    const s = checkTrace(trace);
    if (!partial && trace.events.at(-1)?.type !== 'end') {
      io.err(`grey: ${path}: the trace ends without its end event (cut short?); its ${s.events} events pass the checks. Pass --partial to accept a trace that is cut short`);
      return 1;
    }
    const leaders = s.leaders.length === 0 ? 'none' : s.leaders.map((l) => `${l.term}:${l.node}`).join(' ');
    io.out(`${path}: ok, ${s.events} events checked (seed ${trace.header.seed})`);
    if (brief) return 0;
    io.out(`  nodes     ${s.nodes.join(', ')} (${s.restarts} restarts)`);
    io.out(`  terms     max ${s.maxTerm}; leaders by term ${leaders}`);
    io.out(`  log       ${s.entriesAppended} entries appended, ${s.truncates} truncates, ${s.snapshots} snapshots`);
    io.out(`  commits   ${s.commits} commit events, highest index ${s.maxCommit}`);
    io.out(`  applies   ${s.applies} checked`);
    return 0;
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err;
    io.err(`grey: ${path}:${trace.lines[err.eventNumber - 1]}: invariant violated`);
    io.err(`  ${err.message}`);
    io.err(`  event: ${JSON.stringify(err.event)}`);
    return 1;
  }
}
