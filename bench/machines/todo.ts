// Source: statelyai/xstate examples/todomvc-react/src/Todo.tsx @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: only the machine (todoMachine, renamed `machine`); the React component and its imports dropped, TodoItem from ./todos.js.
import { assign, setup } from 'xstate';
import type { TodoItem } from './todos.js';

export const machine = setup({
  types: {
    context: {} as {
      initialTitle: string;
      title: string;
    },
    events: {} as
      | {
          type: 'edit';
        }
      | {
          type: 'blur';
        }
      | {
          type: 'cancel';
        }
      | {
          type: 'change';
          value: string;
        },
    input: {} as {
      todo: TodoItem;
    }
  },
  actions: {
    focusInput: () => {},
    onCommit: () => {}
  }
}).createMachine({
  id: 'todo',
  initial: 'reading',
  context: ({ input }) => ({
    initialTitle: input.todo.title,
    title: input.todo.title
  }),
  states: {
    reading: {
      on: {
        edit: 'editing'
      }
    },
    editing: {
      entry: [
        assign({
          initialTitle: ({ context }) => context.title
        }),
        { type: 'focusInput' }
      ],
      on: {
        blur: {
          target: 'reading',
          actions: 'onCommit'
        },
        cancel: {
          target: 'reading',
          actions: assign({
            title: ({ context }) => context.initialTitle
          })
        },
        change: {
          actions: assign({
            title: ({ event }) => event.value
          })
        }
      }
    }
  }
});
