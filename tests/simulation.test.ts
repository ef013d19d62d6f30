import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';
import { parseFaults } from '../system/nemesis.js';
import { runSimulation, seedFailed } from '../system/simulation.js';
import { whyFailed } from '../system/simulateCommand.js';
import { readTrace } from '../system/trace.js';
import { checkTrace } from '../system/invariants.js';

const ALL_FAULTS = parseFaults('crash,restart,partition,halves,isolate-leader,ring,minority,unsynced-loss,flaky,loss,duplicate,reorder,membership');

describe('deterministic cluster simulation', () => {
  it('the same seed twice writes byte-identical traces; another seed another trace', async () => {
    const opts = { nodes: 5, durationMs: 4_000, faults: ALL_FAULTS, latency: [5, 15] as [number, number], electionTimeout: [150, 300] as [number, number], rate: 100, keepTrace: true };
    const a = await runSimulation({ ...opts, seed: 7 });
    const b = await runSimulation({ ...opts, seed: 7 });
    const c = await runSimulation({ ...opts, seed: 8 });
    expect(a.trace!.length).toBeGreaterThan(10_000);
    expect(b.trace).toBe(a.trace);
    expect(c.trace).not.toBe(a.trace);
    // The trace passes the offline checker too, and ends with the end line.
    const parsed = readTrace(a.trace!);
    expect(parsed.header).toMatchObject({ type: 'header', version: 1, seed: 7, nodes: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    expect(checkTrace(parsed).events).toBe(parsed.events.length);
    expect(parsed.events.at(-1)!.type).toBe('end');
  });

  it('a sweep of 200 seeds with random faults, membership changes included: no violation, no acknowledged write lost, no divergence, converged within 5 s of the last fault', async () => {
    const failures: string[] = [];
    let acknowledged = 0;
    let episodes = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = await runSimulation({ seed, nodes: 5, durationMs: 4_000, faults: ALL_FAULTS, latency: [5, 15], electionTimeout: [150, 300], rate: 60, meanGapMs: 500 });
      acknowledged += r.acknowledged;
      episodes += r.episodes.length;
      if (seedFailed(r)) failures.push(`seed ${seed}: ${whyFailed(r)}`);
    }
    expect(failures).toEqual([]);
    expect(acknowledged).toBeGreaterThan(200 * 60); // the workload ran
    expect(episodes).toBeGreaterThan(200); // and so did the nemesis
  }, 120_000);

  it('grey simulate prints a summary and exits 0 on a clean sweep; bad options exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await main(['simulate', '--seeds', '1-3', '--nodes', '3', '--duration', '2s', '--faults', 'crash,partition', '--rate', '50'], io)).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/^seeds\s+3 \(1-3\), 3 nodes, 2s each, faults: crash,partition$/m);
    expect(text).toMatch(/^violations\s+0$/m);
    expect(text).toMatch(/^lost writes\s+0 /m);
    expect(err.join('')).toContain('3/3 seeds, 0 failing');
    for (const bad of [['simulate', '--faults', 'meteor'], ['simulate', '--latency', '9-1'], ['simulate', '--duration', 'soon'], ['simulate', '--seed', '1', '--seeds', '1-2']]) {
      expect(await main(bad, { out: () => {}, err: () => {} })).toBe(2);
    }
  });
});

