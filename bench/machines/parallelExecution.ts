// Source: statelyai/xstate examples/workflow-parallel/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: shortDelay/longDelay actors (were 1s/3s timers + console.log) resolve immediately; demo driver dropped.
import { fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#parallel-execution-example
export const machine = setup({
  actors: {
    shortDelay: fromPromise(async () => undefined),
    longDelay: fromPromise(async () => undefined)
  }
}).createMachine({
  id: 'parallel-execution',
  initial: 'ParallelExec',
  states: {
    ParallelExec: {
      type: 'parallel',
      states: {
        ShortDelayBranch: {
          initial: 'active',
          states: {
            active: {
              invoke: {
                src: 'shortDelay',
                onDone: 'done'
              }
            },
            done: {
              type: 'final'
            }
          }
        },
        LongDelayBranch: {
          initial: 'active',
          states: {
            active: {
              invoke: {
                src: 'longDelay',
                onDone: 'done'
              }
            },
            done: {
              type: 'final'
            }
          }
        }
      },
      onDone: 'Success'
    },
    Success: {
      type: 'final'
    }
  }
});
