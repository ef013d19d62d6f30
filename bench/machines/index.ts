// Fixture set of real XState v5 machines taken from statelyai/xstate (examples/, templates/, README.md):
// every machine of examples/ at the commit below (see bench/modelPaths.ts for the census and the few left out).
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
import { machine as counterVue } from './counterVue.js';
import { machine as temperatureVue } from './temperatureVue.js';
import { machine as counterReact } from './counterReact.js';
import { machine as temperatureReact } from './temperatureReact.js';
import { machine as counter } from './counter.js';
import { machine as expressWorkflow } from './expressWorkflow.js';
import { machine as mongoCreditCheck } from './mongoCreditCheck.js';
import { machine as todos } from './todos.js';
import { machine as todo } from './todo.js';
import { machine as toggle } from './toggle.js';
import { machine as applicantRequest } from './applicantRequest.js';
import { machine as asyncFunction } from './asyncFunction.js';
import { machine as checkInbox } from './checkInbox.js';
import { machine as eventBasedService } from './eventBasedService.js';
import { machine as eventGreeting } from './eventGreeting.js';
import { machine as finalizeCollegeApp } from './finalizeCollegeApp.js';
import { machine as greeting } from './greeting.js';
import { machine as hello } from './hello.js';
import { machine as mathProblem } from './mathProblem.js';
import { machine as mediaScanner } from './mediaScanner.js';
import { machine as monitorPatient } from './monitorPatient.js';
import { machine as reusingFunctions } from './reusingFunctions.js';
import { machine as sendCloudEvent } from './sendCloudEvent.js';

export interface ExampleMachine {
  name: string;
  source: string;
  commit: string;
  features: string[];
  machine: AnyStateMachine;
  /** The input the example's own driver starts the machine with (where it needs one). */
  input?: unknown;
}

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
  { name: 'carAuctionBids', source: 'examples/workflow-car-auction-bids/main.ts', commit: XSTATE_COMMIT, features: ['after', 'final', 'context'], machine: carAuctionBids },
  { name: 'counterVue', source: 'examples/7guis-1-counter-vue/src/counterMachine.ts', commit: XSTATE_COMMIT, features: ['context'], machine: counterVue },
  { name: 'temperatureVue', source: 'examples/7guis-2-temperature-vue/src/tempMachine.ts', commit: XSTATE_COMMIT, features: ['guards', 'context'], machine: temperatureVue },
  { name: 'counterReact', source: 'examples/7guis-counter-react/src/counterMachine.ts', commit: XSTATE_COMMIT, features: ['context'], machine: counterReact },
  { name: 'temperatureReact', source: 'examples/7guis-temperature-react/src/temperatureMachine.ts', commit: XSTATE_COMMIT, features: ['context'], machine: temperatureReact },
  { name: 'counter', source: 'examples/counter/src/counterMachine.ts', commit: XSTATE_COMMIT, features: ['context'], machine: counter },
  { name: 'expressWorkflow', source: 'examples/express-workflow/machine.ts', commit: XSTATE_COMMIT, features: ['context'], machine: expressWorkflow },
  { name: 'mongoCreditCheck', source: 'examples/mongodb-credit-check-api/machine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'parallel', 'final', 'context'], machine: mongoCreditCheck },
  { name: 'todos', source: 'examples/todomvc-react/src/todosMachine.ts', commit: XSTATE_COMMIT, features: ['guards', 'context'], machine: todos },
  { name: 'todo', source: 'examples/todomvc-react/src/Todo.tsx', commit: XSTATE_COMMIT, features: ['context'], machine: todo, input: { todo: { id: '1', title: 'Learn state machines', completed: false } } },
  { name: 'toggle', source: 'examples/toggle/src/toggleMachine.ts', commit: XSTATE_COMMIT, features: [], machine: toggle },
  { name: 'applicantRequest', source: 'examples/workflow-applicant-request/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'final', 'context'], machine: applicantRequest, input: { applicant: { fname: 'John', lname: 'Stockton', age: 22, email: 'js@something.com' } } },
  { name: 'asyncFunction', source: 'examples/workflow-async-function/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: asyncFunction, input: { customer: 'david@example.com' } },
  { name: 'checkInbox', source: 'examples/workflow-check-inbox/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'context'], machine: checkInbox },
  { name: 'eventBasedService', source: 'examples/workflow-event-based-service/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'context'], machine: eventBasedService },
  { name: 'eventGreeting', source: 'examples/workflow-event-greeting/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: eventGreeting },
  { name: 'finalizeCollegeApp', source: 'examples/workflow-finalize-college-app/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'always', 'final', 'context'], machine: finalizeCollegeApp, input: { applicantId: '123' } },
  { name: 'greeting', source: 'examples/workflow-greeting/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: greeting, input: { person: { name: 'Jenny' } } },
  { name: 'hello', source: 'examples/workflow-hello/main.ts', commit: XSTATE_COMMIT, features: ['final'], machine: hello },
  { name: 'mathProblem', source: 'examples/workflow-math-problem/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: mathProblem, input: { expressions: ['2+2', '4-1', '10x3', '20/2'] } },
  { name: 'mediaScanner', source: 'examples/workflow-media-scanner/src/mediaScannerMachine.ts', commit: XSTATE_COMMIT, features: ['invoke', 'context'], machine: mediaScanner, input: { basePath: 'YOUR BASE PATH HERE', destinationPath: 'YOUR DESTINATION PATH HERE' } },
  { name: 'monitorPatient', source: 'examples/workflow-monitor-patient/main.ts', commit: XSTATE_COMMIT, features: ['context'], machine: monitorPatient, input: { patientId: 'patient1' } },
  { name: 'reusingFunctions', source: 'examples/workflow-reusing-functions/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'guards', 'always', 'final', 'context'], machine: reusingFunctions },
  { name: 'sendCloudEvent', source: 'examples/workflow-send-cloudevent/main.ts', commit: XSTATE_COMMIT, features: ['invoke', 'final', 'context'], machine: sendCloudEvent, input: { orders: [{ id: '123', item: 'laptop', quantity: '10' }, { id: '456', item: 'desktop', quantity: '4' }] } }
];
