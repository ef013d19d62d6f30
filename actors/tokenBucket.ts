/**
 * A token bucket on the proposer's time: the rate limit of a tenant's
 * submissions (`maxTasksPerSecond`).
 *
 * It holds at most `ratePerSecond` tokens (a burst of one second's worth)
 * and refills at `ratePerSecond`. Applying is a pure function of the
 * bucket and the entry (DESIGN.md rule 5), so the time it refills to is the
 * one the proposer wrote into the entry (a task's `submittedAt`), never a
 * clock read at apply. That time is taken as it comes but never moves the
 * bucket backwards: an entry stamped earlier than the bucket's last refill
 * (another client's clock lags) refills nothing, so no ordering of clocks
 * can mint tokens twice for the same interval.
 */

/** A bucket's state: tokens left, as of time `at` (ms, proposer time). Plain data: it lives in the replicated state and its snapshots. */
export interface TokenBucketState {
  tokens: number;
  at: number;
}

/** What taking from a bucket decided. */
export type TakeOutcome =
  | { ok: true }
  /** Not enough tokens now; `retryAfterMs` is when enough will have refilled, if nothing else takes them. */
  | { ok: false; retryAfterMs: number }
  /** More than the bucket ever holds: no wait helps. */
  | { ok: false; retryAfterMs: null };

/** A full bucket at time `at`. */
export function fullBucket(ratePerSecond: number, at: number): TokenBucketState {
  return { tokens: ratePerSecond, at };
}

/** Tokens in `bucket` at time `at` (never above the burst; no refill for a time before the bucket's own). */
export function tokensAt(bucket: Readonly<TokenBucketState>, ratePerSecond: number, at: number): number {
  const elapsed = at > bucket.at ? at - bucket.at : 0;
  return Math.min(ratePerSecond, bucket.tokens + (elapsed * ratePerSecond) / 1000);
}

/**
 * Takes `count` tokens at time `at`, changing `bucket` in place only when
 * it succeeds (a refused take leaves no trace, so a denied request is not
 * partially applied). Refills up to `at` first.
 */
export function take(bucket: TokenBucketState, ratePerSecond: number, count: number, at: number): TakeOutcome {
  if (count > ratePerSecond) return { ok: false, retryAfterMs: null };
  const tokens = tokensAt(bucket, ratePerSecond, at);
  if (tokens < count) return { ok: false, retryAfterMs: Math.ceil(((count - tokens) * 1000) / ratePerSecond) };
  bucket.tokens = tokens - count;
  if (at > bucket.at) bucket.at = at;
  return { ok: true };
}
