// Source: statelyai/xstate examples/workflow-async-subflow/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the child machine's prompt actor (was a readline stdin prompt) resolves immediately with { response: 'Ada' }; readline setup and demo driver dropped.
import { assign, fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#async-subflow-invocation-example

const onboardingWorkflow = setup({
  actors: {
    prompt: fromPromise(async (_: { input: { question: string } }) => ({
      response: 'Ada'
    }))
  }
}).createMachine({
  id: 'onboarding',
  initial: 'Welcome',
  context: {
    name: undefined
  },
  states: {
    Welcome: {
      invoke: {
        src: 'prompt',
        input: {
          question: 'What is your name?'
        },
        onDone: {
          target: 'Personalize',
          actions: assign({
            name: ({ event }) => event.output.response
          })
        }
      }
    },
    Personalize: {
      invoke: {
        src: 'prompt',
        input: ({ context }) => ({
          question: `Welcome ${context.name}, press enter to finish the onboarding process`
        }),
        onDone: 'Completed'
      }
    },
    Completed: {
      type: 'final'
    }
  }
});

export const machine = setup({
  actors: {
    onboarding: onboardingWorkflow
  }
}).createMachine({
  id: 'async-function-invocation',
  initial: 'Onboard',
  states: {
    Onboard: {
      invoke: {
        src: 'onboarding',
        onDone: 'Onboarded'
      }
    },
    Onboarded: {
      type: 'final'
    }
  }
});
