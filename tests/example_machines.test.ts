import { describe, expect, it } from 'vitest';
import { CENSUS, exampleMachineRows, SAMPLES, UNREACHED } from '../bench/modelPaths.js';
import { EXAMPLE_MACHINES } from '../bench/machines/index.js';
import { createTestModel } from '../system/testModel.js';

// The claims of the README's table of real XState v5 machines, checked.
describe('test generation on real XState v5 machines (bench/machines)', () => {
  const rows = exampleMachineRows();
  const full = (r: { states: { missing: string[] }; transitions: { missing: string[] } }) => r.states.missing.length === 0 && r.transitions.missing.length === 0;

  it('every machine explores without an error, and the ones the defaults do not cover are explained', () => {
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(rows.filter((r) => full(r.defaults)).map((r) => r.name)).toHaveLength(47); // the README's figure
    for (const r of rows) {
      if (full(r.defaults)) continue;
      expect(SAMPLES[r.name] ?? UNREACHED[r.name], `${r.name} is not fully covered by defaults and not explained`).toBeDefined();
    }
  });

  it("the census of XState's examples/: every machine there is in, or listed as left out with a reason", () => {
    const fromExamples = EXAMPLE_MACHINES.filter((m) => m.source.startsWith('examples/'));
    expect(fromExamples).toHaveLength(CENSUS.included);
    expect(CENSUS.included + Object.keys(CENSUS.skipped).length).toBe(CENSUS.examplesMachines);
    expect(new Set(EXAMPLE_MACHINES.map((m) => m.name)).size).toBe(EXAMPLE_MACHINES.length);
  });

  it('exploration is deterministic where actions draw from Math.random (a seeded generator stands in), and Math.random is restored', () => {
    const random = Math.random;
    for (const name of ['snake', 'tiles', 'todos']) {
      const { machine } = EXAMPLE_MACHINES.find((m) => m.name === name)!;
      const run = () => createTestModel(machine, { limit: 500 }).getPaths().map((p) => [p.description, p.steps.map((s) => JSON.stringify(s.state.context))]);
      expect(run(), name).toEqual(run());
    }
    expect(Math.random).toBe(random);
  });

  it('with samples, every machine but the explained ones is fully covered (trivia: two transitions no game can take)', () => {
    for (const r of rows) {
      const best = r.samples ?? r.defaults;
      if (r.name === 'triviaGame') {
        expect(best.states.missing).toEqual([]);
        expect(best.transitions.missing).toEqual([
          'triviaMachine.startTrivia.questionReady.correctAnswer --(always)--> triviaMachine.startTrivia.questionReady.lostGame',
          'triviaMachine.startTrivia.questionReady.incorrectAnswer --(always)#1--> triviaMachine.startTrivia.questionReady.wonGame',
        ]);
        continue;
      }
      if (UNREACHED[r.name]) continue;
      expect(full(best), `${r.name}: ${[...best.states.missing, ...best.transitions.missing].join(', ')}`).toBe(true);
    }
  });
});
