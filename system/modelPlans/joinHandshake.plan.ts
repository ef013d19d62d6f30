import type { SnapshotFrom } from 'xstate';
import { joinHandshake, type JoinHandshakeEvent, type JoinHandshakeInput } from '../../machines/joinHandshake.js';
import type { ModelPlan } from '../modelPaths.js';

export const EVENTS: JoinHandshakeEvent[] = [
  { type: 'START' },
  { type: 'CHALLENGE', nonce: 'ab' },
  { type: 'ACCEPTED' },
  { type: 'REJECTED', code: 'ChallengeExpired', reason: 'late' },
  { type: 'REJECTED', code: 'UntrustedIssuer', reason: 'wrong CA' },
];

export type Snap = SnapshotFrom<typeof joinHandshake>;

/** What must hold in every state a join handshake can reach. */
export function joinHandshakeInvariant(snap: Snap): void {
  const c = snap.context;
  if (c.attempts > c.config.maxAttempts) throw new Error(`${c.attempts} hellos, limit ${c.config.maxAttempts}`);
  switch (snap.value) {
    case 'idle':
      if (c.attempts !== 0) throw new Error('idle after a hello');
      break;
    case 'attesting':
      if (c.nonce === null) throw new Error('attesting without a challenge');
      break;
    case 'presenting':
      if (c.attempts < 1 || c.nonce !== null) throw new Error('presenting without counting the hello, or with an old nonce');
      break;
    case 'rejected':
    case 'failed':
      if (c.code === null || c.reason === null) throw new Error(`${String(snap.value)} without a reason`);
      break;
  }
}

export const SMALL: Partial<JoinHandshakeInput> = { responseTimeoutMs: 50, retryDelayMs: 10, maxAttempts: 2 };

/** The model plan of `joinHandshake`: both kinds of rejection, timeouts (the kernel's `after`), two attempts. */
export const joinHandshakePlan: ModelPlan<typeof joinHandshake> = {
  machine: joinHandshake,
  input: SMALL,
  events: () => EVENTS,
  invariant: (snap) => joinHandshakeInvariant(snap),
};
