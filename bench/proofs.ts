/**
 * What signed proofs cost (issue 14 §7):
 * - end-to-end no-op tasks per second on 3 simulated nodes, as in
 *   bench/tasks.ts, with proof signing off, per proof (`each`) and per
 *   reported batch (`batch`). All three runs have security on (CA, node
 *   certificates, authenticated joins and whatever else `security` turns
 *   on), so they differ only in signing; a run without security is given
 *   for reference. Each configuration runs `runs` times, interleaved; the
 *   value is the median and the spread (min–max) is in the config;
 * - Ed25519 signing of proofs (alone, and per proof in batches of 100) and
 *   `verifyProof` per second (certificate validation included: a second
 *   Ed25519 verification, of the CA's signature).
 *
 * All nodes share this process's CPU, so each signature costs the whole
 * cluster's throughput, as it would cost a worker's own. Wall time on a
 * shared machine is noisy: each result also gives tasks per CPU second.
 *
 * What the difference is made of (one run of an isolation experiment, per
 * CPU second): most of it is bytes, not signing. Attaching a precomputed
 * signature and fingerprint (no crypto) already cost about 20 µs a task,
 * a precomputed batch path about 15 µs more (every proof crosses the
 * codec several times: worker → leader, leader → followers, snapshots);
 * batch signing itself (hashing, tree, one signature per ~250 proofs)
 * costs about 10 µs a proof.
 *
 * Run: `npx tsx bench/proofs.ts`
 */
import { parseCertificate } from '../actors/nodeCertificate.js';
import { expandProofBatch, signProof, signProofBatch, signProofBatchCompact, type ProofSigningMode } from '../actors/proofSignature.js';
import { verifyProof } from '../actors/proofVerification.js';
import type { ProofArtifact } from '../actors/taskTable.js';
import { createCluster } from '../system/cluster.js';
import { SimulatedSecurity } from '../system/simulatedSecurity.js';
import { isMainModule, printResult, type BenchResult } from './result.js';

const NETWORK = { latency: { base: 1, jitter: 0.5, distribution: 'uniform' as const } };

/** One end-to-end run (bench/tasks.ts's loop): completed no-op tasks per wall second, and the mean batch a worker signed. */
async function taskRun(signing: ProofSigningMode | 'no security', total: number, warmup: number, seed: number): Promise<{ tasksPerSecond: number; tasksPerCpuSecond: number; meanBatch: number }> {
  const c = createCluster({
    nodes: 3,
    seed,
    network: NETWORK,
    check: false,
    workerCapacity: { cpu: 100_000, memoryBytes: 2 ** 50 },
    raft: { snapshotThreshold: 20_000 },
    ...(signing === 'no security' ? {} : { security: { proofSigning: signing } }),
  });
  c.registerHandler('noop', () => null);
  await c.waitForLeader(10_000);
  await c.run(200);
  const client = c.client();
  let completed = 0;
  let submitted = 0;
  c.events$.subscribe((e) => {
    if (e.type === 'task.completed') completed++;
  });
  const spec = { type: 'noop', resources: { cpu: 1, memoryBytes: 1 } };
  const window = 8_000;
  const batch = 1_000;
  const end = warmup + total;
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let measuring = false;
  while (completed < end) {
    if (!measuring && completed >= warmup) {
      measuring = true;
      total = end - completed;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    }
    while (submitted - completed < window && submitted < end) {
      const n = Math.min(batch, end - submitted);
      client.submitTasks(Array.from({ length: n }, () => spec));
      submitted += n;
    }
    await c.run(1);
  }
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  // How many proofs one batch signature covered, on average (1 for `each`).
  const proofs = c.leader()!.state.tasks().map((t) => t.proof).filter((p): p is ProofArtifact => p !== undefined);
  const signatures = new Set(proofs.filter((p) => p.signature).map((p) => p.signature!.value)).size;
  return { tasksPerSecond: Math.round(total / wall), tasksPerCpuSecond: Math.round(total / cpu), meanBatch: signatures === 0 ? 0 : Math.round((proofs.filter((p) => p.signature).length / signatures) * 10) / 10 };
}

/**
 * Median end-to-end tasks/s per signing mode over `runs` interleaved runs
 * (so that a noisy neighbour hurts every mode alike), with min and max.
 */
