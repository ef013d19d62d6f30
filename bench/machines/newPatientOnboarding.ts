// Source: statelyai/xstate examples/workflow-new-patient-onboarding/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: StoreNewPatientInfo/AssignDoctor/ScheduleAppt (were cockatiel-retried timers failing with p=0.5) resolve immediately; demo driver dropped.
import { assign, createMachine, fromPromise } from 'xstate';

// https://github.com/serverlessworkflow/specification/blob/main/examples/README.md#New-Patient-Onboarding
export const machine = createMachine(
  {
    id: 'patientonboarding',
    types: {} as {
      events: { type: 'NewPatientEvent'; name: string; condition: string };
      context: {
        patient: {
          name: string;
          condition: string;
        } | null;
      };
    },
    initial: 'Idle',
    context: {
      patient: null
    },
    states: {
      Idle: {
        on: {
          NewPatientEvent: {
            target: 'Onboard',
            actions: assign({
              patient: ({ event }) => ({
                name: event.name,
                condition: event.condition
              })
            })
          }
        }
      },
      Onboard: {
        initial: 'StorePatient',
        states: {
          StorePatient: {
            invoke: {
              src: 'StoreNewPatientInfo',
              input: ({ context }) => context.patient,
              onDone: {
                target: 'AssignDoctor'
              },
              onError: {
                target: '#End'
              }
            }
          },
          AssignDoctor: {
            invoke: {
              src: 'AssignDoctor',
              onDone: {
                target: 'ScheduleAppt'
              },
              onError: {
                target: '#End'
              }
            }
          },
          ScheduleAppt: {
            invoke: {
              src: 'ScheduleAppt',
              onDone: {
                target: 'Done'
              },
              onError: {
                target: '#End'
              }
            }
          },
          Done: {
            type: 'final'
          }
        },
        onDone: {
          target: 'End',
          actions: assign({
            patient: null
          })
        }
      },
      End: {
        id: 'End',
        type: 'final'
      }
    }
  },
  {
    actors: {
      StoreNewPatientInfo: fromPromise(async (_: { input: any }) => undefined),
      AssignDoctor: fromPromise(async () => undefined),
      ScheduleAppt: fromPromise(async () => undefined)
    }
  }
);
