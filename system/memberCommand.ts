/**
 * `grey member`: the operator's side of the membership approval workflow
 * over mutual TLS. A node joins (with the address the others reach it at),
 * an operator's approval makes it a learner that catches up, and it becomes
 * a voter (the leader promotes a caught-up learner on its own; `promote`
 * does it now); `remove` takes a node out. The cluster checks the
 * certificate: anything but an operator's is refused with `Unauthorized`.
 */
import type { MemberRecord } from '../actors/clusterState.js';
import type { CliIO } from './cli.js';
import { parseDuration, UsageError } from './cliArgs.js';
import { ClientError } from './clientError.js';
import { clientFor, jsonLine, parseCommandLine, reportFailure } from './clientCommands.js';
import type { RealClient } from './embeddedNode.js';
import { ENDPOINT_FLAGS, rememberLocalNode } from './nodeCommand.js';
import { parseAddress } from './tlsNetwork.js';

const MEMBER_FLAGS = {
  ...ENDPOINT_FLAGS,
  address: 'value',
  reason: 'value',
  wait: 'bool',
  'wait-timeout': 'value',
  json: 'bool',
} as const;

type Flags = Record<string, string | boolean>;

/** `grey member list|add|promote|remove …`. */
export async function memberCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  const { positional, flags } = parseCommandLine(rest, MEMBER_FLAGS);
  const allowed: Record<string, readonly string[]> = {
    list: ['json'],
    add: ['address', 'wait', 'wait-timeout'],
    promote: ['wait', 'wait-timeout'],
    remove: ['reason', 'wait', 'wait-timeout'],
  };
  if (sub === undefined || !Object.hasOwn(allowed, sub)) throw new UsageError(`grey member needs list, add, promote or remove, got '${sub ?? ''}'`);
  for (const k of Object.keys(flags)) {
    if (!(k in ENDPOINT_FLAGS) && !allowed[sub].includes(k)) throw new UsageError(`grey member ${sub} takes no --${k}`);
  }
  if (sub === 'list') {
    if (positional.length > 0) throw new UsageError(`grey member list takes no arguments, got '${positional[0]}'`);
  } else if (positional.length !== 1) {
    throw new UsageError(`grey member ${sub} needs one node id${positional.length > 1 ? `, got ${positional.join(' ')}` : ''}`);
  }
  const node = positional[0];
  let address: string | undefined;
  if (sub === 'add') {
    if (typeof flags.address !== 'string') throw new UsageError(`grey member add needs --address host:port (where the cluster's nodes reach ${node})`);
    try {
      const { host, port } = parseAddress(flags.address, 'address');
      if (port === 0 || host === '0.0.0.0' || host === '::') throw new RangeError(`--address: '${flags.address}' is not an address others can dial`);
    } catch (err) {
      throw new UsageError((err as Error).message.startsWith('--') ? (err as Error).message : `--${(err as Error).message}`);
    }
    address = flags.address;
  }
  const waitMs = typeof flags['wait-timeout'] === 'string' ? parseDuration(flags['wait-timeout'], 'wait-timeout') : 60_000;
  // The node being added is an endpoint too: if it is a member already, it may be the one that leads.
  const { client, nodes } = clientFor(flags, 'member', sub === 'add' ? { [node]: address! } : {});
  const wait = (want: 'voter' | 'out') => waitFor(client, nodes, node, want, waitMs, io);
  try {
    switch (sub) {
      case 'list':
        return await list(client, flags, io);
      case 'add':
        return await add(client, node, address!, flags.wait === true, wait, io, () => rememberLocalNode(flags, node, address!));
      case 'promote':
        return await promote(client, node, flags.wait === true, wait, io);
      default:
        return await remove(client, node, flags, wait, io);
    }
  } catch (err) {
    return reportFailure(err, io, nodes);
  } finally {
    await client.close();
  }
}

async function list(client: RealClient, flags: Flags, io: CliIO): Promise<number> {
  const members = await client.members();
  if (flags.json) {
    io.out(jsonLine(members));
    return 0;
  }
  io.out('node  status           address                 since  reason');
  for (const m of members) {
    io.out(`${m.node.padEnd(5)} ${m.status.padEnd(16)} ${(m.address ?? '-').padEnd(23)} ${String(m.since).padEnd(6)} ${m.context.reason ?? ''}`.trimEnd());
  }
  return 0;
}

async function recordOf(client: RealClient, node: string): Promise<MemberRecord | undefined> {
  return (await client.members()).find((m) => m.node === node);
}

/** The member as one JSON line (plus what happened to it). */
function show(io: CliIO, m: MemberRecord | undefined, node: string, extra: Record<string, unknown> = {}): void {
  io.out(jsonLine({ node, status: m?.status ?? 'unknown', ...(m?.address ? { address: m.address } : {}), ...(m ? { since: m.since } : {}), ...extra }));
}

