import type { ActorRefLike, AnyEventObject, InspectionEvent, Snapshot } from 'xstate';

/** XState's inspection event, with the node whose chart emitted it. */
export type GreyInspectionEvent = InspectionEvent & { node: string };

/**
 * An inspection observer: what XState's `inspect` option takes, fed from
 * every chart of every node (Raft role, replication progress, membership,
 * task lifecycle, quarantine, circuit breakers).
 */
export type ChartInspector = (event: GreyInspectionEvent) => void;

/** Tags each event with the node, for an actor's `inspect` option. */
export function inspectorFor(node: string, inspect: ChartInspector): (event: InspectionEvent) => void {
  return (event) => inspect({ ...event, node });
}

interface TableRef extends ActorRefLike {
  readonly id: string;
  snapshot: Snapshot<unknown> & { value: string; context: unknown };
}

/**
 * Inspection of a chart that Grey steps through its derived transition
 * table rather than as an actor (a replicated task record, a member, a
 * follower's replication progress): the events XState's `inspect` emits
 * for an actor, `@xstate.actor` when one appears, `@xstate.event` and
 * `@xstate.snapshot` for each step, so an inspector cannot tell the two
 * apart. The refs take no events: these charts move only with the log.
 */
export class TableInspection {
  private readonly refs = new Map<string, TableRef>();

  constructor(
    private readonly node: string,
    private readonly machine: string,
    private readonly inspect: ChartInspector,
    /** States after which a chart's instance is done (its ref is then forgotten). */
    private readonly finals: ReadonlySet<string> = new Set(),
  ) {}

  /** A new instance in `state` (the chart's initial state, after eventless transitions). */
  created(key: string, state: string, context: object): void {
    this.stepped(key, { type: 'xstate.init' }, state, context);
  }

  /** Instance `key` took `event` into `state`; an instance not seen before (restored from a snapshot) appears first. */
  stepped(key: string, event: AnyEventObject, state: string, context: object): void {
    let ref = this.refs.get(key);
    const snapshot = this.snapshotOf(state, context);
    if (!ref) {
      const id = `${this.machine}(${key})`;
      const made: TableRef = {
        id,
        sessionId: `${this.node}/${id}`,
        snapshot,
        send: () => {
          throw new Error(`${id} moves with the replicated log; it takes no events`);
        },
        getSnapshot: () => made.snapshot,
      };
      ref = made;
      this.refs.set(key, ref);
      this.inspect({ type: '@xstate.actor', actorRef: ref, rootId: ref.sessionId, node: this.node });
    }
    ref.snapshot = snapshot;
    this.inspect({ type: '@xstate.event', actorRef: ref, rootId: ref.sessionId, sourceRef: undefined, event, node: this.node });
    this.inspect({ type: '@xstate.snapshot', actorRef: ref, rootId: ref.sessionId, snapshot, event, node: this.node });
    if (this.finals.has(state)) this.refs.delete(key);
  }

  /** Instance `key` is gone (pruned, or the follower left). */
  forget(key: string): void {
    this.refs.delete(key);
  }

  private snapshotOf(state: string, context: object): TableRef['snapshot'] {
    // A copy: the record goes on changing after the inspector got it.
    return { status: this.finals.has(state) ? 'done' : 'active', value: state, context: { ...context }, output: undefined, error: undefined } as TableRef['snapshot'];
  }
}
