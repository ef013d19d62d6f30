/**
 * The CLI of a cluster's users: `grey submit` (a task, optionally waiting
 * for its outcome) and `grey watch` (a task's events, the changes of
 * keys, or the membership), over mutual TLS like `grey status`. Output is
 * JSON, one object per line, so scripts can read it.
 */
import { lastValueFrom, Observable, tap, type Subscription } from 'rxjs';
import type { MemberRecord } from '../actors/clusterState.js';
import type { CliIO } from './cli.js';
import { parseDuration, parseFlags, parsePositiveInt, UsageError } from './cliArgs.js';
import { ClientError } from './clientError.js';
import { connect, type RealClient } from './embeddedNode.js';
import type { TaskStreamEvent } from './events.js';
import { clusterTarget, ENDPOINT_FLAGS } from './nodeCommand.js';
import { InvalidTaskError, type TaskSpec } from './taskSpec.js';
import { pollTask } from './taskPolling.js';
import { WallClock } from './wallClock.js';

type FlagKinds = Record<string, 'bool' | 'value'>;

/**
 * Splits a command line into positional arguments and `--flags` (checked
 * by {@link parseFlags}): a value flag's value is never taken for a
 * positional argument.
 */
export function parseCommandLine(args: string[], known: FlagKinds): { positional: string[]; flags: Record<string, string | boolean> } {
  const positional: string[] = [];
  const flagArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    flagArgs.push(arg);
    const name = arg.slice(2).split('=', 1)[0];
    if (known[name] === 'value' && !arg.includes('=') && i + 1 < args.length && !args[i + 1].startsWith('--')) flagArgs.push(args[++i]);
  }
  return { positional, flags: parseFlags(flagArgs, known) };
}

/** JSON of Grey's values on one line: binary data (`Uint8Array`) as `{ "$base64": … }`, which JSON has no form for. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key]; // before toJSON: a Buffer would already be { type, data }
    return raw instanceof Uint8Array ? { $base64: Buffer.from(raw).toString('base64') } : v;
  });
}

/**
 * Prints why a request failed (a {@link ClientError}: its code, what it
 * means for the request, a hint for the usual causes) and returns the exit
 * code 1. Anything else is not a client's failure and is thrown again.
 */
export function reportFailure(err: unknown, io: CliIO, endpoints: readonly string[] = []): number {
  if (!(err instanceof ClientError)) throw err;
  io.err(`grey: ${err.code}: ${err.message}`);
  if (err.code === 'Unauthorized') {
    io.err('  this certificate may not do that: operations on the cluster (members, tenants, blocking) need an operator certificate (grey certs --dir DIR --operators NAME),');
    io.err("  and a client certificate bound to a tenant (grey certs --tenant) acts for that tenant's tasks only");
  }
  else if (err.outcome === 'unknown') {
    // A write in doubt has a request id (its session's sequence number); a read changes nothing.
    io.err(`  no node answered in time${err.requestId ? `: it may or may not have taken effect (request ${err.requestId})` : ''}`);
    // The nodes pointed the client at a leader it has no address for.
    const hinted = /Unreachable: (\S+) did not answer/.exec(err.message)?.[1];
    if (hinted && endpoints.length > 0 && !endpoints.includes(hinted)) {
      io.err(`  the nodes name ${hinted} as their leader, which is not among the endpoints: give it in --endpoints (a local cluster learns it from 'grey member add ${hinted} --address host:port')`);
    }
  }
  return 1;
}

/**
 * A client for a CLI command, connected to the endpoints its flags name
 * (and `extra` ones) with their certificate; `nodes` lists the endpoints.
 */
export function clientFor(f: Record<string, string | boolean>, command: string, extra: Record<string, string> = {}): { client: RealClient; nodes: string[] } {
  const { endpoints, tls } = clusterTarget(f, command);
  const all = { ...extra, ...endpoints };
  return { client: connect({ endpoints: all, tls, timeoutMs: 10_000, attemptTimeoutMs: 1_000 }), nodes: Object.keys(all) };
}

const SUBMIT_FLAGS = {
  ...ENDPOINT_FLAGS,
  type: 'value',
  payload: 'value',
  priority: 'value',
  timeout: 'value',
  tenant: 'value',
  retries: 'value',
  'idempotency-key': 'value',
  wait: 'bool',
} as const;

