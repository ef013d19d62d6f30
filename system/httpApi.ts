import { X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Subscription } from 'rxjs';
import type { NodeStatus } from '../actors/clientProtocol.js';
import type { QueryName } from '../actors/queries.js';
import type { ApiGateway, GatewayPrincipal } from './apiGateway.js';
import { identitiesOf, tenantOf, type TlsIdentity } from './certificates.js';
import { ClientError } from './clientError.js';
import type { EventHistory } from './eventHistory.js';
import type { GreyEvent } from './events.js';
import { FifoMap } from '../actors/fifoMap.js';
import { listenOn } from './listen.js';
import type { TaskSpec } from './taskSpec.js';
import { InvalidTaskError } from './taskSpec.js';
import { parseAddress } from './tlsNetwork.js';
import { ValueDomainError } from './valueDomain.js';

/** Options of a node's HTTP API. */
export interface HttpApiOptions {
  /** `host:port` to listen on (port 0: any free port). */
  listen: string;
  /**
   * HTTPS with client certificates from the cluster CA (the node's own
   * certificate serves). Without it the API is plain HTTP for trusted
   * callers in this process's machine: loopback only.
   */
  tls?: TlsIdentity;
  /** Largest request body, bytes (default 2 MiB: a command's limit plus JSON's overhead). */
  maxBodyBytes?: number;
  /** Interval of comment lines that keep an idle event stream open through proxies, ms (default 15 000). */
  keepAliveMs?: number;
}

/** A running HTTP API. */
export interface HttpApi {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** What the API needs of its node. */
export interface HttpApiNode {
  readonly id: string;
  readonly gateway: ApiGateway;
  readonly history: EventHistory;
  /**
   * The tenant of a task the node knows (undefined: unknown or pruned), so
   * that a tenant-bound caller's event stream carries its own tenant's task
   * events only. Without it, such a caller gets the events of the tasks
   * whose submission its stream carried, and no others.
   */
  taskTenant?(taskId: string): string | undefined;
  status(): NodeStatus;
  onRole(listener: (role: string, term: number, leader: string | null) => void): () => void;
}

/** Event types a watcher may ask for: the committed ones and this node's own (`role`, `commit`). */
const EVENT_TYPES: ReadonlySet<string> = new Set([
  'task.submitted', 'task.assigned', 'task.started', 'task.progress', 'task.completed', 'task.failed', 'task.retrying', 'task.timedOut',
  'task.cancelled', 'task.requeued', 'task.rejected', 'node.joined', 'node.left', 'member.changed', 'leader.elected', 'role', 'commit',
]);

/** A path segment, percent-decoded; a malformed escape (`%ZZ`) is the caller's error, not the server's. */
function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'BadRequest', `the path segment '${raw.slice(0, 100)}' is not valid percent-encoding`);
  }
}

/** An API error: an HTTP status and a stable code. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** HTTP status of each client error code: what a caller may do about it. */
const STATUS_OF: Readonly<Record<string, number>> = {
  InvalidTask: 400,
  InvalidCommand: 400,
  InvalidQuery: 400,
  InvalidValue: 400,
  BadRequest: 400,
  Unauthorized: 403,
  NotFound: 404,
  TaskNotFound: 404,
  UnknownQuery: 404,
  UnknownMember: 404,
  UnknownTenant: 404,
  InvalidTransition: 409,
  StaleRequest: 409,
  SessionExpired: 409,
  Fenced: 409,
  Compacted: 410,
  PayloadTooLarge: 413,
  QuotaExceeded: 429,
  RateLimited: 429,
  Backpressure: 503,
  NotLeader: 503,
  Unreachable: 503,
  Timeout: 504,
};

/**
 * A node's HTTP/JSON API, for any HTTP client (curl, a browser's
 * EventSource, another language), in the shape etcd's and BullMQ's
 * ecosystems expect:
 *
 * - `POST /v1/tasks` (a task spec, or `{ "tasks": [...] }`): 201 with the
 *   task ids and the log index they were committed at;
 * - `GET /v1/tasks/:id`, `POST /v1/tasks/:id/cancel`;
 * - `GET|PUT|DELETE /v1/kv/:key` (PUT's body: `{ "value": ... }`);
 * - `GET /v1/query/:name?args=<json>`: any named read (`members`, `range`, …);
 * - `GET /v1/status`: this node's own view;
 * - `GET /v1/events?from=N&types=a,b&task=ID`: server-sent events,
 *   committed events from index N (or after `Last-Event-ID`), then live;
 *   this node's `role` (its current one first, then each change) and
 *   `commit` events too, unless the stream is of one task's events.
 *
 * Any node serves any request: one that does not lead relays it to the
 * leader (see {@link ApiGateway}). Errors are JSON, `{ error, message, … }`,
 * with the library's codes and a fitting status (400 bad input, 403
 * `Unauthorized`, 404, 409, 410 `Compacted`, 413, 429 `QuotaExceeded` and
 * `RateLimited` (with `Retry-After`), 503 with `Retry-After`,
 * 504 `Timeout` with the request id to retry).
 */
