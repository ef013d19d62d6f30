// Source: statelyai/xstate examples/workflow-async-function/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: sendEmail (was a 1s timer + console.log) resolves at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#async-function-invocation-example
export const machine = setup({
  types: {
    input: {} as {
      customer: string;
    }
  },
  actors: {
    sendEmail: fromPromise(async (_: { input: { customer: string } }) => undefined)
  }
}).createMachine({
  id: 'async-function-invocation',
  initial: 'Send email',
  context: ({ input }) => ({
    customer: input.customer
  }),
  states: {
    'Send email': {
      invoke: {
        src: 'sendEmail',
        input: ({ context }) => ({
          customer: context.customer
        }),
        onDone: 'Email sent'
      }
    },
    'Email sent': {
      type: 'final'
    }
  }
});
