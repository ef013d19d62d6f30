import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TaskHandler } from '../actors/taskHandlers.js';
import { PROOF_SIGNING_MODES, type ProofSigningMode } from '../actors/proofSignature.js';
import type { CliIO } from './cli.js';
import { parseDuration, parseFlags, parsePositiveInt, parseRange, UsageError } from './cliArgs.js';
import { loadCertificateAuthority } from '../actors/nodeCertificate.js';
import { createClusterCa, issueCertificate, tlsIdentityProblem, type CertificateRole, type ClusterCa, type TlsIdentity } from './certificates.js';
import { connect, startNode, type RealClient } from './embeddedNode.js';
import type { NodeStatus } from '../actors/clientProtocol.js';
import { parseAddress } from './tlsNetwork.js';
import { startOpsServer } from './opsServer.js';
import { isProcessAlive } from './processAlive.js';
import { dataDirHolder, isNodeOf } from './dataDirHolder.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** Structured logs: one JSON object per line, at or above a level. */
export function jsonLogger(level: Level, write: (line: string) => void): (at: Level, msg: string, fields?: Record<string, unknown>) => void {
  const min = LEVELS.indexOf(level);
  return (at, msg, fields = {}) => {
    if (LEVELS.indexOf(at) >= min) write(JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields }));
  };
}

/** `n2=10.0.0.2:7002,n3=10.0.0.3:7003` → `{ n2: '10.0.0.2:7002', … }`, each address checked. */
export function parsePeers(text: string, flag = 'peers'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag}: '${part}' is not id=host:port`);
    const id = part.slice(0, eq);
    try {
      parseAddress(part.slice(eq + 1), id);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message}`);
    }
    out[id] = part.slice(eq + 1);
  }
  if (Object.keys(out).length === 0) throw new UsageError(`--${flag} needs at least one id=host:port`);
  return out;
}

/** A TLS directory: `ca.pem`, `cert.pem`, `key.pem`. */
export function readTlsDir(dir: string, flag = 'tls'): TlsIdentity {
  const files = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;
  const out = {} as TlsIdentity;
  for (const [k, f] of Object.entries(files) as Array<[keyof TlsIdentity, string]>) {
    const path = join(dir, f);
    if (!existsSync(path)) throw new UsageError(`--${flag}: ${path} is missing (a TLS folder holds ca.pem, cert.pem and key.pem; 'grey cluster up' makes them)`);
    out[k] = readFileSync(path, 'utf8');
  }
  const problem = tlsIdentityProblem(out);
  if (problem !== null) throw new Error(`--${flag}: ${join(dir, files[problem.file])} ${problem.problem}`);
  return out;
}

