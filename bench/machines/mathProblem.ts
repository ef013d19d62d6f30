// Source: statelyai/xstate examples/workflow-math-problem/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: batchMathFunction (was 1s timers + console.log) resolves at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { assign, fromPromise, setup } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#solving-math-problems-example
export const machine = setup({
  types: {
    context: {} as {
      results: string[] | undefined;
    }
  },
  actors: {
    batchMathFunction: fromPromise(async ({ input }: { input: { problems: string[] } }) => input.problems.map((problem) => ({ problem, result: `Solved ${problem}` })))
  }
}).createMachine({
  id: 'math-problem',
  initial: 'Solve',
  context: {
    results: undefined
  },
  states: {
    Solve: {
      invoke: {
        src: 'batchMathFunction',
        input: ({ event }) => ({
          problems: event.input.expressions
        }),
        onDone: {
          target: 'Solved',
          actions: assign({
            results: ({ event }) => event.output.map((r) => r.result)
          })
        }
      }
    },
    Solved: {
      type: 'final',
      output: ({ context }) => ({
        results: context.results
      })
    }
  }
});
