import { pathToFileURL } from 'node:url';
import { UsageError } from './cliArgs.js';

// Each command's module is loaded when the command runs: 'grey help' and a
// usage error answer without loading the simulator, the storage engine or
// the TLS stack.

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
  grey node --id n1 --listen 127.0.0.1:7001 --peers n2=127.0.0.1:7002,n3=127.0.0.1:7003 \\
            --data ./data/n1 --tls ./tls/n1 [--handlers ./handlers.js] [--log-level info]
            [--heartbeat 100] [--election-timeout 1000-2000] [--ops 127.0.0.1:9001] [--api 127.0.0.1:8001]
            [--drain-timeout 10s] [--proof-signing batch|each|off] [--retention 60s]
                                          run one node as this process, over TCP with mutual TLS (the
                                          folder holds ca.pem, cert.pem, key.pem); handlers: every function
                                          the module exports, by name; SIGTERM hands leadership over,
                                          lets running tasks finish within --drain-timeout (then hands them
                                          back) and stops; logs one JSON object per line; --ops serves
                                          /healthz, /readyz, /metrics (Prometheus) and /status over HTTP;
                                          --api serves the HTTP/JSON API and server-sent events over HTTPS
                                          to client and operator certificates of the cluster CA;
                                          --proof-signing: how it signs the proofs of tasks it completes
                                          with its key (one signature per report to the leader, per proof,
                                          or none; default batch); --retention: how long finished tasks
                                          (results, proofs) stay queryable before they are pruned
      --join                              a new node for a running cluster (--peers: its nodes): it takes
                                          no configuration of its own and waits for 'grey member add'
  grey certs --dir ./tls --nodes n1,n2,n3 [--clients app] [--operators admin] [--valid-days 90]
             [--hosts n1=10.0.0.1,n1=n1.example.com] [--tenant T]
                                          a cluster CA (Ed25519) and a certificate folder per name; --hosts:
                                          addresses a node's API is reached at, for curl and browsers;
                                          --tenant: the --clients certificates act for tenant T only
  grey status [--endpoints n1=127.0.0.1:7001,… --tls ./tls/client] [--dir .grey] [--json]
                                          each node's role, membership, term, leader, commit and applied
                                          index, for the nodes given and the members added with an address
                                          (without --endpoints: the cluster 'grey cluster up' started,
                                          as its operator; submit, watch and member take the same options)
  grey submit --type T [--payload JSON] [--priority N] [--timeout DURATION] [--tenant X] [--retries N]
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
  grey tenant list [--json]               the tenants and their quotas ('-': no limit)
  grey tenant set <name> [--weight W] [--max-cpu N] [--max-memory 4GiB] [--max-storage 1GiB]
       [--rate N] [--max-concurrent N]    register a tenant or change its quota (fields left out keep
                                          their value); needs an operator certificate
  grey cluster up [--nodes 3] [--dir .grey] [--base-port 7001] [--api-port 8001] [--handlers ./handlers.js]
                                          a local cluster of processes, with fresh certificates, data and
                                          logs in --dir, each node's HTTP API on the ports from --api-port;
                                          waits for a leader and shows the status
  grey cluster down [--dir .grey]         stops it (each node drains); data and logs stay
  grey audit verify <data dir> [--expect-head SEQ:HASH]
                                          check a stopped node's audit log (hash-chained): exits 0 with
                                          its head, 1 naming the first record modified, deleted or out of
                                          order (with --expect-head: or cut off the end), 2 when the
                                          directory cannot be read
  grey audit list <data dir> [--kind K] [--from SEQ] [--limit N]
                                          its records, one JSON object per line, oldest first
  grey proof verify <proof.json> --cert <worker cert.pem> --ca <ca.pem> [--at TIME]
                                          check a task proof's signature: by the worker it names, whose
                                          certificate the CA issued (valid at --at: ms or ISO date, default
                                          now); the file holds a proof or a 'grey submit --wait' line (then
                                          its result is checked against resultHash too); exits 0 if it
                                          verifies, 1 with the code and reason if not, 2 on a usage mistake
                                          or a file that cannot be read
  grey proof verify --task <id> [--cert PEM] [--ca PEM]
                                          the same for a task's proof read from the cluster (the options of
                                          grey status); a cluster from 'grey cluster up' supplies both PEMs
  grey help                               this text
`;


/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: CliIO = { out: console.log, err: console.error }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'models':
        return (await import('./modelsCommand.js')).modelsCommand(rest, io);
      case 'check':
        return (await import('./checkCommand.js')).checkCommand(rest, io);
      case 'paths':
        return await (await import('./pathsCommand.js')).pathsCommand(rest, io);
      case 'diagram':
        return await (await import('./diagramCommand.js')).diagramCommand(rest, io);
      case 'simulate':
        return await (await import('./simulateCommand.js')).simulateCommand(rest, io);
      case 'node':
        return await (await import('./nodeCommand.js')).nodeCommand(rest, io);
      case 'status':
        return await (await import('./nodeCommand.js')).statusCommand(rest, io);
      case 'certs':
        return await (await import('./nodeCommand.js')).certsCommand(rest, io);
      case 'cluster':
        return await (await import('./nodeCommand.js')).clusterCommand(rest, io);
      case 'submit':
        return await (await import('./clientCommands.js')).submitCommand(rest, io);
      case 'watch':
        return await (await import('./clientCommands.js')).watchCommand(rest, io);
      case 'member':
        return await (await import('./memberCommand.js')).memberCommand(rest, io);
      case 'tenant':
        return await (await import('./tenantCommand.js')).tenantCommand(rest, io);
      case 'audit':
        return await (await import('./auditCommand.js')).auditCommand(rest, io);
      case 'proof':
        return await (await import('./proofCommand.js')).proofCommand(rest, io);
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
    // An operator reads one line saying what failed (a port in use, a data
    // directory another node holds, a certificate for another node), not a
    // stack; GREY_DEBUG=1 shows the stack.
    if (err instanceof Error && process.env.GREY_DEBUG !== '1') {
      io.err(`grey: ${err.message}`);
      io.err('(GREY_DEBUG=1 shows where it failed)');
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
