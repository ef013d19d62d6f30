import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkTrace, InvariantViolation } from './invariants.js';
import { checkMachineModel, MACHINE_MODELS } from './modelPlans/index.js';
import type { ModelReport } from './modelPaths.js';
import { readTrace, TraceFormatError } from './trace.js';
import { parseFlags, UsageError } from './cliArgs.js';
import { simulateCommand } from './simulateCommand.js';
import { pathsCommand } from './pathsCommand.js';
import { diagramCommand } from './diagramCommand.js';
import { certsCommand, clusterCommand, nodeCommand, statusCommand } from './nodeCommand.js';
import { submitCommand, watchCommand } from './clientCommands.js';
import { memberCommand } from './memberCommand.js';

/** Where the CLI writes; injectable so tests can read it. */
export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = `grey — deterministic actor runtime for distributed task clusters

usage:
  grey models [--machine NAME] [--json]   generate and run model-based path tests of every statechart;
                                          prints states and transitions covered, exits 1 below 100%
  grey paths <module>[#export] [--options EXPORT] [--limit N] [--json]
                                          the test paths generated from your own XState v5 machine (export
                                          default: machine) and the states and transitions they cover;
                                          exits 1 below 100%
  grey diagram <machine|all|module[#export]> [--format mermaid|svg|dot|json] [--out FILE|DIR]
               [--actions] [--direction LR|TB]
                                          draw a statechart from its definition (default mermaid, to
                                          stdout); svg and json are laid out with ELK; 'all --out DIR'
                                          writes one file per machine; --actions adds actions to labels
  grey check <trace.jsonl|dir> ... [--partial]
                                          check traces (files, or every .jsonl in a folder) against the
                                          Raft safety invariants; exits 1 on a violation or a trace that
                                          ends without its end event (unless --partial), 2 when a file
                                          cannot be read
  grey simulate [options]                 run a cluster under faults in deterministic simulation
      --seed N | --seeds A-B                one seed, or a sweep (progress, summary, repro command)
      --nodes N (5)  --duration 60s  --rate 200 (requests/s)
      --faults crash,restart,partition,halves,isolate-leader,ring,minority,unsynced-loss,flaky,loss,duplicate,
               reorder,membership,clock
      --latency 5-15 (ms)  --election-timeout 150-300 (ms)  --workload writes|kv|tasks
      --trace out.jsonl (one seed) | --trace-dir DIR (every seed: DIR/seed-N.jsonl)
      --clock-drift 1%  --lease-reads       node clocks within ±1 % (the clock fault skews them);
                                          reads on the leader's lease instead of ReadIndex
      --sync-latency 0.5-3 (ms)           disks whose syncs take virtual time: nodes hold every message
                                          until what it promises is durable
      --converge 5s                       liveness bound: after the last fault, every member caught up
                                          and every accepted task finished within this much virtual time
                                          exits 1 on any violation, error, lost write, divergence, task
                                          completed twice or left unfinished, history not shown
                                          linearizable (--workload kv), or missed convergence
  grey node --id n1 --listen 127.0.0.1:7001 --peers n2=127.0.0.1:7002,n3=127.0.0.1:7003 \
            --data ./data/n1 --tls ./tls/n1 [--handlers ./handlers.js] [--log-level info]
            [--heartbeat 100] [--election-timeout 1000-2000] [--ops 127.0.0.1:9001] [--api 127.0.0.1:8001]
                                          run one node as this process, over TCP with mutual TLS (the
                                          folder holds ca.pem, cert.pem, key.pem); handlers: every function
                                          the module exports, by name; SIGTERM hands leadership over and
                                          stops cleanly; logs one JSON object per line; --ops serves
                                          /healthz, /readyz, /metrics (Prometheus) and /status over HTTP;
                                          --api serves the HTTP/JSON API and server-sent events over HTTPS
                                          to client and operator certificates of the cluster CA
      --join                              a new node for a running cluster (--peers: its nodes): it takes
                                          no configuration of its own and waits for 'grey member add'
  grey certs --dir ./tls --nodes n1,n2,n3 [--clients app] [--operators admin] [--valid-days 90]
             [--hosts n1=10.0.0.1,n1=n1.example.com]
                                          a cluster CA (Ed25519) and a certificate folder per name; --hosts:
                                          addresses a node's API is reached at, for curl and browsers
  grey status [--endpoints n1=127.0.0.1:7001,… --tls ./tls/client] [--dir .grey] [--json]
                                          each node's role, membership, term, leader, commit and applied
                                          index, for the nodes given and the members added with an address
                                          (without --endpoints: the cluster 'grey cluster up' started,
                                          as its operator; submit, watch and member take the same options)
  grey submit --type T [--payload JSON] [--priority N] [--timeout MS] [--tenant X] [--retries N]
              [--idempotency-key K] [--wait]
                                          submit a task; prints {"taskId","index"} once committed; --wait
                                          then prints its result and proof (exit 0) or failure (exit 1)
  grey watch <taskId> | --kv KEY [--prefix] [--from REV] | --members [--limit N] [--poll 100ms]
                                          one JSON line per event: a task's until its final one (exit 0 if
                                          it completed, 1 if not); changes of a key or prefix, or of the
                                          membership, until Ctrl-C or --limit lines
  grey member list [--json]               the members: status, address, since, reason
  grey member add <id> --address host:port [--wait]
                                          join and approve a node started with 'grey node --join': a
                                          learner that catches up, then a voter (--wait: until it is one)
  grey member promote <id> [--wait]       make a learner a voter now
  grey member remove <id> [--reason R] [--wait]
                                          take a node out of the configuration (or turn its join down);
                                          member changes need an operator certificate (else Unauthorized)
  grey cluster up [--nodes 3] [--dir .grey] [--base-port 7001] [--api-port 8001] [--handlers ./handlers.js]
                                          a local cluster of processes, with fresh certificates, data and
                                          logs in --dir, each node's HTTP API on the ports from --api-port;
                                          waits for a leader and shows the status
  grey cluster down [--dir .grey]         stops it (each node drains); data and logs stay
  grey help                               this text
`;

