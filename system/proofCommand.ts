import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resultHash } from '../actors/resultHash.js';
import { pemCertificates } from './certificates.js';
import { verifyProof, type ProofVerification } from '../actors/proofVerification.js';
import type { CliIO } from './cli.js';
import { UsageError } from './cliArgs.js';
import { clientFor, parseCommandLine, reportFailure } from './clientCommands.js';
import { clusterTarget, ENDPOINT_FLAGS } from './nodeCommand.js';

const VERIFY_FLAGS = { cert: 'value', ca: 'value', at: 'value', task: 'value', ...ENDPOINT_FLAGS } as const;

/**
 * `grey proof verify <proof.json> --cert <worker cert.pem> --ca <ca.pem> [--at TIME]`
 * and `grey proof verify --task <id> [--cert …] [--ca …]` (the proof read
 * from a running cluster): checks that a task's proof artifact is signed by
 * the worker it names, whose certificate the CA issued.
 *
 * The file holds a proof, or anything with a `proof` field (the line
 * `grey submit --wait` prints, a task record); when it also holds the
 * `result`, the result is checked against the proof's `resultHash`.
 *
 * Exit codes: 0 the proof verifies; 1 it does not (the code and reason on
 * one line), or the task has no proof; 2 a usage mistake or a file that
 * cannot be read.
 */
export async function proofCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'verify') throw new UsageError(sub === undefined ? 'proof needs a subcommand: verify' : `unknown proof subcommand '${sub}'; known: verify`);
  const { positional, flags } = parseCommandLine(rest, VERIFY_FLAGS);
  const task = typeof flags.task === 'string' ? flags.task : undefined;
  if (task === undefined && positional.length !== 1) {
    throw new UsageError(positional.length === 0 ? 'proof verify needs a proof file (or --task ID)' : `proof verify takes one proof file, got ${positional.length}`);
  }
  if (task !== undefined && positional.length > 0) throw new UsageError('proof verify takes a proof file or --task, not both');
  const now = typeof flags.at === 'string' ? parseTime(flags.at) : Date.now();

  let holder: unknown;
  let caPem: string | undefined;
  let certPath = typeof flags.cert === 'string' ? flags.cert : undefined;
  if (task !== undefined) {
    const read = await readTask(task, flags, io);
    if (typeof read === 'number') return read;
    holder = read.record;
    caPem = read.ca;
    certPath ??= read.certPath(workerOf(holder));
  } else {
    if (typeof flags.cert !== 'string') throw new UsageError("proof verify needs --cert: the worker's certificate (PEM), e.g. .grey/tls/n1/cert.pem");
    if (typeof flags.ca !== 'string') throw new UsageError('proof verify needs --ca: the cluster CA certificate (PEM), e.g. .grey/tls/n1/ca.pem');
    const text = readText(positional[0]);
    if (text === null) return fail(io, `cannot read proof file ${positional[0]}`);
    try {
      holder = JSON.parse(text);
    } catch (err) {
      io.err(`grey: ${positional[0]} is not JSON: ${(err as Error).message}`);
      return 2;
    }
  }
  if (typeof flags.ca === 'string') caPem = readText(flags.ca) ?? undefined;
  if (typeof flags.ca === 'string' && caPem === undefined) return fail(io, `cannot read CA certificate ${flags.ca}`);
  if (caPem === undefined) throw new UsageError('proof verify needs --ca: the cluster CA certificate (PEM), e.g. .grey/tls/n1/ca.pem');
  if (certPath === undefined) throw new UsageError("proof verify needs --cert: the worker's certificate (PEM)");
  const certPem = readText(certPath);
  if (certPem === null) return fail(io, `cannot read worker certificate ${certPath}`);

  const proof = holder !== null && typeof holder === 'object' && 'proof' in holder ? (holder as { proof: unknown }).proof : holder;
  if (proof === undefined) {
    io.err(`grey: ${task !== undefined ? `task ${task}` : positional[0]} has no proof (not completed?)`);
    return 1;
  }
  let trusted: string[];
  try {
    trusted = pemCertificates(caPem); // each CA of a bundle (a rotation holds the old and the new)
  } catch (err) {
    return fail(io, `CA certificate: ${(err as Error).message}`);
  }
  const verdict = verifyProof(proof, { certificate: certPem, trusted, now });
  if (!verdict.ok) {
    io.err(`grey: proof not verified: ${verdict.code}: ${verdict.reason}`);
    return 1;
  }
  const mismatch = resultMismatch(holder, proof as { resultHash: string });
  if (mismatch !== null) {
    io.err(`grey: proof not verified: ResultMismatch: ${mismatch}`);
    return 1;
  }
  io.out(describe(proof as { taskId: string; attempt: number }, verdict, holder !== proof && 'result' in (holder as object)));
  return 0;
}

