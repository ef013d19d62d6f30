import { createServer, type Server } from 'node:http';
import type { GreyNode } from './embeddedNode.js';
import { parseAddress } from './tlsNetwork.js';
import { listenOn } from './listen.js';

/** How far behind its commit index a node may apply and still say it is ready. */
const READY_APPLY_LAG = 1_000;

/** A running operations endpoint. */
export interface OpsServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * The operations endpoint of a node, plain HTTP for probes and scrapers
 * (bind it to a private address, as etcd's `--listen-metrics-urls`):
 *
 * - `GET /healthz`: 200 while the process serves (liveness);
 * - `GET /readyz`: 200 once the node knows a leader (or leads) and has
 *   applied what it knows committed, within a small lag; 503 with the
 *   reason otherwise (readiness: take it out of a load balancer);
 * - `GET /metrics`: Prometheus exposition (`grey_` names);
 * - `GET /status`: the node's Raft view as JSON.
 */
export async function startOpsServer(node: GreyNode, listen: string): Promise<OpsServer> {
  const { host, port } = parseAddress(listen, 'ops listen');
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: 'MethodNotAllowed', message: `${req.method} ${path}: only GET` });
    switch (path) {
      case '/healthz':
        return json(200, { ok: true, node: node.id });
      case '/readyz': {
        const s = node.status();
        const why = s.leader === null ? 'no known leader' : s.commitIndex - s.lastApplied > READY_APPLY_LAG ? `applying: ${s.commitIndex - s.lastApplied} entries behind its commit index` : null;
        return json(why === null ? 200 : 503, why === null ? { ready: true, node: node.id, leader: s.leader, term: s.term } : { ready: false, node: node.id, reason: why });
      }
      case '/status':
        return json(200, node.status());
      case '/metrics':
        node.metrics.text().then(
          (text) => {
            res.writeHead(200, { 'content-type': node.metrics.contentType });
            res.end(text);
          },
          (err: unknown) => json(500, { error: 'MetricsFailed', message: (err as Error).message }),
        );
        return;
      default:
        return json(404, { error: 'NotFound', message: `no ${path}; try /healthz, /readyz, /metrics, /status` });
    }
  });
  const address = await listenOn(server, host, port);
  return {
    address,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
