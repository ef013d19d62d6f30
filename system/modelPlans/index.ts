import type { AnyStateMachine } from 'xstate';
import { MachineCoverage } from '../machineCoverage.js';
import { checkModel, type ModelPlan, type ModelReport } from '../modelPaths.js';
import { circuitBreakerPlan } from './circuitBreaker.plan.js';
import { joinHandshakePlan } from './joinHandshake.plan.js';
import { membershipPlan } from './membership.plan.js';
import { quarantinePlan } from './quarantine.plan.js';
import { raftRolePlans } from './raftRole.plan.js';
import { replicationProgressPlan } from './replicationProgress.plan.js';
import { taskLifecyclePlan } from './taskLifecycle.plan.js';

/** A machine with the plans that together cover it. */
export interface MachineModel {
  machine: AnyStateMachine;
  // Plans of different machines have different event types; each runs against its own machine.
  plans: ModelPlan<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Grey's statecharts and their model plans, as `grey models` checks them. */
export const MACHINE_MODELS: MachineModel[] = [
  { machine: raftRolePlans[0].machine, plans: raftRolePlans },
  { machine: taskLifecyclePlan.machine, plans: [taskLifecyclePlan] },
  { machine: circuitBreakerPlan.machine, plans: [circuitBreakerPlan] },
  { machine: quarantinePlan.machine, plans: [quarantinePlan] },
  { machine: membershipPlan.machine, plans: [membershipPlan] },
  { machine: replicationProgressPlan.machine, plans: [replicationProgressPlan] },
  { machine: joinHandshakePlan.machine, plans: [joinHandshakePlan] },
];

/** Runs every plan of a machine; coverage is what the plans reach together. */
export function checkMachineModel(model: MachineModel): ModelReport {
  const coverage = new MachineCoverage(model.machine);
  let paths = 0;
  let steps = 0;
  for (const plan of model.plans) {
    const r = checkModel(plan, coverage);
    paths += r.paths;
    steps += r.steps;
  }
  return { ...coverage.report(), paths, steps };
}
