import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../system/canonical.js';
import { DigestChain, GENESIS_DIGEST, nextDigest } from '../system/digest.js';
import type { AnyTraceEvent } from '../system/trace.js';
import { readTrace, Trace, TraceFormatError, writeTraceFile } from '../system/trace.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('canonicalJson', () => {
  it('sorts keys recursively and writes no whitespace', () => {
    const a = canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } });
    expect(a).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    // Insertion order does not matter.
    expect(canonicalJson({ a: { c: 'x', d: [3, { y: null, z: true }] }, b: 1 })).toBe(a);
  });

  it('orders keys by code unit, integer-like keys included', () => {
    expect(canonicalJson({ 10: 'a', 2: 'b', B: 1, a: 2 })).toBe('{"10":"a","2":"b","B":1,"a":2}');
  });

  it('leaves out undefined properties and encodes toJSON values', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson('é"\n')).toBe(JSON.stringify('é"\n'));
    expect(canonicalJson(Object.assign(Object.create(null), { b: 1, a: 0 }))).toBe('{"a":0,"b":1}');
  });

  it('rejects what has no faithful encoding, naming where it is', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[unknown, RegExp]> = [
      [{ a: NaN }, /non-finite number NaN at \$\.a/],
      [[Infinity], /non-finite number Infinity at \$\[0\]/],
      [{ f: () => 1 }, /function at \$\.f/],
      [[1, undefined], /undefined at \$\[1\]/],
      [undefined, /undefined at \$/],
      [{ n: 1n }, /bigint at \$\.n/],
      [{ s: Symbol('x') }, /symbol/],
      [{ m: new Map() }, /a Map at \$\.m is not plain data/],
      [new Set([1]), /a Set at \$ is not plain data/],
      [cyclic, /cycle at \$\.self/],
    ];
    for (const [value, message] of cases) expect(() => canonicalJson(value)).toThrow(message);
    for (const [value] of cases) expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('encodes a repeated (non-cyclic) reference twice', () => {
    const shared = { x: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });
});

describe('digest chain', () => {
  const cmd = { op: 'submit', task: { id: 't1', input: [1, 2] } };

  it('d1 is SHA-256 of d0 followed by the canonical entry (known answer)', () => {
    const expected = sha256(`${'0'.repeat(64)}{"command":{"op":"submit","task":{"id":"t1","input":[1,2]}},"index":1,"term":3}`);
    expect(GENESIS_DIGEST).toBe('0'.repeat(64));
    expect(nextDigest(GENESIS_DIGEST, { index: 1, term: 3, command: cmd })).toBe(expected);
    const d2 = sha256(`${expected}{"command":null,"index":2,"term":3}`);
    expect(nextDigest(expected, { index: 2, term: 3, command: null })).toBe(d2);
  });

  it('depends on index, term, command and the previous digest', () => {
    const d = nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: cmd });
    expect(nextDigest(GENESIS_DIGEST, { index: 1, term: 2, command: cmd })).not.toBe(d);
    expect(nextDigest(GENESIS_DIGEST, { index: 2, term: 1, command: cmd })).not.toBe(d);
    expect(nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: { ...cmd, op: 'cancel' } })).not.toBe(d);
    expect(nextDigest(d, { index: 1, term: 1, command: cmd })).not.toBe(d);
  });

  it('DigestChain appends in order, truncates, compacts and restores', () => {
    const chain = new DigestChain();
    expect(chain.lastIndex).toBe(0);
    expect(chain.lastDigest).toBe(GENESIS_DIGEST);
    const d1 = chain.append({ index: 1, term: 1, command: 'a' });
    const d2 = chain.append({ index: 2, term: 1, command: 'b' });
    const d3 = chain.append({ index: 3, term: 2, command: 'c' });
    expect(d1).toBe(nextDigest(GENESIS_DIGEST, { index: 1, term: 1, command: 'a' }));
    expect(d3).toBe(nextDigest(d2, { index: 3, term: 2, command: 'c' }));
    expect([chain.digestAt(0), chain.digestAt(2), chain.digestAt(4)]).toEqual([GENESIS_DIGEST, d2, undefined]);
    expect(() => chain.append({ index: 5, term: 2, command: 'x' })).toThrow(/append at index 5, expected 4/);

    chain.truncateFrom(3);
    expect([chain.lastIndex, chain.lastDigest]).toEqual([2, d2]);
    const d3b = chain.append({ index: 3, term: 3, command: 'c2' });
    expect(d3b).toBe(nextDigest(d2, { index: 3, term: 3, command: 'c2' }));
    chain.truncateFrom(9); // nothing there: no-op
    expect(chain.lastIndex).toBe(3);

    chain.compactTo(2);
    expect([chain.snapshotIndex, chain.lastIndex, chain.digestAt(1), chain.digestAt(2), chain.digestAt(3)]).toEqual([2, 3, undefined, d2, d3b]);
    expect(() => chain.truncateFrom(2)).toThrow(/entries up to 2 are in the snapshot/);
    expect(() => chain.compactTo(1)).toThrow(/cannot compact to 1/);

    chain.restore({ index: 10, digest: 'f'.repeat(64) });
    expect([chain.snapshotIndex, chain.lastIndex, chain.lastDigest]).toEqual([10, 10, 'f'.repeat(64)]);
    expect(chain.append({ index: 11, term: 4, command: 'd' })).toBe(nextDigest('f'.repeat(64), { index: 11, term: 4, command: 'd' }));
    expect(new DigestChain({ index: 5, digest: 'a'.repeat(64) }).digestAt(5)).toBe('a'.repeat(64));
  });
});

