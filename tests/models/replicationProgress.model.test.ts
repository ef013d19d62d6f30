import { describe, expect, it } from 'vitest';
import { replicationProgress } from '../../machines/replicationProgress.js';
import { progressStepper } from '../../machines/progressTable.js';
import { checkModel, generateModelPaths } from '../../system/modelPaths.js';
import { replicationProgressPlan } from '../../system/modelPlans/replicationProgress.plan.js';

describe('replicationProgress model', () => {
  it('covers every state and transition on generated paths, actor agreeing with the model', () => {
    const r = checkModel(replicationProgressPlan);
    expect(r.states.missing).toEqual([]);
    expect(r.transitions.missing).toEqual([]);
    expect(r.machine).toBe(replicationProgress.id);
  });

  it('its derived table agrees with the chart on every generated path; refusals leave the state', () => {
    for (const path of generateModelPaths(replicationProgressPlan)) {
      let state = progressStepper.initial({});
      for (const step of path.steps) {
        state = progressStepper.step(state, {}, step.event) ?? state;
        expect(state, path.description).toBe(step.state.value);
      }
    }
    expect(progressStepper.step('snapshot', {}, { type: 'ACCEPTED' })).toBeNull();
  });
});
