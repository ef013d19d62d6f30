/**
 * A client bound to its tenant by its credential (issue 15 §3/§7): a client
 * certificate issued with a tenant (a second SAN URI `grey://tenant/<t>`)
 * acts for that tenant only, whatever its requests claim. Every node scopes
 * its commands and named reads (filled in when a request names no tenant,
 * `Unauthorized` and audited when it names another), a follower relaying
 * to the leader carries the tenant, the HTTP API and its event stream are
 * scoped the same, and operators see everything. The simulation binds a
 * client id the same way (`Cluster.bindTenant`).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCertificateAuthority, parseCertificate, rotateCertificate } from '../actors/nodeCertificate.js';
import { deriveIdentity } from '../actors/nodeIdentity.js';
import type { TaskRecord } from '../actors/taskTable.js';
import { createClusterCa, identitiesOf, issueCertificate, tenantOf, type ClusterCa, type TlsIdentity } from '../system/certificates.js';
import { UsageError } from '../system/cliArgs.js';
import { ClientError, type ClusterClient } from '../system/client.js';
import { createTestCluster, type Cluster } from '../system/cluster.js';
import { connect, startNode, type GreyNode, type RealClient } from '../system/embeddedNode.js';
import { certsCommand } from '../system/nodeCommand.js';
import { resolveTaskSpec } from '../system/taskSpec.js';
import { freePort, until } from './helpers/realTime.js';

const FAST = { heartbeatMs: 20, electionTimeoutMin: 150, electionTimeoutMax: 300 };
const root = mkdtempSync(join(tmpdir(), 'grey-tenant-creds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The error a promise rejects with (it must reject). */
async function rejection(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

/** A hand-built submission acting for `tenant`, of one task of that tenant: what a client that writes its own requests can send. */
const claim = (tenant: string, id: string) => ({ op: 'submitTasks' as const, tenant, tasks: [{ id, spec: resolveTaskSpec({ type: 'echo', tenant }), submittedAt: 0 }] });

describe('a client certificate that binds a tenant', () => {
  let ca: ClusterCa;
  beforeAll(async () => {
    ca = await createClusterCa();
  });

  it('binds it as a second SAN URI, read the same by node:crypto and by Grey, kept by rotation; only clients get one', async () => {
    const bound = await issueCertificate(ca, 'client', 'app', { tenant: 'a' });
    expect(identitiesOf(bound.cert)).toEqual([{ role: 'client', name: 'app' }]);
    expect(new X509Certificate(bound.cert).subjectAltName).toBe('URI:grey://client/app, URI:grey://tenant/a');
    expect(tenantOf(bound.cert)).toBe('a');
    expect(parseCertificate(bound.cert).tenant).toBe('a');
    const plain = await issueCertificate(ca, 'client', 'app');
    expect([tenantOf(plain.cert), parseCertificate(plain.cert).tenant]).toEqual([null, null]);

    // Characters that would make node:crypto quote the SAN, or split it, are escaped.
    const odd = "t, 'x' (1)/é";
    const escaped = await issueCertificate(ca, 'client', 'odd', { tenant: odd });
    expect(new X509Certificate(escaped.cert).subjectAltName).toMatch(/^URI:grey:\/\/client\/odd, URI:grey:\/\/tenant\/[A-Za-z0-9%._~-]+$/);
    expect(tenantOf(escaped.cert)).toBe(odd);

    const authority = loadCertificateAuthority(ca.cert, ca.key);
    const rotated = rotateCertificate(authority, bound.cert, deriveIdentity(1, 'app').publicKey, { notBefore: Date.now() - 1_000, notAfter: Date.now() + 86_400_000 });
    expect(tenantOf(rotated.pem)).toBe('a');

    await expect(issueCertificate(ca, 'operator', 'admin', { tenant: 'a' })).rejects.toThrow(/only a client certificate binds a tenant, not an operator/);
    await expect(issueCertificate(ca, 'node', 'n1', { tenant: 'a' })).rejects.toThrow(/not a node certificate/);
    await expect(issueCertificate(ca, 'client', 'app', { tenant: '' })).rejects.toThrow(TypeError);
  });

  it('grey certs --tenant issues them for --clients only', async () => {
    const dir = join(root, 'certs');
    const out: string[] = [];
    expect(await certsCommand(['--dir', dir, '--clients', 'app,worker', '--operators', 'admin', '--tenant', 'a'], { out: (l) => out.push(l), err: () => {} })).toBe(0);
    expect(out.filter((l) => l.startsWith('client'))).toEqual([`client      ${join(dir, 'app')} (tenant a)`, `client      ${join(dir, 'worker')} (tenant a)`]);
    expect(tenantOf(readFileSync(join(dir, 'app', 'cert.pem'), 'utf8'))).toBe('a');
    expect(tenantOf(readFileSync(join(dir, 'worker', 'cert.pem'), 'utf8'))).toBe('a');
    expect(tenantOf(readFileSync(join(dir, 'admin', 'cert.pem'), 'utf8'))).toBeNull();
    await expect(certsCommand(['--dir', dir, '--operators', 'root', '--tenant', 'a'], { out: () => {}, err: () => {} })).rejects.toThrow(UsageError);
  });
});

describe('the simulation binds a client to a tenant (Cluster.bindTenant)', () => {
  const fast = { latency: { base: 2, jitter: 1, distribution: 'uniform' as const } };

  async function tenantsOf(c: Cluster): Promise<ClusterClient> {
    const operator = c.client({ id: 'operator' });
    for (const tenant of ['a', 'b']) await c.drive(operator.submit({ op: 'registerTenant', tenant }));
    return operator;
  }
  const refused = async (c: Cluster, p: Promise<unknown>) => c.drive(rejection(p));

  it('a bound client acts for its tenant; a raw request claiming another is refused Unauthorized and audited, an unbound one is not', async () => {
    const c = createTestCluster(3, { seed: 1503, network: fast });
    c.registerHandler('echo', async (p) => p);
    await c.waitForLeader();
    const operator = await tenantsOf(c);
    const b = c.tenant('b', { id: 'app-b' });
    const theirs = b.submitTask({ type: 'idle' });
    await c.drive(theirs.accepted);

    c.bindTenant('app-a', 'a');
    const a = c.client({ id: 'app-a' });
    expect(a.tenant).toBe('a');
    expect(() => c.bindTenant('app-a', 'b')).toThrow(/bound to tenant 'a' already/);
    const mine = a.submitTask({ type: 'echo', payload: 1 });
    await c.drive(mine.accepted);
    expect((await c.drive(a.task(mine.id)))?.spec.tenant).toBe('a');

    // Reaching into tenant b: a read and a cancel by id, then requests that claim b outright.
    expect((await refused(c, a.query('task', { taskId: theirs.id }))).code).toBe('Unauthorized');
    expect((await refused(c, a.cancelTask(theirs.id))).code).toBe('Unauthorized');
    const forged = await refused(c, a.submit(claim('b', 'forged-sim')));
    expect([forged.code, forged.message]).toEqual(['Unauthorized', "a client bound to tenant 'a' may not act for tenant 'b'"]);
    expect((await refused(c, a.query('tenantTasks', { tenant: 'b' }))).code).toBe('Unauthorized');
    expect((await refused(c, a.put('k', 1))).code).toBe('Unauthorized');
    // Naming the baseline tenant is naming a tenant: not taken as naming none (which would make it a's).
    expect((await refused(c, a.submitTask({ type: 'echo', tenant: 'default' }).accepted)).code).toBe('Unauthorized');
    expect(await c.drive(operator.query('task', { taskId: 'forged-sim' }))).toBeNull();
    expect((await c.drive(operator.query('task', { taskId: theirs.id })))?.status).not.toBe('cancelled');
    expect((await c.drive(a.query('tenantTasks', {} as { tenant: string }))).tasks.map((t) => t.id)).toEqual([mine.id]);
    const audited = c.upNodes().flatMap((n) => n.audit.records({ kind: 'crossTenant', subject: 'app-a' }));
    expect(audited.map((r) => r.reason)).toEqual(
      expect.arrayContaining(["Unauthorized: a client bound to tenant 'a' may not act for tenant 'b'", "Unauthorized: a client bound to tenant 'a' may not read 'tenantTasks' of tenant 'b'", expect.stringMatching(/may not use the key-value store/)]),
    );

    // The same raw request from a client bound to nothing is taken, as before: the binding is what refuses.
    const loose = c.client({ id: 'loose' });
    expect((await c.drive(loose.submit(claim('b', 'claimed-sim')))).value).toEqual(['claimed-sim']);
  });
});

/** One HTTPS exchange with a node's API as `identity`. */
function call(port: number, identity: TlsIdentity, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: `/v1${path}`, method, ca: identity.ca, cert: identity.cert, key: identity.key, checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The events of `GET /v1/events?from=1` as `identity` sees them, read until `enough` says so. */
function events(port: number, identity: TlsIdentity, enough: (seen: Array<Record<string, unknown>>) => boolean, within = 15_000): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const seen: Array<Record<string, unknown>> = [];
    let buf = '';
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/v1/events?from=1', ca: identity.ca, cert: identity.cert, key: identity.key, checkServerIdentity: () => undefined }, (res) => {
      res.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const data = buf
            .slice(0, end)
            .split('\n')
            .find((l) => l.startsWith('data:'));
          buf = buf.slice(end + 2);
          if (data !== undefined) seen.push(JSON.parse(data.slice(5)) as Record<string, unknown>);
        }
        if (enough(seen)) {
          clearTimeout(timer);
          req.destroy();
          resolve(seen);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`events: not enough within ${within} ms (${seen.length} seen)`));
    }, within);
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}

