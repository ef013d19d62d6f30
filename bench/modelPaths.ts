/**
 * Model-based test generation on real XState v5 machines (28 machines from
 * XState's own examples, templates and README, vendored under
 * bench/machines/ with their source path and commit):
 * - with default options (no samples, no serializer: payloads synthesized
 *   from what each machine reads and the literals its guards compare), and
 * - with a few lines of samples where even that falls short (what a user
 *   would write for their own machine);
 * plus paths generated per second on a generated machine of 400 states.
 *
 * Run: `npx tsx bench/modelPaths.ts`
 */
import { assign, createMachine, type AnyStateMachine } from 'xstate';
import { createTestModel, type ModelCoverage, type TestModelOptions } from '../system/testModel.js';
import { EXAMPLE_MACHINES, XSTATE_COMMIT } from './machines/index.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

/** Per-machine options for the "with samples" column, and why the defaults fall short. */
export const SAMPLES: Record<string, { why: string; options: TestModelOptions<AnyStateMachine> }> = {
  triviaGame: {
    why: 'a correct answer must equal the id of the character an actor loaded: a relation between two payloads, which no literal in a guard gives away',
    options: {
      events: { 'user.selectAnswer': [{ answer: 1 }, { answer: 2 }] },
      actors: { loadSingleCharacter: { output: [{ id: 1, name: 'Rick Sanchez' }] }, loadRandomCharacters: { output: [[{ id: 2, name: 'Morty Smith' }]] }, loadHomePageCharacters: { output: [[]] } }, serialize: (s) => JSON.stringify([s.value, (s.context as { points: number; lifes: number }).points, (s.context as { lifes: number }).lifes]), limit: 20_000 },
  },
};

/** Machines that no sample makes fully coverable by exploration, and why. */
export const UNREACHED: Record<string, string> = {
  snake: 'the apple moves with Math.random and "Game Over" needs a run of dozens of ticks: the state space is not finite under any plain abstraction',
  tiles: 'the board is shuffled with Math.random and "gameOver" needs the puzzle solved',
  triviaGame: 'two of its transitions no game can take (a correct answer never loses a life; a wrong one never wins)',
};

export interface MachineRow {
  name: string;
  source: string;
  features: string[];
  defaults: ModelCoverage & { paths: number; ms: number };
  samples?: ModelCoverage & { paths: number; ms: number };
}

function measure(machine: AnyStateMachine, options: TestModelOptions<AnyStateMachine> = {}): ModelCoverage & { paths: number; ms: number } {
  const t0 = performance.now();
  const model = createTestModel(machine, options);
  const paths = model.getPaths();
  const report = model.coverageOf(paths);
  return { ...report, paths: paths.length, ms: Math.round(performance.now() - t0) };
}

const full = (r: ModelCoverage) => r.states.missing.length === 0 && r.transitions.missing.length === 0;

/** Every example machine with default options, and with samples where the defaults fall short. */
export function exampleMachineRows(): MachineRow[] {
  return EXAMPLE_MACHINES.map((ex) => {
    const defaults = measure(ex.machine);
    const sample = SAMPLES[ex.name];
    return { name: ex.name, source: ex.source, features: ex.features, defaults, ...(sample && !full(defaults) ? { samples: measure(ex.machine, sample.options) } : {}) };
  });
}

/** A machine of `n` states in a ring with chords and a guarded counter: the paths-per-second workload. */
export function ringMachine(n: number): AnyStateMachine {
  const states: Record<string, object> = {};
  for (let i = 0; i < n; i++) {
    states[`s${i}`] = {
      on: {
        NEXT: `s${(i + 1) % n}`,
        JUMP: `s${(i * 7 + 3) % n}`,
        BACK: `s${(i + n - 1) % n}`,
        BUMP: { guard: ({ context }: { context: { k: number } }) => context.k < 2, actions: assign({ k: ({ context }: { context: { k: number } }) => context.k + 1 }) },
      },
    };
  }
  return createMachine({ id: `ring${n}`, initial: 's0', context: { k: 0 }, states } as never);
}

export function benchModelPaths(): BenchResult[] {
  const rows = exampleMachineRows();
  const fullDefaults = rows.filter((r) => full(r.defaults)).length;
  const fullSamples = rows.filter((r) => full(r.samples ?? r.defaults)).length;
  const machine = ringMachine(400);
  const t0 = performance.now();
  const model = createTestModel(machine);
  const paths = model.getPaths();
  const wall = (performance.now() - t0) / 1000;
  const report = model.coverageOf(paths);
  const table = rows.map((r) => {
    const d = r.defaults;
    const s = r.samples;
    return `${r.name} [${r.features.join(', ')}]: defaults ${d.states.covered}/${d.states.total} states, ${d.transitions.covered}/${d.transitions.total} transitions, ${d.paths} paths, ${d.ms} ms${d.exploration.truncated ? ' (limit)' : ''}${s ? `; with samples ${s.states.covered}/${s.states.total}, ${s.transitions.covered}/${s.transitions.total}` : ''}`;
  });
  return [
    {
      name: `real XState v5 machines fully covered with default options (of ${rows.length})`,
      value: fullDefaults,
      unit: 'machines',
      target: Math.ceil(rows.length * 0.9),
      config: { source: `statelyai/xstate @ ${XSTATE_COMMIT.slice(0, 12)}`, withSamples: `${fullSamples} of ${rows.length}`, machines: table },
    },
    {
      name: 'paths generated per second, a 400-state machine',
      value: Math.round(paths.length / wall),
      unit: 'paths/s',
      config: { states: report.states.total, transitions: report.transitions.total, abstractStates: report.exploration.states, edges: report.exploration.edges, paths: paths.length, covered: `${report.states.covered} states, ${report.transitions.covered} transitions`, wallMs: Math.round(wall * 1000) },
    },
  ];
}

if (isMainModule(import.meta.url)) for (const r of benchModelPaths()) printResult(r);
