import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { not, setup, type AnyStateMachine } from 'xstate';
import * as machines from '../machines/index.js';
import { main } from '../system/cli.js';
import { diagramOf, greyStatecharts, type DiagramJson } from '../index.js';

/** A small chart with a guard, a named and a numeric delay, nested, parallel and final states. */
const door = setup({
  types: { events: {} as { type: 'OPEN' | 'CLOSE' | 'LOCK' | 'UNLOCK' | 'KNOCK' | 'ALARM' | 'DISARM' | 'RESWING' } },
  guards: { hasKey: () => true, isArmed: () => false },
  actions: { greet: () => {} },
  delays: { autoClose: 3_000 },
}).createMachine({
  id: 'door',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'open', LOCK: 'locked', ALARM: 'alarm' } },
    locked: { on: { UNLOCK: { guard: 'hasKey', target: 'closed' }, KNOCK: { actions: 'greet' } } },
    open: {
      initial: 'swinging',
      states: {
        swinging: { after: { 500: 'still' } },
        still: { always: { guard: 'isArmed', target: '#door.alarm' } },
      },
      after: { autoClose: 'closed' },
      on: { CLOSE: 'closed', RESWING: { target: '.swinging', reenter: true } },
    },
    alarm: {
      type: 'parallel',
      states: {
        siren: {
          initial: 'wailing',
          states: { wailing: { on: { DISARM: { guard: not('isArmed'), target: 'silent' } } }, silent: { type: 'final' } },
        },
        light: { initial: 'flashing', states: { flashing: {} } },
      },
      onDone: 'closed',
    },
  },
});

const DOOR_TRANSITIONS = [
  'door.closed -> door.open : OPEN',
  'door.closed -> door.locked : LOCK',
  'door.closed -> door.alarm : ALARM',
  'door.locked -> door.closed : UNLOCK [hasKey]',
  'door.open -> door.closed : CLOSE',
  'door.open -> door.open.swinging : RESWING',
  'door.open -> door.closed : after autoClose',
  'door.open.swinging -> door.open.still : after 500ms',
  'door.open.still -> door.alarm : always [isArmed]',
  'door.alarm -> door.closed : onDone',
  'door.alarm.siren.wailing -> door.alarm.siren.silent : DISARM [!isArmed]',
];

// The renderers' id scheme for Grey's machines: word characters only.
const simple = (id: string) => id.replace(/\W+/g, '_');

function mermaidArrows(text: string): string[] {
  return [...text.matchAll(/^ *(\w+) --> (\w+) : (.*)$/gm)].map((m) => `${m[1]} -> ${m[2]} : ${m[3]}`);
}

function dotArrows(text: string): string[] {
  return [...text.matchAll(/^ *(\w+) -> (\w+) \[label="([^"]*)"[^\]]*\];$/gm)].map(
    (m) => `${m[1].replace(/__anchor$/, '')} -> ${m[2].replace(/__anchor$/, '')} : ${m[3]}`,
  );
}

/** Every machine `machines/index.ts` exports. */
const GREY_MACHINES = Object.values(machines).filter(
  (x): x is AnyStateMachine => typeof x === 'object' && x !== null && typeof (x as { transition?: unknown }).transition === 'function',
);

interface Expected {
  states: Array<{ id: string; key: string; leaf: boolean }>;
  /** `source -> target : label`, one per target; targetless ones as `source : label`. */
  arrows: string[];
  internal: string[];
}

/**
 * What a diagram of a machine must show, read from `machine.definition`
 * (and, for the eventless transitions it leaves out, the state's config),
 * independently of the diagram code.
 */
function expectedOf(machine: AnyStateMachine): Expected {
  const out: Expected = { states: [], arrows: [], internal: [] };
  type Def = {
    id: string;
    key: string;
    states: Record<string, Def>;
    transitions: Array<{ eventType: string; delay?: string | number; guard?: unknown; target?: Array<{ id: string }> }>;
  };
  const label = (event: string, delay: string | number | undefined, guard: unknown) => {
    let head = event;
    if (event.startsWith('xstate.after.')) head = `after ${typeof delay === 'number' ? `${delay}ms` : delay}`;
    else if (event.startsWith('xstate.done.state.')) head = 'onDone';
    return guard === undefined ? head : `${head} [${guard as string}]`;
  };
  const add = (source: string, targets: string[], text: string) => {
    if (targets.length === 0) out.internal.push(`${source} : ${text}`);
    for (const t of targets) out.arrows.push(`${source} -> ${t} : ${text}`);
  };
  const visit = (def: Def, root: boolean) => {
    out.states.push({ id: def.id, key: root ? machine.id : def.key, leaf: Object.keys(def.states).length === 0 });
    for (const t of def.transitions) add(def.id, (t.target ?? []).map((n) => n.id), label(t.eventType, t.delay, t.guard));
    // The definition leaves out eventless transitions; the state node has them.
    for (const a of machine.getStateNodeById(def.id).always ?? []) {
      add(def.id, (a.target ?? []).map((n: { id: string }) => n.id), label('always', undefined, a.guard));
    }
    for (const child of Object.values(def.states)) visit(child, false);
  };
  visit(machine.definition as unknown as Def, true);
  return out;
}

