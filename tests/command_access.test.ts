/** Who may propose what, by the role of the certificate a request came in with. */
import { describe, expect, it } from 'vitest';
import { refusalOf } from '../actors/commandAccess.js';
import type { ClusterCommand } from '../actors/clusterState.js';

const req = (cmd: ClusterCommand, client = 'app') => ({ client, seq: 1, cmd });

describe('command access', () => {
  it('a client submits, cancels, uses the store and settles its own requests, in its own sessions only', () => {
    const ok: ClusterCommand[] = [
      { op: 'submitTasks', tasks: [] },
      { op: 'taskChanges', changes: [{ kind: 'cancel', taskId: 't', reason: 'r', at: 0 }] },
      { op: 'put', key: 'k', value: 1 },
      { op: 'delete', key: 'k' },
      { op: 'cas', key: 'k', expect: { revision: 0 }, value: 1 },
      { op: 'fence', client: 'app~2', seq: 3 },
      { op: 'noop' },
    ];
    for (const cmd of ok) expect(refusalOf('client', 'app', req(cmd)), cmd.op).toBeNull();
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'app~1'))).toBeNull();
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'bob'))).toMatch(/may not send in session 'bob'/);
    expect(refusalOf('client', 'app', req({ op: 'noop' }, 'apple'))).toMatch(/session 'apple'/);
    expect(refusalOf('client', 'app', req({ op: 'fence', client: 'bob', seq: 1 }))).toMatch(/own sessions/);
  });

  it('membership and tenants need an operator; bookkeeping and task reports need a node', () => {
    for (const cmd of [{ op: 'remove', node: 'n1' }, { op: 'approve', node: 'n4' }, { op: 'block', node: 'n2' }, { op: 'registerTenant', tenant: 't' }] as ClusterCommand[]) {
      expect(refusalOf('client', 'app', req(cmd))).toMatch(/needs an operator certificate/);
      expect(refusalOf('operator', 'app', req(cmd))).toBeNull();
      expect(refusalOf('node', 'n1', req(cmd, 'n1/x'))).toBeNull();
    }
    for (const cmd of [{ op: 'registerWorker', worker: 'w', capacity: { cpu: 1, memoryBytes: 1 } }, { op: 'pruneTasks', before: 0 }, { op: 'bootstrap', voters: [] }] as ClusterCommand[]) {
      expect(refusalOf('operator', 'app', req(cmd))).toMatch(/cluster nodes only/);
    }
    const report: ClusterCommand = { op: 'taskChanges', changes: [{ kind: 'cancel', taskId: 't', reason: 'r', at: 0 }, { kind: 'start', taskId: 't', worker: 'n1', attempt: 1, at: 0 }] };
    expect(refusalOf('operator', 'app', req(report))).toMatch(/'start' task change comes from the node/);
    expect(refusalOf('node', 'n1', req(report, 'n1/abc'))).toBeNull();
  });
});