/**
 * Join (with the address) and approve: the node becomes a learner, the
 * leader adds it to the configuration, replicates the log to it, and
 * promotes it once it has caught up. A node already in is left as it is.
 */
type Wait = (want: 'voter' | 'out') => Promise<number>;

async function add(client: RealClient, node: string, address: string, andWait: boolean, wait: Wait, io: CliIO, remember: () => string | null): Promise<number> {
  let m = await recordOf(client, node);
  if (m?.status === 'blocked') {
    io.err(`grey: ${node} is blocked${m.context.reason ? ` (${m.context.reason})` : ''}: it cannot join until an operator unblocks it`);
    return 1;
  }
  if (m?.status === 'learner' || m?.status === 'voter') {
    if (m.address !== undefined && m.address !== address) io.err(`grey: ${node} is a ${m.status} already, at ${m.address}; to move it, remove it and add it again`);
    show(io, m, node, { already: true });
  } else {
    if (m?.status !== 'pendingApproval') await client.submit({ op: 'join', node, address });
    else if (m.address !== address) io.err(`grey: ${node} asked to join with address ${m.address ?? 'none'}; approving it as it asked`);
    await client.submit({ op: 'approve', node });
    m = await recordOf(client, node);
    show(io, m, node);
  }
  const book = remember();
  if (book) io.err(`grey: ${node} (${address}) added to ${book}: the other commands reach it too`);
  return andWait ? wait('voter') : 0;
}

/** Makes a learner a voter now (the leader would once it caught up); a voter stays one. */
async function promote(client: RealClient, node: string, andWait: boolean, wait: Wait, io: CliIO): Promise<number> {
  const m = await recordOf(client, node);
  if (m?.status === 'voter') show(io, m, node, { already: true });
  else {
    try {
      await client.submit({ op: 'promote', node });
    } catch (err) {
      // The leader may have promoted it between the read and the proposal.
      if (!(err instanceof ClientError && err.code === 'InvalidTransition' && (await recordOf(client, node))?.status === 'voter')) throw err;
    }
    show(io, await recordOf(client, node), node);
  }
  return andWait ? wait('voter') : 0;
}

/** Takes a member out of the configuration (a voter or a learner), or turns a pending join down. */
async function remove(client: RealClient, node: string, flags: Flags, wait: Wait, io: CliIO): Promise<number> {
  const reason = typeof flags.reason === 'string' ? flags.reason : undefined;
  const m = await recordOf(client, node);
  if (m === undefined) {
    io.err(`grey: UnknownMember: no member '${node}'`);
    return 1;
  }
  if (m.status === 'removed' || m.status === 'rejected') show(io, m, node, { already: true });
  else {
    // A join not yet approved is turned down; a member in the configuration leaves it.
    await client.submit(m.status === 'pendingApproval' ? { op: 'reject', node, reason } : { op: 'remove', node, reason });
    show(io, await recordOf(client, node), node);
  }
  return flags.wait ? wait('out') : 0;
}

/**
 * Waits until the leader's Raft configuration has `node` as a voter, or
 * no longer has it at all: the membership record is the decision, the
 * configuration change that follows it is what makes it true.
 */
async function waitFor(client: RealClient, nodes: readonly string[], node: string, want: 'voter' | 'out', waitMs: number, io: CliIO): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const config = await leaderConfig(client, nodes);
    if (config) {
      const inConfig = config.voters.includes(node) || config.learners.includes(node);
      if (want === 'voter' ? config.voters.includes(node) : !inConfig) {
        show(io, await recordOf(client, node), node, { configuration: want === 'voter' ? 'voter' : 'out' });
        return 0;
      }
    }
    if (Date.now() > deadline) {
      io.err(`grey: ${node} is not ${want === 'voter' ? 'a voter' : 'out of the configuration'} after ${waitMs} ms${want === 'voter' ? ' (is its process running, with --join, and reachable at its address?)' : ''}`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The configuration of the node that leads, as it says; when the leader is
 * none of the endpoints, that of the follower furthest along its log
 * (followers adopt a configuration as they append it); null while no
 * endpoint knows a leader.
 */
async function leaderConfig(client: RealClient, nodes: readonly string[]): Promise<{ voters: string[]; learners: string[] } | null> {
  const statuses = (await Promise.all(nodes.map((id) => client.nodeStatus(id).catch(() => null)))).filter((s) => s !== null && s.leader !== null);
  const leader = statuses.find((s) => s!.role === 'leader') ?? statuses.sort((a, b) => b!.lastIndex - a!.lastIndex)[0];
  return leader ? leader.config : null;
}
