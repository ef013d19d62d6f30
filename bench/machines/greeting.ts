// Source: statelyai/xstate examples/workflow-greeting/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: greetingFunction (was a 1s timer) resolves at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { assign, fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#greeting-example
export const machine = setup({
  types: {
    context: {} as {
      greeting: string | undefined;
    },
    input: {} as {
      person: {
        name: string;
      };
    }
  },
  actors: {
    greetingFunction: fromPromise(async ({ input }: { input: { name: string } }) => ({ greeting: `Hello, ${input.name}!` }))
  }
}).createMachine({
  id: 'greeting',
  context: {
    greeting: undefined
  },
  initial: 'Greet',
  states: {
    Greet: {
      invoke: {
        src: 'greetingFunction',
        input: ({ event }) => ({
          name: event.input.person.name
        }),
        onDone: {
          target: 'Greeted',
          actions: assign({
            greeting: ({ event }) => event.output.greeting
          })
        }
      }
    },
    Greeted: {
      type: 'final',
      output: ({ context }) => ({
        greeting: context.greeting
      })
    }
  }
});
