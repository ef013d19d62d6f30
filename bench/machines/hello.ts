// Source: statelyai/xstate examples/workflow-hello/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: export renamed to `machine`; demo driver dropped.
import { createMachine } from 'xstate';

// https://github.com/serverlessworkflow/specification/tree/main/examples#hello-world-example
export const machine = createMachine({
  id: 'helloworld',
  initial: 'Hello State',
  states: {
    'Hello State': {
      type: 'final',
      output: {
        result: 'Hello World!'
      }
    }
  }
});
