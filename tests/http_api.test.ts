/**
 * The HTTP/JSON API and server-sent events of a node: any node serves any
 * request (a follower relays to the leader), errors are typed JSON with a
 * fitting status, events resume from an index or a Last-Event-ID and say
 * `Compacted` past what is kept; over TLS, client certificates from the
 * cluster CA identify callers and anything else is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterCa, issueCertificate, type TlsIdentity } from '../system/certificates.js';
import { startNode, type GreyNode } from '../system/embeddedNode.js';
import { LocalNetwork } from '../system/localNetwork.js';
import { freePort, until } from './helpers/realTime.js';

const root = mkdtempSync(join(tmpdir(), 'grey-api-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FAST = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };

/** One server-sent event as the stream carries it. */
interface Sse {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads server-sent events from `url` until `enough` says so (or `within` ms pass); then closes the stream. */
async function readEvents(url: string, enough: (seen: Sse[]) => boolean, headers: Record<string, string> = {}, within = 10_000): Promise<Sse[]> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), within);
  const res = await fetch(url, { headers, signal: ctl.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const seen: Sse[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
        if (fields.data !== undefined) seen.push({ id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) as Record<string, unknown> });
      }
      if (enough(seen)) break;
    }
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return seen;
}

describe('HTTP API (in-process nodes, plain HTTP on loopback)', () => {
  const network = new LocalNetwork();
  const ids = ['n1', 'n2', 'n3'];
  let nodes: GreyNode[] = [];
  const base = (n: GreyNode) => `http://127.0.0.1:${n.api!.port}/v1`;
  beforeAll(async () => {
    nodes = await Promise.all(
      ids.map((id) =>
        startNode({ id, peers: ids, network, dataDir: join(root, 'local', id), raft: FAST, api: { listen: '127.0.0.1:0', history: 50 }, handlers: { echo: (p) => ({ echoed: p }) } }),
      ),
    );
    await until(() => nodes.find((n) => n.status().role === 'leader'), 'a leader');
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const follower = () => nodes.find((n) => n.status().role === 'follower' && n.status().leader !== null)!;
  const json = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  };

  it('a follower serves submit, task status, cancel, key-value and named reads, relaying to the leader', async () => {
    const f = await until(follower, 'a follower that knows its leader');
    const submitted = await json(`${base(f)}/tasks`, { method: 'POST', body: JSON.stringify({ type: 'echo', payload: { n: 1 } }) });
    expect(submitted.status).toBe(201);
    expect(submitted.body).toMatchObject({ taskId: expect.any(String), index: expect.any(Number) });
    const taskId = submitted.body.taskId as string;
    const done = await until(async () => {
      const r = await json(`${base(f)}/tasks/${taskId}`);
      return r.body.status === 'completed' && r;
    }, 'the task completes');
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: taskId, status: 'completed', result: { echoed: { n: 1 } } });

    const bulk = await json(`${base(f)}/tasks`, { method: 'POST', body: JSON.stringify({ tasks: [{ type: 'echo', payload: 2 }, { type: 'echo', payload: 3 }] }) });
    expect(bulk.status).toBe(201);
    expect(bulk.body.tasks).toHaveLength(2);

    // A task no handler runs stays pending: cancel it.
    const stuck = await json(`${base(f)}/tasks`, { method: 'POST', body: JSON.stringify({ type: 'nobodyRunsThis' }) });
    const cancelled = await json(`${base(f)}/tasks/${stuck.body.taskId as string}/cancel`, { method: 'POST', body: JSON.stringify({ reason: 'changed my mind' }) });
    expect(cancelled).toMatchObject({ status: 200, body: { cancelled: true } });
    expect((await json(`${base(f)}/tasks/${stuck.body.taskId as string}`)).body).toMatchObject({ status: 'cancelled' });

    expect(await json(`${base(f)}/kv/colour`, { method: 'PUT', body: JSON.stringify({ value: { hue: 'teal' } }) })).toMatchObject({ status: 200, body: { revision: expect.any(Number) } });
    expect(await json(`${base(f)}/kv/colour`)).toMatchObject({ status: 200, body: { found: true, value: { hue: 'teal' } } });
    expect(await json(`${base(f)}/kv/colour`, { method: 'DELETE' })).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await json(`${base(f)}/kv/colour`)).toMatchObject({ status: 404, body: { found: false } });
    const members = await json(`${base(f)}/query/members`);
    expect(members.status).toBe(200);
    expect((members.body.value as Array<{ node: string }>).map((m) => m.node).sort()).toEqual(ids);
    expect(await json(`${base(f)}/status`)).toMatchObject({ status: 200, body: { id: f.id, role: 'follower' } });
  }, 20_000);

  it('bad requests get typed JSON errors with fitting statuses', async () => {
    const n = nodes[0];
    expect(await json(`${base(n)}/tasks`, { method: 'POST', body: '{nope' })).toMatchObject({ status: 400, body: { error: 'BadRequest' } });
    expect(await json(`${base(n)}/tasks`, { method: 'POST', body: JSON.stringify({ type: 'echo', priority: 'high' }) })).toMatchObject({ status: 400, body: { error: 'InvalidTask', field: 'priority' } });
    expect(await json(`${base(n)}/tasks`, { method: 'POST', body: JSON.stringify({ tasks: [] }) })).toMatchObject({ status: 400, body: { error: 'InvalidTask' } });
    expect(await json(`${base(n)}/tasks/no-such-task`)).toMatchObject({ status: 404, body: { error: 'TaskNotFound' } });
    // A malformed percent escape in the path is the caller's error (it was a 500).
    expect(await json(`${base(n)}/tasks/%ZZ`)).toMatchObject({ status: 400, body: { error: 'BadRequest', message: expect.stringContaining("'%ZZ' is not valid percent-encoding") } });
    expect(await json(`${base(n)}/tasks/no-such-task/cancel`, { method: 'POST' })).toMatchObject({ status: 404, body: { error: 'TaskNotFound' } });
    expect(await json(`${base(n)}/query/everything`)).toMatchObject({ status: 404, body: { error: 'UnknownQuery' } });
    expect(await json(`${base(n)}/query/get?args=${encodeURIComponent('{"key":5}')}`)).toMatchObject({ status: 400, body: { error: 'InvalidQuery' } });
    expect(await json(`${base(n)}/kv/k`, { method: 'PUT', body: JSON.stringify({ v: 1 }) })).toMatchObject({ status: 400, body: { error: 'BadRequest' } });
    const big = await json(`${base(n)}/kv/k`, { method: 'PUT', body: JSON.stringify({ value: 'x'.repeat(3 * 1024 * 1024) }) });
    expect(big).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
    const wrong = await json(`${base(n)}/tasks`, { method: 'GET' });
    expect(wrong).toMatchObject({ status: 405, body: { error: 'MethodNotAllowed' } });
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await json(`${base(n)}/nothing`)).toMatchObject({ status: 404, body: { error: 'NotFound' } });
    expect(await json(`http://127.0.0.1:${n.api!.port}/v2/tasks`)).toMatchObject({ status: 404, body: { error: 'NotFound' } });
    expect(await json(`${base(n)}/events?from=0`)).toMatchObject({ status: 400, body: { error: 'BadRequest' } });
    expect(await json(`${base(n)}/events?types=task.exploded`)).toMatchObject({ status: 400, body: { error: 'BadRequest' } });
  });

  it('an upload over the body limit gets 413 while it is still being sent, declared or streamed, never a reset', async () => {
    const n = nodes[0];
    const url = new URL(`${base(n)}/kv/k`);
    // 40 MiB, sent 1 MiB at a time; the answer is read as soon as it comes.
    const upload = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string; sentBefore: number }>((resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { 'content-type': 'application/json', ...headers } });
        let sent = 0;
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          const sentBefore = sent;
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            req.destroy(); // the rest of the upload is not wanted
            resolve({ status: res.statusCode!, body, sentBefore });
          });
        });
        req.on('error', (err) => (answered ? undefined : reject(err)));
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const more = () => {
          while (!answered && sent < 40) {
            sent++;
            if (!req.write(chunk)) return void req.once('drain', more);
          }
          if (!answered) req.end();
        };
        more();
      });
    const declared = await upload({ 'content-length': String(40 * 1024 * 1024) });
    expect(declared).toMatchObject({ status: 413 });
    expect(JSON.parse(declared.body)).toMatchObject({ error: 'PayloadTooLarge', message: expect.stringContaining('41943040 bytes; at most 2097152') });
    expect(declared.sentBefore).toBeLessThan(40); // refused from its header, before it was all sent
    const streamed = await upload({ 'transfer-encoding': 'chunked' });
    expect(streamed).toMatchObject({ status: 413 });
    expect(JSON.parse(streamed.body)).toMatchObject({ error: 'PayloadTooLarge' });
    expect(streamed.sentBefore).toBeLessThan(40);
    // The node serves on.
    expect((await json(`${base(n)}/status`)).status).toBe(200);
  });

  it('server-sent events: committed events from an index, resumed after a Last-Event-ID, Compacted past the kept window', async () => {
    const f = await until(follower, 'a follower that knows its leader');
    const startAt = f.status().lastApplied + 1;
    const submitted = await json(`${base(f)}/tasks`, { method: 'POST', body: JSON.stringify({ type: 'echo', payload: 'watched' }) });
    const taskId = submitted.body.taskId as string;
    const seen = await readEvents(`${base(f)}/events?from=${startAt}&task=${taskId}`, (s) => s.some((e) => e.event === 'task.completed'));
    const kinds = seen.map((e) => e.event);
    expect(kinds[0]).toBe('task.submitted');
    expect(kinds).toContain('task.assigned');
    expect(kinds.at(-1)).toBe('task.completed');
    expect(seen.at(-1)!.data).toMatchObject({ taskId, result: { echoed: 'watched' } });
    for (const e of seen) expect(e.id).toMatch(/^\d+-\d+$/);

    // Resume after the first event: the rest, and nothing twice.
    const resumed = await readEvents(`${base(f)}/events?task=${taskId}`, (s) => s.some((e) => e.event === 'task.completed'), { 'last-event-id': seen[0].id! });
    expect(resumed.map((e) => e.id)).toEqual(seen.slice(1).map((e) => e.id));

    // This node's own view: its role and commit index, when asked for.
    const own = await readEvents(`${base(f)}/events?types=commit`, (s) => s.length > 0);
    expect(own[0]).toMatchObject({ event: 'commit', data: { node: f.id, commitIndex: expect.any(Number) } });
    // Its role at once, as it is now: no waiting for the next election.
    const role = await readEvents(`${base(f)}/events?types=role`, (s) => s.length > 0);
    expect(role[0]).toMatchObject({ event: 'role', data: { type: 'role', node: f.id, role: 'follower', term: f.status().term, leader: f.status().leader } });
    // They belong to no task: asked for with task=, a 400 says so rather than a silent stream.
    expect(await json(`${base(f)}/events?task=${taskId}&types=role`)).toMatchObject({ status: 400, body: { error: 'BadRequest', message: expect.stringMatching(/role events are this node's, not a task's/) } });

    // The window keeps 50 events: push it past index 1, then ask from 1.
    await json(`${base(f)}/tasks`, { method: 'POST', body: JSON.stringify({ tasks: Array.from({ length: 30 }, (_, i) => ({ type: 'echo', payload: i })) }) });
    const gone = await until(async () => {
      const res = await fetch(`${base(f)}/events?from=1`);
      if (res.status === 410) return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      await res.body?.cancel(); // still kept: a stream began; close it and ask again
      return undefined;
    }, 'the window moves past index 1');
    expect(gone.body).toMatchObject({ error: 'Compacted', oldest: expect.any(Number) });
    expect(gone.body.oldest as number).toBeGreaterThan(1);
  }, 20_000);
});

