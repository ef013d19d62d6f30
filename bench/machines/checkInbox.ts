// Source: statelyai/xstate examples/workflow-check-inbox/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: schedule (was a setInterval sending reminder) is a no-op fromCallback (reminder is sent externally); checkInboxFunction and sendTextsFunction (were timers + console.log) resolve at once with the same values; export renamed to `machine`; demo driver dropped.
import { assign, fromCallback, fromPromise, setup } from 'xstate';

interface Message {
  subject: string;
  priority: 'high' | 'low';
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#check-inbox-periodically
export const machine = setup({
  types: {
    context: {} as {
      messages: Message[];
    }
  },
  actors: {
    schedule: fromCallback<any, { interval: number }>(() => () => {}),
    checkInboxFunction: fromPromise(async () => [{ subject: 'Hello', priority: 'high' }, { subject: 'Hi', priority: 'low' }] satisfies Message[]),
    sendTextsFunction: fromPromise(async (_: { input: { messages: Message[] } }) => ({ status: 'success' }))
  }
}).createMachine({
  id: 'checkInbox',
  initial: 'Idle',
  context: {
    messages: []
  },
  invoke: {
    src: 'schedule',
    input: {
      interval: 2000
    }
  },
  states: {
    Idle: {
      on: {
        reminder: 'CheckInbox'
      }
    },
    CheckInbox: {
      invoke: {
        src: 'checkInboxFunction',
        onDone: {
          target: 'SendTextForHighPriority',
          actions: assign({
            messages: ({ event }) => event.output
          })
        }
      }
    },
    SendTextForHighPriority: {
      invoke: {
        src: 'sendTextsFunction',
        input: ({ context }) => ({
          messages: context.messages
        }),
        onDone: {
          target: 'Idle'
        }
      }
    }
  }
});