/** Task handlers from a module: every exported function (and every function of a default-exported object), by name. */
async function loadHandlers(file: string): Promise<Record<string, TaskHandler>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`--handlers: ${path} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    // A syntax error's message names no line (and a loader may word it its own way):
    // node --check says where it is and what, as path:LINE on its first line.
    const check = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8' });
    const report = check.status === 0 ? [] : check.stderr.split('\n');
    const syntax = report.find((l) => l.startsWith('SyntaxError: '));
    if (report[0]?.startsWith(path) && syntax) throw new Error(`--handlers: ${report[0]}: ${syntax.slice('SyntaxError: '.length)}`);
    throw new Error(`--handlers: ${path}: ${(err as Error)?.message ?? String(err)}`);
  }
  const out: Record<string, TaskHandler> = {};
  const from = (o: Record<string, unknown>) => {
    for (const [name, fn] of Object.entries(o)) if (typeof fn === 'function' && name !== 'default') out[name] = fn as TaskHandler;
  };
  from(mod);
  if (mod.default && typeof mod.default === 'object') from(mod.default as Record<string, unknown>);
  return out;
}

const NODE_FLAGS = {
  id: 'value',
  listen: 'value',
  peers: 'value',
  data: 'value',
  tls: 'value',
  handlers: 'value',
  'log-level': 'value',
  heartbeat: 'value',
  'election-timeout': 'value',
  'drain-timeout': 'value',
  ops: 'value',
  api: 'value',
  join: 'bool',
  'proof-signing': 'value',
  retention: 'value',
} as const;

/**
 * `grey node`: one Grey node as this process, over TCP with mutual TLS,
 * until SIGTERM or SIGINT, which drain it (leadership handed over, then a
 * clean stop). Logs one JSON object per line on stdout.
 */
export async function nodeCommand(args: string[], io: CliIO, signals: NodeJS.EventEmitter = process): Promise<number> {
  const f = parseFlags(args, NODE_FLAGS);
  const need = (k: keyof typeof NODE_FLAGS): string => {
    const v = f[k];
    if (typeof v !== 'string') throw new UsageError(`grey node needs --${k}`);
    return v;
  };
  const id = need('id');
  const listen = need('listen');
  for (const flag of ['listen', 'ops', 'api'] as const) {
    const v = flag === 'listen' ? listen : f[flag];
    if (typeof v !== 'string') continue;
    try {
      parseAddress(v, flag);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message}`);
    }
  }
  const peers = typeof f.peers === 'string' ? parsePeers(f.peers) : {};
  const join = f.join === true;
  if (join && Object.keys(peers).length === 0) throw new UsageError('grey node --join needs --peers: nodes of the running cluster, id=host:port,…');
  const level = (typeof f['log-level'] === 'string' ? f['log-level'] : 'info') as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  const heartbeatMs = typeof f.heartbeat === 'string' ? parsePositiveInt(f.heartbeat, 'heartbeat') : 100;
  const [electionTimeoutMin, electionTimeoutMax] = typeof f['election-timeout'] === 'string' ? parseRange(f['election-timeout'], 'election-timeout') : [1_000, 2_000];
  if (!(electionTimeoutMin > heartbeatMs)) throw new UsageError(`--election-timeout: the minimum (${electionTimeoutMin} ms) must be above the heartbeat (${heartbeatMs} ms)`);
  const proofSigning = (typeof f['proof-signing'] === 'string' ? f['proof-signing'] : 'batch') as ProofSigningMode;
  if (!PROOF_SIGNING_MODES.includes(proofSigning)) throw new UsageError(`--proof-signing must be one of ${PROOF_SIGNING_MODES.join(', ')}, got '${proofSigning}'`);
  const tls = readTlsDir(need('tls'));
  const drainMs = typeof f['drain-timeout'] === 'string' ? parseDuration(f['drain-timeout'], 'drain-timeout') : 10_000;
  // How long finished tasks stay queryable (results, proofs) before a leader prunes them.
  const retentionMs = typeof f.retention === 'string' ? parseDuration(f.retention, 'retention') : undefined;
  const handlers = typeof f.handlers === 'string' ? await loadHandlers(f.handlers) : {};
  const log = jsonLogger(level, io.out);

  const node = await startNode({
    id,
    listen,
    peers: join ? peers : { ...peers, [id]: listen },
    join,
    tls,
    dataDir: need('data'),
    handlers,
    raft: { heartbeatMs, electionTimeoutMin, electionTimeoutMax },
    ...(retentionMs === undefined ? {} : { tasks: { retentionMs } }),
    proofSigning,
    ...(typeof f.api === 'string' ? { api: { listen: f.api } } : {}),
  });
  const ops = typeof f.ops === 'string' ? await startOpsServer(node, f.ops) : null;
  log('info', 'started', { node: id, listen: node.address, api: node.api, ops: ops?.address ?? null, peers, join, handlers: Object.keys(handlers), status: node.status() });
  if (join && node.status().config.voters.length === 0) {
    const { host, port } = parseAddress(listen, 'listen');
    const reachable = host === '0.0.0.0' || host === '::' ? `HOST:${port}` : listen;
    if (node.joined) {
      // It asked itself, through the join handshake; an operator approves it.
      void node.joined.then((o) =>
        o.ok
          ? log('info', 'join accepted, waiting for approval', { node: id, trust: o.trust, hint: `grey member add ${id}${reachable === listen ? '' : ` --address ${reachable}`}` })
          : log('error', 'join refused', { node: id, code: o.code, reason: o.reason }),
      );
    } else log('info', 'waiting to be added', { node: id, hint: `grey member add ${id} --address ${reachable}` });
  }
  node.onRole((role, term, leader) => log('info', 'role', { node: id, role, term, leader }));
  // Each refusal once: a dial refused is retried with backoff, and one line says it. An error when
  // a peer refused this node for another process running as it (a peer refusing an older process may
  // be seeing a restarted node's former one: a warning there).
  const refusalsLogged = new Set<string>();
  node.onRefusal((peer, reason, { code, byPeer }) => {
    const key = `${peer}\u0000${reason}`;
    if (refusalsLogged.has(key)) return;
    if (refusalsLogged.size >= 1_000) refusalsLogged.clear();
    refusalsLogged.add(key);
    log(byPeer && code === 'superseded' ? 'error' : 'warn', 'connection refused', { node: id, peer, code, byPeer, reason });
  });
  await new Promise<void>((done) => {
    const drain = async (signal: string) => {
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      log('info', 'draining', { node: id, signal, leader: node.status().role === 'leader' });
      const handed = await node.handOver(3_000);
      log(handed ? 'info' : 'warn', 'leadership', { node: id, handedOver: handed });
      const drained = await node.drain(drainMs);
      log('info', 'drained', { node: id, ...drained });
      await ops?.close();
      await node.stop();
      log('info', 'stopped', { node: id });
      done();
    };
    const onTerm = () => void drain('SIGTERM');
    const onInt = () => void drain('SIGINT');
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
  });
  return 0;
}