describe('liveness is checked like safety', () => {
  it('a seed that misses the convergence bound fails the sweep with its state and repro command, not an uncaught error', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => {} };
    // 0 ms: nobody catches up in no time after a crashed node restarts.
    const code = await main(['simulate', '--seeds', '1-2', '--duration', '2s', '--faults', 'crash', '--converge', '0ms'], io);
    expect(code).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/^liveness\s+2 seeds did not converge within 0 ms of the last fault$/m);
    expect(text).toMatch(/^FAIL seed 1: .*did not converge within 0 ms/m);
    expect(text).toMatch(/^\s+reproduce: npx grey simulate --seed 1 .* --converge 0ms --trace seed-1\.jsonl$/m);
    // With the default bound the same seeds pass.
    expect(await main(['simulate', '--seeds', '1-2', '--duration', '2s', '--faults', 'crash'], { out: () => {}, err: () => {} })).toBe(0);
  });

  it('--trace-dir keeps every seed\'s trace, and grey check checks a whole folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-traces-'));
    try {
      const io = { out: () => {}, err: () => {} };
      expect(await main(['simulate', '--seeds', '1-3', '--duration', '1s', '--faults', 'crash,membership', '--trace-dir', dir], io)).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['seed-1.jsonl', 'seed-2.jsonl', 'seed-3.jsonl']);
      const out: string[] = [];
      expect(await main(['check', dir], { out: (l) => out.push(l), err: () => {} })).toBe(0);
      expect(out.at(-1)).toBe('3 traces checked, all ok');
      // A trace altered after the fact fails the folder.
      const path = join(dir, 'seed-2.jsonl');
      const lines = readFileSync(path, 'utf8').split('\n');
      const i = lines.findIndex((l) => l.includes('"type":"commit"'));
      lines[i] = lines[i].replace(/"digest":"[0-9a-f]+"/, `"digest":"${'f'.repeat(64)}"`);
      writeFileSync(path, lines.join('\n'));
      expect(await main(['check', dir], { out: () => {}, err: () => {} })).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('task workload under faults', () => {
  it('a 100-seed sweep: no acknowledged task lost, none completed twice, every one finished within 5 s of the last fault', async () => {
    const failures: string[] = [];
    let accepted = 0;
    let completed = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = await runSimulation({ seed, nodes: 3, durationMs: 2_000, faults: ALL_FAULTS, latency: [5, 15], electionTimeout: [150, 300], rate: 40, meanGapMs: 400, workload: 'tasks' });
      const t = r.tasks!;
      accepted += t.accepted;
      completed += t.completed;
      if (seedFailed(r)) failures.push(`seed ${seed}: ${whyFailed(r)}`);
    }
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(100 * 40);
    expect(completed).toBeGreaterThan(accepted * 0.9); // the rest failed by policy (5% failure rate, 5 retries)
  }, 120_000);

  it('its trace carries task and client events', async () => {
    const r = await runSimulation({ seed: 3, nodes: 3, durationMs: 1_000, faults: [], latency: [5, 15], electionTimeout: [150, 300], rate: 20, workload: 'tasks', keepTrace: true });
    const events = readTrace(r.trace!).events;
    const task = events.filter((e) => e.type === 'task');
    expect(task.length).toBeGreaterThan(50);
    expect([...new Set(task.map((e) => e.to))]).toEqual(expect.arrayContaining(['pending', 'assigned', 'running', 'completed']));
    expect(task.every((e) => typeof e.node === 'string' && typeof e.taskId === 'string' && typeof e.rejected === 'boolean')).toBe(true);
    expect(events.filter((e) => e.type === 'client' && e.phase === 'invoke').length).toBeGreaterThan(10);
    expect(events.some((e) => e.type === 'client' && e.phase === 'ok' && e.op === 'submitTasks')).toBe(true);
  });

  it('a write whose answer arrives while the cluster is between leaders is settled against the state once one leads again, not counted lost', async () => {
    // Seed 66 of CI's sweep: a demotion held up by a partition commits during
    // recovery, and its leader steps down just as the writes whose outcome
    // was unknown are settled. Every node held the write; the check once read
    // it from a leader that did not exist and counted it lost.
    const r = await runSimulation({
      seed: 66, nodes: 5, durationMs: 10_000, faults: parseFaults('clock,crash,restart,partition,loss,duplicate,reorder,unsynced-loss,flaky,membership'),
      latency: [5, 15], electionTimeout: [150, 300], rate: 200, clockDrift: 0.01,
    });
    expect(r.settled.applied).toBeGreaterThan(0);
    expect(r.settled.wrong).toBe(0);
    expect(r.lost).toBe(0);
    expect(seedFailed(r)).toBe(false);
  });
});