describe('Trace', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const clockAt = (ms: number) => ({ now: () => ms });

  it('writes a header and lines with t and type first; t from the clock unless given', () => {
    const trace = new Trace({ seed: 7, nodes: ['n1', 'n2'], options: { z: 1, a: { y: 2, b: 3 } }, clock: clockAt(42), keep: true });
    trace.emit({ type: 'role', node: 'n1', inc: 0, role: 'follower', term: 0, leader: null });
    trace.emit({ node: 'n1', inc: 0, type: 'vote', term: 1, votedFor: 'n1', t: 50 });
    trace.emitCustom({ type: 'message', from: 'n1', to: 'n2' });
    expect(trace.toJSONL()).toBe(
      [
        '{"type":"header","version":1,"seed":7,"nodes":["n1","n2"],"options":{"a":{"b":3,"y":2},"z":1}}',
        '{"t":42,"type":"role","node":"n1","inc":0,"role":"follower","term":0,"leader":null}',
        '{"t":50,"type":"vote","node":"n1","inc":0,"term":1,"votedFor":"n1"}',
        '{"t":42,"type":"message","from":"n1","to":"n2"}',
        '',
      ].join('\n'),
    );
    expect(trace.size).toBe(3);
    expect(trace.header).toEqual({ type: 'header', version: 1, seed: 7, nodes: ['n1', 'n2'], options: { z: 1, a: { y: 2, b: 3 } } });
  });

  it('does nothing when nobody listens, and says so', () => {
    let reads = 0;
    const trace = new Trace({ seed: 1, nodes: [], clock: { now: () => ++reads } });
    expect(trace.enabled).toBe(false);
    trace.emit({ type: 'truncate', node: 'n1', inc: 0, from: 3 });
    expect(reads).toBe(0);
    expect(() => trace.toJSONL()).toThrow(/keep: true/);
  });

  it('hands lines to sinks before events to listeners, and stops after unsubscribing', () => {
    const trace = new Trace({ seed: 1, nodes: ['n1'], clock: clockAt(5) });
    const order: string[] = [];
    const offSink = trace.addSink((line) => order.push(`sink ${line.slice(0, 20)}`));
    const offListener = trace.subscribe((ev: AnyTraceEvent) => order.push(`listener ${ev.type}@${ev.t}`));
    expect(trace.enabled).toBe(true);
    trace.emit({ type: 'truncate', node: 'n1', inc: 0, from: 3 });
    offSink();
    offListener();
    trace.emit({ type: 'truncate', node: 'n1', inc: 0, from: 2 });
    expect(order).toEqual(['sink {"type":"header","ve', 'sink {"t":5,"type":"trunc', 'listener truncate@5']);
    expect(trace.enabled).toBe(false);
  });

  it('replays kept lines to a late sink; refuses a late sink without keep', () => {
    const kept = new Trace({ seed: 1, nodes: ['n1'], clock: clockAt(1), keep: true });
    kept.emit({ type: 'truncate', node: 'n1', inc: 0, from: 3 });
    const lines: string[] = [];
    kept.addSink((l) => lines.push(l));
    expect(lines.join('\n') + '\n').toBe(kept.toJSONL());

    const unkept = new Trace({ seed: 1, nodes: ['n1'], clock: clockAt(1) });
    unkept.subscribe(() => {});
    unkept.emit({ type: 'truncate', node: 'n1', inc: 0, from: 3 });
    expect(() => unkept.addSink(() => {})).toThrow(/hole/);
  });

  it('needs t or a clock, an integer seed and plain-data options', () => {
    const trace = new Trace({ seed: 1, nodes: [], keep: true });
    expect(() => trace.emit({ type: 'fault', kind: 'crash', node: 'n1' })).toThrow(/no t and the trace has no clock/);
    trace.emit({ type: 'fault', kind: 'crash', node: 'n1', t: 3 });
    expect(trace.lines).toEqual(['{"t":3,"type":"fault","kind":"crash","node":"n1"}']);
    expect(() => new Trace({ seed: 1.5, nodes: [] })).toThrow(/integer/);
    expect(() => new Trace({ seed: 1, nodes: [], options: { handler: () => 1 } })).toThrow(/function at \$\.handler/);
  });

  it('round-trips through a file sink and readTrace', () => {
    dir = mkdtempSync(join(tmpdir(), 'grey-trace-'));
    const path = join(dir, 'run.jsonl');
    const trace = new Trace({ seed: 3, nodes: ['n1'], options: { raft: { electionMs: 150 } }, clock: clockAt(9), keep: true });
    const sink = writeTraceFile(path);
    trace.addSink(sink);
    trace.emit({ type: 'role', node: 'n1', inc: 0, role: 'leader', term: 1, leader: 'n1' });
    trace.emit({ type: 'append', node: 'n1', inc: 0, from: 1, entries: [[1, 'ab'.repeat(32)]] });
    trace.emit({ type: 'end', nodes: { n1: { role: 'leader', term: 1, commitIndex: 0, lastApplied: 0, inc: 0 } } });
    sink.close();
    expect(() => sink('late')).toThrow(/closed/);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(trace.toJSONL());
    const parsed = readTrace(text);
    expect(parsed.header).toEqual({ type: 'header', version: 1, seed: 3, nodes: ['n1'], options: { raft: { electionMs: 150 } } });
    expect(parsed.events.map((e) => e.type)).toEqual(['role', 'append', 'end']);
    expect(parsed.events[1]).toEqual({ t: 9, type: 'append', node: 'n1', inc: 0, from: 1, entries: [[1, 'ab'.repeat(32)]] });
    expect(parsed.lines).toEqual([2, 3, 4]);
  });
});

