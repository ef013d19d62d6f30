// Source: statelyai/xstate examples/workflow-accumulate-room-readings/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: produceReport (was a 1s timer + console.log) resolves immediately; demo driver dropped.
import { assign, setup, fromPromise } from 'xstate';

// https://github.com/serverlessworkflow/specification/blob/main/examples/README.md#accumulate-room-readings
export const machine = setup({
  types: {} as {
    events:
      | {
          type: 'TemperatureEvent';
          roomId: string;
          temperature: number;
        }
      | {
          type: 'HumidityEvent';
          roomId: string;
          humidity: number;
        };
    context: {
      temperature: number | null;
      humidity: number | null;
    };
  },
  delays: {
    PT1H: 10_000
  },
  actors: {
    produceReport: fromPromise(
      async (_: {
        input: {
          temperature: number | null;
          humidity: number | null;
        };
      }) => undefined
    )
  }
}).createMachine({
  id: 'roomreadings',

  initial: 'ConsumeReading',
  context: {
    temperature: null,
    humidity: null
  },
  states: {
    ConsumeReading: {
      entry: assign({
        temperature: null,
        humidity: null
      }),
      on: {
        TemperatureEvent: {
          actions: assign({
            temperature: ({ event }) => event.temperature
          })
        },
        HumidityEvent: {
          actions: assign({
            humidity: ({ event }) => event.humidity
          })
        }
      },
      after: {
        PT1H: {
          guard: ({ context }) =>
            context.temperature !== null && context.humidity !== null,
          target: 'GenerateReport'
        }
      }
    },
    GenerateReport: {
      invoke: {
        src: 'produceReport',
        input: ({ context }) => ({
          temperature: context.temperature,
          humidity: context.humidity
        }),
        onDone: {
          target: 'ConsumeReading'
        }
      }
    }
  }
});