/** The endpoint options every client command takes (`grey status`, `submit`, `watch`, `member`). */
export const ENDPOINT_FLAGS = { endpoints: 'value', tls: 'value', dir: 'value' } as const;

/** Where a client command connects, and as whom. */
export interface ClusterTarget {
  endpoints: Record<string, string>;
  tls: TlsIdentity;
}

/**
 * The cluster a client command talks to: `--endpoints n1=host:port,… --tls
 * DIR`, or else the local cluster `grey cluster up` started in `--dir`
 * (default `.grey`), as its operator (`admin`) unless `--tls` says otherwise.
 */
export function clusterTarget(f: Record<string, string | boolean>, command: string): ClusterTarget {
  if (typeof f.endpoints === 'string') {
    const endpoints = parsePeers(f.endpoints, 'endpoints');
    if (typeof f.tls === 'string') return { endpoints, tls: readTlsDir(f.tls) };
    // Other endpoints of a 'grey cluster up' cluster: its operator's certificate, as without --endpoints.
    const local = typeof f.dir === 'string' ? join(resolve(f.dir), CLUSTER_FILE) : null;
    if (local === null || !existsSync(local)) throw new UsageError(`grey ${command} needs --tls DIR (a client or operator certificate)`);
    const cluster = JSON.parse(readFileSync(local, 'utf8')) as ClusterFile;
    return { endpoints, tls: readTlsDir(join(cluster.tls, cluster.client)) };
  }
  // A local cluster from 'grey cluster up'.
  const file = join(resolve(typeof f.dir === 'string' ? f.dir : '.grey'), CLUSTER_FILE);
  if (!existsSync(file)) throw new UsageError(`grey ${command} needs --endpoints and --tls, or a cluster from 'grey cluster up' (no ${file})`);
  const cluster = JSON.parse(readFileSync(file, 'utf8')) as ClusterFile;
  const endpoints = Object.fromEntries(Object.entries(cluster.nodes).map(([id, x]) => [id, x.address]));
  return { endpoints, tls: readTlsDir(typeof f.tls === 'string' ? f.tls : join(cluster.tls, cluster.client)) };
}

/**
 * Writes a node added with `grey member add` into the local cluster's
 * address book (`cluster.json` of `grey cluster up`), so that the client
 * commands reach it too (it may come to lead). Does nothing when the
 * command named its endpoints; returns the file written, or null.
 */
export function rememberLocalNode(f: Record<string, string | boolean>, id: string, address: string): string | null {
  if (typeof f.endpoints === 'string') return null;
  const file = join(resolve(typeof f.dir === 'string' ? f.dir : '.grey'), CLUSTER_FILE);
  if (!existsSync(file)) return null;
  const cluster = JSON.parse(readFileSync(file, 'utf8')) as ClusterFile;
  if (cluster.nodes[id]?.address === address) return null;
  cluster.nodes[id] = { ...cluster.nodes[id], address };
  writeFileSync(file, JSON.stringify(cluster, null, 2));
  return file;
}

type StatusRow = { node: string; up: true; member: string } & NodeStatus | { node: string; up: false; member: string; error: string };

/**
 * `grey status --endpoints n1=host:port,… --tls DIR`: what each node says of
 * itself, for the nodes given and every other member whose record carries
 * an address (nodes added with `grey member add --address`).
 */
