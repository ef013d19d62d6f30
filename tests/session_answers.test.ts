/** SessionAnswers: a session's answers by request number, sorted, against a Map as the model (seeded random operations). */
import { describe, expect, it } from 'vitest';
import { SessionAnswers } from '../actors/sessionAnswers.js';
import { Random } from '../system/random.js';

describe('SessionAnswers', () => {
  it('agrees with a Map on random sets, gets, forgets and drops, in order', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Random(seed);
      const a = new SessionAnswers<string>();
      const model = new Map<number, string>();
      for (let step = 0; step < 400; step++) {
        const r = rng.float();
        const seq = rng.int(0, 60);
        if (r < 0.5) {
          a.set(seq, `v${step}`);
          model.set(seq, `v${step}`);
        } else if (r < 0.7) {
          expect(a.get(seq)).toBe(model.get(seq));
        } else if (r < 0.85) {
          a.forgetBelow(seq);
          for (const k of [...model.keys()]) if (k < seq) model.delete(k);
        } else {
          const k = rng.int(0, 3);
          a.dropFirst(k);
          for (const key of [...model.keys()].sort((x, y) => x - y).slice(0, k)) model.delete(key);
        }
        const sorted = [...model.entries()].sort((x, y) => x[0] - y[0]);
        expect(a.entries(), `seed ${seed} step ${step}`).toEqual(sorted);
        expect(a.size).toBe(model.size);
        expect(a.last).toBe(sorted.at(-1)?.[0]);
      }
      expect(SessionAnswers.from(a.entries().reverse()).entries()).toEqual(a.entries());
    }
  });
});