describe('HTTP API over TLS (client certificates)', () => {
  it('identifies callers by their certificate; refuses node certificates, other CAs and no certificate', async () => {
    const ca = await createClusterCa();
    const other = await createClusterCa('another CA');
    const ids = ['n1', 'n2', 'n3'];
    const certs: Record<string, TlsIdentity> = {};
    for (const id of ids) certs[id] = await issueCertificate(ca, 'node', id);
    const app = await issueCertificate(ca, 'client', 'app');
    const stranger = await issueCertificate(other, 'client', 'app');
    const ports = await Promise.all(ids.map(() => freePort()));
    const peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    const nodes = await Promise.all(
      ids.map((id) => startNode({ id, listen: peers[id], peers, tls: certs[id], dataDir: join(root, 'tls', id), raft: FAST, api: { listen: '127.0.0.1:0' }, handlers: { echo: (p) => p } })),
    );
    const call = (n: GreyNode, path: string, identity: TlsIdentity | null, body?: unknown) =>
      new Promise<{ status: number; body: Record<string, unknown> } | Error>((resolve) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: n.api!.port,
            path: `/v1${path}`,
            method: body === undefined ? 'GET' : 'POST',
            ca: certs.n1.ca,
            ...(identity ? { cert: identity.cert, key: identity.key } : {}),
            checkServerIdentity: () => undefined,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
          },
        );
        req.on('error', resolve);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    try {
      await until(() => nodes.some((n) => n.status().role === 'leader'), 'a leader');
      const f = await until(() => nodes.find((n) => n.status().role === 'follower' && n.status().leader !== null), 'a follower');
      const submitted = await call(f, '/tasks', app, { type: 'echo', payload: 'over tls' });
      expect(submitted).toMatchObject({ status: 201, body: { taskId: expect.any(String) } });
      const taskId = (submitted as { body: Record<string, unknown> }).body.taskId as string;
      await until(async () => {
        const r = await call(f, `/tasks/${taskId}`, app);
        return !(r instanceof Error) && r.body.status === 'completed';
      }, 'the task completes');
      // A node's certificate is for the cluster's links, not for the API.
      expect(await call(f, '/status', certs.n2)).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
      // No certificate, or one from another CA: no TLS session at all.
      expect(await call(f, '/status', null)).toBeInstanceOf(Error);
      expect(await call(f, '/status', stranger)).toBeInstanceOf(Error);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  }, 30_000);

  it('refuses plain HTTP on an address other machines can reach', async () => {
    const network = new LocalNetwork();
    await expect(startNode({ id: 'solo', peers: ['solo'], network, dataDir: join(root, 'solo'), api: { listen: '0.0.0.0:0' } })).rejects.toThrow(/loopback/);
  });
});
