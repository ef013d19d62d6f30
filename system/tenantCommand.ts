/**
 * `grey tenant`: an operator registers tenants and sets their quotas
 * through the log (`registerTenant`), and anyone may list them. Fields
 * left out keep their value (a new tenant's are effectively unlimited,
 * weight 1). The cluster checks the certificate: setting a quota needs an
 * operator's, else `Unauthorized`.
 */
import type { TenantRecord } from '../actors/clusterState.js';
import { DEFAULT_TENANT_QUOTA, quotaProblem, type TenantQuota } from '../actors/tenantQuota.js';
import type { CliIO } from './cli.js';
import { UsageError } from './cliArgs.js';
import { clientFor, jsonLine, parseCommandLine, reportFailure } from './clientCommands.js';
import { ENDPOINT_FLAGS } from './nodeCommand.js';

/** Each quota flag and the field it sets. */
const QUOTA_FLAGS = {
  weight: 'priorityWeight',
  'max-cpu': 'maxCpuUnits',
  'max-memory': 'maxMemoryBytes',
  'max-storage': 'maxStorageBytes',
  rate: 'maxTasksPerSecond',
  'max-concurrent': 'maxConcurrentTasks',
} as const satisfies Record<string, keyof TenantQuota>;

const TENANT_FLAGS = {
  ...ENDPOINT_FLAGS,
  json: 'bool',
  ...(Object.fromEntries(Object.keys(QUOTA_FLAGS).map((k) => [k, 'value'])) as Record<keyof typeof QUOTA_FLAGS, 'value'>),
} as const;

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** `4GiB`, `512MB`, `1048576` → bytes; a UsageError naming the flag otherwise. */
export function parseBytes(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? BYTE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--${flag} must be a size such as 4GiB, 512MB or 1048576, got '${text}'`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--${flag}: ${text} is too large`);
  return bytes;
}

/** The quota fields the flags set (the others keep their value). */
function quotaOf(flags: Record<string, string | boolean>): Partial<TenantQuota> {
  const quota: Partial<TenantQuota> = {};
  for (const [flag, field] of Object.entries(QUOTA_FLAGS)) {
    const v = flags[flag];
    if (typeof v !== 'string') continue;
    if (field === 'maxMemoryBytes' || field === 'maxStorageBytes') quota[field] = parseBytes(v, flag);
    else {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got '${v}'`);
      quota[field] = n;
    }
  }
  const problem = quotaProblem(quota);
  if (problem !== null) {
    const flag = Object.entries(QUOTA_FLAGS).find(([, f]) => problem.startsWith(`quota.${f} `))?.[0];
    throw new UsageError(flag ? `--${flag}: ${problem.slice(problem.indexOf(' ') + 1)}` : problem);
  }
  if (quota.maxConcurrentTasks === 0) throw new UsageError('--max-concurrent must be ≥ 1: a tenant that may run no task at once would keep every task it submits waiting for good');
  return quota;
}

/** `grey tenant list|set …`. */
export async function tenantCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'list' && sub !== 'set') throw new UsageError(`grey tenant needs list or set, got '${sub ?? ''}'`);
  const { positional, flags } = parseCommandLine(rest, TENANT_FLAGS);
  for (const k of Object.keys(flags)) {
    if (k in ENDPOINT_FLAGS) continue;
    if (sub === 'list' ? k !== 'json' : !(k in QUOTA_FLAGS)) throw new UsageError(`grey tenant ${sub} takes no --${k}`);
  }
  let quota: Partial<TenantQuota> = {};
  if (sub === 'list') {
    if (positional.length > 0) throw new UsageError(`grey tenant list takes no arguments, got '${positional[0]}'`);
  } else {
    if (positional.length !== 1) throw new UsageError(`grey tenant set needs one tenant name${positional.length > 1 ? `, got ${positional.join(' ')}` : ''}`);
    if (positional[0].length === 0) throw new UsageError('grey tenant set needs a tenant name, got an empty one');
    quota = quotaOf(flags);
  }
  const { client, nodes } = clientFor(flags, 'tenant');
  try {
    if (sub === 'set') {
      const tenant = positional[0];
      const { index } = await client.submit({ op: 'registerTenant', tenant, quota });
      const record = (await client.query('tenants', { tenant }))[0];
      io.out(jsonLine({ tenant, index, quota: record?.quota ?? quota }));
      return 0;
    }
    const tenants = await client.query('tenants', {});
    if (flags.json) {
      io.out(jsonLine(tenants));
      return 0;
    }
    printTable(tenants, io);
    return 0;
  } catch (err) {
    return reportFailure(err, io, nodes);
  } finally {
    await client.close();
  }
}

/** One line per tenant; a limit left at its default shows as `-`. */
function printTable(tenants: readonly TenantRecord[], io: CliIO): void {
  const cell = (q: TenantQuota, f: keyof TenantQuota) => (q[f] === DEFAULT_TENANT_QUOTA[f] && f !== 'priorityWeight' ? '-' : String(q[f]));
  const columns: Array<[string, keyof TenantQuota]> = [
    ['weight', 'priorityWeight'],
    ['cpu', 'maxCpuUnits'],
    ['memory', 'maxMemoryBytes'],
    ['storage', 'maxStorageBytes'],
    ['rate', 'maxTasksPerSecond'],
    ['concurrent', 'maxConcurrentTasks'],
  ];
  const rows = [['tenant', ...columns.map(([h]) => h), 'since'], ...tenants.map((t) => [t.tenant, ...columns.map(([, f]) => cell(t.quota, f)), String(t.since)])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) io.out(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
