import { assign, setup } from 'xstate';

/**
 * The join handshake as the joining node runs it (the seed's node join
 * authentication): present the certificate → receive a challenge → send
 * attestation evidence signed over its nonce → accepted into the approval
 * workflow, or rejected. A member that does not answer in time is tried
 * again, up to `maxAttempts` hellos; a rejection that a fresh attempt may
 * cure (the challenge expired or was not known, say after the member
 * restarted) is retried too, any other rejection is final.
 *
 * Pure: the actor that runs it provides `sendHello` and `sendEvidence`
 * (see `actors/joinRequester.ts`) and the clock (delays are virtual in
 * the simulation).
 */

/** Configuration of a join handshake. */
export interface JoinHandshakeInput {
  /** How long to wait for a member's challenge or verdict, ms. */
  responseTimeoutMs: number;
  /** Pause before presenting again after a timeout or a retryable rejection, ms. */
  retryDelayMs: number;
  /** Hellos sent at most, ≥ 1. */
  maxAttempts: number;
}

export const DEFAULT_JOIN_HANDSHAKE: Readonly<JoinHandshakeInput> = Object.freeze({ responseTimeoutMs: 500, retryDelayMs: 200, maxAttempts: 5 });

/** Rejection codes a new attempt may cure. */
export const RETRYABLE_JOIN_REJECTIONS: ReadonlySet<string> = new Set(['ChallengeExpired', 'UnknownChallenge', 'Busy']);

export interface JoinHandshakeContext {
  config: JoinHandshakeInput;
  /** Hellos sent so far. */
  attempts: number;
  /** The nonce of the challenge being answered (hex), once challenged. */
  nonce: string | null;
  /** Why the last attempt failed, or the final verdict's reason. */
  code: string | null;
  reason: string | null;
}

export type JoinHandshakeEvent =
  | { type: 'START' }
  | { type: 'CHALLENGE'; nonce: string }
  | { type: 'ACCEPTED' }
  | { type: 'REJECTED'; code: string; reason: string };

export type JoinHandshakeState = 'idle' | 'presenting' | 'attesting' | 'retrying' | 'admitted' | 'rejected' | 'failed';

export const joinHandshake = setup({
  types: {
    context: {} as JoinHandshakeContext,
    events: {} as JoinHandshakeEvent,
    input: {} as Partial<JoinHandshakeInput> | undefined,
  },
  actions: {
    /** Sends the certificate to a member (provided by the actor). */
    sendHello: () => {},
    /** Sends evidence and a signature over the challenge's nonce (provided by the actor). */
    sendEvidence: () => {},
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1, nonce: null }),
    takeChallenge: assign({ nonce: ({ event }) => (event.type === 'CHALLENGE' ? event.nonce : null) }),
    recordRejection: assign({
      code: ({ event }) => (event.type === 'REJECTED' ? event.code : null),
      reason: ({ event }) => (event.type === 'REJECTED' ? event.reason : null),
    }),
    recordTimeout: assign({ code: 'Timeout', reason: 'no answer from the member in time' }),
    recordGiveUp: assign({ reason: ({ context }) => `gave up after ${context.attempts} attempts: ${context.reason ?? 'no answer'}` }),
  },
  guards: {
    retryable: ({ event }) => event.type === 'REJECTED' && RETRYABLE_JOIN_REJECTIONS.has(event.code),
    attemptsLeft: ({ context }) => context.attempts < context.config.maxAttempts,
  },
  delays: {
    responseTimeout: ({ context }) => context.config.responseTimeoutMs,
    retryDelay: ({ context }) => context.config.retryDelayMs,
  },
}).createMachine({
  id: 'joinHandshake',
  context: ({ input }) => ({
    config: {
      responseTimeoutMs: Math.max(1, input?.responseTimeoutMs ?? DEFAULT_JOIN_HANDSHAKE.responseTimeoutMs),
      retryDelayMs: Math.max(0, input?.retryDelayMs ?? DEFAULT_JOIN_HANDSHAKE.retryDelayMs),
      maxAttempts: Math.max(1, Math.floor(input?.maxAttempts ?? DEFAULT_JOIN_HANDSHAKE.maxAttempts)),
    },
    attempts: 0,
    nonce: null,
    code: null,
    reason: null,
  }),
  initial: 'idle',
  states: {
    idle: { on: { START: 'presenting' } },
    presenting: {
      entry: ['countAttempt', 'sendHello'],
      on: {
        CHALLENGE: { target: 'attesting', actions: 'takeChallenge' },
        REJECTED: [
          { guard: 'retryable', target: 'retrying', actions: 'recordRejection' },
          { target: 'rejected', actions: 'recordRejection' },
        ],
      },
      after: { responseTimeout: { target: 'retrying', actions: 'recordTimeout' } },
    },
    attesting: {
      entry: 'sendEvidence',
      on: {
        ACCEPTED: 'admitted',
        REJECTED: [
          { guard: 'retryable', target: 'retrying', actions: 'recordRejection' },
          { target: 'rejected', actions: 'recordRejection' },
        ],
      },
      after: { responseTimeout: { target: 'retrying', actions: 'recordTimeout' } },
    },
    retrying: {
      after: {
        retryDelay: [{ guard: 'attemptsLeft', target: 'presenting' }, { target: 'failed', actions: 'recordGiveUp' }],
      },
    },
    /** Accepted into the approval workflow: the membership chart goes on from pending approval. */
    admitted: { type: 'final' },
    rejected: { type: 'final' },
    failed: { type: 'final' },
  },
});
