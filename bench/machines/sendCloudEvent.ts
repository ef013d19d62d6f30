// Source: statelyai/xstate examples/workflow-send-cloudevent/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: provisionOrdersFunction (was 1s timers + console.log) resolves at once; export renamed to `machine`; demo driver dropped (its input is in index.ts).
import { assign, fromPromise, setup } from 'xstate';

interface Order {
  id: string;
  item: string;
  quantity: string;
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#send-cloudevent-on-workflow-completion-example
export const machine = setup({
  types: {
    context: {} as {
      orders: Order[];
      provisionedOrders:
        | {
            id: string;
            outcome: string;
          }[]
        | undefined;
    },
    input: {} as {
      orders: Order[];
    }
  },
  actors: {
    provisionOrdersFunction: fromPromise(async ({ input }: { input: { orders: Order[] } }) => input.orders.map((order) => ({ id: order.id, outcome: 'SUCCESS' })))
  }
}).createMachine({
  id: 'sendcloudeventonprovision',
  context: ({ input }) => ({
    orders: input.orders,
    provisionedOrders: undefined
  }),
  initial: 'ProvisionOrdersState',
  states: {
    ProvisionOrdersState: {
      invoke: {
        src: 'provisionOrdersFunction',
        input: ({ context }) => ({
          orders: context.orders
        }),
        onDone: {
          actions: assign({
            provisionedOrders: ({ event }) => event.output
          }),
          target: 'End'
        }
      }
    },
    End: {
      type: 'final',
      output: ({ context }) => ({
        provisionedOrders: context.provisionedOrders
      })
    }
  }
});
