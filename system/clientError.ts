import type { ApplyErrorCode } from '../actors/clusterState.js';

/** Stable codes of client errors. */
export type ClientErrorCode = 'NotLeader' | 'Timeout' | 'Backpressure' | 'TaskFailed' | 'TaskCancelled' | ApplyErrorCode;

/**
 * A request that did not succeed. `outcome` says what the caller may assume:
 * `failed` — it did not and will not take effect; `unknown` — it may have
 * (a timeout: retrying with the same session is safe, it applies once).
 */
export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly outcome: 'failed' | 'unknown',
    readonly leaderHint: string | null = null,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

