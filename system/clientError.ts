import type { ApplyErrorCode } from '../actors/clusterState.js';

/** Stable codes of client errors. */
export type ClientErrorCode = 'NotLeader' | 'Timeout' | 'Closed' | 'Backpressure' | 'TaskFailed' | 'TaskCancelled' | 'UnknownQuery' | 'InvalidQuery' | 'Compacted' | 'Unauthorized' | ApplyErrorCode;

/**
 * A request that did not succeed. `outcome` says what the caller may assume:
 * (`QuotaExceeded`, `RateLimited` and `Unauthorized` are refusals of a
 * tenant's request, decided where the request applies: nothing of it took
 * effect.)
 * `failed` — it did not and will not take effect; `unknown` — it may have
 * (a timeout: `client.retry(requestId)` is safe, it applies once).
 */
export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly outcome: 'failed' | 'unknown',
    readonly leaderHint: string | null = null,
    /**
     * The request's id in its session (`client#seq`), for a command: with
     * outcome `unknown`, `client.retry(requestId)` sends it again under the
     * same number and `client.outcome(requestId)` settles whether it took effect.
     */
    readonly requestId?: string,
    /** For `RateLimited`: how long until the tenant's rate allows the request (ms, on the cluster's time). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

