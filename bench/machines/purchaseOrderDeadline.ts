// Source: statelyai/xstate examples/workflow-purchase-order-deadline/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: CancelOrder actor (was a 1s timer delay) resolves immediately; log actions are no-ops instead of console.log; unused cockatiel retry policy and demo driver dropped.
import { createMachine, fromPromise } from 'xstate';

// https://github.com/serverlessworkflow/specification/blob/main/examples/README.md#purchase-order-deadline
export const machine = createMachine(
  {
    id: 'order',
    types: {} as {
      events:
        | {
            type: 'OrderCreatedEvent';
          }
        | {
            type: 'OrderConfirmedEvent';
          }
        | {
            type: 'ShipmentSentEvent';
          }
        | {
            type: 'OrderFinishedEvent';
          };
    },
    initial: 'StartNewOrder',
    after: {
      PT30D: { target: '.CancelOrder' }
    },
    states: {
      StartNewOrder: {
        on: {
          OrderCreatedEvent: {
            actions: ['logNewOrderCreated'],
            target: 'WaitForOrderConfirmation'
          }
        }
      },
      WaitForOrderConfirmation: {
        on: {
          OrderConfirmedEvent: {
            actions: ['logOrderConfirmed'],
            target: 'WaitOrderShipped'
          }
        }
      },
      WaitOrderShipped: {
        on: {
          ShipmentSentEvent: {
            actions: ['logOrderShipped'],
            target: 'OrderFinished'
          }
        }
      },
      OrderFinished: {
        type: 'final',
        entry: ['logOrderFinished']
      },
      CancelOrder: {
        invoke: {
          src: 'CancelOrder',
          onDone: {
            target: 'OrderCancelled'
          }
        }
      },
      OrderCancelled: {
        type: 'final',
        entry: ['logOrderCancelled']
      }
    }
  },
  {
    delays: {
      // 15 seconds instead of 30 days
      PT30D: 15 * 1000
    },
    actions: {
      logNewOrderCreated: () => {},
      logOrderConfirmed: () => {},
      logOrderShipped: () => {},
      logOrderFinished: () => {},
      logOrderCancelled: () => {}
    },
    actors: {
      CancelOrder: fromPromise(async () => undefined)
    }
  }
);