/** A task's final event as the CLI prints it, and whether it is a success. */
function outcomeOf(last: TaskStreamEvent): { line: Record<string, unknown>; ok: boolean } {
  switch (last.type) {
    case 'task.completed':
      return { line: { taskId: last.taskId, status: 'completed', result: last.result, proof: last.proof }, ok: true };
    case 'task.failed':
      return { line: { taskId: last.taskId, status: 'failed', attempt: last.attempt, error: last.error }, ok: false };
    case 'task.cancelled':
      return { line: { taskId: last.taskId, status: 'cancelled', reason: last.reason }, ok: false };
    default:
      return { line: { taskId: last.taskId, status: last.type }, ok: false };
  }
}

/**
 * `grey submit --type T [--payload JSON] [--priority N] [--timeout DURATION]
 * [--tenant X] [--retries N] [--idempotency-key K] [--wait]`: submits one
 * task and prints `{ taskId, index }` once it is committed. With `--wait`
 * it then follows the task and prints its outcome: the result and proof
 * (exit 0), or the failure or cancellation (exit 1).
 */
export async function submitCommand(args: string[], io: CliIO): Promise<number> {
  const f = parseFlags(args, SUBMIT_FLAGS);
  if (typeof f.type !== 'string') throw new UsageError('grey submit needs --type (the handler name)');
  const spec: TaskSpec = { type: f.type };
  if (typeof f.payload === 'string') {
    try {
      spec.payload = JSON.parse(f.payload);
    } catch (err) {
      throw new UsageError(`--payload must be JSON (like '{"w":800}', '42' or '"text"'): ${(err as Error).message}`);
    }
  }
  if (typeof f.priority === 'string') {
    if (!/^-?\d+$/.test(f.priority)) throw new UsageError(`--priority must be an integer in [-100, 100], got '${f.priority}'`);
    spec.priority = Number(f.priority);
  }
  if (typeof f.timeout === 'string') spec.timeoutMs = parseDuration(f.timeout, 'timeout');
  if (typeof f.tenant === 'string') spec.tenant = f.tenant;
  if (typeof f.retries === 'string') {
    if (!/^\d+$/.test(f.retries)) throw new UsageError(`--retries must be an integer ≥ 0, got '${f.retries}'`);
    spec.maxRetries = Number(f.retries);
  }
  if (typeof f['idempotency-key'] === 'string') spec.idempotencyKey = f['idempotency-key'];
  const { client, nodes } = clientFor(f, 'submit');
  try {
    let handle;
    try {
      handle = client.submitTask(spec);
    } catch (err) {
      // The spec is checked before anything is sent: a mistake on the command line.
      if (err instanceof InvalidTaskError) throw new UsageError(err.message);
      throw err;
    }
    const { taskId, index } = await handle.accepted;
    io.out(jsonLine({ taskId, index }));
    if (!f.wait) return 0;
    const { line, ok } = outcomeOf(await lastValueFrom(handle.status$));
    io.out(jsonLine(line));
    if (!ok) io.err(`grey: task ${taskId} ${line.status}${line.error ? `: ${line.error}` : line.reason ? `: ${line.reason}` : ''}`);
    return ok ? 0 : 1;
  } catch (err) {
    return reportFailure(err, io, nodes);
  } finally {
    await client.close();
  }
}

const WATCH_FLAGS = {
  ...ENDPOINT_FLAGS,
  kv: 'value',
  prefix: 'bool',
  from: 'value',
  members: 'bool',
  limit: 'value',
  poll: 'value',
} as const;

/**
 * `grey watch <taskId>`: the task's events until its final one (exit 0 when
 * it completed, 1 when it failed or was cancelled). `grey watch --kv KEY
 * [--prefix] [--from REV]`: the changes of a key (or of every key under a
 * prefix), from now or from a revision, until interrupted. `grey watch
 * --members`: the members, then each change of one. One JSON object per
 * line; `--limit N` stops after N lines. SIGINT or SIGTERM stops a watch:
 * exit 0 (a task watch not yet final: 130).
 */
