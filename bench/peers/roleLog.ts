/**
 * Role changes as members log them, read from their log files: Grey's
 * `grey node` logs `{"time":…,"msg":"role","role":"leader",…}` (level
 * info), etcd logs `… became leader at term 7` with a `ts` (zap, level
 * info). Both stamp the wall clock to the millisecond, which splits a
 * failover into phases: the kill → a survivor's election timeout (it
 * becomes a pre-candidate) → a new leader → the first acknowledged write.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export interface RoleEvent {
  /** Wall-clock ms (Date.now() scale). */
  at: number;
  role: Role;
}

/** Reads the lines appended to a log file since the last read. */
export class LogTail {
  private offset = 0;
  private rest = '';

  constructor(private readonly path: string) {}

  lines(): string[] {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return [];
    }
    if (size < this.offset) this.offset = 0; // a new file
    if (size === this.offset) return [];
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const text = this.rest + buf.toString('utf8');
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    return parts;
  }
}

/** A Grey node's role events in its log lines. */
export function greyRoleEvents(lines: readonly string[]): RoleEvent[] {
  const out: RoleEvent[] = [];
  for (const line of lines) {
    if (!line.includes('"msg":"role"')) continue;
    try {
      const o = JSON.parse(line) as { time: string; role: Role };
      out.push({ at: Date.parse(o.time), role: o.role });
    } catch {
      // not one of ours
    }
  }
  return out;
}

const ETCD_ROLE = /became (pre-candidate|candidate|leader|follower) at term/;

/** An etcd member's role events in its log lines. */
export function etcdRoleEvents(lines: readonly string[]): RoleEvent[] {
  const out: RoleEvent[] = [];
  for (const line of lines) {
    const m = ETCD_ROLE.exec(line);
    if (!m) continue;
    try {
      const o = JSON.parse(line) as { ts: string };
      out.push({ at: Date.parse(o.ts), role: m[1] === 'pre-candidate' ? 'precandidate' : (m[1] as Role) });
    } catch {
      // not JSON
    }
  }
  return out;
}