describe('readTrace', () => {
  const header = '{"type":"header","version":1,"seed":7,"nodes":["n1"],"options":{}}';
  const role = '{"t":0,"type":"role","node":"n1","inc":0,"role":"follower","term":0,"leader":null}';

  function formatError(text: string): TraceFormatError {
    try {
      readTrace(text);
    } catch (err) {
      expect(err).toBeInstanceOf(TraceFormatError);
      return err as TraceFormatError;
    }
    throw new Error('readTrace accepted a malformed trace');
  }

  it('skips blank lines, accepts CRLF and unknown event types, and keeps line numbers', () => {
    const parsed = readTrace(`${header}\r\n\r\n${role}\r\n{"t":1,"type":"breaker","node":"n1","state":"open"}\n`);
    expect(parsed.events.map((e) => e.type)).toEqual(['role', 'breaker']);
    expect(parsed.lines).toEqual([3, 4]);
  });

  it('reports the line of each kind of problem', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['', 1, /empty trace: no header/],
      ['\n\n', 1, /empty trace/],
      [role, 1, /first line must be the header/],
      ['{"type":"header","version":2,"seed":1,"nodes":[],"options":{}}', 1, /unsupported trace version 2/],
      ['{"type":"header","version":1,"seed":"x","nodes":[],"options":{}}', 1, /seed must be an integer/],
      ['{"type":"header","version":1,"seed":1,"nodes":[1],"options":{}}', 1, /nodes must be an array of strings/],
      [`${header}\n${role}\n{"t":1,`, 3, /not JSON/],
      [`${header}\n[1,2]`, 2, /must be a JSON object/],
      [`${header}\n${role}\n${header}`, 3, /a second header/],
      [`${header}\n{"type":"role"}`, 2, /needs a numeric "t"/],
      [`${header}\n{"t":1}`, 2, /needs a string "type"/],
      [`${header}\n{"t":1,"type":"commit","inc":0,"index":1,"term":1,"digest":"d"}`, 2, /needs "node"/],
      [`${header}\n{"t":1,"type":"commit","node":"n1","inc":-1,"index":1,"term":1,"digest":"d"}`, 2, /needs "inc" \(a non-negative integer\)/],
      [`${header}\n\n{"t":1,"type":"commit","node":"n1","inc":0,"index":1,"term":1}`, 3, /'commit' field "digest" must be a string \(missing\)/],
      [`${header}\n{"t":1,"type":"role","node":"n1","inc":0,"role":"boss","term":1,"leader":null}`, 2, /"role" must be one of follower/],
      [`${header}\n{"t":1,"type":"append","node":"n1","inc":0,"from":1,"entries":[[1]]}`, 2, /"entries" must be an array of \[term, digest\]/],
      [`${header}\n{"t":1,"type":"end"}`, 2, /'end' field "nodes" must be an object/],
    ];
    for (const [text, line, message] of cases) {
      const err = formatError(text);
      expect(err.line, text).toBe(line);
      expect(err.message, text).toMatch(message);
      expect(err.message).toMatch(new RegExp(`^line ${line}: `));
      expect(err.code).toBe('TraceFormat');
    }
  });
});