export async function statusCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { ...ENDPOINT_FLAGS, json: 'bool' });
  const { endpoints, tls } = clusterTarget(f, 'status');
  const client = connect({ endpoints, tls, timeoutMs: 3_000, attemptTimeoutMs: 1_000 });
  const others: RealClient[] = [];
  try {
    const ask = (c: RealClient, node: string): Promise<StatusRow> =>
      c.nodeStatus(node).then(
        (s) => ({ node, up: true, member: memberOf(s.config, node), ...s }),
        (err: Error) => ({ node, up: false, member: '-', error: err.message }),
      );
    // The members, to find nodes added since the endpoints were written down: only while the per-node answers come.
    const [given, members] = await Promise.all([
      Promise.all(Object.keys(endpoints).map((node) => ask(client, node))),
      Promise.race([client.members(), new Promise<null>((r) => setTimeout(r, 1_500, null).unref())]).catch(() => null),
    ]);
    const added = (members ?? []).filter((m) => m.address !== undefined && !(m.node in endpoints) && (m.status === 'voter' || m.status === 'learner'));
    let rows = given;
    if (added.length > 0) {
      const extra = connect({ endpoints: Object.fromEntries(added.map((m) => [m.node, m.address!])), tls, timeoutMs: 3_000, attemptTimeoutMs: 1_000 });
      others.push(extra);
      rows = [...given, ...(await Promise.all(added.map((m) => ask(extra, m.node))))];
    }
    // The replicated membership, when known, says more than one node's configuration (pending, removed).
    for (const r of rows) {
      const m = members?.find((x) => x.node === r.node);
      if (m) r.member = m.status;
    }
    if (f.json) io.out(JSON.stringify(rows, null, 2));
    else {
      io.out('node  role       member   term  leader  commit   applied  last     tasks');
      for (const r of rows) {
        if (!r.up) io.out(`${r.node.padEnd(5)} down (${r.error})`);
        else {
          io.out(`${r.node.padEnd(5)} ${r.role.padEnd(10)} ${r.member.padEnd(8)} ${String(r.term).padEnd(5)} ${String(r.leader ?? '-').padEnd(7)} ${String(r.commitIndex).padEnd(8)} ${String(r.lastApplied).padEnd(8)} ${String(r.lastIndex).padEnd(8)} ${r.tasks}`);
        }
      }
    }
    return rows.every((r) => r.up) ? 0 : 1;
  } finally {
    await Promise.all([client, ...others].map((c) => c.close()));
  }
}

/** A node's place in its own view of the configuration. */
function memberOf(config: { voters: readonly string[]; learners: readonly string[] }, node: string): string {
  return config.voters.includes(node) ? 'voter' : config.learners.includes(node) ? 'learner' : '-';
}

/**
 * `grey certs --dir ./tls --nodes n1,n2,n3 [--clients app] [--operators admin] [--tenant T]`:
 * a cluster CA (kept in the folder, `ca.pem` and `ca.key`, to issue more
 * later) and one folder per name with `ca.pem`, `cert.pem` and `key.pem`.
 * An existing CA in the folder is reused. `--tenant T` binds the client
 * certificates of this run (`--clients`) to tenant T: nodes scope their
 * holders' requests to it. Nodes and operators are never bound.
 */
