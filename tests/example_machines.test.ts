import { describe, expect, it } from 'vitest';
import { exampleMachineRows, SAMPLES, UNREACHED } from '../bench/modelPaths.js';

// The claims of the README's table of real XState v5 machines, checked.
describe('test generation on real XState v5 machines (bench/machines)', () => {
  const rows = exampleMachineRows();
  const full = (r: { states: { missing: string[] }; transitions: { missing: string[] } }) => r.states.missing.length === 0 && r.transitions.missing.length === 0;

  it('every machine explores without an error, and the ones the defaults do not cover are explained', () => {
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(rows.filter((r) => full(r.defaults)).map((r) => r.name)).toHaveLength(25); // the README's figure
    for (const r of rows) {
      if (full(r.defaults)) continue;
      expect(SAMPLES[r.name] ?? UNREACHED[r.name], `${r.name} is not fully covered by defaults and not explained`).toBeDefined();
    }
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
