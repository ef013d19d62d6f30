import type { ClusterCommand } from '../actors/clusterState.js';
import { canonicalJson } from './canonical.js';
import { ClientError } from './clientError.js';

/** Limits on what one client command may carry (explicit, as TigerBeetle keeps them). */
export const COMMAND_LIMITS = Object.freeze({
  /** Bytes of the command's canonical encoding. */
  maxCommandBytes: 1024 * 1024,
  /** Characters of a key, node, tenant or worker name. */
  maxNameLength: 256,
});

/**
 * A command refused at the client edge, before anything was sent: `path`
 * names the part of it that is wrong (`$.key`, `$.value.items[3]`).
 * Nothing was proposed, so nothing is left behind.
 */
export class InvalidCommandError extends ClientError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super('InvalidCommand', `invalid command: ${path} ${detail}`, 'failed');
    this.name = 'InvalidCommandError';
  }
}

type Check = (cmd: Record<string, unknown>) => void;

const name = (field: string): Check => (cmd) => {
  const v = cmd[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > COMMAND_LIMITS.maxNameLength) {
    throw new InvalidCommandError(`$.${field}`, `must be a string of 1–${COMMAND_LIMITS.maxNameLength} characters`);
  }
};
const optionalString = (field: string): Check => (cmd) => {
  if (cmd[field] !== undefined && typeof cmd[field] !== 'string') throw new InvalidCommandError(`$.${field}`, 'must be a string when given');
};
const array = (field: string): Check => (cmd) => {
  if (!Array.isArray(cmd[field])) throw new InvalidCommandError(`$.${field}`, 'must be an array');
};
const finite = (field: string): Check => (cmd) => {
  if (typeof cmd[field] !== 'number' || !Number.isFinite(cmd[field])) throw new InvalidCommandError(`$.${field}`, 'must be a finite number');
};
const object = (field: string, optional = false): Check => (cmd) => {
  const v = cmd[field];
  if (optional && v === undefined) return;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidCommandError(`$.${field}`, 'must be an object');
};
const present = (field: string): Check => (cmd) => {
  if (cmd[field] === undefined) throw new InvalidCommandError(`$.${field}`, 'is required');
};

/** Each op a client may send, and the fields it needs (beyond the value domain every field is checked against). */
const OPS: Record<ClusterCommand['op'], Check[]> = {
  put: [name('key'), present('value')],
  noop: [],
  join: [name('node')],
  approve: [name('node')],
  reject: [name('node'), optionalString('reason')],
  promote: [name('node')],
  demote: [name('node')],
  remove: [name('node'), optionalString('reason')],
  block: [name('node'), optionalString('reason')],
  unblock: [name('node')],
  registerTenant: [name('tenant'), object('quota', true)],
  registerWorker: [name('worker'), object('capacity')],
  submitTasks: [array('tasks')],
  taskChanges: [array('changes')],
  pruneTasks: [finite('before')],
  bootstrap: [array('voters')],
};

/**
 * Checks a command at the client edge and returns a copy of it that shares
 * nothing with the caller's objects (so changing them later cannot reach any
 * replica). Throws {@link InvalidCommandError} naming the first part at
 * fault: not an object, an unknown op, a missing or malformed field, a value
 * outside Grey's value domain (JSON data: no functions, cycles, `Map`s,
 * class instances, `undefined` in arrays or non-finite numbers), or a
 * command past {@link COMMAND_LIMITS}.
 */
export function checkCommand(cmd: unknown): ClusterCommand {
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) throw new InvalidCommandError('$', 'must be an object with an op');
  const record = cmd as Record<string, unknown>;
  const op = record.op;
  if (typeof op !== 'string' || !Object.hasOwn(OPS, op)) {
    throw new InvalidCommandError('$.op', `must be one of ${Object.keys(OPS).join(', ')}; got ${typeof op === 'string' ? `'${op}'` : String(op)}`);
  }
  for (const check of OPS[op as ClusterCommand['op']]) check(record);
  let encoded: string;
  try {
    encoded = canonicalJson(cmd);
  } catch (err) {
    // canonicalJson names the place as `$…`: keep it as the path.
    const message = (err as Error).message.replace(/^canonicalJson: /, '');
    const at = /at (\$[^\s;]*)/.exec(message)?.[1] ?? '$';
    throw new InvalidCommandError(at, `is outside Grey's value domain (JSON data): ${message}`);
  }
  const bytes = Buffer.byteLength(encoded);
  if (bytes > COMMAND_LIMITS.maxCommandBytes) throw new InvalidCommandError('$', `is ${bytes} bytes, the limit is ${COMMAND_LIMITS.maxCommandBytes}`);
  return JSON.parse(encoded) as ClusterCommand;
}