describe('real mode: nodes over mutual TLS scope a tenant-bound client to its tenant', () => {
  const ids = ['n1', 'n2', 'n3'];
  let nodes: GreyNode[] = [];
  let peers: Record<string, string> = {};
  const certs: Record<string, TlsIdentity> = {};
  let admin: RealClient;
  const clients: RealClient[] = [];
  /** A task of tenant b. */
  let theirs: string;

  beforeAll(async () => {
    const ca = await createClusterCa();
    for (const id of ids) certs[id] = await issueCertificate(ca, 'node', id);
    certs.appA = await issueCertificate(ca, 'client', 'app-a', { tenant: 'a' });
    certs.appB = await issueCertificate(ca, 'client', 'app-b', { tenant: 'b' });
    certs.plain = await issueCertificate(ca, 'client', 'plain');
    certs.admin = await issueCertificate(ca, 'operator', 'admin');
    const ports = await Promise.all(ids.map(() => freePort()));
    peers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    nodes = await Promise.all(
      ids.map((id) => startNode({ id, listen: peers[id], peers, tls: certs[id], dataDir: join(root, id), raft: FAST, api: { listen: '127.0.0.1:0' }, handlers: { echo: (p) => p } })),
    );
    await until(() => nodes.some((n) => n.status().role === 'leader'), 'a leader');
    admin = connect({ endpoints: peers, tls: certs.admin, timeoutMs: 10_000 });
    for (const tenant of ['a', 'b']) await admin.submit({ op: 'registerTenant', tenant });
    const b = connect({ endpoints: peers, tls: certs.appB, timeoutMs: 10_000 });
    clients.push(b);
    expect(b.tenant).toBe('b');
    const handle = b.submitTask({ type: 'idle' });
    await handle.accepted;
    theirs = handle.id;
  }, 30_000);
  afterAll(async () => {
    await Promise.all([admin, ...clients].map((c) => c?.close()));
    await Promise.all(nodes.map((n) => n.stop()));
  });

  /** A node that follows and knows its leader: a client that reaches only it has its requests relayed. */
  const follower = () => until(() => nodes.find((n) => n.status().role === 'follower' && n.status().leader !== null), 'a follower that knows its leader');
  const crossTenant = (subject: (s: string) => boolean) => nodes.flatMap((n) => n.audit.records({ kind: 'crossTenant' })).filter((r) => subject(r.subject));

  it('its tasks are its tenant\'s; tenant b\'s are out of reach, and a request claiming b, relayed by a follower, is refused and audited', async () => {
    const f = await follower();
    const a = connect({ endpoints: { [f.id]: peers[f.id] }, tls: certs.appA, timeoutMs: 10_000 });
    clients.push(a);
    expect(a.tenant).toBe('a');
    expect(() => connect({ endpoints: peers, tls: certs.appA, tenant: 'b' })).toThrow(/binds tenant 'a'; this client cannot act for tenant 'b'/);

    const mine = a.submitTask({ type: 'echo', payload: 'mine' });
    await mine.accepted;
    const done = await until(async () => {
      const t = await a.task(mine.id);
      return t?.status === 'completed' && t;
    }, 'the task completes');
    expect(done.spec.tenant).toBe('a');

    expect((await rejection(a.task(theirs))).code).toBe('Unauthorized');
    expect((await rejection(a.query('task', { taskId: theirs }))).code).toBe('Unauthorized');
    expect((await rejection(a.cancelTask(theirs))).code).toBe('Unauthorized');
    const forged = await rejection(a.submit(claim('b', 'forged-1')));
    expect([forged.code, forged.message]).toEqual(['Unauthorized', "a client bound to tenant 'a' may not act for tenant 'b'"]);
    expect((await rejection(a.submit({ ...claim('a', 'forged-2'), tasks: claim('b', 'forged-2').tasks }))).message).toMatch(/may not submit task forged-2 for tenant 'b'/);
    expect((await rejection(a.query('tenantTasks', { tenant: 'b' }))).code).toBe('Unauthorized');
    expect((await rejection(a.query('tenantStats', { tenant: 'b' }))).code).toBe('Unauthorized');
    expect((await rejection(a.get('secret'))).code).toBe('Unauthorized');
    expect((await a.query('tenantTasks', {} as { tenant: string })).tasks.map((t) => t.id)).toEqual([mine.id]);
    expect((await a.query('tenants', {})).map((t) => t.tenant)).toEqual(['a']);

    // Nothing of it took effect, and the refusals are in the audit log of the node that served them.
    expect(await admin.task('forged-1')).toBeUndefined();
    expect(await admin.task('forged-2')).toBeUndefined();
    expect((await admin.task(theirs))?.status).not.toBe('cancelled');
    // (A refused read is recorded under the tenant it acted for: a read knows no session.)
    const audited = crossTenant((s) => s === a.id || s === 'a').map((r) => r.reason);
    expect(audited).toEqual(
      expect.arrayContaining([
        "Unauthorized: a client bound to tenant 'a' may not act for tenant 'b'",
        "Unauthorized: a client bound to tenant 'a' may not read 'tenantTasks' of tenant 'b'",
        expect.stringMatching(/a read acting for tenant 'a' asks for task .* of another tenant/),
        expect.stringMatching(/a request acting for tenant 'a' asks to cancel task .* of another tenant/),
      ]),
    );

    // A client certificate that binds no tenant behaves as before: it may claim one.
    const plain = connect({ endpoints: peers, tls: certs.plain, timeoutMs: 10_000 });
    clients.push(plain);
    expect(plain.tenant).toBeUndefined();
    expect((await plain.submit(claim('b', 'claimed-1'))).value).toEqual(['claimed-1']);

    // An operator is never scoped: it reads every tenant's tasks.
    expect((await admin.query('tenantTasks', { tenant: 'a' })).tasks.map((t) => t.id)).toEqual([mine.id]);
    expect((await admin.query('tenantTasks', { tenant: 'b' })).tasks.map((t) => t.id).sort()).toEqual(['claimed-1', theirs].sort());
  }, 30_000);

  it('over the HTTP API: a tenant-bound caller submits and reads as its tenant, is refused the rest, and its event stream carries its tasks only', async () => {
    const f = await follower();
    const port = f.api!.port;
    const submitted = await call(port, certs.appA, 'POST', '/tasks', { type: 'echo', payload: 'over http' });
    expect(submitted).toMatchObject({ status: 201, body: { taskId: expect.any(String) } });
    const taskId = submitted.body.taskId as string;
    const done = await until(async () => {
      const r = await call(port, certs.appA, 'GET', `/tasks/${taskId}`);
      return r.body.status === 'completed' && r;
    }, 'the task completes');
    expect((done.body as unknown as TaskRecord).spec.tenant).toBe('a');

    expect(await call(port, certs.appA, 'GET', `/tasks/${theirs}`)).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    expect(await call(port, certs.appA, 'POST', `/tasks/${theirs}/cancel`, {})).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    expect(await call(port, certs.appA, 'POST', '/tasks', { type: 'echo', tenant: 'b' })).toMatchObject({ status: 403, body: { error: 'Unauthorized', message: expect.stringMatching(/bound to tenant 'a' may not submit task .* for tenant 'b'/) } });
    expect(await call(port, certs.appA, 'GET', `/query/tenantTasks?args=${encodeURIComponent(JSON.stringify({ tenant: 'b' }))}`)).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    expect(await call(port, certs.appA, 'GET', '/kv/secret')).toMatchObject({ status: 403, body: { error: 'Unauthorized' } });
    const own = await call(port, certs.appA, 'GET', '/query/tenantTasks');
    expect(own.status).toBe(200);
    const mine = ((own.body.value as { tasks: TaskRecord[] }).tasks).map((t) => t.id);
    expect(mine).toContain(taskId);
    expect(crossTenant((s) => s === 'app-a').map((r) => r.reason)).toEqual(expect.arrayContaining([expect.stringMatching(/bound to tenant 'a' may not submit task .* for tenant 'b'/)]));

    // The operator sees tenant b's task; tenant a's stream never shows it, though it is older than a's.
    expect(await call(port, certs.admin, 'GET', `/tasks/${theirs}`)).toMatchObject({ status: 200, body: { id: theirs, spec: { tenant: 'b' } } });
    const finished = (seen: Array<Record<string, unknown>>) => seen.some((e) => e.type === 'task.completed' && e.taskId === taskId);
    const asA = await events(port, certs.appA, finished);
    const asAdmin = await events(port, certs.admin, finished);
    const taskIds = (seen: Array<Record<string, unknown>>) => new Set(seen.flatMap((e) => (typeof e.taskId === 'string' ? [e.taskId] : [])));
    expect([...taskIds(asAdmin)]).toEqual(expect.arrayContaining([theirs, 'claimed-1', taskId, ...mine]));
    expect([...taskIds(asA)].sort()).toEqual([...mine].sort());
    expect(asA.filter((e) => e.type === 'task.submitted').every((e) => e.tenant === 'a')).toBe(true);
  }, 30_000);
});
