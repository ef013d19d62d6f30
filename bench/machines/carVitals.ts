// Source: statelyai/xstate examples/workflow-car-vitals/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the four check* actors of the invoked child machine resolve immediately with { value: 100 } (were timer delays + console.log); onDone logging action is a no-op; demo driver dropped.
import { assign, createMachine, fromPromise, log } from 'xstate';

const vitalsWorkflow = createMachine(
  {
    id: 'vitalscheck',
    context: {
      tirePressure: null,
      oilPressure: null,
      coolantLevel: null,
      battery: null
    },
    initial: 'CheckVitals',
    states: {
      CheckVitals: {
        invoke: [
          {
            src: 'checkTirePressure',
            onDone: {
              actions: assign({
                tirePressure: ({ event }) => event.output
              })
            }
          },
          {
            src: 'checkOilPressure',
            onDone: {
              actions: assign({
                oilPressure: ({ event }) => event.output
              })
            }
          },
          {
            src: 'checkCoolantLevel',
            onDone: {
              actions: assign({
                coolantLevel: ({ event }) => event.output
              })
            }
          },
          {
            src: 'checkBattery',
            onDone: {
              actions: assign({
                battery: ({ event }) => event.output
              })
            }
          }
        ],
        always: {
          guard: ({ context }) => {
            return !!(
              context.tirePressure &&
              context.oilPressure &&
              context.coolantLevel &&
              context.battery
            );
          },
          target: 'VitalsChecked'
        }
      },
      VitalsChecked: {
        type: 'final',
        output: ({ context }) => context
      }
    }
  },
  {
    actors: {
      checkTirePressure: fromPromise(async () => ({ value: 100 })),
      checkOilPressure: fromPromise(async () => ({ value: 100 })),
      checkCoolantLevel: fromPromise(async () => ({ value: 100 })),
      checkBattery: fromPromise(async () => ({ value: 100 }))
    }
  }
);

// https://github.com/serverlessworkflow/specification/blob/main/examples/README.md#car-vitals-checks
export const machine = createMachine(
  {
    id: 'checkcarvitals',
    initial: 'WhenCarIsOn',
    states: {
      WhenCarIsOn: {
        on: {
          CarTurnedOnEvent: 'DoCarVitalChecks'
        }
      },
      DoCarVitalChecks: {
        invoke: {
          src: 'vitalscheck',
          onDone: {
            actions: () => {},
            target: 'CheckContinueVitalChecks'
          }
        }
      },
      CheckContinueVitalChecks: {
        after: {
          1000: 'DoCarVitalChecks'
        }
      }
    },
    on: {
      CarTurnedOffEvent: {
        actions: log('Car turned off'),
        target: '.WhenCarIsOn'
      }
    }
  },
  {
    actors: {
      vitalscheck: vitalsWorkflow
    }
  }
);
