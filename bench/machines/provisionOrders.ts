// Source: statelyai/xstate examples/workflow-provision-orders/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: actors run synchronously-resolved (no 1s timers/console.log); provisionOrderFunction keeps the source's validation throws so onError branches stay reachable via input; context falls back to a sample valid order when no input is given.
import { fromPromise, setup } from 'xstate';

interface Order {
  id: string;
  item: string;
  quantity: string;
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#provision-orders-example
export const machine = setup({
  types: {
    context: {} as {
      order: Order;
    },
    input: {} as { order: Order }
  },
  actors: {
    provisionOrderFunction: fromPromise(
      async ({ input }: { input: { order: Order } }) => {
        if (!input.order.id) {
          throw new Error('Missing order id');
        }
        if (!input.order.item) {
          throw new Error('Missing order item');
        }
        if (!input.order.quantity) {
          throw new Error('Missing order quantity');
        }
        return {
          order: input.order
        };
      }
    ),
    applyOrderWorkflowId: fromPromise(async () => undefined),
    handleMissingIdExceptionWorkflow: fromPromise(async () => undefined),
    handleMissingItemExceptionWorkflow: fromPromise(async () => undefined),
    handleMissingQuantityExceptionWorkflow: fromPromise(async () => undefined)
  }
}).createMachine({
  id: 'provisionorders',

  initial: 'ProvisionOrder',
  context: ({ input }) => ({
    order: input?.order ?? { id: 'order1', item: 'laptop', quantity: '10' }
  }),
  states: {
    ProvisionOrder: {
      invoke: {
        src: 'provisionOrderFunction',
        input: ({ context }) => ({
          order: context.order
        }),
        onDone: 'ApplyOrder',
        onError: [
          {
            guard: ({ event }) =>
              (event.error as any).message === 'Missing order id',
            target: 'Exception.MissingId'
          },
          {
            guard: ({ event }) =>
              (event.error as any).message === 'Missing order item',
            target: 'Exception.MissingItem'
          },
          {
            guard: ({ event }) =>
              (event.error as any).message === 'Missing order quantity',
            target: 'Exception.MissingQuantity'
          }
        ]
      }
    },
    ApplyOrder: {
      invoke: {
        src: 'applyOrderWorkflowId',
        onDone: 'End'
      }
    },
    End: {
      type: 'final'
    },
    Exception: {
      initial: 'MissingId',
      states: {
        MissingId: {
          invoke: {
            src: 'handleMissingIdExceptionWorkflow',
            onDone: 'End'
          }
        },
        MissingItem: {
          invoke: {
            src: 'handleMissingItemExceptionWorkflow',
            onDone: 'End'
          }
        },
        MissingQuantity: {
          invoke: {
            src: 'handleMissingQuantityExceptionWorkflow',
            onDone: 'End'
          }
        },
        End: {
          type: 'final'
        }
      },
      onDone: 'End'
    }
  }
});