export async function watchCommand(args: string[], io: CliIO, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { positional, flags: f } = parseCommandLine(args, WATCH_FLAGS);
  const kinds = [positional.length > 0, typeof f.kv === 'string', f.members === true].filter(Boolean).length;
  if (kinds !== 1) throw new UsageError('grey watch needs one of: a task id, --kv KEY, --members');
  if (positional.length > 1) throw new UsageError(`grey watch follows one task, got ${positional.length} ids`);
  if ((f.prefix || f.from !== undefined) && typeof f.kv !== 'string') throw new UsageError('--prefix and --from go with --kv KEY');
  if (f.kv === '' && f.prefix !== true) throw new UsageError('--kv needs a key (or --prefix with an empty one: every key)');
  const limit = typeof f.limit === 'string' ? parsePositiveInt(f.limit, 'limit') : Number.POSITIVE_INFINITY;
  const pollMs = typeof f.poll === 'string' ? parseDuration(f.poll, 'poll') : 100;
  if (!(pollMs > 0)) throw new UsageError('--poll must be above 0');
  const fromRevision = typeof f.from === 'string' ? parsePositiveInt(f.from, 'from') : undefined;
  const { client, nodes } = clientFor(f, 'watch');
  try {
    if (positional.length === 1) return await followTask(client, positional[0], limit, io, signals);
    const stream: Observable<unknown> =
      typeof f.kv === 'string' ? client.watch(f.kv, { prefix: f.prefix === true, fromRevision, pollMs }) : memberChanges(client, pollMs);
    const end = await follow(stream, limit, io, signals);
    if (end.error !== undefined) throw end.error;
    return 0;
  } catch (err) {
    return reportFailure(err, io, nodes);
  } finally {
    await client.close();
  }
}

async function followTask(client: RealClient, taskId: string, limit: number, io: CliIO, signals: NodeJS.EventEmitter): Promise<number> {
  const now = await client.task(taskId);
  if (now === undefined) {
    io.err(`grey: TaskNotFound: no task '${taskId}' (never submitted, or pruned after it finished: finished tasks are kept for 60 s by default, 'grey node --retention')`);
    return 1;
  }
  let last: TaskStreamEvent | null = null;
  const events = pollTask((t) => client.queryAt('task', { taskId: t }), new WallClock(), taskId).pipe(tap((e) => (last = e)));
  const end = await follow(events, limit, io, signals);
  if (end.error !== undefined) throw end.error;
  if (end.how !== 'complete' || last === null) return end.how === 'signal' ? 130 : 0;
  return outcomeOf(last).ok ? 0 : 1;
}

/**
 * Prints each value of `stream` as a JSON line until it completes, fails,
 * reaches `limit` lines, or a signal stops it.
 */
function follow(stream: Observable<unknown>, limit: number, io: CliIO, signals: NodeJS.EventEmitter): Promise<{ how: 'complete' | 'limit' | 'signal' | 'error'; error?: unknown }> {
  return new Promise((resolve) => {
    let printed = 0;
    let sub: Subscription | undefined;
    let done = false;
    const finish = (how: 'complete' | 'limit' | 'signal' | 'error', error?: unknown) => {
      if (done) return;
      done = true;
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
      sub?.unsubscribe();
      resolve({ how, error });
    };
    const onSignal = () => finish('signal');
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
    sub = stream.subscribe({
      next: (v) => {
        if (done) return;
        io.out(jsonLine(v));
        if (++printed >= limit) finish('limit');
      },
      error: (err) => finish('error', err),
      complete: () => finish('complete'),
    });
    if (done) sub.unsubscribe(); // finished while subscribing (a limit reached at once)
  });
}

/** The members (one line each), then every change of one's status or address, read every `pollMs` (linearizable reads). */
function memberChanges(client: RealClient, pollMs: number): Observable<unknown> {
  return new Observable((sub) => {
    const seen = new Map<string, string>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const { index, value } = await client.queryAt('members', {});
        if (stopped) return;
        for (const m of value as MemberRecord[]) {
          const key = `${m.status}@${m.address ?? ''}`;
          if (seen.get(m.node) === key) continue;
          seen.set(m.node, key);
          sub.next({ type: 'member', index, node: m.node, status: m.status, since: m.since, ...(m.address ? { address: m.address } : {}), ...(m.context.reason ? { reason: m.context.reason } : {}) });
        }
        if (!stopped) timer = setTimeout(() => void poll(), pollMs);
      } catch (err) {
        if (!stopped) sub.error(err);
      }
    };
    void poll();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  });
}