export async function startHttpApi(node: HttpApiNode, options: HttpApiOptions): Promise<HttpApi> {
  const { host, port } = parseAddress(options.listen, 'api listen');
  if (!options.tls && !isLoopback(host)) throw new RangeError(`api listen: without TLS the API serves this machine only (a loopback address), not ${host}`);
  const maxBody = options.maxBodyBytes ?? 2 * 1024 * 1024;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const streams = new Set<ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((err: unknown) => reply(res, errorOf(err)));
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, handler)
    : createHttpServer(handler);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api');
    const parts = url.pathname.split('/').filter(Boolean).map(pathSegment);
    if (parts[0] !== 'v1') throw new ApiError(404, 'NotFound', `no ${url.pathname}; the API is under /v1`);
    const method = req.method ?? 'GET';
    const caller = callerOf(req);
    const client = () => {
      try {
        return node.gateway.clientFor(caller.name, caller.principal, caller.tenant);
      } catch (err) {
        throw new ApiError(403, 'Unauthorized', (err as Error).message);
      }
    };
    const [, resource, id, action] = parts;
    switch (resource) {
      case 'status':
        allow(method, ['GET'], parts.length === 2);
        return reply(res, 200, node.status());
      case 'tasks': {
        if (id === undefined) {
          allow(method, ['POST'], true);
          const body = await jsonBody(req, maxBody);
          const bulk = body !== null && typeof body === 'object' && !Array.isArray(body) && 'tasks' in body;
          const specs = bulk ? (body as { tasks: unknown }).tasks : [body];
          if (!Array.isArray(specs) || specs.length === 0) throw new ApiError(400, 'InvalidTask', "'tasks' must be a non-empty array of task specs");
          const handles = client().submitTasks(specs as TaskSpec[]);
          const accepted = await Promise.all(handles.map((h) => h.accepted));
          return reply(res, 201, bulk ? { tasks: accepted } : accepted[0]);
        }
        if (action === undefined) {
          allow(method, ['GET'], parts.length === 3);
          const { index, value } = await client().queryAt('task', { taskId: id });
          if (value === null) throw new ApiError(404, 'TaskNotFound', `no task '${id}' (unknown, or pruned)`, { index });
          return reply(res, 200, value);
        }
        allow(method, ['POST'], action === 'cancel' && parts.length === 4);
        const body = await jsonBody(req, maxBody, true);
        const reason = (body as { reason?: unknown } | null)?.reason;
        if (reason !== undefined && typeof reason !== 'string') throw new ApiError(400, 'BadRequest', "'reason' must be a string");
        await client().cancelTask(id, reason ?? 'cancelled over the HTTP API');
        return reply(res, 200, { taskId: id, cancelled: true });
      }
      case 'kv': {
        if (id === undefined || parts.length !== 3) throw new ApiError(404, 'NotFound', 'a key goes in the path: /v1/kv/<key>');
        allow(method, ['GET', 'PUT', 'DELETE'], true);
        if (method === 'GET') {
          const read = await client().get(id);
          return reply(res, read.found ? 200 : 404, read);
        }
        if (method === 'DELETE') return reply(res, 200, await client().delete(id));
        const body = await jsonBody(req, maxBody);
        if (body === null || typeof body !== 'object' || !('value' in body)) throw new ApiError(400, 'BadRequest', 'PUT /v1/kv/<key> takes { "value": <any JSON> }');
        return reply(res, 200, await client().put(id, (body as { value: unknown }).value));
      }
      case 'query': {
        allow(method, ['GET'], id !== undefined && parts.length === 3);
        const raw = url.searchParams.get('args');
        let args: unknown = {};
        if (raw !== null) {
          try {
            args = JSON.parse(raw);
          } catch {
            throw new ApiError(400, 'InvalidQuery', "'args' must be JSON");
          }
        }
        return reply(res, 200, await client().queryAt(id as QueryName, args as never));
      }
      case 'events':
        allow(method, ['GET'], parts.length === 2);
        return watch(req, res, url, caller.tenant);
      default:
        throw new ApiError(404, 'NotFound', `no /v1/${resource ?? ''}; try tasks, kv, query, status or events`);
    }
  }

  /**
   * Server-sent events: the kept events from the asked index, then live
   * ones, filtered. A caller bound to `tenant` gets only that tenant's task
   * events (besides the cluster's own: membership, leaders, role, commit).
   */
  function watch(req: IncomingMessage, res: ServerResponse, url: URL, tenant: string | null): void {
    let from = 1;
    let skip = 0;
    const lastId = req.headers['last-event-id'];
    if (typeof lastId === 'string' && lastId.length > 0) {
      const m = /^(\d+)-(\d+)$/.exec(lastId);
      if (!m) throw new ApiError(400, 'BadRequest', `Last-Event-ID '${lastId}' is not <index>-<n>, as this API sends`);
      [from, skip] = [Number(m[1]), Number(m[2]) + 1];
    } else if (url.searchParams.has('from')) {
      from = Number(url.searchParams.get('from'));
      if (!Number.isSafeInteger(from) || from < 1) throw new ApiError(400, 'BadRequest', "'from' must be a log index ≥ 1");
    } else from = Number.MAX_SAFE_INTEGER; // live only
    const types = url.searchParams.get('types')?.split(',').filter(Boolean) ?? null;
    for (const t of types ?? []) if (!EVENT_TYPES.has(t)) throw new ApiError(400, 'BadRequest', `unknown event type '${t}'; known: ${[...EVENT_TYPES].join(', ')}`);
    const task = url.searchParams.get('task');
    const own = types?.filter((t) => t === 'role' || t === 'commit') ?? [];
    if (task !== null && own.length > 0) throw new ApiError(400, 'BadRequest', `${own.join(' and ')} events are this node's, not a task's: ask for them without task=`);
    const wanted = (type: string) => types === null || types.includes(type);
    // This node's own events (role, commit) belong to no task: a stream of one task's events leaves them out.
    const ownWanted = (type: 'role' | 'commit') => task === null && wanted(type);
    const visible = tenant === null ? () => true : tenantFilter(tenant, (taskId) => node.taskTenant?.(taskId));
    const backlog = from === Number.MAX_SAFE_INTEGER ? [] : node.history.since(from);
    if (!Array.isArray(backlog)) throw new ApiError(410, 'Compacted', `events from index ${from} are no longer kept; the oldest is ${backlog.oldest}`, { oldest: backlog.oldest });

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    streams.add(res);
    let lastIndex = 0;
    let n = 0;
    const send = (e: GreyEvent) => {
      n = e.index === lastIndex ? n + 1 : 0;
      lastIndex = e.index;
      if (e.index === from && n < skip) return; // already delivered before the reconnect
      if (!wanted(e.type) || (task !== null && (e as { taskId?: string }).taskId !== task) || !visible(e)) return;
      res.write(`id: ${e.index}-${n}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    // The backlog and the subscription are taken in one turn: nothing falls between them.
    for (const e of backlog) send(e);
    const subs: Subscription[] = [node.history.events$.subscribe({ next: send, complete: () => res.end() })];
    const writeRole = (role: string, term: number, leader: string | null) => res.write(`event: role\ndata: ${JSON.stringify({ type: 'role', node: node.id, role, term, leader })}\n\n`);
    // The role as it is now first (a watcher should not wait for the next election to learn it), then each change.
    if (ownWanted('role')) {
      const now = node.status();
      writeRole(now.role, now.term, now.leader);
    }
    const offRole = ownWanted('role') ? node.onRole(writeRole) : () => {};
    let commit = -1;
    const tick = setInterval(() => {
      const s = node.status();
      if (ownWanted('commit') && s.commitIndex !== commit) {
        commit = s.commitIndex;
        res.write(`event: commit\ndata: ${JSON.stringify({ type: 'commit', node: node.id, term: s.term, commitIndex: s.commitIndex, lastApplied: s.lastApplied })}\n\n`);
      }
    }, 100);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    res.on('close', () => {
      for (const s of subs) s.unsubscribe();
      offRole();
      clearInterval(tick);
      clearInterval(keepAlive);
      streams.delete(res);
    });
  }

  /**
   * Who sent a request: from its client certificate over HTTPS (clients and
   * operators only, a client with the tenant its certificate binds); a
   * trusted local caller over HTTP.
   */
  function callerOf(req: IncomingMessage): { name: string; principal: GatewayPrincipal; tenant: string | null } {
    if (!options.tls) return { name: 'http', principal: null, tenant: null };
    const cert = (req.socket as TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
    const ids = cert ? identitiesOf(cert) : [];
    // An operator name first, as the cluster's links rank them: operators are never scoped to a tenant.
    const id = ids.find((i) => i.role === 'operator') ?? ids.find((i) => i.role === 'client');
    if (!id) throw new ApiError(403, 'Unauthorized', 'the API serves client and operator certificates of this cluster');
    let tenant: string | null = null;
    if (id.role === 'client') {
      try {
        tenant = tenantOf(cert!);
      } catch (err) {
        throw new ApiError(403, 'Unauthorized', (err as Error).message);
      }
    }
    return { name: id.name, principal: id.role as 'client' | 'operator', tenant };
  }

  const address = await listenOn(server, host, port);
  return {
    address,
    close: async () => {
      for (const res of streams) res.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Most task ids an event stream remembers the tenant of (from their `task.submitted`), per stream. */
const STREAM_TENANTS_KEPT = 10_000;

/**
 * Whether an event is for a caller bound to `tenant`: a task event when its
 * task is that tenant's (by the `task.submitted` event this stream saw,
 * else as the node knows the task: an unknown or pruned task's events are
 * withheld); any other event (membership, leaders) is the cluster's.
 */
function tenantFilter(tenant: string, taskTenant: (taskId: string) => string | undefined): (e: GreyEvent) => boolean {
  const seen = new FifoMap<string, string>(STREAM_TENANTS_KEPT);
  return (e) => {
    const taskId = (e as { taskId?: unknown }).taskId;
    if (typeof taskId !== 'string') return true;
    if (e.type === 'task.submitted') seen.set(taskId, e.tenant);
    return (seen.get(taskId) ?? taskTenant(taskId)) === tenant;
  };
}

function allow(method: string, methods: readonly string[], pathOk: boolean): void {
  if (!pathOk) throw new ApiError(404, 'NotFound', 'no such path');
  if (!methods.includes(method)) throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed here; use ${methods.join(' or ')}`, { allow: methods.join(', ') });
}

/** How long, and how much more, a refused upload is read and dropped before its connection is closed (nginx's lingering close). */
const LINGER_MS = 5_000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * The request's JSON body. One over `max` bytes is refused with 413 as soon
 * as it is known to be (from its Content-Length, or once that much has
 * streamed in), and the rest of it is read and dropped for a while: a
 * client still sending then reads the answer rather than a reset. (Not
 * `Connection: close`: Node's server then closes the socket as soon as
 * the answer is written, with the upload still arriving, and the client's
 * system discards the unread answer on the reset that follows.)
 */
function jsonBody(req: IncomingMessage, max: number, optional = false): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = (what: string) => {
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      linger(req);
      reject(new ApiError(413, 'PayloadTooLarge', `the body is ${what}; at most ${max} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return tooLarge(`${declared} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooLarge(`over ${max} bytes`);
      else chunks.push(chunk);
    });
    req.once('error', reject);
    req.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        if (optional) resolve(null);
        else reject(new ApiError(400, 'BadRequest', 'a JSON body is needed'));
        return;
      }
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (err) {
        reject(new ApiError(400, 'BadRequest', `the body is not JSON: ${(err as Error).message}`));
      }
    });
  });
}

