// Source: statelyai/xstate examples/7guis-flight-booker-react/src/machines/flightMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: dropped @xstate/react createActorContext; inlined TODAY/TOMORROW and FlightData from utils/types; Booker (was sleep(2000)) resolves immediately.
import { setup, assign, assertEvent, fromPromise } from 'xstate';

// CONSTANTS (from examples/7guis-flight-booker-react/src/utils/index.ts)
const TODAY = new Date().toISOString().split('T')[0];

const TOMORROW = new Date(Date.now() + 86400000).toISOString().split('T')[0];

interface FlightData {
  departDate: string;
  returnDate: string;
}

export const machine = setup({
  types: {
    context: {} as FlightData,
    events: {} as
      | { type: 'BOOK_DEPART' }
      | { type: 'BOOK_RETURN' }
      | { type: 'CHANGE_TRIP_TYPE' }
      | { type: 'CHANGE_DEPART_DATE'; value: string }
      | { type: 'CHANGE_RETURN_DATE'; value: string }
  },
  actions: {
    setDepartDate: assign(({ event }) => {
      assertEvent(event, 'CHANGE_DEPART_DATE');
      return { departDate: event.value };
    }),
    setReturnDate: assign(({ event }) => {
      assertEvent(event, 'CHANGE_RETURN_DATE');
      return { returnDate: event.value };
    })
  },
  actors: {
    Booker: fromPromise(async () => undefined)
  },
  guards: {
    'isValidDepartDate?': ({ context: { departDate } }) => {
      return departDate >= TODAY;
    },
    'isValidReturnDate?': ({ context: { departDate, returnDate } }) => {
      return departDate >= TODAY && returnDate > departDate;
    }
  }
}).createMachine({
  id: 'flightBookerMachine',
  context: {
    departDate: TODAY,
    returnDate: TOMORROW
  },
  initial: 'scheduling',
  states: {
    scheduling: {
      initial: 'oneWay',
      on: {
        CHANGE_DEPART_DATE: {
          actions: {
            type: 'setDepartDate'
          }
        }
      },
      states: {
        oneWay: {
          on: {
            CHANGE_TRIP_TYPE: {
              target: 'roundTrip'
            },
            BOOK_DEPART: {
              target: '#flightBookerMachine.booking',
              guard: {
                type: 'isValidDepartDate?'
              }
            }
          }
        },
        roundTrip: {
          on: {
            CHANGE_TRIP_TYPE: {
              target: 'oneWay'
            },
            CHANGE_RETURN_DATE: {
              actions: {
                type: 'setReturnDate'
              }
            },
            BOOK_RETURN: {
              target: '#flightBookerMachine.booking',
              guard: {
                type: 'isValidReturnDate?'
              }
            }
          }
        }
      }
    },
    booking: {
      invoke: {
        src: 'Booker',
        onDone: {
          target: 'booked'
        },
        onError: {
          target: 'scheduling'
        }
      }
    },
    booked: {
      type: 'final'
    }
  }
});
