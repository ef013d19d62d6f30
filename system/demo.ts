/**
 * `npm start`: a five-node Grey cluster in deterministic simulation. It
 * elects a leader, replicates writes, loses its leader, elects another,
 * splits and heals, runs tasks (some failing on purpose), loses a worker,
 * and ends with what the online invariant checker saw. Every line is
 * stamped with virtual time; the same seed prints the same run
 * (`GREY_SEED=8 npm start` for another). On a terminal a live panel under
 * the log shows each node's role, term and commit index, the tasks by
 * state and the demo's progress, paced so it can be followed
 * (`GREY_DEMO_PACE=0` for full speed).
 */
import { createActor } from 'xstate';
import { taskLifecycle } from '../machines/taskLifecycle.js';
import { createCluster } from './cluster.js';
import { DemoPanel } from './demoPanel.js';
import { formatTransition, watchTransitions } from './transitionWatch.js';

const seed = Number(process.env.GREY_SEED ?? 7);
const cluster = createCluster({
  nodes: 5,
  seed,
  network: { latency: { base: 7.5, jitter: 2.5, distribution: 'uniform' } },
  tasks: { placement: 'spread' },
});
const k = cluster.kernel;
const at = () => `t=${String(Math.round(k.now())).padStart(6)}ms`;
const SECTIONS = 9;
const panel = new DemoPanel(cluster, process.stdout, SECTIONS, () => k.now());
const log = (line: string) => panel.log(line);
/** Wall-clock pause between sections on a terminal, so a person can read along (no effect on the run: virtual time stands still). */
const paceMs = panel.live ? Number(process.env.GREY_DEMO_PACE ?? 600) : 0;
const say = async (text: string) => {
  if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
  panel.begin(text);
};
let quiet = false;
cluster.trace!.subscribe((e) => {
  if (quiet) return;
  if (e.type === 'role' && (e.role === 'leader' || e.role === 'candidate')) log(`${at()}  ${e.node} ${e.role} of term ${e.term}`);
  if (e.type === 'fault' && !['up', 'down'].includes(e.kind as string)) log(`${at()}  fault: ${e.kind}${e.node ? ` ${e.node}` : ''}${e.groups ? ` ${JSON.stringify(e.groups)}` : ''}`);
});
const commits = () => cluster.ids.map((id) => `${id}:${cluster.isUp(id) ? cluster.node(id).raft.commitIndex : 'down'}`).join(' ');

await say(`Grey demo, seed ${seed}: 5 nodes, 5–10 ms links, election timeouts 150–300 ms`);
const first = await cluster.waitForLeader();

await say('Replicating 20 writes through the leader');
const client = cluster.client({ id: 'demo' });
for (let i = 1; i <= 20; i++) await cluster.drive(client.submit({ op: 'put', key: `k${i}`, value: i }));
await cluster.run(100);
log(`${at()}  commit index per node: ${commits()}`);

await say(`Crashing the leader ${first.id}`);
const crashedAt = k.now();
cluster.crash(first.id);
const second = await cluster.waitForLeader();
log(`${at()}  failover took ${Math.round(k.now() - crashedAt)} ms; ${second.id} leads term ${second.raft.currentTerm}`);
await cluster.drive(client.submit({ op: 'put', key: 'after-crash', value: true }));
cluster.restart(first.id);
await cluster.run(300);
log(`${at()}  ${first.id} restarted from its storage (incarnation ${cluster.incarnation(first.id)}): ${commits()}`);

const minority = [second.id, cluster.ids.find((id) => id !== second.id)!];
const majority = cluster.ids.filter((id) => !minority.includes(id));
await say(`Partition: the leader's side ${JSON.stringify(minority)} is a minority`);
cluster.partition([minority, majority]);
await cluster.runUntil(() => majority.some((id) => cluster.node(id).raft.isLeader), { within: 5_000, description: 'a majority leader' });
await cluster.drive(client.submit({ op: 'put', key: 'during-partition', value: true }));
await cluster.run(300);
log(`${at()}  the majority commits, the old leader stepped down (CheckQuorum): ${cluster.ids.map((id) => `${id}:${cluster.node(id).raft.currentRole}`).join(' ')}`);

await say('Healing the partition');
cluster.heal();
await cluster.run(1_000);
log(`${at()}  every node converged: ${commits()}`);
const read = await cluster.drive(client.get('during-partition'));
log(`${at()}  a linearizable read (ReadIndex) of 'during-partition' on the leader: ${read.found ? `${JSON.stringify(read.value)} (revision ${read.revision})` : 'not found'}`);

