// Source: statelyai/xstate examples/workflow-applicant-request/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the two actors (were 1s timers + console.log) resolve at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { fromPromise, setup } from 'xstate';

interface Applicant {
  fname: string;
  lname: string;
  age: number;
  email: string;
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#applicant-request-decision-example
export const machine = setup({
  types: {} as {
    context: {
      applicant: Applicant;
    };
    input: {
      applicant: Applicant;
    };
  },
  actors: {
    startApplicationWorkflowId: fromPromise(async () => undefined),
    sendRejectionEmailFunction: fromPromise(async () => undefined)
  },
  guards: {
    isOver18: ({ context }) => context.applicant.age >= 18
  }
}).createMachine({
  id: 'applicantrequest',

  initial: 'CheckApplication',
  context: ({ input }) => ({
    applicant: input.applicant
  }),
  states: {
    CheckApplication: {
      on: {
        Submit: [
          {
            target: 'StartApplication',
            guard: 'isOver18',
            reenter: false
          },
          {
            target: 'RejectApplication',
            reenter: false
          }
        ]
      }
    },
    StartApplication: {
      invoke: {
        src: 'startApplicationWorkflowId',
        onDone: 'End',
        onError: 'RejectApplication'
      }
    },
    RejectApplication: {
      invoke: {
        src: 'sendRejectionEmailFunction',
        input: ({ context }) => ({
          applicant: context.applicant
        }),
        onDone: 'End'
      }
    },
    End: {
      type: 'final'
    }
  }
});
