/**
 * `npm start`: Grey's statecharts moving on the simulation kernel. Every line
 * is a state change at its virtual time; the same seed prints the same run.
 */
import { createActor } from 'xstate';
import { raftRole } from '../machines/raftRole.js';
import { taskLifecycle } from '../machines/taskLifecycle.js';
import { Kernel } from './kernel.js';
import { formatTransition, watchTransitions } from './transitionWatch.js';

const seed = Number(process.env.GREY_SEED ?? 7);
const kernel = new Kernel({ seed });
const watch = watchTransitions(kernel, (r) => console.log(formatTransition(r)));
const say = (text: string) => console.log(`\n── ${text}`);
const rng = kernel.random('demo');

say(`Grey demo, seed ${seed}: statecharts on virtual time`);

say('1. Bootstrap: a single voter elects itself (an ordinary election, PreVote first)');
const n0 = createActor(
  raftRole.provide({ delays: { electionTimeout: () => rng.int(150, 300) } }),
  { id: 'raft(n0)', clock: kernel, inspect: watch.inspect, input: { self: 'n0', voters: 1 } },
).start();
kernel.advance(400);
console.log(`   n0 is ${JSON.stringify(n0.getSnapshot().value).includes('leader') ? 'leader' : 'not leader'} of term ${n0.getSnapshot().context.term}`);
n0.stop();

say('2. A voter of three: PreVote, election, leadership, then CheckQuorum when its peers fall silent');
const n1 = createActor(
  raftRole.provide({ delays: { electionTimeout: () => rng.int(150, 300) } }),
  { id: 'raft(n1)', clock: kernel, inspect: watch.inspect, input: { self: 'n1', voters: 3 } },
).start();
let heartbeats = 0;
n1.on('campaign', (e) => {
  // The peers answer 8 ms later (one network round trip).
  kernel.schedule(8, () =>
    n1.send(e.preVote ? { type: 'PREVOTE_GRANTED', from: 'n2', term: e.term } : { type: 'VOTE_GRANTED', from: 'n3', term: e.term }),
  );
});
n1.on('heartbeat', () => {
  heartbeats++;
  if (heartbeats <= 4) kernel.schedule(8, () => n1.send({ type: 'PEER_ACTIVE', from: 'n2' }));
});
n1.on('steppedDown', (e) => console.log(`   n1 stepped down in term ${e.term}: ${e.reason}`));
kernel.advance(1_000);
n1.stop();

say('3. A task: assigned, started, past its deadline, backed off, retried, completed');
const task = createActor(taskLifecycle, {
  id: 'task(t1)',
  clock: kernel,
  inspect: watch.inspect,
  input: { maxRetries: 2, timeoutMs: 200, backoffMs: 100 },
}).start();
task.send({ type: 'ASSIGN', worker: 'w1' });
kernel.advance(5);
task.send({ type: 'START' });
kernel.advance(400); // deadline at 200 ms, backoff 100 ms: pending again
task.send({ type: 'ASSIGN', worker: 'w2' });
task.send({ type: 'START' });
kernel.advance(50);
task.send({ type: 'COMPLETE' });
console.log(`   task finished as ${task.getSnapshot().value} on attempt ${task.getSnapshot().context.attempt}`);

console.log(`\n${kernel.eventsFired} kernel events, ${kernel.now()} virtual ms.`);