export async function benchProofSigningThroughput(runs = 3, total = 40_000, warmup = 10_000, seed = 1): Promise<BenchResult[]> {
  const modes: Array<ProofSigningMode | 'no security'> = ['no security', 'off', 'batch', 'each'];
  const samples = new Map(modes.map((m) => [m, [] as Array<{ tasksPerSecond: number; tasksPerCpuSecond: number; meanBatch: number }>]));
  for (let r = 0; r < runs; r++) for (const m of modes) samples.get(m)!.push(await taskRun(m, total, warmup, seed + r));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const of = (m: ProofSigningMode | 'no security') => ({ wall: samples.get(m)!.map((s) => s.tasksPerSecond), cpu: samples.get(m)!.map((s) => s.tasksPerCpuSecond) });
  const off = of('off');
  const change = (a: number, b: number) => `${Math.round((a / b - 1) * 1000) / 10} %`;
  return modes.map((m) => {
    const { wall, cpu } = of(m);
    const value = median(wall);
    return {
      name: `end-to-end no-op tasks, 3 nodes, ${m === 'no security' ? 'no security (reference)' : `security on, proof signing ${m}`}`,
      value,
      unit: 'tasks/s',
      config: {
        nodes: 3,
        tasks: total,
        warmupTasks: warmup,
        runs,
        spread: `${Math.min(...wall).toLocaleString('en-US')}–${Math.max(...wall).toLocaleString('en-US')} tasks/s`,
        samples: wall,
        // Less sensitive than wall time to other processes on the machine.
        perCpuSecond: `median ${median(cpu).toLocaleString('en-US')} (${Math.min(...cpu).toLocaleString('en-US')}–${Math.max(...cpu).toLocaleString('en-US')}) tasks per CPU second`,
        ...(m === 'batch' || m === 'each'
          ? { vsSigningOff: `${change(value, median(off.wall))} wall, ${change(median(cpu), median(off.cpu))} per CPU second`, proofsPerSignature: samples.get(m)!.map((s) => s.meanBatch) }
          : {}),
        latencyMs: '1 ± 0.5',
        seeds: `${seed}–${seed + runs - 1}`,
      },
    };
  });
}

/** Ed25519 signing and verification of proofs, per second, in this process. */
export function benchProofCrypto(durationMs = 1_000): BenchResult[] {
  const sec = new SimulatedSecurity(1);
  const identity = sec.identity('n1');
  const certificate = parseCertificate(sec.credentials('n1').certificate);
  const proof = (i: number): ProofArtifact => ({ taskId: `task_${String(i).padStart(16, '0')}`, workerId: 'n1', attempt: 1, startedAt: i, completedAt: i + 1, cpuTimeUs: 1_000, cpuTimeSource: 'elapsed', resultHash: '37a6259cc0c1dae299a7866489dff0bd'.repeat(2) });
  const rate = (f: (i: number) => number): number => {
    for (let i = 0; i < 200; i++) f(i); // warm-up
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < durationMs) n += f(n);
    return Math.round(n / ((performance.now() - t0) / 1000));
  };
  const batch100 = Array.from({ length: 100 }, (_, i) => proof(i));
  const signedEach = Array.from({ length: 1_000 }, (_, i) => signProof(proof(i), identity));
  const signedBatch = signProofBatch(batch100, identity);
  const compact = signProofBatchCompact(batch100, identity);
  const opts = { certificate, trusted: [sec.ca], now: 0 };
  const check = (ok: boolean) => {
    if (!ok) throw new Error('bench: a proof did not verify');
    return 1;
  };
  return [
    { name: 'proof signing, one signature each (Ed25519)', value: rate((i) => (signProof(proof(i), identity), 1)), unit: 'proofs/s', config: { includes: 'canonical JSON, domain separation, Ed25519 sign, base64url' } },
    { name: 'proof signing, batches of 100 (Merkle root signed once)', value: rate(() => (signProofBatch(batch100, identity), 100)), unit: 'proofs/s', config: { includes: '100 leaf hashes, the tree, one Ed25519 signature, 100 inclusion paths (7 hashes each)' } },
    {
      name: 'proof signing, batches of 100 as a worker reports them (leaf hashes, no paths)',
      value: rate(() => (signProofBatchCompact(batch100, identity), 100)),
      unit: 'proofs/s',
      config: { includes: '100 leaf hashes, the tree, one Ed25519 signature; the paths are rebuilt by each replica, when a proof is first read' },
    },
    {
      name: 'a replica rebuilding a report of 100 batch-signed proofs, every path read',
      value: rate(() => {
        for (const p of expandProofBatch(batch100, compact)!) void p.signature!.batch!.path.length;
        return 100;
      }),
      unit: 'proofs/s',
      config: { includes: 'copies of the 100 proofs with their signature, the tree over the 100 leaves (99 hashes), 100 paths as base64url text' },
    },
    { name: 'verifyProof, proofs signed each', value: rate((i) => check(verifyProof(signedEach[i % signedEach.length], opts).ok)), unit: 'proofs/s', config: { includes: 'shape, certificate validation (the CA signature: one Ed25519 verify), name and key checks, the proof signature (a second)' } },
    { name: 'verifyProof, proofs signed in batches of 100', value: rate((i) => check(verifyProof(signedBatch[i % signedBatch.length], opts).ok)), unit: 'proofs/s', config: { includes: 'as above, plus the inclusion path (7 hashes) to the root' } },
  ];
}

if (isMainModule(import.meta.url)) {
  for (const r of benchProofCrypto()) printResult(r);
  for (const r of await benchProofSigningThroughput()) printResult(r);
}
