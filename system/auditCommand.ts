import { AUDIT_KINDS, verifyAuditChain, type AuditHead, type AuditKind } from '../actors/auditLog.js';
import type { CliIO } from './cli.js';
import { parseFlags, parsePositiveInt, UsageError } from './cliArgs.js';
import { AuditReadError, readAuditRecords, type StoredAuditLog } from './lmdbAuditStore.js';

/**
 * `grey audit verify <data dir> [--expect-head SEQ:HASH]` and
 * `grey audit list <data dir> [--kind K] [--from SEQ] [--limit N]`: a
 * stopped node's audit log, from its data directory.
 *
 * Exit codes: 0 ok; 1 the chain is broken (verify); 2 a usage mistake, or
 * a directory that cannot be read (missing, not Grey's, owned by a running
 * node), as one line.
 */
export async function auditCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, dir, ...rest] = args;
  if (sub !== 'verify' && sub !== 'list') {
    throw new UsageError(sub === undefined ? 'audit needs a subcommand: verify or list' : `unknown audit subcommand '${sub}'; known: verify, list`);
  }
  if (dir === undefined || dir.startsWith('--')) throw new UsageError(`audit ${sub} needs a data directory (the --data of 'grey node')`);
  if (sub === 'verify') {
    const flags = parseFlags(rest, { 'expect-head': 'value' });
    const expectedHead = flags['expect-head'] === undefined ? undefined : parseHead(flags['expect-head'] as string);
    const log = await read(dir, io);
    if (log === null) return 2;
    const who = `audit log of ${log.node ?? log.path}`;
    const v = verifyAuditChain(log.records, expectedHead ? { expectedHead } : {});
    if (!v.ok) {
      io.out(`${who}: ${v.message}`);
      return 1;
    }
    io.out(`${who}: ${v.count} record${v.count === 1 ? '' : 's'}, chain intact, head #${v.head.seq} ${v.head.hash.slice(0, 12)}`);
    return 0;
  }
  const flags = parseFlags(rest, { kind: 'value', from: 'value', limit: 'value' });
  const kind = flags.kind as string | undefined;
  if (kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind: unknown kind '${kind}'; known: ${AUDIT_KINDS.join(', ')}`);
  const from = flags.from === undefined ? 1 : parsePositiveInt(flags.from as string, 'from');
  const limit = flags.limit === undefined ? Infinity : parsePositiveInt(flags.limit as string, 'limit');
  const log = await read(dir, io);
  if (log === null) return 2;
  let printed = 0;
  for (const r of log.records) {
    if (printed >= limit) break;
    if (r.seq < from || (kind !== undefined && r.kind !== (kind as AuditKind))) continue;
    io.out(JSON.stringify(r, bytesAsBase64));
    printed++;
  }
  return 0;
}

/** `SEQ:HASH` (the head an earlier run or another system recorded) → an expected head. */
function parseHead(text: string): AuditHead {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new UsageError(`--expect-head: '${text}' is not SEQ:HASH (a seq, a colon and the 64 hex digits of that record's hash, as 'grey audit list' prints)`);
  return { seq: Number(m[1]), hash: m[2] };
}

/** The directory's records, or null once the reason it cannot be read is printed (one line). */
async function read(dir: string, io: CliIO): Promise<StoredAuditLog | null> {
  try {
    return await readAuditRecords(dir);
  } catch (err) {
    if (!(err instanceof AuditReadError)) throw err;
    io.err(`grey: ${err.message}`);
    return null;
  }
}

/** JSON has no bytes: a byte array in a detail is printed as `{ "base64": "…" }`. */
function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // The holder's own value: a Buffer's toJSON has already run on `value`.
  const raw = this[key];
  return raw instanceof Uint8Array ? { base64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') } : value;
}
