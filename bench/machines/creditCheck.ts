// Source: statelyai/xstate examples/workflow-credit-check/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: actors are deterministic fromPromise stand-ins (no console/1s timers) returning the source's sample values; context falls back to the demo driver's sample customer when no input is given.
import { assign, fromPromise, setup } from 'xstate';

interface Customer {
  id: string;
  name: string;
  SSN: number;
  yearlyIncome: number;
  address: string;
  employer: string;
}

// Sample input used by the source's demo driver (createActor(workflow, { input }))
const SAMPLE_CUSTOMER: Customer = {
  id: 'customer123',
  name: 'John Doe',
  SSN: 123456,
  yearlyIncome: 50000,
  address: '123 MyLane, MyCity, MyCountry',
  employer: 'MyCompany'
};

// https://github.com/serverlessworkflow/specification/tree/main/examples#perform-customer-credit-check-example
export const machine = setup({
  types: {
    context: {} as {
      customer: Customer;
      creditCheck: {
        decision: 'Approved' | 'Denied';
      } | null;
    },
    input: {} as {
      customer: Customer;
    }
  },
  actors: {
    callCreditCheckMicroservice: fromPromise(
      async (_: { input: { customer: Customer } }) => ({
        id: 'customer123',
        score: 700,
        decision: 'Approved' as const,
        reason: 'Good credit score'
      })
    ),
    startApplicationWorkflowId: fromPromise(
      async (_: { input: { customer: Customer } }) => ({
        application: {
          id: 'application123',
          status: 'Approved'
        }
      })
    ),
    sendRejectionEmailFunction: fromPromise(
      async (_: { input: { applicant: Customer } }) => ({
        email: {
          id: 'email123',
          status: 'Sent'
        }
      })
    )
  },
  delays: {
    PT15M: 15 * 60 * 1000
  }
}).createMachine({
  id: 'customercreditcheck',
  initial: 'CheckCredit',
  context: ({ input }) => ({
    customer: input?.customer ?? SAMPLE_CUSTOMER,
    creditCheck: null
  }),
  states: {
    CheckCredit: {
      invoke: {
        src: 'callCreditCheckMicroservice',
        input: ({ context }) => ({
          customer: context.customer
        }),
        onDone: {
          target: 'EvaluateDecision',
          actions: assign({
            creditCheck: ({ event }) => event.output
          })
        }
      },
      // timeout
      after: {
        PT15M: 'Timeout'
      }
    },
    EvaluateDecision: {
      always: [
        {
          guard: ({ context }) => context.creditCheck?.decision === 'Approved',
          target: 'StartApplication'
        },
        {
          guard: ({ context }) => context.creditCheck?.decision === 'Denied',
          target: 'RejectApplication'
        },
        {
          target: 'RejectApplication'
        }
      ]
    },
    StartApplication: {
      invoke: {
        src: 'startApplicationWorkflowId',
        input: ({ context }) => ({
          customer: context.customer
        }),
        onDone: {
          target: 'End'
        }
      }
    },
    RejectApplication: {
      invoke: {
        src: 'sendRejectionEmailFunction',
        input: ({ context }) => ({
          applicant: context.customer
        }),
        onDone: {
          target: 'End'
        }
      }
    },
    End: {
      type: 'final'
    },
    Timeout: {}
  }
});
