// Source: statelyai/xstate examples/7guis-1-counter-vue/src/counterMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: nothing beyond renaming the export to `machine`.
import { setup, assign } from 'xstate';

export const machine = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'increase' }
  }
}).createMachine({
  context: {
    count: 0
  },
  id: 'Counter',
  initial: 'ready',
  states: {
    ready: {
      on: {
        increase: {
          target: 'ready',
          actions: assign({
            count: ({ context }) => context.count + 1
          })
        }
      }
    }
  }
});
