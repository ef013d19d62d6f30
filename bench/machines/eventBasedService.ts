// Source: statelyai/xstate examples/workflow-event-based-service/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: MakeAppointmentAction (was a 2s timer + console.log, dated now) resolves at once with a fixed date; export renamed to `machine`; demo driver dropped.
import { assign, fromPromise, setup } from 'xstate';

interface PatientInfo {
  name: string;
  pet: string;
  reason: string;
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#event-based-service-invocation
export const machine = setup({
  actors: {
    MakeAppointmentAction: fromPromise(async (_: { input: { patientInfo: PatientInfo } }) => ({ appointmentInfo: { appointmentId: '1234', appointmentDate: '2024-01-01T00:00:00.000Z' } }))
  }
}).createMachine({
  id: 'VetAppointmentWorkflow',
  types: {} as {
    context: {
      patientInfo: PatientInfo | null;
      appointmentInfo: {
        appointmentId: string;
        appointmentDate: string;
      } | null;
    };
    events: {
      type: 'MakeVetAppointment';
      patientInfo: {
        name: string;
        pet: string;
        reason: string;
      };
    };
  },
  initial: 'Idle',
  context: {
    patientInfo: null,
    appointmentInfo: null
  },
  states: {
    Idle: {
      on: {
        MakeVetAppointment: {
          target: 'MakeVetAppointmentState',
          actions: assign({
            patientInfo: ({ event }) => event.patientInfo
          })
        }
      }
    },
    MakeVetAppointmentState: {
      invoke: {
        src: 'MakeAppointmentAction',
        input: ({ context }) => ({
          patientInfo: context.patientInfo
        }),
        onDone: {
          target: 'Idle',
          actions: assign({
            appointmentInfo: ({ event }) => event.output
          })
        }
      }
    }
  }
});