export async function certsCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { dir: 'value', nodes: 'value', clients: 'value', operators: 'value', 'valid-days': 'value', hosts: 'value', tenant: 'value' });
  if (typeof f.dir !== 'string') throw new UsageError('grey certs needs --dir');
  const tenant = typeof f.tenant === 'string' ? f.tenant : undefined;
  if (tenant !== undefined && (tenant.length === 0 || typeof f.clients !== 'string')) throw new UsageError('--tenant T binds client certificates to tenant T: give it with --clients NAME (operators and nodes are never bound to a tenant)');
  // --hosts n1=10.0.0.1,n1=n1.example.com,…: addresses each node's API is reached at (for curl and browsers).
  const hosts = new Map<string, string[]>();
  for (const part of typeof f.hosts === 'string' ? f.hosts.split(',').map((x) => x.trim()).filter(Boolean) : []) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new UsageError(`--hosts: '${part}' is not node=host`);
    hosts.set(part.slice(0, eq), [...(hosts.get(part.slice(0, eq)) ?? []), part.slice(eq + 1)]);
  }
  const list = (k: string) => (typeof f[k] === 'string' ? (f[k] as string).split(',').map((x) => x.trim()).filter(Boolean) : []);
  const names: Array<[CertificateRole, string]> = [...list('nodes').map((n) => ['node', n] as [CertificateRole, string]), ...list('clients').map((n) => ['client', n] as [CertificateRole, string]), ...list('operators').map((n) => ['operator', n] as [CertificateRole, string])];
  if (names.length === 0) throw new UsageError('grey certs needs --nodes, --clients or --operators');
  // Each name is a folder under --dir and part of a URI in the certificate: plain names only, each once.
  const seen = new Set<string>();
  for (const [role, name] of names) {
    if (!CERT_NAME.test(name)) throw new UsageError(`--${role === 'node' ? 'nodes' : `${role}s`}: '${name}' is not a name (letters, digits, '.', '_', '-'; 1–64, starting with a letter or digit)`);
    if (seen.has(name)) throw new UsageError(`'${name}' is named twice (each name is one folder under --dir)`);
    seen.add(name);
  }
  const validDays = typeof f['valid-days'] === 'string' ? parsePositiveInt(f['valid-days'], 'valid-days') : undefined;
  const dir = resolve(f.dir);
  mkdirSync(dir, { recursive: true });
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  let ca: ClusterCa;
  if (existsSync(caCert) && existsSync(caKey)) {
    ca = { cert: readFileSync(caCert, 'utf8'), key: readFileSync(caKey, 'utf8') };
    try {
      loadCertificateAuthority(ca.cert, ca.key);
    } catch (err) {
      throw new Error(`the CA in ${dir} (ca.pem and ca.key) cannot issue: ${(err as Error).message}`);
    }
  }
  else if (existsSync(caCert) || existsSync(caKey)) {
    // One without the other: a new CA here would replace the cluster's, and its nodes would trust nothing issued from now on.
    const [there, missing] = existsSync(caCert) ? [caCert, caKey] : [caKey, caCert];
    throw new Error(`${there} is there but ${missing} is not: certificates issued now would come from a new CA that the cluster does not trust. Put ${basename(missing)} back (it stays with whoever issues certificates), or remove ${basename(there)} to start a new cluster CA`);
  } else {
    ca = await createClusterCa('Grey cluster CA', validDays ? { validDays } : {});
    writeFileSync(caCert, ca.cert);
    writeFileSync(caKey, ca.key, { mode: 0o600 });
    io.out(`CA          ${caCert}`);
  }
  for (const [role, name] of names) {
    const id = await issueCertificate(ca, role, name, {
      ...(validDays ? { validDays } : {}),
      ...(role === 'node' && hosts.has(name) ? { hosts: hosts.get(name) } : {}),
      ...(role === 'client' && tenant !== undefined ? { tenant } : {}),
    });
    const sub = join(dir, name);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.pem'), id.ca);
    writeFileSync(join(sub, 'cert.pem'), id.cert);
    writeFileSync(join(sub, 'key.pem'), id.key, { mode: 0o600 });
    io.out(`${role.padEnd(11)} ${sub}${role === 'client' && tenant !== undefined ? ` (tenant ${tenant})` : ''}`);
  }
  return 0;
}

/** A name `grey certs` issues a certificate for. */
const CERT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** How to start this CLI as a child process: the compiled `cli.js`, or `cli.ts` through tsx in a checkout. */
function cliInvocation(): string[] {
  const here = fileURLToPath(import.meta.url);
  // tsx by its resolved location: the child may start in a folder where 'tsx' does not resolve.
  return here.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), join(dirname(here), 'cli.ts')] : [join(dirname(here), 'cli.js')];
}

interface ClusterFile {
  /** The nodes `grey cluster up` started (with their pid and log), and those added since with `grey member add` (address only). */
  nodes: Record<string, { address: string; api?: string; pid?: number; log?: string }>;
  tls: string;
  client: string;
  /** The handlers module the nodes were started with (absent: none, or a file written before it was recorded). */
  handlers?: string;
}

const CLUSTER_FILE = 'cluster.json';

/**
 * `grey cluster up [--nodes 3] [--dir .grey] [--base-port 7001] [--handlers FILE]`:
 * a local development cluster of processes in `dir` (certificates, data,
 * logs, and `cluster.json` that `grey status` and `grey cluster down` read).
 * On a directory whose cluster runs in part (a node killed), it starts the
 * nodes that are down again, as they were started.
 * `grey cluster down [--dir .grey]` stops it (SIGTERM: each node drains).
 */
export async function clusterCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'up') return clusterUp(rest, io);
  if (sub === 'down') return clusterDown(rest, io);
  throw new UsageError(`grey cluster needs up or down, got '${sub ?? ''}'`);
}

