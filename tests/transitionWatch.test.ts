import { describe, expect, it } from 'vitest';
import { createActor, setup } from 'xstate';
import { Kernel } from '../system/kernel.js';
import { describeStateValue, formatTransition, watchTransitions, type TransitionRecord } from '../system/transitionWatch.js';
import { MachineCoverage, stateNodesOf, transitionsOf } from '../system/machineCoverage.js';

const light = setup({
  types: { events: {} as { type: 'GO' } | { type: 'STOP' } },
  delays: { amber: 30 },
  guards: { never: () => false },
}).createMachine({
  id: 'light',
  initial: 'red',
  states: {
    red: { on: { GO: 'green' } },
    green: { on: { STOP: [{ guard: 'never', target: 'red' }, { target: 'amber' }] } },
    amber: { after: { amber: 'red' } },
  },
});

describe('watchTransitions', () => {
  it('records each change of state with its virtual time and cause', () => {
    const k = new Kernel();
    const records: TransitionRecord[] = [];
    const w = watchTransitions(k, (r) => records.push(r));
    const a = createActor(light, { id: 'l1', clock: k, inspect: w.inspect }).start();
    k.advance(10);
    a.send({ type: 'GO' });
    a.send({ type: 'GO' }); // no change: not recorded
    k.advance(5);
    a.send({ type: 'STOP' });
    k.advance(30);
    expect(records.map((r) => [r.t, r.actor, r.from, r.to])).toEqual([
      [10, 'l1', 'red', 'green'],
      [15, 'l1', 'green', 'amber'],
      [45, 'l1', 'amber', 'red'],
    ]);
    expect(formatTransition(records[2])).toBe('t=    45ms  l1             amber → red  (after amber)');
  });

  it('renders nested and parallel state values', () => {
    expect(describeStateValue('idle')).toBe('idle');
    expect(describeStateValue({ a: 'b' })).toBe('a.b');
    expect(describeStateValue({ leader: { heartbeat: 'waiting', quorum: 'watching' } })).toBe('leader');
    expect(describeStateValue({ x: 'p', y: 'q' })).toBe('x|y');
  });
});

describe('MachineCoverage', () => {
  it('counts states entered and transitions taken, guarded alternatives apart, and names what is missing', () => {
    expect(stateNodesOf(light).map((n) => n.id)).toEqual(['light', 'light.red', 'light.green', 'light.amber']);
    expect(transitionsOf(light)).toHaveLength(4);
    const k = new Kernel();
    const cov = new MachineCoverage(light);
    const a = createActor(light, { clock: k, inspect: cov.inspect }).start();
    a.send({ type: 'GO' });
    let r = cov.report();
    expect(r.states).toMatchObject({ covered: 3, total: 4, missing: ['light.amber'] });
    expect(r.transitions.covered).toBe(1);
    a.send({ type: 'STOP' });
    k.advance(30);
    r = cov.report();
    expect(r.states.missing).toEqual([]);
    expect(r.transitions.missing).toEqual(['light.green --STOP--> light.red']);
    const other = new MachineCoverage(light);
    other.merge(cov);
    expect(other.report().transitions.covered).toBe(3);
  });
});
