import type { AnyActorRef, InspectionEvent } from 'xstate';

import type { Clock } from './clock.js';

/** One state change of a watched actor, stamped with (virtual) time. */
export interface TransitionRecord {
  t: number;
  actor: string;
  from: string;
  to: string;
  event: string;
}

/** Renders a state value (`{ leader: { heartbeat: 'waiting', … } }` → `leader`). */
export function describeStateValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, child] = entries[0];
      const inner = describeStateValue(child);
      return typeof child === 'string' ? `${key}.${inner}` : key;
    }
    return entries.map(([k]) => k).join('|');
  }
  return String(value);
}

/**
 * An XState inspector that reports every change of state value of the actors
 * it is given to, stamped with the clock's time: the way to watch statecharts
 * move. Pass `watch.inspect` as `createActor(machine, { id, clock, inspect })`;
 * the actor's `id` names it in the records.
 */
export function watchTransitions(clock: Clock, sink: (record: TransitionRecord) => void) {
  const last = new Map<AnyActorRef, string>();
  const inspect = (ev: InspectionEvent): void => {
    if (ev.type !== '@xstate.snapshot' && ev.type !== '@xstate.microstep') return;
    const snap = ev.snapshot as { value?: unknown };
    if (snap.value === undefined) return;
    const ref = ev.actorRef as AnyActorRef;
    const to = describeStateValue(snap.value);
    const from = last.get(ref);
    last.set(ref, to);
    if (from === undefined || from === to) return;
    sink({ t: clock.now(), actor: ref.id, from, to, event: ev.event.type });
  };
  return { inspect };
}

/** A one-line rendering of a record: `t=   150ms  n1  follower → precandidate  (after electionTimeout)`. */
export function formatTransition(r: TransitionRecord): string {
  const cause = r.event.startsWith('xstate.after.') ? `after ${r.event.split('.')[2]}` : r.event;
  return `t=${String(Math.round(r.t)).padStart(6)}ms  ${r.actor.padEnd(14)} ${r.from} → ${r.to}  (${cause})`;
}
