import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { joinHandshake, type JoinHandshakeInput, type JoinHandshakeState } from '../machines/joinHandshake.js';
import { JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_HELLO, JOIN_RESULT, joinProofBytes, type JoinChallenge, type JoinHello, type JoinResult, type JoinTrust } from './joinAuthenticator.js';
import type { Clock } from '../system/clock.js';

/** What a node needs to ask to join: its certificate and key, and where its evidence comes from. */
export interface JoinCredentials {
  /** The node's certificate (DER), issued by the cluster CA. */
  certificate: Uint8Array;
  /** Signs with the certificate's key (Ed25519). */
  sign(data: Uint8Array): Uint8Array;
  /** Attestation evidence bound to `nonce` (a hardware quote, a software measurement, or `{ kind: 'none' }`), made at `now` (the node's clock). */
  evidence(nonce: Uint8Array, now: number): unknown;
}

/** How a join ended. */
export type JoinOutcome = { ok: true; trust: JoinTrust } | { ok: false; code: string; reason: string };

export interface JoinRequesterDeps {
  clock: Clock;
  send(to: string, type: string, payload: unknown): void;
  credentials: JoinCredentials;
  /** Members to present to, tried in turn. */
  seeds: readonly string[];
  /** Where this node's peers can reach it (`host:port`), for real mode. */
  address?: string;
  handshake?: Partial<JoinHandshakeInput>;
  inspect?: (event: InspectionEvent) => void;
}

/**
 * The joining node's side of the join handshake: runs the
 * {@link joinHandshake} chart against the seed members, one at a time
 * (the next one after a timeout), and settles {@link JoinRequester.done}.
 */
export class JoinRequester {
  private readonly actor: Actor<typeof joinHandshake>;
  private target = -1;
  private settle!: (o: JoinOutcome) => void;
  /** Settles once the handshake ends: admitted into the approval workflow, or refused. */
  readonly done: Promise<JoinOutcome>;
  private trust: JoinTrust = 'none';

  constructor(private readonly deps: JoinRequesterDeps) {
    if (deps.seeds.length === 0) throw new RangeError('a join needs at least one member to present to');
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.actor = createActor(joinHandshake, { clock: deps.clock, id: 'joinHandshake', input: deps.handshake, ...(deps.inspect ? { inspect: deps.inspect } : {}) });
    // The chart's sendHello and sendEvidence entry actions are carried out here, once the
    // transition is over: a send may step other actors (a link's breaker), which must not
    // happen inside this chart's own action.
    let done = '';
    this.actor.subscribe((snap) => {
      const state = snap.value as JoinHandshakeState;
      const step = `${state}#${snap.context.attempts}`;
      if (step !== done && (state === 'presenting' || state === 'attesting')) {
        done = step;
        if (state === 'presenting') {
          this.target = (this.target + 1) % deps.seeds.length;
          deps.send(deps.seeds[this.target], JOIN_HELLO, { certificate: deps.credentials.certificate, ...(deps.address !== undefined ? { address: deps.address } : {}) } satisfies JoinHello);
        } else {
          const nonce = Uint8Array.from(Buffer.from(snap.context.nonce ?? '', 'hex'));
          deps.send(deps.seeds[this.target], JOIN_EVIDENCE, { nonce, evidence: deps.credentials.evidence(nonce, deps.clock.now()), signature: deps.credentials.sign(joinProofBytes(this.name, nonce)) });
        }
      }
      if (snap.status !== 'done') return;
      if (state === 'admitted') this.settle({ ok: true, trust: this.trust });
      else this.settle({ ok: false, code: snap.context.code ?? 'Timeout', reason: snap.context.reason ?? 'no answer' });
    });
    this.actor.start();
  }

  /** The node's name: the sender of the hello, which its certificate must name. */
  private name = '';

  /** Presents the certificate as `name`. */
  start(name: string): Promise<JoinOutcome> {
    this.name = name;
    this.actor.send({ type: 'START' });
    return this.done;
  }

  /** The chart's state. */
  get state(): JoinHandshakeState {
    return this.actor.getSnapshot().value as JoinHandshakeState;
  }

  /** A message from a member; true when it was the handshake's. Answers from members not asked now are ignored. */
  handle(from: string, type: string, payload: unknown): boolean {
    if (type !== JOIN_CHALLENGE && type !== JOIN_RESULT) return false;
    if (from !== this.deps.seeds[this.target]) return true;
    if (type === JOIN_CHALLENGE) {
      const c = payload as JoinChallenge;
      if (c?.nonce instanceof Uint8Array && this.state === 'presenting') this.actor.send({ type: 'CHALLENGE', nonce: Buffer.from(c.nonce).toString('hex') });
      return true;
    }
    const r = payload as JoinResult;
    if (r?.ok === true) {
      this.trust = r.trust;
      this.actor.send({ type: 'ACCEPTED' });
    } else if (r?.ok === false) this.actor.send({ type: 'REJECTED', code: String(r.code), reason: String(r.reason) });
    return true;
  }

  stop(): void {
    this.actor.stop();
  }
}
