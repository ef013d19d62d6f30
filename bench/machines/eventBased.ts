// Source: statelyai/xstate examples/workflow-event-based/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the three handle*WorkflowID actors (were 1s timers + console.log) resolve immediately; demo driver dropped.
import { fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#Event-Based-Transitions-Example
export const machine = setup({
  delays: {
    visaDecisionTimeout: 1000
  },
  actors: {
    handleApprovedVisaWorkflowID: fromPromise(async () => undefined),
    handleRejectedVisaWorkflowID: fromPromise(async () => undefined),
    handleNoVisaDecisionWorkflowId: fromPromise(async () => undefined)
  }
}).createMachine({
  id: 'eventbasedswitchstate',
  initial: 'CheckVisaStatus',
  states: {
    CheckVisaStatus: {
      on: {
        visaApprovedEvent: 'HandleApprovedVisa',
        visaRejectedEvent: 'HandleRejectedVisa'
      },
      after: {
        visaDecisionTimeout: 'HandleNoVisaDecision'
      }
    },
    HandleApprovedVisa: {
      invoke: {
        src: 'handleApprovedVisaWorkflowID',
        onDone: 'End'
      }
    },
    HandleRejectedVisa: {
      invoke: {
        src: 'handleRejectedVisaWorkflowID',
        onDone: 'End'
      }
    },
    HandleNoVisaDecision: {
      invoke: {
        src: 'handleNoVisaDecisionWorkflowId',
        onDone: 'End'
      }
    },
    End: {
      type: 'final'
    }
  }
});