const sorted = (xs: string[]) => [...xs].sort();

/**
 * A small well-formedness check: one root element, every tag closed in
 * order, attributes quoted, no stray `<` or `&` in text or values.
 */
function checkXml(doc: string): { root: string; elements: number } {
  const body = doc.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let root = '';
  let elements = 0;
  let pos = 0;
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  const checkText = (text: string, where: number) => {
    for (let i = text.indexOf('&'); i !== -1; i = text.indexOf('&', i + 1)) {
      entity.lastIndex = i;
      if (!entity.test(text)) throw new Error(`bare & at ${where + i}`);
    }
    if (text.includes('>') && stack.length === 0) throw new Error(`text outside the root at ${where}`);
  };
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
  while (pos < body.length) {
    const next = body.indexOf('<', pos);
    const text = body.slice(pos, next === -1 ? body.length : next);
    if (text.trim() !== '') {
      if (stack.length === 0) throw new Error(`text outside the root at ${pos}`);
      checkText(text, pos);
    }
    if (next === -1) break;
    tag.lastIndex = next;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${next}: ${body.slice(next, next + 40)}`);
    const [, closing, name, attrs, selfClosing] = m;
    checkText(attrs, next);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) {
        if (root) throw new Error('more than one root element');
        root = name;
      }
      elements++;
      if (!selfClosing) stack.push(name);
    }
    pos = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`);
  return { root, elements };
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const svgTexts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1]));

