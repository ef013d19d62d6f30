/**
 * Model-based test generation on real XState v5 machines (every machine of
 * XState's examples/, plus its vanilla-ts template and three from its README,
 * vendored under bench/machines/ with their source path and commit; see
 * {@link CENSUS}):
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

/**
 * The census of statelyai/xstate's examples/ at {@link XSTATE_COMMIT}: 48
 * files there define 51 machines; 47 are in bench/machines/ (with 4 from
 * elsewhere: the vanilla-ts template's and three of the README's), the other
 * 4 are listed here with the reason.
 */
export const CENSUS = {
  examplesFiles: 48,
  examplesMachines: 51,
  included: 47,
  skipped: {
    'examples/mongodb-persisted-state/donutMachine.ts': 'byte for byte the same machine as examples/persisted-donut-maker/donutMachine.ts (donutMaker)',
    'examples/workflow-reusing-functions/main.ts (parentWorkflow)': "the example's demo driver, not exported: it invokes the exported workflow (reusingFunctions), forwards PaymentReceivedEvent to it and logs every event ('*')",
    'examples/workflow-async-subflow/main.ts (onboardingWorkflow)': 'a child machine the exported workflow (asyncSubflow) invokes, not exported: explored as its invoked actor',
    'examples/workflow-car-vitals/main.ts (vitalsWorkflow)': 'a child machine the exported workflow (carVitals) invokes, not exported: explored as its invoked actor',
  } as Record<string, string>,
  /** examples/ that use @xstate/store, not machines. */
  notMachines: ['examples/local-store-counter-react', 'examples/store-counter-react', 'examples/store-tic-tac-toe'],
};

/** Per-machine options for the "with samples" column, and why the defaults fall short. */
export const SAMPLES: Record<string, { why: string; options: TestModelOptions<AnyStateMachine> }> = {
  mongoCreditCheck: {
    why: "checkBureau's output is a credit score that the machine stores as it is (`event.output ?? 0`) and compares only once all three bureaus have answered (allSucceeded, a later step): synthesis, which watches one step, sees it read as a whole, not as a number",
    options: { actors: { checkBureau: { output: [700] } } },
  },
  triviaGame: {
    why: 'a correct answer must equal the id of the character an actor loaded: a relation between two payloads, which no literal in a guard gives away',
    options: {
      events: { 'user.selectAnswer': [{ answer: 1 }, { answer: 2 }] },
      actors: { loadSingleCharacter: { output: [{ id: 1, name: 'Rick Sanchez' }] }, loadRandomCharacters: { output: [[{ id: 2, name: 'Morty Smith' }]] }, loadHomePageCharacters: { output: [[]] } }, serialize: (s) => JSON.stringify([s.value, (s.context as { points: number; lifes: number }).points, (s.context as { lifes: number }).lifes]), limit: 20_000 },
  },
};

/** Machines that no sample makes fully coverable by exploration, and why. */
export const UNREACHED: Record<string, string> = {
  tiles: 'the board is shuffled (by the explorer\'s seeded Math.random: one fixed shuffle) and "gameOver" needs all 16 tiles put in order by swaps of adjacent ones: dozens of select, hover and move events, each with the right tile',
  triviaGame: 'two of its transitions no game can take (a correct answer never loses a life; a wrong one never wins)',
  applicantRequest: "which branch Submit takes depends on the input alone (the applicant's age, 22 in the example's driver): one model has one input, so the rejection branch (under 18) is never taken; a second model with a younger applicant takes it",
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
    const input = ex.input === undefined ? {} : { input: ex.input };
    const defaults = measure(ex.machine, input);
    const sample = SAMPLES[ex.name];
    return { name: ex.name, source: ex.source, features: ex.features, defaults, ...(sample && !full(defaults) ? { samples: measure(ex.machine, { ...input, ...sample.options }) } : {}) };
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
    const line = `${r.name} [${r.features.join(', ')}]: defaults ${d.states.covered}/${d.states.total} states, ${d.transitions.covered}/${d.transitions.total} transitions, ${d.paths} paths, ${d.ms} ms${d.exploration.truncated ? ' (limit)' : ''}${s ? `; with samples ${s.states.covered}/${s.states.total}, ${s.transitions.covered}/${s.transitions.total}` : ''}`;
    if (full(d)) return line;
    // Not covered by the defaults: what was never reached, and why.
    const best = s ?? d;
    const never = [...best.states.missing, ...best.transitions.missing];
    return `${line}; ${never.length ? `never reached: ${never.join('; ')}` : 'fully covered with samples'} (${SAMPLES[r.name]?.why ?? UNREACHED[r.name] ?? 'unexplained'})`;
  });
  return [
    {
      name: `real XState v5 machines fully covered with default options (of ${rows.length})`,
      value: fullDefaults,
      unit: 'machines',
      target: Math.ceil(rows.length * 0.9),
      config: { source: `statelyai/xstate @ ${XSTATE_COMMIT.slice(0, 12)}`, census: `${CENSUS.included} of the ${CENSUS.examplesMachines} machines in examples/ (${Object.keys(CENSUS.skipped).length} left out: ${Object.entries(CENSUS.skipped).map(([k, v]) => `${k}: ${v}`).join('; ')}) and ${rows.length - CENSUS.included} from the template and README`, withSamples: `${fullSamples} of ${rows.length}`, machines: table },
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