await say('The task pipeline: submit → schedule → execute → complete, replicated through Raft');
log('   Three tasks: cat.png and dog.png thumbnails, and a task that never ends. On purpose, dog.png\'s handler');
log('   throws a "transient storage error" twice (retried with backoff, then it succeeds), and an operator');
log('   cancels the endless task once it runs. Each completion carries a proof: worker, attempt, result hash.');
let failures = 0;
cluster.registerHandler('thumbnail', async (payload, ctx) => {
  await ctx.sleep(40);
  if ((payload as { flaky?: boolean }).flaky && failures++ < 2) throw new Error('transient storage error');
  return { thumb: `${(payload as { name: string }).name}@64px` };
});
cluster.registerHandler('forever', (_p, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))));
const taskLog = cluster.events$.subscribe((e) => {
  if (!e.type.startsWith('task.') || e.type === 'task.submitted') return;
  const detail =
    e.type === 'task.assigned' || e.type === 'task.started'
      ? ` on ${e.worker}`
      : e.type === 'task.retrying'
        ? ` (${e.reason}; injected on purpose)`
        : e.type === 'task.cancelled' || e.type === 'task.requeued'
          ? ` (${e.reason ?? 'no reason given'})`
          : '';
  log(`${at()}  ${'taskId' in e ? e.taskId.slice(0, 9) : ''} ${e.type}${detail}`);
});
const handles = client.submitTasks([
  { type: 'thumbnail', payload: { name: 'cat.png' }, priority: 5 },
  { type: 'thumbnail', payload: { name: 'dog.png', flaky: true }, maxRetries: 3, backoff: { initialMs: 50, jitter: 0 } },
]);
const endless = client.submitTask({ type: 'forever' });
await cluster.runUntil(() => cluster.leader()?.state.task(endless.id)?.status === 'running', { within: 2_000, description: 'the endless task running' });
await cluster.drive(client.cancelTask(endless.id, 'operator cancelled'));
for (const h of handles) {
  const { result, proof } = await cluster.drive(h.result);
  log(`${at()}  ${h.id.slice(0, 9)} result ${JSON.stringify(result)}; proof: worker ${proof.workerId}, attempt ${proof.attempt}, hash ${proof.resultHash.slice(0, 12)}…`);
}
taskLog.unsubscribe();

await say('Failure detection and recovery: a worker dies mid-task');
log('   Four "render" tasks, each rendering one frame of a video for 1.5 s of virtual time. A worker running');
log('   some of them is crashed: the leader\'s phi-accrual detector suspects it, quarantines it, and recovery');
log('   requeues its frames elsewhere; restarted, it serves its quarantine, passes probation and is healthy again.');
cluster.registerHandler('render', async (_p, ctx) => {
  await ctx.sleep(1_500);
  return `frame by ${ctx.worker}`;
});
const leaderNow = cluster.leader()!;
const healthLog = cluster.trace!.subscribe((e) => {
  if (e.type === 'health' && e.node === leaderNow.id) log(`${at()}  ${e.node} sees ${e.peer}: ${e.from} → ${e.to}${e.reason ? ` (${e.reason})` : ''}`);
});
const frames = client.submitTasks(Array.from({ length: 4 }, () => ({ type: 'render' })));
await cluster.runUntil(() => frames.every((h) => leaderNow.state.task(h.id)?.status === 'running'), { within: 2_000, description: 'frames running' });
const victim = leaderNow.state.task(frames.find((h) => leaderNow.state.task(h.id)?.worker !== leaderNow.id)!.id)!.worker!;
log(`${at()}  crashing ${victim}, which is running ${frames.filter((h) => leaderNow.state.task(h.id)?.worker === victim).length} frame(s)`);
cluster.crash(victim);
const done = await cluster.drive(Promise.all(frames.map((h) => h.result)));
for (const a of leaderNow.recovery.actions) log(`t=${String(Math.round(a.at)).padStart(6)}ms  recovery: ${a.kind} ${a.peer}: ${a.detail}`);
log(`${at()}  all frames done: ${done.map((r) => `${r.result} (attempt ${r.proof.attempt})`).join(', ')}`);
cluster.restart(victim);
await cluster.runUntil(() => leaderNow.health.state(victim) === 'healthy', { within: 10_000, description: 'the worker healthy again' });
healthLog();

await say('One statechart up close: a task timing out, backing off and completing');
log('   The task-lifecycle chart alone, as an XState actor on virtual time: each line is one transition,');
log('   with the event or the named delay (after taskDeadline, after retryBackoff) that took it.');
quiet = true;
const watch = watchTransitions(k, (r) => log(formatTransition(r)));
const task = createActor(taskLifecycle, { id: 'task(t1)', clock: k, inspect: watch.inspect, input: { maxRetries: 2, timeoutMs: 200, backoffMs: 100 } }).start();
task.send({ type: 'ASSIGN', worker: 'n2' });
task.send({ type: 'START' });
await cluster.run(300);
task.send({ type: 'ASSIGN', worker: 'n3' });
task.send({ type: 'START' });
await cluster.run(50);
task.send({ type: 'COMPLETE' });

cluster.end();
const summary = cluster.checker!.summary();
await say('Summary');
log(`  virtual time    ${Math.round(k.now())} ms`);
log(`  leaders by term ${summary.leaders.map((l) => `${l.term}:${l.node}`).join(' ')}`);
log(`  log             highest commit ${summary.maxCommit}, ${summary.entriesAppended} entries appended, ${summary.truncates} truncations, ${summary.restarts} restarts`);
log(`  invariants      ${summary.events} trace events checked online: Election Safety, Leader Append-Only, Log Matching,`);
log(`                  Leader Completeness, State Machine Safety, monotonic terms and commits — no violation`);
panel.finish();
