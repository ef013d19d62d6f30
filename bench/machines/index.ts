// Fixture set of real XState v5 machines taken from statelyai/xstate (examples/, templates/, README.md).
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate). Each file notes its exact source and adaptations.
// `features` describes the exported (top-level) machine only; invoked child machines' internals are not counted.
import type { AnyStateMachine } from 'xstate';
import { machine as fetch } from './fetch.js';
import { machine as friend } from './friend.js';
import { machine as friendsList } from './friendsList.js';
import { machine as stopwatch } from './stopwatch.js';
import { machine as timer } from './timer.js';
import { machine as flightBooker } from './flightBooker.js';
import { machine as donutMaker } from './donutMaker.js';
import { machine as ticTacToe } from './ticTacToe.js';
import { machine as tiles } from './tiles.js';
import { machine as snake } from './snake.js';
import { machine as triviaGame } from './triviaGame.js';
import { machine as feedback } from './feedback.js';
import { machine as payment } from './payment.js';
import { machine as wordFormatting } from './wordFormatting.js';
import { machine as trafficLight } from './trafficLight.js';
import { machine as purchaseOrderDeadline } from './purchaseOrderDeadline.js';
import { machine as creditCheck } from './creditCheck.js';
import { machine as carVitals } from './carVitals.js';
import { machine as bookLending } from './bookLending.js';
import { machine as parallelExecution } from './parallelExecution.js';
import { machine as monitorJob } from './monitorJob.js';
import { machine as fillingWater } from './fillingWater.js';
import { machine as provisionOrders } from './provisionOrders.js';
import { machine as newPatientOnboarding } from './newPatientOnboarding.js';
import { machine as eventBased } from './eventBased.js';
import { machine as accumulateRoomReadings } from './accumulateRoomReadings.js';
import { machine as asyncSubflow } from './asyncSubflow.js';
import { machine as carAuctionBids } from './carAuctionBids.js';

export interface ExampleMachine { name: string; source: string; commit: string; features: string[]; machine: AnyStateMachine }

export const XSTATE_COMMIT = 'b1811bf77bc2d1a74367328cec7907aa185b70df';

export const EXAMPLE_MACHINES: ExampleMachine[] = [
  { name: 'fetch', source: 'examples/fetch/src/fetchMachine.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'context'], machine: fetch },
  { name: 'friend', source: 'examples/friends-list-react/src/friendMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'context'], machine: friend },
  { name: 'friendsList', source: 'examples/friends-list-react/src/friendsMachine.ts', commit: XSTATE_COMMIT, features: ['spawn', 'guards', 'context'], machine: friendsList },
  { name: 'stopwatch', source: 'examples/stopwatch/src/stopwatchMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'context'], machine: stopwatch },
  { name: 'timer', source: 'examples/timer/src/timerMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'always', 'context'], machine: timer },
  { name: 'flightBooker', source: 'examples/7guis-flight-booker-react/src/machines/flightMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'final', 'context'], machine: flightBooker },
  { name: 'donutMaker', source: 'examples/persisted-donut-maker/donutMachine.ts', commit: XSTATE_COMMIT, features: ['parallel', 'final'], machine: donutMaker },
  { name: 'ticTacToe', source: 'examples/tic-tac-toe-react/src/ticTacToeMachine.ts', commit: XSTATE_COMMIT, features: ['guards', 'always', 'context'], machine: ticTacToe },
  { name: 'tiles', source: 'examples/tiles/src/tilesMachine.ts', commit: XSTATE_COMMIT, features: ['guards', 'always', 'context'], machine: tiles },
  { name: 'snake', source: 'examples/snake-react/src/snakeMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'always', 'context'], machine: snake },
  { name: 'triviaGame', source: 'examples/trivia-game-example/src/triviaMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'always', 'context'], machine: triviaGame },
  { name: 'feedback', source: 'templates/vanilla-ts/src/feedbackMachine.ts', commit: XSTATE_COMMIT, features: ['guards', 'context'], machine: feedback },
  { name: 'payment', source: 'README.md#history-states', commit: XSTATE_COMMIT, features: ['history'], machine: payment },
  { name: 'wordFormatting', source: 'README.md#parallel-state-machines', commit: XSTATE_COMMIT, features: ['parallel'], machine: wordFormatting },
  { name: 'trafficLight', source: 'README.md#hierarchical-nested-state-machines', commit: XSTATE_COMMIT, features: [], machine: trafficLight },
  { name: 'purchaseOrderDeadline', source: 'examples/workflow-purchase-order-deadline/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'final'], machine: purchaseOrderDeadline },
  { name: 'creditCheck', source: 'examples/workflow-credit-check/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'guards', 'always', 'final', 'context'], machine: creditCheck },
  { name: 'carVitals', source: 'examples/workflow-car-vitals/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke'], machine: carVitals },
  { name: 'bookLending', source: 'examples/workflow-book-lending/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'guards', 'always', 'final', 'context'], machine: bookLending },
  { name: 'parallelExecution', source: 'examples/workflow-parallel/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'parallel', 'final'], machine: parallelExecution },
  { name: 'monitorJob', source: 'examples/workflow-monitor-job/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'guards', 'always', 'final', 'context'], machine: monitorJob },
  { name: 'fillingWater', source: 'examples/workflow-filling-water/main.ts', commit: XSTATE_COMMIT, features: ['after', 'guards', 'always', 'final', 'context'], machine: fillingWater },
  { name: 'provisionOrders', source: 'examples/workflow-provision-orders/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'final', 'context'], machine: provisionOrders },
  { name: 'newPatientOnboarding', source: 'examples/workflow-new-patient-onboarding/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: newPatientOnboarding },
  { name: 'eventBased', source: 'examples/workflow-event-based/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'final'], machine: eventBased },
  { name: 'accumulateRoomReadings', source: 'examples/workflow-accumulate-room-readings/main.ts', commit: XSTATE_COMMIT, features: ['after', 'invoke', 'guards', 'context'], machine: accumulateRoomReadings },
  { name: 'asyncSubflow', source: 'examples/workflow-async-subflow/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final'], machine: asyncSubflow },
  { name: 'carAuctionBids', source: 'examples/workflow-car-auction-bids/main.ts', commit: XSTATE_COMMIT, features: ['after', 'final', 'context'], machine: carAuctionBids }
];
