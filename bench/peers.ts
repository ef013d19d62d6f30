/**
 * `npm run bench:peers`: Grey side by side with etcd and BullMQ, the same
 * workloads in one run, on this machine.
 *
 * - End-to-end tasks per second, bulk submission: Grey (3 `grey node`
 *   processes, durable log) against BullMQ on Redis with `appendfsync
 *   always` (Redis fsyncs before answering, as Grey does; the target is
 *   Grey ≥ this) and with `appendfsync everysec` (reported).
 * - Replicated writes per second, 256 in flight: Grey's key-value `put`
 *   against a 3-member etcd's `put` (target: Grey ≥ etcd).
 * - Leader failover, SIGKILL to the first write acknowledged by the new
 *   leader, 25 ms heartbeats and 150 ms election timeouts on both (target:
 *   Grey's p50 within 10 % of etcd's), with confidence intervals. Grey's
 *   followers campaign as soon as the dead leader's connections close.
 * - A hung leader (SIGSTOP: its sockets stay open, as in a partition or a
 *   long pause), to the first write acknowledged: nothing but silence
 *   tells the followers, so both wait out an election timeout (reported).
 *
 * Redis and etcd are started when installed (Debian: `apt-get install -y
 * redis-server etcd-server`); without them Grey runs alone and the table
 * says what was skipped. Every process started here (grey nodes, redis,
 * etcd, BullMQ workers) runs in a process group of its own and is stopped
 * at the end, on an error or on Ctrl-C; data lives in folders under the OS
 * temp folder, removed at the end.
 *
 * Run: `npm run bench:peers -- [--quick] [--trials N] [--only tasks,writes,failover,hang] [--profile DIR] [--grey-only]`
 * (`--profile DIR`: Grey's nodes write CPU profiles there as they stop.)
 * (`npm run bench:peers` compiles with tsc and runs the JavaScript, Grey's
 * nodes included; `npx tsx bench/peers.ts` runs them through tsx, slower.)
 */
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { EtcdCluster } from './peers/etcd.js';
import { etcdFailoverTarget, greyFailoverTarget, runFailover, type FailoverOptions, type FailoverResult, type FailoverSample } from './peers/failover.js';
import { describeHistogram, mergeBuckets, parseHistogram } from './peers/metrics.js';
import { GreyCluster, greyRunsCompiled } from './peers/greyCluster.js';
import { cleanupAll, installCleanupHooks, tempDir, which } from './peers/procs.js';
import { startRedis, type AppendFsync } from './peers/redis.js';
import { medianCi, medianRatioCi, summary } from './peers/stats.js';
import { int, renderTable, times, type Row } from './peers/table.js';
import { bullTasks, greyTasks, type TaskRun, type TaskWorkload } from './peers/tasks.js';
import { etcdWrites, greyWrites, type WriteRun, type WriteWorkload } from './peers/writes.js';

const HEARTBEAT_MS = 25;
const ELECTION_MS = 150;
const GREY_ELECTION: readonly [number, number] = [ELECTION_MS, 2 * ELECTION_MS]; // etcd draws from [150, 300) too

