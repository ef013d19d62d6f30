/**
 * A node's data directory survives SIGKILL: a child process writes a log
 * through LmdbStorage with syncs in flight and is killed mid-write; the
 * directory then opens, holds every entry whose sync was acknowledged,
 * intact and contiguous, and writing resumes from it. Three kills in a row
 * on the same directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LmdbStorage } from '../system/lmdbStorage.js';
import { commandOf } from './helpers/crashWriter.js';

const WRITER = fileURLToPath(new URL('./helpers/crashWriter.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'grey-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has acknowledged `acks` syncs, kills it with SIGKILL, and returns the last acknowledgement. */
function writeThenKill(acks: number): Promise<{ index: number; term: number; seen: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let last = { index: 0, term: 0 };
    let buffer = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [, index, term] = line.split(' ');
        last = { index: Number(index), term: Number(term) };
        seen++;
      }
      if (seen >= acks && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve({ ...last, seen });
      else reject(new Error(`writer exited on its own (${_code}): ${stderr}`));
    });
  });
}

describe('crash recovery of the durable log', () => {
  it('SIGKILL during heavy writes loses no acknowledged entry, three times over, and the log stays consistent', async () => {
    let previousLast = 0;
    for (let round = 0; round < 3; round++) {
      const acked = await writeThenKill(400);
      expect(acked.seen).toBeGreaterThanOrEqual(400);
      const storage = LmdbStorage.open(dir);
      const { hardState, snapshot, entries } = storage.load();
      const first = (snapshot?.index ?? 0) + 1;
      const last = entries.length > 0 ? entries[entries.length - 1].index : first - 1;
      expect(last, `round ${round}: acknowledged up to ${acked.index}`).toBeGreaterThanOrEqual(acked.index);
      expect(last).toBeGreaterThan(previousLast);
      expect(hardState.term).toBeGreaterThanOrEqual(acked.term);
      entries.forEach((e, i) => {
        expect(e.index).toBe(first + i); // contiguous after the snapshot
        expect(e.payload).toEqual({ kind: 'command', command: commandOf(e.index) });
        if (i > 0) expect(e.term).toBeGreaterThanOrEqual(entries[i - 1].term);
      });
      expect(entries.length).toBeGreaterThan(0);
      // Every round writes past the writer's compaction point (3 000 entries) before its 400th acknowledgement.
      expect(snapshot, `round ${round}: a snapshot was taken and kept`).not.toBeNull();
      previousLast = last;
      await storage.close();
    }
  }, 60_000);
});