describe('diagrams of a hand-written chart', () => {
  it('diagramOf refuses what is not a machine with a TypeError naming it', async () => {
    await expect(diagramOf(null as never, 'svg')).rejects.toThrow(/^diagramOf needs an XState v5 machine .*got null$/);
    await expect(diagramOf({} as never, 'mermaid')).rejects.toThrow(TypeError);
  });

  it('mermaid: exactly its transitions, with guard and delay names; nested, parallel, initial and final marked', async () => {
    const text = await diagramOf(door, 'mermaid');
    expect(text.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(mermaidArrows(text)).toEqual(DOOR_TRANSITIONS.map((t) => t.replace(/[\w.]+(?= ->)|(?<=-> )[\w.]+/g, simple)));
    expect(text).toContain('  door_locked : KNOCK');
    expect(text).toContain('[*] --> door_closed');
    expect(text).toContain('[*] --> door_open_swinging');
    expect(text).toContain('door_alarm_siren_silent --> [*]');
    expect(text).toMatch(/state "alarm \(parallel\)" as door_alarm \{\n\s+state "siren" as door_alarm_siren \{[\s\S]*\}\n\s+--\n\s+state "light" as door_alarm_light \{/);
    expect(text).not.toContain('xstate.');
  });

  it('dot: exactly its transitions, arrows to and from compound states clipped at their border', async () => {
    const text = await diagramOf(door, 'dot');
    expect(dotArrows(text)).toEqual(DOOR_TRANSITIONS.map((t) => t.replace(/[\w.]+(?= ->)|(?<=-> )[\w.]+/g, simple)));
    expect(text).toContain('door_closed -> door_open__anchor [label="OPEN", lhead=cluster_door_open];');
    expect(text).toContain('door_alarm__anchor -> door_closed [label="onDone", ltail=cluster_door_alarm];');
    expect(text).toContain('door_alarm_siren_silent [label="silent", peripheries=2];');
    expect(text).toContain('door_locked [label="locked\\nKNOCK"];');
    expect(text).toMatch(/subgraph cluster_door_alarm_siren \{\n\s+label="siren"; labeljust=l; style="rounded,dashed";/);
    expect(text).not.toContain('xstate.');
  });

  it('json: compound states contain their children, every arrow is routed and labelled', async () => {
    const json = JSON.parse(await diagramOf(door, 'json')) as DiagramJson;
    const byId = new Map(json.states.map((s) => [s.id, s]));
    for (const s of json.states) {
      expect(s.box.width).toBeGreaterThan(0);
      if (s.parent === null) continue;
      const p = byId.get(s.parent)!.box;
      expect(s.box.x, s.id).toBeGreaterThanOrEqual(p.x);
      expect(s.box.y, s.id).toBeGreaterThanOrEqual(p.y);
      expect(s.box.x + s.box.width, s.id).toBeLessThanOrEqual(p.x + p.width);
      expect(s.box.y + s.box.height, s.id).toBeLessThanOrEqual(p.y + p.height);
    }
    expect(byId.get('door.alarm.siren')!.region).toBe(true);
    expect(byId.get('door.open')!.initialDot).not.toBeNull();
    const drawn = json.edges.flatMap((e) => e.transitions.map((id) => `${id} ${e.target}`));
    const wanted = json.transitions.flatMap((t) => t.targets.map((target) => `${t.id} ${target}`));
    expect(sorted(drawn)).toEqual(sorted(wanted));
    for (const e of json.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      if (e.transitions.length > 0) expect(e.label?.lines.length).toBe(e.transitions.length);
    }
    expect(json.transitions.find((t) => t.label === 'after autoClose')).toMatchObject({ kind: 'after', delay: 'autoClose', trigger: 'autoClose' });
  });

  it('the XML check refuses what is not well-formed', () => {
    expect(checkXml('<svg><g><rect/></g><text x="1">a &amp; b</text></svg>')).toEqual({ root: 'svg', elements: 4 });
    for (const bad of ['<svg><g></svg>', '<svg>a & b</svg>', '<svg x=1/>', '<svg/><svg/>', '<svg><text>a < b</text></svg>', '<svg><g>']) {
      expect(() => checkXml(bad), bad).toThrow();
    }
  });

  it('svg: well-formed, every state and every transition label drawn', async () => {
    const svg = await diagramOf(door, 'svg');
    expect(checkXml(svg).root).toBe('svg');
    const texts = svgTexts(svg);
    for (const name of ['door', 'closed', 'locked', 'open', 'swinging', 'still', 'alarm (parallel)', 'siren', 'wailing', 'silent', 'light', 'flashing']) {
      expect(texts, name).toContain(name);
    }
    for (const t of DOOR_TRANSITIONS) expect(texts).toContain(t.split(' : ')[1]);
    expect(texts).toContain('KNOCK');
    expect(svg).toContain('marker-end="url(#arrow)"');
    expect(svg).not.toContain('xstate.');
  });

  it('names inline and combined guards rather than leaving them anonymous', async () => {
    const m = setup({ guards: { a: () => true, b: () => true } }).createMachine({
      id: 'g',
      initial: 'x',
      states: {
        x: {
          on: {
            E: [
              { guard: function ready() { return true; }, target: 'y' },
              { guard: { type: 'a', params: { n: 1 } }, target: 'y' },
              { guard: () => true, target: 'y' },
            ],
          },
        },
        y: {},
      },
    });
    expect(mermaidArrows(await diagramOf(m, 'mermaid'))).toEqual(['g_x -> g_y : E [ready]', 'g_x -> g_y : E [a]', 'g_x -> g_y : E [inline guard]']);
  });

  it('--actions adds the actions to the labels', async () => {
    const text = await diagramOf(door, 'mermaid', { actions: true });
    expect(text).toContain('door_locked : KNOCK / greet');
  });
});

describe("diagrams of Grey's statecharts", () => {
  it('finds every machine machines/index.ts exports', () => {
    expect([...greyStatecharts().keys()].sort()).toEqual(GREY_MACHINES.map((m) => m.id).sort());
    expect(GREY_MACHINES.length).toBeGreaterThanOrEqual(6);
  });

  for (const machine of GREY_MACHINES) {
    it(`${machine.id}: every state and transition of the definition appears in mermaid, dot, json and svg`, async () => {
      const want = expectedOf(machine);
      const ids = (s: string) => s.replace(/[^ ]+(?= ->)|(?<=-> )[^ ]+|^[^ ]+(?= :)/g, simple);
      expect(want.arrows.length + want.internal.length).toBeGreaterThan(0);

      const mermaid = await diagramOf(machine, 'mermaid');
      expect(sorted(mermaidArrows(mermaid))).toEqual(sorted(want.arrows.map(ids)));
      for (const s of want.states) expect(mermaid).toContain(`state "${s.key}`);
      // Targetless transitions: a description line of a simple state, a note line of a composite one.
      for (const line of want.internal) {
        const [source, text] = line.split(' : ');
        expect(mermaid).toMatch(new RegExp(`(${simple(source)} : |^\\s+)${text.replace(/[[\]]/g, '\\$&')}$`, 'm'));
      }

      const dot = await diagramOf(machine, 'dot');
      expect(sorted(dotArrows(dot))).toEqual(sorted(want.arrows.map(ids)));
      for (const s of want.states) expect(dot).toMatch(new RegExp(`label="${s.key}[\\\\" ]`));

      const json = JSON.parse(await diagramOf(machine, 'json')) as DiagramJson;
      expect(json.states.map((s) => s.id)).toEqual(want.states.map((s) => s.id));
      const jsonArrows = json.transitions.flatMap((t) => t.targets.map((target) => `${t.source} -> ${target} : ${t.label}`));
      expect(sorted(jsonArrows)).toEqual(sorted(want.arrows));
      const jsonInternal = json.transitions.filter((t) => t.targets.length === 0).map((t) => `${t.source} : ${t.label}`);
      expect(sorted(jsonInternal)).toEqual(sorted(want.internal));

      const svg = await diagramOf(machine, 'svg');
      checkXml(svg);
      const texts = svgTexts(svg);
      for (const s of want.states) expect(texts.some((t) => t === s.key || t === `${s.key} (parallel)`), s.id).toBe(true);
      // One text line per arrow label per target and per targetless transition, besides the state names.
      const labelTexts = texts.length - want.states.length;
      expect(labelTexts).toBe(want.arrows.length + want.internal.length);
      for (const a of [...want.arrows, ...want.internal]) expect(texts).toContain(a.split(' : ')[1]);

      for (const out of [mermaid, dot, JSON.stringify(json), svg]) {
        expect(out).not.toContain('xstate.after');
        expect(out).not.toContain('inline guard');
      }
    });
  }

  it('is deterministic: the same machine gives the same bytes', async () => {
    const raft = greyStatecharts().get('raftRole')!;
    expect(await diagramOf(raft, 'svg')).toBe(await diagramOf(raft, 'svg'));
    expect(await diagramOf(raft, 'json')).toBe(await diagramOf(raft, 'json'));
  });

  it('raftRole shows its named delays, never XState internal ids', async () => {
    const text = await diagramOf(greyStatecharts().get('raftRole')!, 'mermaid');
    expect(text).toContain('raftRole_follower_watching --> raftRole_precandidate : after electionTimeout [preVoteEnabled]');
    expect(text).toContain('raftRole_follower_leaderGone --> raftRole_precandidate : after failoverDelay [preVoteEnabled]');
    expect(text).toContain('raftRole_leader_quorum_watching --> raftRole_follower : after quorumCheckInterval');
    expect(text).toContain('raftRole_candidate --> raftRole_leader : always [wonVote]');
  });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('grey diagram', () => {
  it('all --format svg --out DIR writes one well-formed file per machine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grey-diagram-'));
    try {
      const c = capture();
      expect(await main(['diagram', 'all', '--format', 'svg', '--out', join(dir, 'svg')], c.io)).toBe(0);
      const files = readdirSync(join(dir, 'svg')).sort();
      expect(files).toEqual(GREY_MACHINES.map((m) => `${m.id}.svg`).sort());
      for (const f of files) expect(checkXml(readFileSync(join(dir, 'svg', f), 'utf8')).root).toBe('svg');
      expect(c.out).toHaveLength(files.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one machine to stdout or to a file', async () => {
    const c = capture();
    expect(await main(['diagram', 'taskLifecycle'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('taskLifecycle_running --> taskLifecycle_timedOut : after taskDeadline');
    const dir = mkdtempSync(join(tmpdir(), 'grey-diagram-'));
    try {
      expect(await main(['diagram', 'circuitBreaker', '--format', 'dot', '--out', join(dir, 'cb.dot')], capture().io)).toBe(0);
      expect(readFileSync(join(dir, 'cb.dot'), 'utf8')).toMatch(/^digraph "circuitBreaker" \{/);
      expect(await main(['diagram', 'membership', '--format=json', '--out', dir], capture().io)).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, 'membership.json'), 'utf8')).machine).toBe('membership');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input is a usage error (exit 2) naming what is known', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['diagram', 'ghost'], /unknown machine 'ghost'; known: .*raftRole.*taskLifecycle.*all/],
      [['diagram', 'raftRole', '--format', 'png'], /unknown format 'png'; known: mermaid, svg, dot, json/],
      [['diagram'], /diagram needs a machine; known: .*raftRole/],
      [['diagram', 'all', '--format', 'svg'], /needs --out DIR/],
      [['diagram', 'raftRole', '--direction', 'up'], /--direction must be LR or TB/],
      [['diagram', 'raftRole', '--nope'], /unknown option --nope/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err[0]).toMatch(message);
      expect(c.err[1]).toBe("(run 'grey help' for usage)");
    }
  });

  it('is in the usage text', async () => {
    const c = capture();
    expect(await main(['help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toContain('grey diagram <machine|all|module[#export]> [--format mermaid|svg|dot|json]');
  });
});