function describe(p: { taskId: string; attempt: number }, v: Extract<ProofVerification, { ok: true }>, resultChecked: boolean): string {
  const how = v.signed.mode === 'each' ? 'signed alone' : `signed in a batch (leaf ${v.signed.index + 1} of ${v.signed.size})`;
  return `proof ok: task ${p.taskId} attempt ${p.attempt}, ${how} by node ${v.signer.name} (key ${v.signer.keyFingerprint.slice(0, 16)}…, CA ${v.signer.caFingerprint.slice(0, 16)}…)${resultChecked ? '; the result matches its resultHash' : ''}`;
}

/** Why the file's `result` does not match the proof's hash, or null (also when the file has no result). */
function resultMismatch(holder: unknown, proof: { resultHash: string }): string | null {
  if (holder === proof || holder === null || typeof holder !== 'object' || !('result' in holder)) return null;
  let actual: string;
  try {
    actual = resultHash((holder as { result: unknown }).result);
  } catch (err) {
    return `the result is not JSON data (${(err as Error).message})`;
  }
  return actual === proof.resultHash ? null : `the result hashes to ${actual.slice(0, 12)}…, but the signed proof says ${proof.resultHash.slice(0, 12)}…`;
}

/** A task record read through the cluster, the CA the client trusts, and where a local cluster keeps a node's certificate. */
async function readTask(taskId: string, flags: Record<string, string | boolean>, io: CliIO): Promise<{ record: unknown; ca: string; certPath: (worker: string | undefined) => string | undefined } | number> {
  const { client, nodes } = clientFor(flags, 'proof verify');
  try {
    const record = await client.task(taskId);
    if (record === undefined) {
      io.err(`grey: no task ${taskId} (never submitted, or pruned: finished tasks are kept for 60 s by default, 'grey node --retention')`);
      return 1;
    }
    const tlsDir = localTlsDir(flags);
    return {
      record,
      ca: clusterTarget(flags, 'proof verify').tls.ca,
      certPath: (worker) => (tlsDir !== null && worker !== undefined && existsSync(join(tlsDir, worker, 'cert.pem')) ? join(tlsDir, worker, 'cert.pem') : undefined),
    };
  } catch (err) {
    return reportFailure(err, io, nodes);
  } finally {
    await client.close();
  }
}

/** The certificate folder of a cluster from `grey cluster up` (`--dir`, default `.grey`), when there is one. */
function localTlsDir(flags: Record<string, string | boolean>): string | null {
  if (typeof flags.endpoints === 'string') return null;
  const file = join(resolve(typeof flags.dir === 'string' ? flags.dir : '.grey'), 'cluster.json');
  if (!existsSync(file)) return null;
  const tls = (JSON.parse(readFileSync(file, 'utf8')) as { tls?: unknown }).tls;
  return typeof tls === 'string' ? tls : null;
}

function workerOf(record: unknown): string | undefined {
  const p = (record as { proof?: { workerId?: unknown } } | null)?.proof;
  return typeof p?.workerId === 'string' ? p.workerId : undefined;
}

/** `--at`: ms since the epoch, or an ISO date. */
function parseTime(text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--at: '${text}' is neither ms since the epoch nor an ISO date (like 2025-01-31T12:00:00Z)`);
  return ms;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A file that cannot be read: one line, exit 2. */
function fail(io: CliIO, message: string): number {
  io.err(`grey: ${message}`);
  return 2;
}
