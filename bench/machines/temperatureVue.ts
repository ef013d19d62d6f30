// Source: statelyai/xstate examples/7guis-2-temperature-vue/src/tempMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: nothing beyond renaming the export to `machine`.
import { assign, setup } from 'xstate';

interface TempContext {
  celsius: number | undefined;
  fahrenheit: number | undefined;
}

interface changeC {
  type: 'changeC';
  value: string;
}

interface changeF {
  type: 'changeF';
  value: string;
}

const isOnlyWhiteSpace = (string: string) => string.trim().length === 0;

export const machine = setup({
  types: {
    context: {} as TempContext,
    events: {} as changeC | changeF
  },
  guards: {
    valueIsNumber: ({ event }) => {
      return !isNaN(+event.value);
    }
  },
  actions: {
    onChangeC: assign({
      celsius: ({ event }) =>
        isOnlyWhiteSpace(event.value) ? undefined : +event.value,
      fahrenheit: ({ event }) =>
        isOnlyWhiteSpace(event.value)
          ? undefined
          : Math.round(+event.value * (9 / 5) + 32)
    }),
    onChangeF: assign({
      fahrenheit: ({ event }) =>
        isOnlyWhiteSpace(event.value) ? undefined : +event.value,
      celsius: ({ event }) =>
        isOnlyWhiteSpace(event.value)
          ? undefined
          : Math.round((+event.value - 32) * (5 / 9))
    })
  }
}).createMachine({
  id: 'tempConverter',
  initial: 'ready',
  context: {
    celsius: undefined,
    fahrenheit: undefined
  },
  states: {
    ready: {
      on: {
        changeC: {
          target: 'ready',
          guard: 'valueIsNumber',
          actions: {
            type: 'onChangeC'
          }
        },
        changeF: {
          target: 'ready',
          guard: 'valueIsNumber',
          actions: {
            type: 'onChangeF'
          }
        }
      }
    }
  }
});
