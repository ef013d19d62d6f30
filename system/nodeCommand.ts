import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskHandler } from '../actors/taskHandlers.js';
import type { CliIO } from './cli.js';
import { parseFlags, parsePositiveInt, parseRange, UsageError } from './cliArgs.js';
import { createClusterCa, issueCertificate, type CertificateRole, type ClusterCa, type TlsIdentity } from './certificates.js';
import { connect, startNode } from './embeddedNode.js';
import { parseAddress } from './tlsNetwork.js';

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
  return out;
}

/** Task handlers from a module: every exported function (and every function of a default-exported object), by name. */
async function loadHandlers(file: string): Promise<Record<string, TaskHandler>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`--handlers: ${path} does not exist`);
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
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
  try {
    parseAddress(listen, 'listen');
  } catch (err) {
    throw new UsageError(`--listen: ${(err as Error).message}`);
  }
  const peers = typeof f.peers === 'string' ? parsePeers(f.peers) : {};
  const level = (typeof f['log-level'] === 'string' ? f['log-level'] : 'info') as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  const heartbeatMs = typeof f.heartbeat === 'string' ? parsePositiveInt(f.heartbeat, 'heartbeat') : 100;
  const [electionTimeoutMin, electionTimeoutMax] = typeof f['election-timeout'] === 'string' ? parseRange(f['election-timeout'], 'election-timeout') : [1_000, 2_000];
  if (!(electionTimeoutMin > heartbeatMs)) throw new UsageError(`--election-timeout: the minimum (${electionTimeoutMin} ms) must be above the heartbeat (${heartbeatMs} ms)`);
  const tls = readTlsDir(need('tls'));
  const handlers = typeof f.handlers === 'string' ? await loadHandlers(f.handlers) : {};
  const log = jsonLogger(level, io.out);

  const node = await startNode({ id, listen, peers: { ...peers, [id]: listen }, tls, dataDir: need('data'), handlers, raft: { heartbeatMs, electionTimeoutMin, electionTimeoutMax } });
  log('info', 'started', { node: id, listen: node.address, peers, handlers: Object.keys(handlers), status: node.status() });
  node.onRole((role, term, leader) => log('info', 'role', { node: id, role, term, leader }));
  await new Promise<void>((done) => {
    const drain = async (signal: string) => {
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      log('info', 'draining', { node: id, signal, leader: node.status().role === 'leader' });
      const handed = await node.handOver(3_000);
      log(handed ? 'info' : 'warn', 'leadership', { node: id, handedOver: handed });
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

/** `grey status --endpoints n1=host:port,… --tls DIR`: what each node says of itself. */
export async function statusCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { endpoints: 'value', tls: 'value', json: 'bool' });
  if (typeof f.endpoints !== 'string') throw new UsageError('grey status needs --endpoints id=host:port,…');
  if (typeof f.tls !== 'string') throw new UsageError('grey status needs --tls DIR (a client or operator certificate)');
  const endpoints = parsePeers(f.endpoints, 'endpoints');
  const client = connect({ endpoints, tls: readTlsDir(f.tls), timeoutMs: 3_000, attemptTimeoutMs: 1_000 });
  try {
    const rows = await Promise.all(
      Object.keys(endpoints).map(async (node) => {
        try {
          return { node, up: true, ...(await client.nodeStatus(node)) };
        } catch (err) {
          return { node, up: false, error: (err as Error).message };
        }
      }),
    );
    if (f.json) io.out(JSON.stringify(rows, null, 2));
    else {
      io.out('node  role       term  leader  commit   applied  last     tasks');
      for (const r of rows) {
        if (!r.up) io.out(`${r.node.padEnd(5)} down (${(r as { error: string }).error})`);
        else {
          const s = r as unknown as { node: string; role: string; term: number; leader: string | null; commitIndex: number; lastApplied: number; lastIndex: number; tasks: number };
          io.out(`${s.node.padEnd(5)} ${s.role.padEnd(10)} ${String(s.term).padEnd(5)} ${String(s.leader ?? '-').padEnd(7)} ${String(s.commitIndex).padEnd(8)} ${String(s.lastApplied).padEnd(8)} ${String(s.lastIndex).padEnd(8)} ${s.tasks}`);
        }
      }
    }
    return rows.every((r) => r.up) ? 0 : 1;
  } finally {
    await client.close();
  }
}

/**
 * `grey certs --dir ./tls --nodes n1,n2,n3 [--clients app] [--operators admin]`:
 * a cluster CA (kept in the folder, `ca.pem` and `ca.key`, to issue more
 * later) and one folder per name with `ca.pem`, `cert.pem` and `key.pem`.
 * An existing CA in the folder is reused.
 */
export async function certsCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, { dir: 'value', nodes: 'value', clients: 'value', operators: 'value', 'valid-days': 'value' });
  if (typeof f.dir !== 'string') throw new UsageError('grey certs needs --dir');
  const list = (k: string) => (typeof f[k] === 'string' ? (f[k] as string).split(',').map((x) => x.trim()).filter(Boolean) : []);
  const names: Array<[CertificateRole, string]> = [...list('nodes').map((n) => ['node', n] as [CertificateRole, string]), ...list('clients').map((n) => ['client', n] as [CertificateRole, string]), ...list('operators').map((n) => ['operator', n] as [CertificateRole, string])];
  if (names.length === 0) throw new UsageError('grey certs needs --nodes, --clients or --operators');
  const validDays = typeof f['valid-days'] === 'string' ? parsePositiveInt(f['valid-days'], 'valid-days') : undefined;
  const dir = resolve(f.dir);
  mkdirSync(dir, { recursive: true });
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  let ca: ClusterCa;
  if (existsSync(caCert) && existsSync(caKey)) ca = { cert: readFileSync(caCert, 'utf8'), key: readFileSync(caKey, 'utf8') };
  else {
    ca = await createClusterCa('Grey cluster CA', validDays ? { validDays } : {});
    writeFileSync(caCert, ca.cert);
    writeFileSync(caKey, ca.key, { mode: 0o600 });
    io.out(`CA          ${caCert}`);
  }
  for (const [role, name] of names) {
    const id = await issueCertificate(ca, role, name, validDays ? { validDays } : {});
    const sub = join(dir, name);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.pem'), id.ca);
    writeFileSync(join(sub, 'cert.pem'), id.cert);
    writeFileSync(join(sub, 'key.pem'), id.key, { mode: 0o600 });
    io.out(`${role.padEnd(11)} ${sub}`);
  }
  return 0;
}