async function clusterUp(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { nodes: 'value', dir: 'value', 'base-port': 'value', 'api-port': 'value', handlers: 'value' });
  const dir = resolve(typeof f.dir === 'string' ? f.dir : '.grey');
  const file = join(dir, CLUSTER_FILE);
  const old = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterFile) : null;
  // The nodes this directory's cluster was made with (those added later through `grey member add` have no log here).
  const founders = old === null ? null : Object.values(old.nodes).filter((x) => x.log !== undefined).length;
  const n = typeof f.nodes === 'string' ? parsePositiveInt(f.nodes, 'nodes') : (founders ?? 3);
  const basePort = typeof f['base-port'] === 'string' ? parsePositiveInt(f['base-port'], 'base-port') : 7001;
  if (basePort + n - 1 > 65_535) throw new UsageError('--base-port: the ports run past 65535');
  // Each node's HTTP API, on the ports after --api-port (default: 1000 above the node's).
  const apiPort = typeof f['api-port'] === 'string' ? parsePositiveInt(f['api-port'], 'api-port') : basePort + 1000;
  if (apiPort + n - 1 > 65_535) throw new UsageError('--api-port: the ports run past 65535');
  const handlers = typeof f.handlers === 'string' ? resolve(f.handlers) : null;
  if (handlers && !existsSync(handlers)) throw new UsageError(`--handlers: ${handlers} does not exist`);
  if (old !== null) {
    // Running: under the pid recorded, or restarted by hand (its data directory's lock names its process).
    const pidOf = (id: string, x: ClusterFile['nodes'][string]): number | null =>
      x.pid !== undefined && isNodeOf(x.pid, join(dir, 'data', id)) ? x.pid : dataDirHolder(join(dir, 'data', id));
    const started = Object.entries(old.nodes).filter(([, x]) => x.log !== undefined);
    const alive = started.flatMap(([id, x]) => {
      const pid = pidOf(id, x);
      return pid === null ? [] : [{ id, pid }];
    });
    if (alive.length === started.length && alive.length > 0) {
      throw new Error(`a cluster runs from ${dir} already (pids ${alive.map((x) => x.pid).join(', ')}); 'grey cluster down --dir ${dir}' first`);
    }
    if (alive.length > 0) {
      if (typeof f.nodes === 'string' || typeof f['base-port'] === 'string' || typeof f['api-port'] === 'string') {
        throw new UsageError(`the cluster in ${dir} runs in part (${alive.map((x) => x.id).join(', ')}): 'grey cluster up --dir ${dir}' starts the others as they were, without --nodes, --base-port or --api-port`);
      }
      return restartDown(dir, old, started.map(([id]) => id).filter((id) => !alive.some((x) => x.id === id)), handlers ?? old.handlers ?? null, io);
    }
    // Its nodes keep their founding voters: a different count here would hand
    // the new nodes a voter set the others never agreed to.
    if (founders !== n) {
      throw new UsageError(`the cluster in ${dir} was made with ${founders} nodes; start it again with --nodes ${founders}, and add a node through 'grey member add' (voters change only through the log)`);
    }
  }
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const tlsDir = join(dir, 'tls');
  const localHosts = ids.flatMap((id) => [`${id}=127.0.0.1`, `${id}=localhost`]).join(',');
  await certsCommand(['--dir', tlsDir, '--nodes', ids.join(','), '--operators', 'admin', '--hosts', localHosts], { out: () => {}, err: io.err });
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${basePort + i}`).join(',');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const cluster: ClusterFile = { nodes: {}, tls: tlsDir, client: 'admin', ...(handlers ? { handlers } : {}) };
  // Nodes whose process ended while the cluster came up (a port in use, say).
  const exited: Array<{ id: string; how: string; log: string }> = [];
  for (const [i, id] of ids.entries()) {
    const address = `127.0.0.1:${basePort + i}`;
    const api = `https://127.0.0.1:${apiPort + i}`;
    cluster.nodes[id] = { address, api, ...spawnNode(dir, tlsDir, id, address, peers, api, handlers, exited) };
  }
  writeFileSync(file, JSON.stringify(cluster, null, 2));
  const shown = await awaitLeader(dir, cluster, ids, exited, io);
  if (shown !== null) return shown;
  io.out(`started ${n} nodes from ${dir} (logs in ${join(dir, 'logs')})`);
  io.out(`HTTP API: ${Object.values(cluster.nodes).map((x) => x.api).join(', ')} (client certificate: ${join(tlsDir, 'admin')})`);
  const status = await statusCommand(['--dir', dir], io);
  return exited.length > 0 ? failedStart(exited, dir, io, Object.keys(cluster.nodes).length) : status;
}

