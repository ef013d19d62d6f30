// Source: statelyai/xstate examples/workflow-finalize-college-app/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: finalizeApplicationFunction (was a 1s timer + console.log) resolves at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { assign, fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#finalize-college-application-example
export const machine = setup({
  types: {
    context: {} as {
      applicantId: string;
      applicationSubmitted: boolean;
      satScoresReceived: boolean;
      recommendationLetterReceived: boolean;
    },
    input: {} as {
      applicantId: string;
    }
  },
  actors: {
    finalizeApplicationFunction: fromPromise(async ({ input }: { input: { applicantId: string } }) => ({ applicantId: input.applicantId }))
  }
}).createMachine({
  id: 'finalizeCollegeApplication',
  context: ({ input }) => ({
    applicantId: input.applicantId,
    applicationSubmitted: false,
    satScoresReceived: false,
    recommendationLetterReceived: false
  }),
  initial: 'FinalizeApplication',
  states: {
    FinalizeApplication: {
      on: {
        ApplicationSubmitted: {
          actions: assign({
            applicationSubmitted: true
          })
        },
        SATScoresReceived: {
          actions: assign({
            satScoresReceived: true
          })
        },
        RecommendationLetterReceived: {
          actions: assign({
            recommendationLetterReceived: true
          })
        }
      },
      always: {
        guard: ({ context }) =>
          context.applicationSubmitted &&
          context.satScoresReceived &&
          context.recommendationLetterReceived,
        target: 'FinalizingApplication'
      }
    },
    FinalizingApplication: {
      invoke: {
        src: 'finalizeApplicationFunction',
        input: ({ context }) => ({
          applicantId: context.applicantId
        }),
        onDone: 'Finalized'
      }
    },
    Finalized: {
      type: 'final'
    }
  }
});
