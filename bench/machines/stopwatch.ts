// Source: statelyai/xstate examples/stopwatch/src/stopwatchMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: ticks (was a 10ms setInterval sending TICK) is a no-op fromCallback; TICK must be sent externally.
import { assign, fromCallback, setup } from 'xstate';

export const machine = setup({
  actors: {
    ticks: fromCallback(() => () => {})
  }
}).createMachine({
  id: 'stopwatch',
  initial: 'stopped',
  context: {
    elapsed: 0
  },
  states: {
    stopped: {
      on: {
        start: 'running'
      }
    },
    running: {
      invoke: {
        src: 'ticks'
      },
      on: {
        TICK: {
          actions: assign({
            elapsed: ({ context }) => context.elapsed + 1
          })
        },
        stop: 'stopped'
      }
    }
  },
  on: {
    reset: {
      actions: assign({
        elapsed: 0
      }),
      target: '.stopped'
    }
  }
});
