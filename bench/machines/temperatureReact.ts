// Source: statelyai/xstate examples/7guis-temperature-react/src/temperatureMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: nothing beyond renaming the export to `machine`.
import { createMachine, assign } from 'xstate';

interface TemperatureContext {
  tempC?: number | string;
  tempF?: number | string;
}

type TemperatureEvent =
  | {
      type: 'CELSIUS';
      value: string;
    }
  | {
      type: 'FAHRENHEIT';
      value: string;
    };

export const machine = createMachine({
  types: {} as {
    context: TemperatureContext;
    events: TemperatureEvent;
  },
  context: { tempC: undefined, tempF: undefined },
  on: {
    CELSIUS: {
      actions: assign({
        tempC: ({ event }) => event.value,
        tempF: ({ event }) =>
          event.value.length ? +event.value * (9 / 5) + 32 : ''
      })
    },
    FAHRENHEIT: {
      actions: assign({
        tempC: ({ event }) =>
          event.value.length ? (+event.value - 32) * (5 / 9) : '',
        tempF: ({ event }) => event.value
      })
    }
  }
});