const pct = (covered: number, total: number) => (total === 0 ? 100 : (100 * covered) / total);

function modelsCommand(args: string[], io: CliIO): number {
  const flags = parseFlags(args, { machine: 'value', json: 'bool' });
  const models = flags.machine ? MACHINE_MODELS.filter((m) => m.machine.id === flags.machine) : MACHINE_MODELS;
  if (models.length === 0) {
    throw new UsageError(`no machine '${flags.machine}'; known: ${MACHINE_MODELS.map((m) => m.machine.id).join(', ')}`);
  }
  const reports: ModelReport[] = models.map(checkMachineModel);
  if (flags.json) {
    io.out(JSON.stringify(reports, null, 2));
  } else {
    const rows = [['machine', 'states', 'transitions', 'paths', 'steps']];
    for (const r of reports) {
      rows.push([
        r.machine,
        `${r.states.covered}/${r.states.total} (${pct(r.states.covered, r.states.total).toFixed(0)}%)`,
        `${r.transitions.covered}/${r.transitions.total} (${pct(r.transitions.covered, r.transitions.total).toFixed(0)}%)`,
        String(r.paths),
        String(r.steps),
      ]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) io.out(row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
    for (const r of reports) {
      for (const m of [...r.states.missing, ...r.transitions.missing]) io.out(`  ${r.machine}: not covered: ${m}`);
    }
  }
  const complete = reports.every((r) => r.states.missing.length === 0 && r.transitions.missing.length === 0);
  return complete ? 0 : 1;
}

function checkCommand(args: string[], io: CliIO): number {
  const paths = args.filter((a) => !a.startsWith('--'));
  const flags = parseFlags(args.filter((a) => a.startsWith('--')), { partial: 'bool' });
  const partial = flags.partial === true;
  if (paths.length === 0) throw new UsageError('check needs a trace file or a folder of traces');
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // Reported as unreadable below.
    }
    if (isDir) {
      const inside = readdirSync(p).filter((f) => f.endsWith('.jsonl')).sort();
      if (inside.length === 0) throw new UsageError(`no .jsonl traces in ${p}`);
      files.push(...inside.map((f) => join(p, f)));
    } else {
      files.push(p);
    }
  }
  let worst = 0;
  for (const file of files) worst = Math.max(worst, checkOne(file, io, files.length > 1, partial));
  if (files.length > 1) io.out(`${files.length} traces checked, ${worst === 0 ? 'all ok' : 'some failed'}`);
  return worst;
}

function checkOne(path: string, io: CliIO, brief: boolean, partial: boolean): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    io.err(`grey: cannot read trace ${path}: ${(err as Error).message}`);
    return 2;
  }
  let trace;
  try {
    trace = readTrace(text);
  } catch (err) {
    if (!(err instanceof TraceFormatError)) throw err;
    io.err(`grey: ${path}:${err.line}: malformed trace: ${err.detail}`);
    return 2;
  }
  try {
    const s = checkTrace(trace);
    if (!partial && trace.events.at(-1)?.type !== 'end') {
      io.err(`grey: ${path}: the trace ends without its end event (cut short?); its ${s.events} events pass the checks. Pass --partial to accept a trace that is cut short`);
      return 1;
    }
    const leaders = s.leaders.length === 0 ? 'none' : s.leaders.map((l) => `${l.term}:${l.node}`).join(' ');
    io.out(`${path}: ok, ${s.events} events checked (seed ${trace.header.seed})`);
    if (brief) return 0;
    io.out(`  nodes     ${s.nodes.join(', ')} (${s.restarts} restarts)`);
    io.out(`  terms     max ${s.maxTerm}; leaders by term ${leaders}`);
    io.out(`  log       ${s.entriesAppended} entries appended, ${s.truncates} truncates, ${s.snapshots} snapshots`);
    io.out(`  commits   ${s.commits} commit events, highest index ${s.maxCommit}`);
    io.out(`  applies   ${s.applies} checked`);
    return 0;
  } catch (err) {
    if (!(err instanceof InvariantViolation)) throw err;
    io.err(`grey: ${path}:${trace.lines[err.eventNumber - 1]}: invariant violated`);
    io.err(`  ${err.message}`);
    io.err(`  event: ${JSON.stringify(err.event)}`);
    return 1;
  }
}

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: CliIO = { out: console.log, err: console.error }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'models':
        return modelsCommand(rest, io);
      case 'check':
        return checkCommand(rest, io);
      case 'paths':
        return await pathsCommand(rest, io);
      case 'diagram':
        return await diagramCommand(rest, io);
      case 'simulate':
        return await simulateCommand(rest, io);
      case 'node':
        return await nodeCommand(rest, io);
      case 'status':
        return await statusCommand(rest, io);
      case 'certs':
        return await certsCommand(rest, io);
      case 'cluster':
        return await clusterCommand(rest, io);
      case 'submit':
        return await submitCommand(rest, io);
      case 'watch':
        return await watchCommand(rest, io);
      case 'member':
        return await memberCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`grey: ${err.message}`);
      io.err(`(run 'grey help' for usage)`);
      return 2;
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
