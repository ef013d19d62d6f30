import type { CliIO } from './cli.js';
import { parseFlags, UsageError } from './cliArgs.js';
import type { ModelReport } from './modelPaths.js';
import { checkMachineModel, MACHINE_MODELS } from './modelPlans/index.js';

const pct = (covered: number, total: number) => (total === 0 ? 100 : (100 * covered) / total);

/** `grey models`: path tests of every chart, with the states and transitions they cover. */
export function modelsCommand(args: string[], io: CliIO): number {
  const flags = parseFlags(args, { machine: 'value', json: 'bool' });
  const models = flags.machine ? MACHINE_MODELS.filter((m) => m.machine.id === flags.machine) : MACHINE_MODELS;
  if (models.length === 0) {
    throw new UsageError(`no machine '${flags.machine}'; known: ${MACHINE_MODELS.map((m) => m.machine.id).join(', ')}`);
  }
  const reports: ModelReport[] = models.map(checkMachineModel);
  if (flags.json) {
    io.out(JSON.stringify(reports, null, 2));
  } else {
    const rows = [['machine', 'states', 'transitions', 'paths', 'steps']];
    for (const r of reports) {
      rows.push([
        r.machine,
        `${r.states.covered}/${r.states.total} (${pct(r.states.covered, r.states.total).toFixed(0)}%)`,
        `${r.transitions.covered}/${r.transitions.total} (${pct(r.transitions.covered, r.transitions.total).toFixed(0)}%)`,
        String(r.paths),
        String(r.steps),
      ]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) io.out(row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
    for (const r of reports) {
      for (const m of [...r.states.missing, ...r.transitions.missing]) io.out(`  ${r.machine}: not covered: ${m}`);
    }
  }
  const complete = reports.every((r) => r.states.missing.length === 0 && r.transitions.missing.length === 0);
  return complete ? 0 : 1;
}
