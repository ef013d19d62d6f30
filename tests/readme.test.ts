import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../system/cli.js';

/*
 * The README is the front door: its example runs as written (importing the
 * package from this checkout), and every `grey` command it shows is one the
 * CLI accepts. The long simulate sweeps run in full in CI (`.ci/run`); here
 * each is checked for its flags and run for a moment.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const scratch = join(root, 'tests', '.readme');

/** Runs a ts block of the README as a module importing this checkout; returns what it logged, one array per call. */
async function runBlock(source: string, name: string, exportLine = ''): Promise<{ lines: unknown[][]; mod: Record<string, unknown> }> {
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, name);
  writeFileSync(file, `${source.replace("from 'grey-distributed'", `from ${JSON.stringify(pathToFileURL(join(root, 'index.ts')).href)}`)}\n${exportLine}`);
  const lines: unknown[][] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args);
  try {
    return { lines, mod: await import(pathToFileURL(file).href) };
  } finally {
    console.log = log;
  }
}

function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  for (const m of readme.matchAll(re)) out.push(m[1]);
  return out;
}

/** `npx grey …` lines of the bash blocks, continuation lines joined, comments dropped. */
function greyCommands(): string[][] {
  const text = blocks('bash').join('\n').replace(/\\\n\s*/g, ' ');
  return text
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l.startsWith('npx grey '))
    .map((l) => l.slice('npx grey '.length).split(/\s+/));
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('README', () => {
  it('the short example runs as written against this checkout', async () => {
    const [example] = blocks('ts');
    expect(example).toContain("from 'grey-distributed'");
    const { lines, mod } = await runBlock(example, 'example.ts', 'export { cluster, result, proof };');
    expect(mod.result).toEqual({ size: 400 });
    expect((mod.proof as { resultHash: string }).resultHash).toMatch(/^[0-9a-f]{64}$/);
    expect(lines.some((l) => l[0] === 'grey')).toBe(true); // the linearizable read printed the value
    // Subscribed before the run: every event of the task, then its result and proof.
    const types = lines.filter((l) => typeof l[0] === 'string' && l[0].startsWith('task.')).map((l) => l[0]);
    expect(types.slice(0, 3)).toEqual(['task.submitted', 'task.assigned', 'task.started']);
    expect(types.at(-1)).toBe('task.completed');
    const printed = lines.find((l) => (l[0] as { size?: number })?.size === 400)!;
    expect(printed[1]).toMatchObject({ taskId: expect.any(String), workerId: expect.any(String), attempt: 1, resultHash: (mod.proof as { resultHash: string }).resultHash });
  });

  it('the model-testing example runs as written and covers its machine', async () => {
    const example = blocks('ts').find((b) => b.includes('checkModel('));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'models.ts');
    expect(lines[0][0]).toEqual({ covered: 3, total: 3, missing: [] });
    expect(lines[0][1]).toEqual({ covered: 3, total: 3, missing: [] });
    expect(lines[1][0]).toMatchObject({ covered: 2, total: 3 });
  });

  it('the test-your-own-system example runs as written and finds the bug it plants', async () => {
    const example = blocks('ts').find((b) => b.includes('createTestModel('));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'testmodel.ts');
    expect(lines[0]).toEqual(['ok', 'OPEN → CLOSE']);
    expect(lines[1]).toEqual(['path "LOCK → UNLOCK" failed at step 2 (UNLOCK), model state "closed": door is open']);
    expect(lines[2][0]).toMatchObject({ covered: 3, total: 4 });
  });

  it('the lost-answer example runs as written and prints what its comments say', async () => {
    const example = blocks('ts').find((b) => b.includes('client.outcome('));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'outcome.ts');
    expect(lines[0]).toEqual(['Timeout', 'unknown', 'app#1']);
    expect(lines[1]).toEqual([{ applied: false }]);
    expect(lines[2]).toEqual(['app#3', 1]);
  });

  it('the key-value example runs as written and prints what its comments say', async () => {
    const example = blocks('ts').find((b) => b.includes('kv.watch('));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'kv.ts');
    const read = lines[0][0] as { found: boolean; value: unknown; revision: number; version: number };
    expect(read).toMatchObject({ found: true, key: 'flags/dark', value: true, version: 1 });
    const r = read.revision;
    expect(lines[1][0]).toEqual({ applied: true, revision: r + 1 });
    expect(lines[2][0]).toEqual({ applied: false, revision: r + 1 });
    expect(lines[3][0]).toEqual({ applied: true, revision: r + 2 });
    expect(lines[4][0]).toEqual([`${r} put flags/dark`, `${r + 1} put flags/dark`, `${r + 2} put flags/beta`, `${r + 3} delete flags/dark`]);
    expect(lines[5][0]).toEqual(['flags/beta']);
  });

  it('the security example runs as written and prints what its comments say', async () => {
    const example = blocks('ts').find((b) => b.includes('requestJoin('));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'security.ts');
    expect(lines[0]).toEqual([{ ok: true, trust: 'hardware' }]);
    expect(lines[1]).toEqual(['InsufficientTrust']);
    expect(lines[2]).toEqual([['join accepted', 'membership pendingApproval', 'membership learner', 'membership voter', 'block key leaked', 'message dropped', 'message dropped']]);
    expect(lines[3]).toEqual([true]);
  });

  it('the real-mode example runs as written: three embedded nodes, a handler reading a file', async () => {
    const example = blocks('ts').find((b) => b.includes('startNode(') && b.includes('lineCount'));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'embedded.ts');
    expect(lines[0]).toEqual(['lines', 4, 'cpu time:', (process as { threadCpuUsage?: unknown }).threadCpuUsage ? 'thread' : 'elapsed']);
  }, 30_000);

  it('the worker-pool example runs as written, beside its task module', async () => {
    const module = blocks('js').find((b) => b.startsWith('// tasks.mjs'));
    const example = blocks('ts').find((b) => b.includes('new WorkerPool('));
    expect(module && example).toBeTruthy();
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, 'tasks.mjs'), module!);
    const { lines } = await runBlock(example!, 'pool.ts');
    expect(lines).toEqual([[75025], ['TaskFailed', 1], [6765]]);
  }, 30_000);

  it('the inspection example runs as written and prints what its comment says', async () => {
    const example = blocks('ts').find((b) => b.includes('inspect: (e: GreyInspectionEvent)'));
    expect(example).toBeDefined();
    const { lines } = await runBlock(example!, 'inspect.ts');
    expect(lines).toEqual([[true]]);
  });

  it('its statechart diagrams are what grey diagram generates from the machines now', async () => {
    const { diagramOf, greyStatecharts } = await import('../system/diagram/index.js');
    const charts = greyStatecharts();
    const found = [...readme.matchAll(/<!-- generated by: npx grey diagram (\w+) -->\n```mermaid\n([\s\S]*?)```/g)];
    expect(found.map((m) => m[1])).toEqual(['raftRole', 'taskLifecycle', 'replicationProgress', 'membership', 'quarantine', 'circuitBreaker']);
    for (const [, id, text] of found) {
      expect(charts.has(id), id).toBe(true);
      expect(text.trimEnd(), `${id} is out of date: regenerate it with 'npx grey diagram ${id}'`).toBe((await diagramOf(charts.get(id)!, 'mermaid')).trimEnd());
    }
  });

  it('its `grey models` table is what grey models prints today', async () => {
    const block = /`grey models` today:\n\n```\n([\s\S]*?)```/.exec(readme);
    expect(block, 'the README shows a grey models table').not.toBeNull();
    const out: string[] = [];
    expect(await main(['models'], { out: (l) => out.push(l), err: () => {} })).toBe(0);
    expect(block![1].trimEnd(), "out of date: paste the output of 'npx grey models'").toBe(out.join('\n').trimEnd());
  });

  it('every grey command it shows is accepted by the CLI', async () => {
    const commands = greyCommands();
    expect(commands.length).toBeGreaterThanOrEqual(6);
    for (const argv of commands) {
      const [command] = argv;
      expect(['models', 'simulate', 'check', 'paths', 'help', 'cluster', 'status', 'certs', 'node', 'diagram', 'submit', 'watch', 'member', 'audit', 'tenant']).toContain(command);
      if (command === 'diagram') {
        // As written, with any --out under a scratch folder.
        const args = [...argv];
        const out = args.indexOf('--out');
        if (out >= 0) args[out + 1] = join(scratch, 'diagrams', args[out + 1]);
        const printed: string[] = [];
        const err: string[] = [];
        expect(await main(args, { out: (l) => printed.push(l), err: (l) => err.push(l) }), `${argv.join(' ')}: ${err.join(' ')}`).toBe(0);
        expect(out >= 0 || printed.join('\n').length > 0).toBe(true);
        continue;
      }
      if (['cluster', 'status', 'certs', 'node', 'submit', 'watch', 'member', 'audit', 'tenant'].includes(command)) {
        // Real processes and sockets: tests/cluster_cli.test.ts and tests/processes.test.ts run these; here, the flags must parse.
        const flags = argv.slice(command === 'cluster' || command === 'audit' || command === 'tenant' ? 2 : 1);
        const known = ['--nodes', '--dir', '--base-port', '--api-port', '--handlers', '--endpoints', '--tls', '--json', '--clients', '--operators', '--valid-days', '--hosts', '--id', '--listen', '--peers', '--data', '--log-level', '--heartbeat', '--election-timeout', '--api', '--ops', '--join', '--type', '--payload', '--priority', '--wait', '--limit', '--members', '--kv', '--prefix', '--address', '--reason', '--kind', '--expect-head', '--from', '--tenant', '--weight', '--rate', '--max-cpu', '--max-memory', '--max-storage', '--max-concurrent'];
        for (const f of flags) if (f.startsWith('--')) expect(known, `${argv.join(' ')}: ${f}`).toContain(f);
        continue;
      }
      if (command === 'paths') {
        const out: string[] = [];
        expect(await main(argv, { out: (l) => out.push(l), err: () => {} })).toBe(0);
        expect(out.at(-1)).toMatch(/paths; states (\d+)\/\1, transitions (\d+)\/\2/);
      }
      if (command !== 'simulate') continue;
      // Flags as written, shortened to a moment of one seed: a usage error exits 2.
      const quick = [...argv];
      const at = (flag: string) => quick.indexOf(flag);
      if (at('--seeds') >= 0) quick.splice(at('--seeds'), 2, '--seed', '1');
      if (at('--duration') >= 0) quick.splice(at('--duration') + 1, 1, '300ms');
      else quick.push('--duration', '300ms');
      for (const f of ['--trace', '--trace-dir']) if (at(f) >= 0) quick.splice(at(f), 2);
      const err: string[] = [];
      const code = await main(quick, { out: () => {}, err: (l) => err.push(l) });
      expect(code, `${argv.join(' ')}: ${err.join(' ')}`).toBe(0);
    }
  });
});