/** Reads and drops the rest of a refused upload, up to {@link LINGER_BYTES} or {@link LINGER_MS}; then closes its connection. */
function linger(req: IncomingMessage): void {
  let more = 0;
  const close = () => req.socket.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    more += chunk.length;
    if (more > LINGER_BYTES) {
      clearTimeout(timer);
      close();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

function errorOf(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ClientError) {
    const extra: Record<string, unknown> = { outcome: err.outcome };
    if (err.requestId) extra.requestId = err.requestId;
    if (err.leaderHint) extra.leaderHint = err.leaderHint;
    if (err.retryAfterMs !== undefined) extra.retryAfterMs = err.retryAfterMs;
    return new ApiError(STATUS_OF[err.code] ?? 500, err.code, err.message, extra);
  }
  if (err instanceof InvalidTaskError) return new ApiError(400, 'InvalidTask', err.message, { field: err.field });
  if (err instanceof ValueDomainError) return new ApiError(400, 'InvalidValue', err.message);
  if (err instanceof RangeError || err instanceof TypeError) return new ApiError(400, 'BadRequest', err.message);
  return new ApiError(500, 'Internal', (err as Error)?.message ?? String(err));
}

function reply(res: ServerResponse, statusOrError: number | ApiError, body?: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  let status: number;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (statusOrError instanceof ApiError) {
    status = statusOrError.status;
    body = { error: statusOrError.code, message: statusOrError.message, ...statusOrError.extra };
    if (status === 503) headers['retry-after'] = '1';
    // Retry-After is in whole seconds: rounded up, so a client that waits it is allowed.
    if (typeof statusOrError.extra.retryAfterMs === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(statusOrError.extra.retryAfterMs / 1000)));
    if (status === 405) headers.allow = String(statusOrError.extra.allow);
  } else status = statusOrError;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
