// Source: statelyai/xstate examples/workflow-reusing-functions/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the three actors (were 1s timers + console.log) resolve at once, checkfunds with the same answer; export renamed to `machine`; the demo driver (parentWorkflow, which forwards PaymentReceivedEvent to it and logs, and its actor) dropped.
import {
  assign,
  fromPromise,
  sendParent,
  setup
} from 'xstate';

interface PaymentReceivedEvent {
  type: 'PaymentReceivedEvent';
  accountId: string;
  payment: {
    amount: number;
  };
  customer: {
    name: string;
  };
  funds: {
    available: boolean;
  };
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#event-based-service-invocation
export const machine = setup({
  types: {
    events: {} as PaymentReceivedEvent,
    context: {} as {
      payment: {
        amount: number;
      } | null;
      customer: {
        name: string;
      } | null;
      funds: {
        available: boolean;
      } | null;
      accountId: string | null;
    }
  },

  actors: {
    checkfunds: fromPromise(async ({ input }: { input: { account: string; paymentamount: number } }) => ({ available: input.paymentamount < 1000 })),
    sendSuccessEmail: fromPromise<void, { applicant: { name: string } | null }>(async () => undefined),
    sendInsufficientFundsEmail: fromPromise<void, { applicant: { name: string } | null }>(async () => undefined)
  },
  guards: {
    fundsAvailable: ({ context }) => !!context.funds?.available
  }
}).createMachine({
  id: 'paymentconfirmation',

  initial: 'Pending',
  context: {
    customer: null,
    payment: null,
    funds: null,
    accountId: null
  },
  states: {
    Pending: {
      on: {
        PaymentReceivedEvent: {
          actions: assign({
            customer: ({ event }) => event.customer,
            payment: ({ event }) => event.payment,
            funds: ({ event }) => event.funds
          }),
          target: 'PaymentReceived'
        }
      }
    },
    PaymentReceived: {
      invoke: {
        src: 'checkfunds',
        input: ({ context }) => ({
          account: context.accountId!,
          paymentamount: context.payment!.amount
        }),
        onDone: {
          actions: assign({
            funds: ({ event }) => event.output
          }),
          target: 'ConfirmBasedOnFunds'
        }
      }
    },
    ConfirmBasedOnFunds: {
      always: [
        {
          guard: 'fundsAvailable',
          target: 'SendPaymentSuccess'
        },
        {
          target: 'SendInsufficientResults'
        }
      ]
    },
    SendPaymentSuccess: {
      invoke: {
        src: 'sendSuccessEmail',
        input: ({ context }) => ({
          applicant: context.customer
        }),
        onDone: {
          target: 'End'
        }
      }
    },
    SendInsufficientResults: {
      invoke: {
        src: 'sendInsufficientFundsEmail',
        input: ({ context }) => ({
          applicant: context.customer
        }),
        onDone: {
          target: 'End'
        }
      }
    },
    End: {
      type: 'final',
      entry: sendParent(({ context }) => ({
        type: 'ConfirmationCompletedEvent',
        payment: context.payment
      }))
    }
  }
});
