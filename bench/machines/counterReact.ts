// Source: statelyai/xstate examples/7guis-counter-react/src/counterMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: nothing beyond renaming the export to `machine`.
import { createMachine, assign } from 'xstate';

interface CounterContext {
  count: number;
}

type CounterEvent = {
  type: 'INCREMENT';
};

export const machine = createMachine({
  types: {} as {
    context: CounterContext;
    events: CounterEvent;
  },
  id: 'counter',
  context: { count: 0 },
  on: {
    INCREMENT: {
      actions: assign({ count: ({ context }) => context.count + 1 })
    }
  }
});