interface Args {
  quick: boolean;
  trials: number;
  only: Set<string>;
  profile: string | null;
  greyOnly: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, trials: 300, only: new Set(['tasks', 'writes', 'failover', 'hang']), profile: null, greyOnly: false };
  let trialsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${f} needs a value`);
      return v;
    };
    if (f === '--quick') a.quick = true;
    else if (f === '--trials') {
      a.trials = Number(value());
      trialsGiven = true;
      if (!Number.isSafeInteger(a.trials) || a.trials < 1) throw new Error('--trials must be a positive integer');
    } else if (f === '--only') {
      a.only = new Set(value().split(',').map((s) => s.trim()));
      for (const w of a.only) if (!['tasks', 'writes', 'failover', 'hang'].includes(w)) throw new Error(`--only: unknown workload '${w}' (tasks, writes, failover, hang)`);
    } else if (f === '--profile') a.profile = resolve(value());
    else if (f === '--grey-only') a.greyOnly = true;
    else if (f === '--help' || f === '-h') {
      console.log('npm run bench:peers -- [--quick] [--trials N] [--only tasks,writes,failover,hang] [--profile DIR] [--grey-only]');
      process.exit(0);
    } else throw new Error(`unknown flag ${f}`);
  }
  if (a.quick && !trialsGiven) a.trials = 10;
  return a;
}

const args = parseArgs(process.argv.slice(2));
const REPEATS = args.quick ? 1 : 3;
const TASKS: TaskWorkload = { total: args.quick ? 2_000 : 20_000, batch: 100, inFlight: 8, concurrency: 256, pollMs: 20 };
/** Worker concurrencies tried per system in a full run (a Grey node's, a BullMQ worker's); the quick run uses TASKS.concurrency. */
const TASK_CONCURRENCIES = [64, 256, 1024];
const SWEEP_TOTAL = 10_000;
const BULL_WORKERS = 1;
const WRITES: WriteWorkload = { inFlight: 256, valueBytes: 100, warmupMs: args.quick ? 500 : 1_000, measureMs: args.quick ? 2_000 : 5_000 };
const FAILOVER: Omit<FailoverOptions, 'trials'> = { heartbeatMs: HEARTBEAT_MS, settleMs: 500, probeIntervalMs: 5, probeTimeoutMs: 100, giveUpMs: 10_000 };
const PROBE_POOL = Math.ceil(FAILOVER.probeTimeoutMs / FAILOVER.probeIntervalMs) + 4;

installCleanupHooks();
const rows: Row[] = [];
const notes: string[] = [];
const errors: string[] = [];
const greyNodeArgs = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];

const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function withGrey<T>(fn: (c: GreyCluster) => Promise<T>): Promise<T> {
  const cluster = await GreyCluster.start({ root: tempDir('grey-peers-'), heartbeatMs: HEARTBEAT_MS, electionTimeoutMs: GREY_ELECTION, nodeArgs: greyNodeArgs });
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

async function withEtcd<T>(fn: (c: EtcdCluster) => Promise<T>): Promise<T> {
  const cluster = await EtcdCluster.start({ root: tempDir('etcd-peers-'), heartbeatMs: HEARTBEAT_MS, electionTimeoutMs: ELECTION_MS });
  etcdVersion = cluster.version;
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

async function withRedis<T>(fsync: AppendFsync, fn: (port: number) => Promise<T>): Promise<T> {
  const redis = await startRedis(tempDir('redis-peers-'), fsync);
  redisVersion = redis.version;
  try {
    return await fn(redis.port);
  } finally {
    await redis.stop();
  }
}

let redisVersion = '?';
let etcdVersion = '?';

/** median [min–max] of the runs. */
function spread(values: number[]): { mid: number; text: string } {
  if (values.length === 0) return { mid: Number.NaN, text: 'failed' };
  const s = summary(values);
  return { mid: s.p50, text: values.length === 1 ? int(s.p50) : `${int(s.p50)} [${int(s.min)}–${int(s.max)}]` };
}

async function main(): Promise<void> {
  const [redisBin, etcdBin] = args.greyOnly ? [null, null] : await Promise.all([which('redis-server'), which('etcd')]);
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`Grey side by side with etcd and BullMQ — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average at start ${load}`);
  console.log(`mode: ${args.quick ? 'quick (smoke run)' : 'full'}; ${REPEATS} run(s) per throughput figure; ${args.trials} failover trials per system; Grey nodes run ${greyRunsCompiled() ? 'compiled JavaScript' : 'through tsx (slower: use npm run bench:peers)'}`);
  const why = (pkg: string, bin: string) => (args.greyOnly ? '--grey-only' : `${bin} is not installed (Debian: apt-get install -y ${pkg})`);
  if (!redisBin) notes.push(`BullMQ skipped: ${why('redis-server', 'redis-server')}.`);
  if (!etcdBin) notes.push(`etcd skipped: ${why('etcd-server', 'etcd')}.`);
  const greyAlternates = (i: number) => i % 2 === 0; // Grey first on even runs, the peer first on odd ones

  // ------------------------------------------------------------ tasks
  if (args.only.has('tasks')) {
    const taskShow = (r: TaskRun) =>
      `${int(r.tasksPerSec)} tasks/s (${r.completed} completed, ${r.failed} failed, submitted in ${int(r.submitMs)} ms, all done in ${int(r.wallMs)} ms, producer CPU ${r.clientCpu.toFixed(2)})`;
    type TaskSystem = 'grey' | AppendFsync;
    const systems: TaskSystem[] = redisBin ? ['grey', 'always', 'everysec'] : ['grey'];
    const label = (x: TaskSystem) => (x === 'grey' ? 'Grey' : `BullMQ appendfsync ${x}`);
    const runTasks = (x: TaskSystem, w: TaskWorkload) =>
      x === 'grey' ? withGrey((c) => greyTasks(c, w)) : withRedis(x, (port) => bullTasks(port, { ...w, workers: BULL_WORKERS }));
    // Each system at the worker concurrency that suits it best, from one run at each (a full run only).
    const chosen = new Map<TaskSystem, number>(systems.map((x) => [x, TASKS.concurrency]));
    const sweep = new Map<TaskSystem, string[]>();
    if (!args.quick) {
      for (const x of systems) {
        let best = -1;
        for (const concurrency of TASK_CONCURRENCIES) {
          const [r] = await repeatOnce(`tasks sweep, ${label(x)}, concurrency ${concurrency}`, () => runTasks(x, { ...TASKS, total: SWEEP_TOTAL, concurrency }), taskShow, 0);
          if (!r) continue;
          sweep.set(x, [...(sweep.get(x) ?? []), `${concurrency}: ${int(r.tasksPerSec)}`]);
          if (r.tasksPerSec > best) {
            best = r.tasksPerSec;
            chosen.set(x, concurrency);
          }
        }
      }
    }
    const runs = new Map<TaskSystem, TaskRun[]>(systems.map((x) => [x, []]));
    for (let i = 0; i < REPEATS; i++) {
      const order = greyAlternates(i) ? systems : [...systems.slice(1), systems[0]];
      for (const x of order) runs.get(x)!.push(...(await repeatOnce(`tasks, ${label(x)}, concurrency ${chosen.get(x)}`, () => runTasks(x, { ...TASKS, concurrency: chosen.get(x)! }), taskShow, i)));
    }
    const cpuOf = (rs: TaskRun[]) => (rs.length ? summary(rs.map((r) => r.clientCpu)).p50.toFixed(2) : '?');
    const sweepText = (x: TaskSystem) => (sweep.has(x) ? ` (chosen from one run of ${SWEEP_TOTAL.toLocaleString('en-US')} tasks at each of ${TASK_CONCURRENCIES.join(', ')}: ${sweep.get(x)!.join(', ')} tasks/s)` : '');
    const g = spread(runs.get('grey')!.map((r) => r.tasksPerSec));
    const shape = `${TASKS.total.toLocaleString('en-US')} no-op tasks, batches of ${TASKS.batch}, ${TASKS.inFlight} batches awaiting acknowledgement at once; from the first submission to the last completion (polled every ${TASKS.pollMs} ms)`;
    rows.push({
      workload: 'tasks end-to-end (tasks/s)',
      system: 'Grey, 3 nodes',
      value: g.text,
      ratio: '',
      target: '',
      includes: `${shape}. client.submitTasks per batch, acknowledged once committed (fsync'd on 2 of 3 LMDB logs); the 3 grey node processes (mutual TLS) run the tasks, ${chosen.get('grey')} at once each${sweepText('grey')}; submit, assign, start and complete are each committed log entries; producer process CPU ${cpuOf(runs.get('grey')!)} cores.`,
    });
    if (redisBin) {
      for (const fsync of ['always', 'everysec'] as const) {
        const b = spread(runs.get(fsync)!.map((r) => r.tasksPerSec));
        const ratio = g.mid / b.mid;
        rows.push({
          workload: '',
          system: `BullMQ, appendfsync ${fsync}`,
          value: b.text,
          ratio: times(ratio),
          target: fsync === 'always' ? `≥ 1.00×: ${Number.isFinite(ratio) ? (ratio >= 1 ? 'met' : 'MISSED') : '—'}` : 'reported',
          includes: `Same tasks. Queue.addBulk per batch (one MULTI); ${BULL_WORKERS} worker process, concurrency ${chosen.get(fsync)}${sweepText(fsync)}, no-op processor; Redis ${redisVersion}, one server (no replica), AOF ${fsync === 'always' ? 'fsync before answering' : 'fsync once a second (answers before the disk)'}, no RDB; completed jobs kept (as Grey keeps task records); producer process CPU ${cpuOf(runs.get(fsync)!)} cores.`,
        });
      }
    } else rows.push({ workload: '', system: 'BullMQ', value: 'skipped', ratio: '', target: '', includes: args.greyOnly ? 'skipped (--grey-only)' : 'redis-server not installed' });
  }

  // ------------------------------------------------------------ writes
  if (args.only.has('writes')) {
    const show = (r: WriteRun) => `${int(r.writesPerSec)} writes/s (p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.errors} errors, client CPU ${r.clientCpu.toFixed(2)})`;
    const grey: WriteRun[] = [];
    const etcd: WriteRun[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const runGrey = async () => grey.push(...(await repeatOnce('writes, Grey', () => withGrey((c) => greyWrites(c, WRITES)), show, i)));
      const runEtcd = async () => {
        if (etcdBin) etcd.push(...(await repeatOnce('writes, etcd', () => withEtcd((c) => etcdWrites(c, WRITES)), show, i)));
      };
      if (greyAlternates(i)) {
        await runGrey();
        await runEtcd();
      } else {
        await runEtcd();
        await runGrey();
      }
    }
    const g = spread(grey.map((r) => r.writesPerSec));
    const syncsOf = (runs: WriteRun[], what: string) => {
      const h = runs.map((r) => r.syncs);
      return describeHistogram({ count: h.reduce((a, x) => a + x.count, 0), sum: h.reduce((a, x) => a + x.sum, 0), buckets: mergeBuckets(h) }, `${what}, all members`);
    };
    const lat = (runs: WriteRun[]) =>
      runs.length
        ? `p50 ${summary(runs.map((r) => r.p50Ms)).p50.toFixed(1)} ms, p99 ${summary(runs.map((r) => r.p99Ms)).p50.toFixed(1)} ms per put; client process CPU ${summary(runs.map((r) => r.clientCpu)).p50.toFixed(2)} cores`
        : '';
    const shape = `${WRITES.inFlight} puts in flight from one client, ${WRITES.valueBytes}-byte values over 10,000 keys; counted over ${WRITES.measureMs / 1000} s after ${WRITES.warmupMs / 1000} s of warm-up`;
    rows.push({
      workload: `replicated writes, ${WRITES.inFlight} in flight (writes/s)`,
      system: 'Grey, 3 nodes',
      value: g.text,
      ratio: '',
      target: '',
      includes: `${shape}. client.put on the key-value store over mutual TLS, acknowledged once committed (fsync'd on 2 of 3 LMDB logs) and applied; ${lat(grey)}; ${syncsOf(grey, 'disk syncs (LMDB commit until flushed)')}.`,
    });
    if (etcdBin) {
      const e = spread(etcd.map((r) => r.writesPerSec));
      const ratio = g.mid / e.mid;
      rows.push({
        workload: '',
        system: 'etcd, 3 members',
        value: e.text,
        ratio: times(ratio),
        target: `≥ 1.00×: ${Number.isFinite(ratio) ? (ratio >= 1 ? 'met' : 'MISSED') : '—'}`,
        includes: `Same puts. etcd ${etcdVersion}, put through the etcd3 package over gRPC (one HTTP/2 channel) to the leader; WAL fsync'd before acknowledging; plain TCP (no TLS); ${lat(etcd)}; ${syncsOf(etcd, 'WAL fsyncs')}.`,
      });
    } else rows.push({ workload: '', system: 'etcd', value: 'skipped', ratio: '', target: '', includes: args.greyOnly ? 'skipped (--grey-only)' : 'etcd not installed' });
  }

  // ------------------------------------------------------------ failover
  // SIGKILL: the leader's process ends and its sockets close. SIGSTOP: it hangs, sockets open, as in a
  // partition or a long pause: nothing tells its peers but silence, so both systems wait out an election timeout.
  for (const kind of ['failover', 'hang'] as const) {
    if (!args.only.has(kind)) continue;
    const signal = kind === 'failover' ? 'SIGKILL' : 'SIGSTOP';
    const name = kind === 'failover' ? 'failover' : 'failover, hung leader';
    const progress = (what: string) => (i: number, s: FailoverSample) => {
      if (process.env.PEERS_VERBOSE || (i + 1) % (args.quick ? 5 : 25) === 0 || Number.isNaN(s.ms)) log(`${what}: trial ${i + 1}/${args.trials}: ${Number.isNaN(s.ms) ? 'no write acknowledged' : `${s.ms.toFixed(1)} ms`} (election timeout at ${s.timeoutMs} ms, leader at ${s.electedMs} ms; killed ${s.killed})`);
    };
    let grey: FailoverResult = { samples: [], syncs: parseHistogram([], '') };
    let etcd: FailoverResult = { samples: [], syncs: parseHistogram([], '') };
    try {
      grey = await withGrey(async (c) => {
        const target = await greyFailoverTarget(c, FAILOVER.probeTimeoutMs, PROBE_POOL);
        try {
          return await runFailover(target, { ...FAILOVER, signal, trials: args.trials, onTrial: progress(`${name}, Grey`) });
        } finally {
          await target.close();
        }
      });
    } catch (err) {
      errors.push(`${name}, Grey: ${(err as Error).stack ?? err}`);
    }
    if (etcdBin) {
      try {
        etcd = await withEtcd((c) => runFailover(etcdFailoverTarget(c, FAILOVER.probeTimeoutMs), { ...FAILOVER, signal, trials: args.trials, onTrial: progress(`${name}, etcd`) }));
      } catch (err) {
        errors.push(`${name}, etcd: ${(err as Error).stack ?? err}`);
      }
    }
    const describe = ({ samples }: FailoverResult) => {
      const ok = samples.filter((s) => !Number.isNaN(s.ms)).map((s) => s.ms);
      if (ok.length === 0) return { ok, text: 'failed', extra: '' };
      const s = summary(ok);
      const ci = medianCi(ok);
      const failed = samples.length - ok.length;
      const p50Of = (xs: number[]) => {
        const v = xs.filter((x) => Number.isFinite(x));
        return v.length ? `${summary(v).p50.toFixed(0)}` : '?';
      };
      const phases = `phases (p50 of each trial's, from the members' logs): kill → a survivor's election timeout ${p50Of(samples.map((x) => x.timeoutMs))} ms, election timeout → new leader ${p50Of(samples.map((x) => x.electedMs - x.timeoutMs))} ms, new leader → first write acknowledged ${p50Of(samples.map((x) => x.ms - x.electedMs))} ms`;
      return {
        ok,
        text: `p50 ${s.p50.toFixed(0)} ms [${ci.lo.toFixed(0)}–${ci.hi.toFixed(0)}]`,
        extra: `n = ${ok.length}${failed ? ` (+${failed} with no write acknowledged in ${FAILOVER.giveUpMs / 1000} s)` : ''}; [ ] is the ${(ci.coverage * 100).toFixed(1)} % order-statistic CI of the median; p90 ${s.p90.toFixed(0)}, p99 ${s.p99.toFixed(0)}, min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)} ms; ${phases}`,
      };
    };
    const g = describe(grey);
    const how = kind === 'failover' ? 'the killed member restarts from its data' : 'the hung member is then killed and restarts from its data';
    const probes = `a write sent to each survivor every ${FAILOVER.probeIntervalMs} ms from the kill on, each given ${FAILOVER.probeTimeoutMs} ms; ${how} and all catch up, then ${FAILOVER.settleMs} ms plus a random fraction of a heartbeat before the next kill`;
    rows.push({
      workload: kind === 'failover' ? 'failover: SIGKILL of the leader → first write acknowledged (ms)' : 'failover: SIGSTOP of the leader (hung, sockets open) → first write acknowledged (ms)',
      system: 'Grey, 3 nodes',
      value: g.text,
      ratio: '',
      target: '',
      includes: `${g.extra}; ${describeHistogram(grey.syncs, 'disk syncs (LMDB commit until flushed)')}. grey node --heartbeat ${HEARTBEAT_MS} --election-timeout ${GREY_ELECTION[0]}-${GREY_ELECTION[1]} (PreVote, CheckQuorum); ${probes}; a Grey probe goes to that node, which relays it to the leader it knows (or answers NotLeader while it knows none).`,
    });
    if (etcdBin) {
      const e = describe(etcd);
      const ratio = summary(g.ok).p50 / summary(e.ok).p50;
      const ci = medianRatioCi(g.ok, e.ok);
      rows.push({
        workload: '',
        system: 'etcd, 3 members',
        value: e.text,
        ratio: Number.isFinite(ratio) ? `${times(ratio)} [${ci.lo.toFixed(2)}–${ci.hi.toFixed(2)}]` : '—',
        target: kind === 'failover' ? `≤ 1.10×: ${Number.isFinite(ratio) ? (ratio <= 1.1 ? 'met' : 'MISSED') : '—'}` : 'reported',
        includes: `${e.extra}; ${describeHistogram(etcd.syncs, 'WAL fsyncs')}; ratio of the p50s with a 95 % bootstrap CI. etcd --heartbeat-interval ${HEARTBEAT_MS} --election-timeout ${ELECTION_MS} --pre-vote; ${probes}; an etcd probe goes to that member, which forwards it to the leader it knows.`,
      });
    } else rows.push({ workload: '', system: 'etcd', value: 'skipped', ratio: '', target: '', includes: args.greyOnly ? 'skipped (--grey-only)' : 'etcd not installed' });
  }

  console.log(`\n${renderTable(rows)}`);
  console.log(`\nload average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs; other work on the machine moves these numbers).`);
  for (const n of notes) console.log(n);
  if (errors.length) {
    console.log(`\n${errors.length} run(s) failed:`);
    for (const e of errors) console.log(`  ${e}`);
  }
}

/** One run of a repeated measurement (the repetition number is `i`). */
async function repeatOnce<T>(what: string, fn: () => Promise<T>, show: (r: T) => string, i: number): Promise<T[]> {
  try {
    const r = await fn();
    log(`${what} #${i + 1}: ${show(r)}`);
    return [r];
  } catch (err) {
    errors.push(`${what} #${i + 1}: ${(err as Error).stack ?? err}`);
    log(`${what} #${i + 1} failed: ${(err as Error).message}`);
    return [];
  }
}

try {
  await main();
} finally {
  await cleanupAll();
}
process.exit(errors.length ? 1 : 0);
