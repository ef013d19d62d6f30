// Source: statelyai/xstate examples/express-workflow/machine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: nothing.
import { createMachine, assign } from 'xstate';

export const machine = createMachine({
  id: 'counter',
  initial: 'green',
  context: {
    cycles: 0
  },
  states: {
    green: {
      on: {
        TIMER: 'yellow'
      }
    },
    yellow: {
      on: {
        TIMER: 'red'
      }
    },
    red: {
      on: {
        TIMER: {
          target: 'green',
          actions: assign({
            cycles: ({ context }) => context.cycles + 1
          })
        }
      }
    }
  }
});