/** Starts node `id` of a `cluster up` cluster as a detached process logging to `logs/<id>.log`; its end is pushed to `exited`. */
function spawnNode(dir: string, tlsDir: string, id: string, address: string, peers: string, api: string | undefined, handlers: string | null, exited: Array<{ id: string; how: string; log: string }>): { pid: number; log: string } {
  const log = join(dir, 'logs', `${id}.log`);
  const out = openSync(log, 'a');
  const apiFlag = api === undefined ? [] : ['--api', api.replace(/^https:\/\//, '')];
  const child = spawn(process.execPath, [...cliInvocation(), 'node', '--id', id, '--listen', address, '--peers', peers, '--data', join(dir, 'data', id), '--tls', join(tlsDir, id), ...apiFlag, ...(handlers ? ['--handlers', handlers] : [])], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
  child.once('exit', (code, signal) => exited.push({ id, how: signal ?? `code ${code}`, log }));
  closeSync(out);
  return { pid: child.pid!, log };
}

/**
 * `cluster up` on a cluster that runs in part: the founding nodes in
 * `down` are started again with the addresses, API ports and handlers
 * recorded, and the command waits for a leader as at first start.
 */
async function restartDown(dir: string, cluster: ClusterFile, down: string[], handlers: string | null, io: CliIO): Promise<number> {
  const exited: Array<{ id: string; how: string; log: string }> = [];
  const founders = Object.entries(cluster.nodes).filter(([, x]) => x.log !== undefined);
  const peers = founders.map(([id, x]) => `${id}=${x.address}`).join(',');
  mkdirSync(join(dir, 'logs'), { recursive: true });
  for (const id of down) {
    const x = cluster.nodes[id];
    Object.assign(x, spawnNode(dir, cluster.tls, id, x.address, peers, x.api, handlers, exited));
  }
  if (handlers) cluster.handlers = handlers;
  writeFileSync(join(dir, CLUSTER_FILE), JSON.stringify(cluster, null, 2));
  const ids = founders.map(([id]) => id);
  const shown = await awaitLeader(dir, cluster, ids, exited, io, down);
  if (shown !== null) return shown;
  const running = ids.filter((id) => !down.includes(id));
  io.out(`started ${down.join(', ')} again from ${dir} (${running.join(', ')} ran already; logs in ${join(dir, 'logs')})`);
  const status = await statusCommand(['--dir', dir], io);
  return exited.length > 0 ? failedStart(exited, dir, io, Object.keys(cluster.nodes).length) : status;
}

/**
 * Waits until some node leads and each of `needUp` answers: null then, or
 * the exit status when a node ended on the way or that took over 20 s.
 */
async function awaitLeader(dir: string, cluster: ClusterFile, ids: string[], exited: ReadonlyArray<{ id: string; how: string; log: string }>, io: CliIO, needUp: readonly string[] = []): Promise<number | null> {
  const endpoints = Object.fromEntries(Object.entries(cluster.nodes).map(([id, x]) => [id, x.address]));
  const client = connect({ endpoints, tls: readTlsDir(join(cluster.tls, 'admin')), timeoutMs: 2_000, attemptTimeoutMs: 500 });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const roles = await Promise.all(ids.map((id) => client.nodeStatus(id).then((s) => s.role, () => 'down')));
      if (exited.length > 0) return failedStart(exited, dir, io, ids.length);
      if (roles.includes('leader') && needUp.every((id) => roles[ids.indexOf(id)] !== 'down')) break;
      if (Date.now() > deadline) {
        io.err(`grey: ${roles.includes('leader') ? `${needUp.filter((id) => roles[ids.indexOf(id)] === 'down').join(', ')} not up` : 'no leader'} within 20 s; see the logs in ${join(dir, 'logs')}`);
        return 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.close();
  }
  return null;
}

/** Says which nodes ended while the cluster came up, with the last line each logged; exit status 1. */
function failedStart(exited: ReadonlyArray<{ id: string; how: string; log: string }>, dir: string, io: CliIO, nodes: number): number {
  for (const x of exited) {
    let last = '';
    try {
      // Its error line, not the hint after it.
      const lines = readFileSync(x.log, 'utf8').trim().split('\n');
      last = (lines.findLast((l) => l.startsWith('grey:')) ?? lines.at(-1) ?? '').replace(/^grey: /, '');
    } catch {
      // no log: nothing to quote
    }
    io.err(`grey: ${x.id} exited at start (${x.how})${last ? `: ${last}` : ''}`);
  }
  if (nodes > exited.length) io.err(`(the others run on: 'grey cluster down --dir ${dir}' stops them)`);
  return 1;
}

async function clusterDown(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { dir: 'value' });
  const dir = resolve(typeof f.dir === 'string' ? f.dir : '.grey');
  const file = join(dir, CLUSTER_FILE);
  if (!existsSync(file)) throw new UsageError(`no cluster in ${dir} (no ${CLUSTER_FILE}); 'grey cluster up' starts one`);
  const cluster = JSON.parse(readFileSync(file, 'utf8')) as ClusterFile;
  const started = Object.entries(cluster.nodes).flatMap(([id, x]) => (x.pid === undefined ? [] : [{ id, pid: x.pid }]));
  // Checked, not only alive: a recorded pid whose node died may belong to another program by now.
  const running = started.filter((x) => isNodeOf(x.pid, join(dir, 'data', x.id)));
  // A node restarted by hand runs under a pid this file never saw; its data directory's lock names it.
  for (const { id } of started) {
    const holder = dataDirHolder(join(dir, 'data', id));
    if (holder !== null && !running.some((x) => x.pid === holder)) running.push({ id, pid: holder });
  }
  // First, every node up: none takes new work, and what runs finishes. Its reports need a quorum
  // to commit, which nodes stopped at once (the idle ones exit first) would take with them.
  const leader = await drainWorkers(cluster, running.map((x) => x.id), io);
  // Then one at a time, the leader last (one election at most).
  running.sort((a, b) => Number(a.id === leader) - Number(b.id === leader));
  const stuck: string[] = [];
  for (const x of running) {
    process.kill(x.pid, 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (isProcessAlive(x.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (isProcessAlive(x.pid)) {
      process.kill(x.pid, 'SIGKILL');
      stuck.push(x.id);
    }
  }
  io.out(`stopped ${running.length} nodes${stuck.length ? ` (${stuck.join(', ')} killed after 15 s)` : ''}; data and logs stay in ${dir}`);
  // Nodes added with 'grey member add' run in processes someone else started.
  const added = Object.keys(cluster.nodes).filter((id) => cluster.nodes[id].pid === undefined);
  if (added.length > 0) io.out(`not stopped: ${added.join(', ')} (added with 'grey member add': their processes, if they run, are not this command's to stop)`);
  return 0;
}

/** How long `cluster down` waits for the tasks the nodes hold to finish before it stops them (a node's own drain timeout). */
const CLUSTER_DRAIN_MS = 10_000;

/**
 * Marks each node's worker draining (a replicated `drainWorker`: nothing
 * new is assigned to it) and waits, up to {@link CLUSTER_DRAIN_MS}, until
 * no node holds a task. Returns the leader, as the nodes last said (null:
 * none answered, or none led).
 */
async function drainWorkers(cluster: ClusterFile, ids: string[], io: CliIO): Promise<string | null> {
  if (ids.length === 0) return null;
  let client: ReturnType<typeof connect>;
  try {
    client = connect({ endpoints: Object.fromEntries(ids.map((id) => [id, cluster.nodes[id].address])), tls: readTlsDir(join(cluster.tls, cluster.client)), timeoutMs: 2_000, attemptTimeoutMs: 500 });
  } catch {
    return null; // its TLS folder is gone: each node drains on its own
  }
  try {
    // A refusal (no quorum, say) leaves that node to drain on its own, at its SIGTERM: said, not hidden.
    await Promise.all(
      ids.map((worker) =>
        client.submit({ op: 'drainWorker', worker }).catch((err: unknown) => io.err(`grey: could not mark ${worker}'s worker draining (${(err as Error).message}); it drains at its SIGTERM`)),
      ),
    );
    const start = Date.now();
    let said = false;
    for (;;) {
      const statuses = await Promise.all(ids.map((id) => client.nodeStatus(id).catch(() => null)));
      const held = statuses.reduce((n, st) => n + (st?.running ?? 0), 0);
      const leader = ids[statuses.findIndex((st) => st?.role === 'leader')] ?? null;
      if (held === 0 || Date.now() - start > CLUSTER_DRAIN_MS) return leader;
      if (!said) io.out(`waiting for ${held} task${held === 1 ? '' : 's'} the nodes hold to finish (up to ${CLUSTER_DRAIN_MS / 1000} s)`);
      said = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.close();
  }
}
